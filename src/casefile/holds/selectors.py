"""Reads of legal holds, and the one question other apps ask: `active_holds_over(kind, id)`.

Shredding, PII expiry and purges call `active_holds_over` (or `evidence.holds.held` for a blob)
and refuse when it is not empty. It looks at the record itself and at every record whose hold
covers it (`holds.scopes.enclosing`: a blob's case, …).
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from casefile.audit.models import AuditEntry
from casefile.core.errors import NotFound, ValidationFailed
from casefile.holds import scopes
from casefile.holds.models import LegalHold
from casefile.holds.schemas import HoldFilter


def active_holds_over(kind: str, object_id: str) -> list[LegalHold]:
    """The active holds that cover the record `kind:object_id`, oldest first."""
    covering = Q()
    for k, oid in scopes.enclosing(kind, object_id):
        covering |= Q(kind=k, object_id=oid)
    return list(LegalHold.objects.filter(covering, status="active").order_by("placed_at", "id"))


def hold_get(hold_id: str) -> LegalHold:
    found = (LegalHold.objects.select_related("placed_by", "released_by", "release_approved_by")
             .filter(pk=hold_id).first())
    if found is None:
        raise NotFound(f"no legal hold {hold_id}")
    return found


def holds(f: HoldFilter) -> QuerySet[LegalHold]:
    query = LegalHold.objects.select_related("placed_by")
    if f.status:
        query = query.filter(status=f.status)
    if f.kind:
        query = query.filter(kind=f.kind)
    if f.object_id:
        query = query.filter(object_id=f.object_id)
    if f.ticket_ref:
        query = query.filter(ticket_ref=f.ticket_ref)
    return query


def keys_held(*, excluding: str | None = None) -> set[str]:
    """Every object-store key some active hold (other than `excluding`) covers now. One scope
    look-up per active hold: holds are few, and this runs on release only."""
    keys: set[str] = set()
    for kind, object_id in (LegalHold.objects.filter(status="active").exclude(pk=excluding)
                            .values_list("kind", "object_id").distinct()):
        try:
            keys.update(scopes.objects_of(kind, object_id))
        except ValidationFailed:  # a scope no longer registered: its keys as recorded
            for recorded in LegalHold.objects.filter(status="active", kind=kind,
                                                     object_id=object_id
                                                     ).values_list("object_keys", flat=True):
                keys.update(recorded)
    return keys


def release_approvals(hold: LegalHold):
    from casefile.platform.models import Approval

    return (Approval.objects.filter(operation="legal_hold_release", params__hold_id=hold.id)
            .select_related("requested_by", "decided_by").order_by("created_at", "id"))


def pending_release(hold: LegalHold):
    return release_approvals(hold).filter(status="pending").first()


def history(hold: LegalHold) -> list[AuditEntry]:
    """Every ledger entry about the hold — placed, each release request and its decision,
    released — oldest first (by time and id, never by `seq`)."""
    resources = [f"hold:{hold.id}", *(f"approval:{a}" for a in
                                      release_approvals(hold).values_list("id", flat=True))]
    return list(AuditEntry.objects.filter(resource__in=resources).order_by("created_at", "id"))


def entries_about(kind: str, object_id: str) -> QuerySet[AuditEntry]:
    """The hold entries whose scope is `kind:object_id` (for a record's own history, such as
    an evidence blob's chain of custody)."""
    return AuditEntry.objects.filter(action__in=("LEGAL_HOLD_PLACED", "LEGAL_HOLD_RELEASED"),
                                     metadata__scope=f"{kind}:{object_id}")
