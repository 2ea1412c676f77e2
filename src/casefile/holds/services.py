"""Writes of legal holds (DESIGN 9.1): placing one, asking for its release, and the release itself
(applied by the four-eyes mechanism once a second legal person approves).

**Audit.** Every entry about a hold has the resource `hold:hld_…` (the registry's one resource
type for LEGAL_HOLD_*); the scope is in the metadata — `scope` ("evidence:evb_…", "case:cas_…"),
`kind`, `object_id` — with the object-store keys. A record's own history finds its holds by
`metadata.scope` (`selectors.entries_about`): an evidence blob's chain of custody lists the holds
placed on it and on its case.

**The object store cannot roll back**, so each write orders its store calls so that a failure
leaves nothing claimed that is not true:

- Placing: the row and its entry are written first (a preview stops there, before the store is
  touched), then the store's hold is set ON on every object in scope, still inside the
  transaction. If the store fails, the transaction rolls back: no hold is recorded, and objects
  already set ON merely stay locked, harmlessly, until someone places the hold again (which
  sets them ON again) or clears them. After commit, the hold re-asserts ON on the scope's
  current objects (see below).
- Releasing: the row is marked released and the entry written in the approval's transaction;
  the store's holds are cleared only after that commits, and only on objects no other active
  hold still covers. If clearing fails, objects stay locked while the row says released — more
  protection than recorded, never less; `legal_hold_store_sync` repairs it.

Placing and clearing race only on an object two holds share: each re-checks after its commit
(placing sets ON again after it commits; clearing looks again after clearing and sets ON if a
hold committed meanwhile), so whichever finishes last leaves the object held if any active hold
covers it. Evidence uploaded to a case under hold is written with the store's hold ON
(`evidence.services.evidence_upload`).
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import IntegrityError, transaction

from casefile.accounts.permissions import Perm
from casefile.audit import ledger
from casefile.audit.actor import Actor
from casefile.audit.snapshot import snapshot
from casefile.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from casefile.core.timeutil import now
from casefile.holds import scopes, selectors
from casefile.holds.models import LegalHold
from casefile.storage import ObjectNotFound, get_store

log = logging.getLogger(__name__)
NOTE_LIMIT = 2000


def resource(hold: LegalHold | str) -> str:
    return f"hold:{hold if isinstance(hold, str) else hold.id}"


def _scope_metadata(kind: str, object_id: str, keys: list[str]) -> dict[str, Any]:
    return {"scope": scopes.resource_of(kind, object_id), "kind": kind, "object_id": object_id,
            "object_keys": keys}


def _note(value: str | None) -> str:
    value = (value or "").strip()
    if "\x00" in value or len(value) > NOTE_LIMIT:
        raise ValidationFailed(f"note: at most {NOTE_LIMIT} characters, without NUL")
    return value


# --- the store ------------------------------------------------------------------------------
def _store_hold(keys: list[str], *, on: bool) -> list[str]:
    """Set the store's legal hold on each key; returns the keys the store does not have."""
    store, missing = get_store(), []
    for key in keys:
        try:
            store.set_legal_hold(key, on)
        except ObjectNotFound:
            missing.append(key)
    return missing


def _missing(keys: list[str]) -> list[str]:
    store, missing = get_store(), []
    for key in keys:
        try:
            store.head(key)
        except ObjectNotFound:
            missing.append(key)
    return missing


def _reassert(kind: str, object_id: str) -> None:
    """After a placement commits: ON again on the scope's current objects (a clear by a release
    that ran meanwhile, evidence added to the case since)."""
    _store_hold(scopes.objects_of(kind, object_id), on=True)


def _clear(keys: list[str]) -> None:
    """After a release commits: OFF on each key no active hold covers, then a second look, in
    case a hold over one of them committed in between."""
    held = selectors.keys_held()
    cleared = [key for key in keys if key not in held]
    _store_hold(cleared, on=False)
    again = selectors.keys_held()
    _store_hold([key for key in cleared if key in again], on=True)


# --- placing --------------------------------------------------------------------------------
def legal_hold_place(*, actor: Actor, kind: str, object_id: str, reason_code: str | None,
                     ticket_ref: str | None = None, note: str | None = "") -> LegalHold:
    """Place a legal hold over `kind:object_id` (404 if there is no such record): the row, its
    LEGAL_HOLD_PLACED entry, and the store's hold ON on every object in scope.

    Idempotent per matter: while a hold with the same scope, reason code and ticket is active,
    placing it again returns that hold, sets the store's hold ON again on the scope's current
    objects, and records nothing new. A different reason or ticket is another matter, and
    another hold (each is released on its own)."""
    actor.require(Perm.HOLDS_PLACE)
    if actor.is_machine:
        raise PermissionDenied("a legal hold is placed by a person, with their reason")
    reason_code = actor.reason(reason_code)
    note = _note(note)
    ticket = (ticket_ref or "").strip()
    scopes.require_exists(kind, object_id)
    matter = {"kind": kind, "object_id": object_id, "reason_code": reason_code or "",
              "ticket_ref": ticket}
    with transaction.atomic():
        existing = LegalHold.objects.filter(status="active", **matter).first()
        if existing is not None:
            _reassert(kind, object_id)
            return existing
        keys = scopes.objects_of(kind, object_id)
        missing = _missing(keys)
        try:
            with transaction.atomic():
                hold = LegalHold.objects.create(**matter, note=note, object_keys=keys,
                                                placed_by=actor.staff_user, placed_at=now())
        except IntegrityError:  # placed at the same moment by someone else: that hold
            existing = LegalHold.objects.filter(status="active", **matter).first()
            if existing is None:
                raise
            _reassert(kind, object_id)
            return existing
        ledger.record(actor=actor, action="LEGAL_HOLD_PLACED", resource=resource(hold),
                      reason_code=reason_code, ticket_ref=ticket or None, after=snapshot(hold),
                      target_user_id=scopes.target_user_of(kind, object_id),
                      metadata={**_scope_metadata(kind, object_id, keys),
                                **({"missing_objects": missing} if missing else {})})
        _store_hold([key for key in keys if key not in missing], on=True)
        transaction.on_commit(lambda: _reassert(kind, object_id), robust=True)
    return hold


# --- releasing ------------------------------------------------------------------------------
def legal_hold_release_request(*, actor: Actor, hold: LegalHold, reason_code: str,
                               ticket_ref: str | None = None):
    """Ask for the hold's release: a four-eyes request (`platform` approvals) that another
    legal person must approve; the release happens then (`legal_hold_release_apply`). Refused
    for a hold already released, or while a request to release it is pending."""
    from casefile.platform import services as platform  # holds build on platform

    actor.require(Perm.HOLDS_RELEASE)
    with transaction.atomic():
        locked = LegalHold.objects.select_for_update().filter(pk=hold.pk).first()
        if locked is None:
            raise NotFound(f"no legal hold {hold.pk}")
        if not locked.is_active:
            raise Conflict(f"{locked.id} was already released", code="hold_released")
        pending = selectors.pending_release(locked)
        if pending is not None and pending.expires_at > now():
            raise Conflict(f"a release of {locked.id} already awaits approval ({pending.id})",
                           code="release_pending", details={"approval_id": pending.id})
        outcome = platform.operation_request(
            actor=actor, operation="legal_hold_release", params={"hold_id": locked.id},
            reason_code=reason_code, ticket_ref=ticket_ref)
    assert outcome.approval is not None  # the operation always needs approval
    return outcome.approval


def legal_hold_release_apply(*, actor: Actor, hold_id: str, meta: dict[str, Any]):
    """The `legal_hold_release` operation's change, run by `platform.services.operation_apply`
    in the approval's transaction (`actor` is the requester; `meta` carries the approval and
    its approver): mark the hold released and, once that commits, clear the store's hold on
    the objects no other active hold covers. No command goes to the platform."""
    from casefile.platform.operations import Change  # holds build on platform

    hold = LegalHold.objects.select_for_update().filter(pk=hold_id).first()
    if hold is None:
        raise NotFound(f"no legal hold {hold_id}")
    if not hold.is_active:
        raise Conflict(f"{hold.id} was already released", code="hold_released")
    before = snapshot(hold)
    approval, approver = meta.get("approval"), meta.get("approver")
    hold.status, hold.released_by, hold.released_at = "released", actor.user, now()
    hold.release_approval = approval
    hold.release_approved_by = approver.user if approver is not None else None
    hold.save(update_fields=["status", "released_by", "released_at", "release_approval",
                             "release_approved_by"])
    try:
        keys = scopes.objects_of(hold.kind, hold.object_id)
    except ValidationFailed:  # its scope is no longer registered: the keys it recorded
        keys = []
    keys = sorted({*keys, *hold.object_keys})
    still = selectors.keys_held(excluding=hold.id)
    to_clear = [key for key in keys if key not in still]
    transaction.on_commit(lambda: _clear(to_clear), robust=True)
    return Change(resource(hold), before, snapshot(hold), {},
                  user_id=scopes.target_user_of(hold.kind, hold.object_id),
                  metadata={**_scope_metadata(hold.kind, hold.object_id, keys),
                            "store_hold_cleared": to_clear,
                            "still_held_by_other_holds": [k for k in keys if k in still]})


# --- repair ---------------------------------------------------------------------------------
def legal_hold_store_sync(keys: list[str] | None = None) -> dict[str, list[str]]:
    """Make the store's holds agree with the active holds: ON on every key an active hold
    covers; OFF on `keys` (for instance a released hold's `object_keys`) that none covers.
    Changes no row and records nothing (the holds themselves do not change)."""
    held = sorted(selectors.keys_held())
    missing = _store_hold(held, on=True)
    released = [key for key in (keys or []) if key not in set(held)]
    _store_hold(released, on=False)
    return {"on": [k for k in held if k not in missing], "off": released, "missing": missing}
