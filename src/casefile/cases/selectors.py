"""Reads of cases: one case, search, queues, the merged timeline."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import connection
from django.db.models import Prefetch, Q, QuerySet

from casefile.accounts.models import StaffUser
from casefile.cases.models import Case, CaseNote, CaseTag
from casefile.cases.policy import OPEN_STATUSES
from casefile.cases.schemas import CaseFilter
from casefile.core.errors import NotFound, ValidationFailed
from casefile.core.sql import contains_pattern
from casefile.core.timeutil import now
from casefile.platform.models import Approval


def _listed() -> QuerySet[Case]:
    """Cases with what a list shows of each, fetched in two queries rather than one per case."""
    return Case.objects.select_related("assigned_to").prefetch_related(
        Prefetch("case_tags", queryset=CaseTag.objects.select_related("tag")))


def case_get(case_id: str) -> Case:
    found = _listed().filter(pk=case_id).first()
    if found is None:
        raise NotFound(f"no case {case_id}")
    return found


def note_get(case: Case, note_id: int) -> CaseNote:
    found = CaseNote.objects.filter(case=case, pk=note_id).first()
    if found is None:
        raise NotFound(f"no note {note_id} on case {case.id}")
    return found


def cases(f: CaseFilter) -> QuerySet[Case]:
    """Matching cases. Tag and event filters join rows unique per case (one tag or event per
    case at most), so no case repeats and no DISTINCT is needed — it would cost a full sort."""
    query = _listed()
    if f.q:
        query = _text_search(query, f.q)
    if f.kind:
        query = query.filter(kind__in=f.kind)
    if f.status:
        query = query.filter(status__in=f.status)
    if f.priority:
        query = query.filter(priority__in=f.priority)
    if f.assignee:
        query = (query.filter(assigned_to__isnull=True) if f.assignee == "none"
                 else query.filter(assigned_to_id=f.assignee))
    for name in f.tag or []:
        query = query.filter(case_tags__tag__name=name.lower())
    if f.subject_user:
        query = query.filter(subject_user=f.subject_user)
    if f.event_id:
        query = query.filter(event_links__event_id=f.event_id)
    return query


def _text_search(query: QuerySet[Case], text: str) -> QuerySet[Case]:
    if connection.vendor == "postgresql":  # the expression of the trigram index (cases/0002)
        pattern = contains_pattern(text)
        return query.extra(  # noqa: S610 - parameterised
            where=["((case_file.title || ' ' || case_file.summary || ' ' || "
                   "case_file.description) ILIKE %s OR case_file.id = %s)"],
            params=[pattern, text])
    return query.filter(Q(title__icontains=text) | Q(summary__icontains=text)
                        | Q(description__icontains=text) | Q(id=text))


# Each queue is worked from the top in its own order (all ascending; the last key is unique),
# which is also its keyset for paging.
QUEUES: dict[str, list[str]] = {
    "mine": ["sla_due_at", "id"],  # soonest due first
    "unassigned": ["priority", "created_at", "id"],  # most urgent, then oldest
    "breaching": ["sla_due_at", "id"],  # due within `hours`, soonest first
    "breached": ["sla_due_at", "id"],  # longest overdue first
}
MAX_BREACHING_HOURS = 24 * 14


def queue(name: str, *, user: StaffUser, hours: int = 4) -> QuerySet[Case]:
    """The open cases of a work queue, in the queue's order (`QUEUES`)."""
    if name not in QUEUES:
        raise ValidationFailed(f"queue must be one of {', '.join(QUEUES)}")
    open_cases = _listed().filter(status__in=OPEN_STATUSES, sla_due_at__isnull=False)
    moment = now()
    running = open_cases.filter(sla_paused_at__isnull=True)
    if name == "mine":
        query = open_cases.filter(assigned_to=user)
    elif name == "unassigned":
        query = open_cases.filter(assigned_to__isnull=True)
    elif name == "breaching":
        if not 1 <= hours <= MAX_BREACHING_HOURS:
            raise ValidationFailed(f"hours must be between 1 and {MAX_BREACHING_HOURS}")
        query = running.filter(sla_due_at__gte=moment,
                               sla_due_at__lt=moment + timedelta(hours=hours))
    else:
        query = running.filter(sla_due_at__lt=moment)
    return query.order_by(*QUEUES[name])


def timeline(case: Case) -> list[dict[str, Any]]:
    """Status changes, actions, notes and event links, in time order."""
    items: list[tuple[datetime, str, dict[str, Any]]] = []
    for change in case.status_changes.all():
        items.append((change.at, "status", {"actor": change.actor_id, "from": change.from_status,
                                            "to": change.to_status,
                                            "reason_code": change.reason_code}))
    actions = list(case.actions.all())
    approvals = dict(Approval.objects.filter(pk__in=[a.approval_id for a in actions
                                                     if a.approval_id])
                     .values_list("id", "status"))
    for action in actions:
        items.append((action.created_at, "action", {
            "actor": action.actor_id, "action": action.action, "payload": action.payload,
            "reason_code": action.reason_code, "audit_entry_id": action.audit_entry_id,
            "command_id": action.command_id or None, "approval_id": action.approval_id or None,
            "approval_status": approvals.get(action.approval_id)}))
    for note in case.notes.prefetch_related("revisions"):
        items.append((note.created_at, "note", {
            "actor": note.author_id, "note_id": note.pk, "content": note.content,
            "edited": note.updated_at != note.created_at,
            "revisions": note.revisions.count()}))
    for link in case.event_links.select_related("event"):
        items.append((link.linked_at, "event_linked", {
            "actor": link.linked_by_id, "event_id": link.event_id,
            "message": link.event.message[:200]}))
    items.sort(key=lambda item: item[0])
    return [{"at": at, "type": kind, **detail} for at, kind, detail in items]
