"""Writes for cases. Each verb authorises, changes the case, and records exactly one audit
entry (before/after/diff of the case) in one transaction.

Every verb joins its caller's transaction when there is one: a bulk change runs them one case
per transaction, or all in one; a case action commits with the platform operation it runs, or
neither does. (A savepoint marks where each verb began, so a refusal raised under its lock —
an invalid transition, say — undoes that verb alone and leaves the caller free to report it and
go on, as the per-case bulk and the tests do; with `savepoint=False` it would doom the caller's
whole transaction.)"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction

from casefile.accounts.models import StaffUser
from casefile.accounts.permissions import Perm, has_perm
from casefile.audit import ledger
from casefile.audit.actor import Actor
from casefile.audit.snapshot import snapshot
from casefile.cases import details
from casefile.cases.models import (
    Case,
    CaseAction,
    CaseEvent,
    CaseNote,
    CaseNoteRevision,
    CaseStatusChange,
    CaseTag,
    Tag,
)
from casefile.cases.policy import (
    CASE_ACTIONS,
    OPEN_STATUSES,
    SLA_PAUSED_IN,
    TRANSITIONS,
    Kind,
    RefundPayload,
    Status,
    sla_allowance,
)
from casefile.cases.schemas import MAX_BULK
from casefile.core.errors import (
    AppError,
    Conflict,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from casefile.core.timeutil import isoformat, now
from casefile.core.validation import validated
from casefile.events.models import Event
from casefile.platform.services import operation_request

EDITABLE = ("title", "summary", "description", "priority", "kind", "subject_user", "order_id",
            "thread_id", "listing_id")
MAX_BACKDATE = timedelta(days=30)
_TAG = re.compile(r"^[a-z0-9][a-z0-9_:.-]{0,59}$")


def _audit(actor: Actor, action: str, case: Case, before: dict | None,
           reason_code: str | None, *,
           after: dict | None = None, ticket_ref: str | None = None,
           metadata: dict | None = None):
    """One entry about `case`; `after` defaults to the case's snapshot."""
    return ledger.record(actor=actor, action=action, resource=f"case:{case.id}",
                         reason_code=reason_code, ticket_ref=ticket_ref, before=before,
                         after=snapshot(case) if after is None else after,
                         target_user_id=case.subject_user or None, metadata=metadata)


def _tags(case: Case) -> list[str]:
    return sorted(CaseTag.objects.filter(case=case).values_list("tag__name", flat=True))


def _locked(case: Case) -> Case:
    found = Case.objects.select_for_update().filter(pk=case.pk).first()
    if found is None:
        raise NotFound(f"no case {case.pk}")
    return found


def _check_fields(kind: str, priority: int, title: str) -> None:
    if kind not in Kind.values:
        raise ValidationFailed(f"unknown kind {kind!r}", details={"kinds": Kind.values})
    if not 1 <= priority <= 5:
        raise ValidationFailed("priority must be 1 (most urgent) to 5")
    if not title.strip():
        raise ValidationFailed("a case needs a title")


def case_create(*, actor: Actor, kind: str, title: str, reason_code: str, priority: int = 3,
                summary: str = "", description: str = "", opened_by: str | None = None,
                subject_user: str = "", order_id: str = "", thread_id: str = "",
                listing_id: str = "", opened_at: datetime | None = None) -> Case:
    """`opened_at`: when the report or alert came in, if earlier than now (a report filed on
    the platform, an incident noticed before it was logged); the SLA clock counts from it."""
    actor.require(Perm.CASES_EDIT)
    _check_fields(kind, priority, title)
    moment = now()
    if opened_at is not None:
        if opened_at > moment or opened_at < moment - MAX_BACKDATE:
            raise ValidationFailed("opened_at must be in the last 30 days, not in the future")
        moment = opened_at
    with transaction.atomic():
        case = Case.objects.create(
            kind=kind, title=title.strip(), priority=priority, summary=summary,
            description=description, subject_user=subject_user, order_id=order_id,
            thread_id=thread_id, listing_id=listing_id,
            opened_by=opened_by or (actor.user.id if actor.user else "system"),
            created_by=actor.user, created_at=moment, updated_at=moment,
            sla_due_at=moment + sla_allowance(kind, priority),
        )
        _audit(actor, "CASE_CREATED", case, None, reason_code)
    return case


def case_update(*, actor: Actor, case: Case, changes: dict[str, Any], reason_code: str) -> Case:
    """Change descriptive fields and priority; a new priority or kind moves the SLA due time
    by the difference in allowance (time already paused stays credited)."""
    actor.require(Perm.CASES_EDIT)
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise ValidationFailed(f"not editable here: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        case = _locked(case)
        before = snapshot(case)
        old_allowance = sla_allowance(case.kind, case.priority)
        for name, value in changes.items():
            setattr(case, name, value.strip() if isinstance(value, str) else value)
        _check_fields(case.kind, case.priority, case.title)
        if case.sla_due_at is not None:
            case.sla_due_at += sla_allowance(case.kind, case.priority) - old_allowance
        if snapshot(case) == before:
            raise Conflict("nothing to change")
        case.updated_at = now()
        case.save()
        _audit(actor, "CASE_UPDATED", case, before, reason_code)
    return case


def case_assign(*, actor: Actor, case: Case, assignee: StaffUser | None,
                reason_code: str) -> Case:
    actor.require(Perm.CASES_EDIT)
    if assignee is not None and not (assignee.is_active
                                     and has_perm(assignee.roles, Perm.CASES_EDIT)):
        raise ValidationFailed(f"{assignee.email} cannot work cases")
    with transaction.atomic():
        case = _locked(case)
        if case.assigned_to_id == (assignee.pk if assignee else None):
            raise Conflict("the case is already assigned that way")
        before = snapshot(case)
        case.assigned_to = assignee
        case.updated_at = now()
        case.save(update_fields=["assigned_to", "updated_at"])
        _audit(actor, "CASE_ASSIGNED", case, before, reason_code)
    return case


def _move(case: Case, to: Status, actor: Actor, reason_code: str) -> dict[str, Any]:
    """Apply a transition to a locked case (no audit); returns metadata for the entry."""
    current = Status(case.status)
    if to not in TRANSITIONS[current]:
        raise InvalidTransition(
            f"a {current} case cannot move to {to}",
            details={"from": current, "to": to,
                     "allowed": sorted(TRANSITIONS[current])})
    if to == Status.RESOLVED:
        details.check_resolve(case)
    moment = now()
    meta: dict[str, Any] = {"from": current, "to": to}
    if to == SLA_PAUSED_IN and case.sla_paused_at is None:
        case.sla_paused_at = moment
        meta["sla"] = "paused"
    elif current == SLA_PAUSED_IN and case.sla_paused_at is not None:
        if case.sla_due_at is not None:
            case.sla_due_at += moment - case.sla_paused_at
        case.sla_paused_at = None
        meta["sla"] = "resumed"
    case.status = to
    case.closed_at = moment if to == Status.CLOSED else None
    case.updated_at = moment
    case.save()
    CaseStatusChange.objects.create(case=case, from_status=current, to_status=to,
                                    actor_id=actor.user.id if actor.user else "system",
                                    reason_code=reason_code, at=moment)
    return meta


def case_transition(*, actor: Actor, case: Case, to: str, reason_code: str) -> Case:
    actor.require(Perm.CASES_EDIT)
    if to not in Status.values:
        raise ValidationFailed(f"unknown status {to!r}", details={"statuses": Status.values})
    with transaction.atomic():
        case = _locked(case)
        before = snapshot(case)
        meta = _move(case, Status(to), actor, reason_code)
        _audit(actor, "CASE_STATUS_CHANGED", case, before, reason_code, metadata=meta)
    return case


def case_note_add(*, actor: Actor, case: Case, content: str, reason_code: str) -> CaseNote:
    actor.require(Perm.CASES_EDIT)
    if not content.strip():
        raise ValidationFailed("a note needs some text")
    with transaction.atomic():
        case = _locked(case)
        moment = now()
        note = CaseNote.objects.create(case=case, author=actor.staff_user, content=content,
                                       created_at=moment, updated_at=moment)
        case.updated_at = moment
        case.save(update_fields=["updated_at"])
        _audit(actor, "CASE_NOTE_ADDED", case, None, reason_code, after=snapshot(note))
    return note


def case_note_edit(*, actor: Actor, note: CaseNote, content: str, reason_code: str) -> CaseNote:
    actor.require(Perm.CASES_EDIT)
    if note.author_id != actor.staff_user.pk:
        raise PermissionDenied("only a note's author may edit it")
    if not content.strip():
        raise ValidationFailed("a note needs some text")
    with transaction.atomic():
        note = CaseNote.objects.select_for_update().get(pk=note.pk)
        if note.content == content:
            raise Conflict("the note already says that")
        moment = now()
        CaseNoteRevision.objects.create(note=note, content=note.content,
                                        edited_by=actor.staff_user, replaced_at=moment)
        before = snapshot(note)
        note.content, note.updated_at = content, moment
        note.save(update_fields=["content", "updated_at"])
        ledger.record(actor=actor, action="CASE_NOTE_EDITED", resource=f"case:{note.case_id}",
                      reason_code=reason_code, before=before, after=snapshot(note))
    return note


def case_tag_add(*, actor: Actor, case: Case, name: str, reason_code: str) -> Case:
    actor.require(Perm.CASES_EDIT)
    name = name.strip().lower()
    if not _TAG.match(name):
        raise ValidationFailed("tags are 1–60 of a-z 0-9 _ : . - (starting with a letter or "
                               "digit)")
    with transaction.atomic():
        case = _locked(case)
        before = {"tags": _tags(case)}
        tag, _ = Tag.objects.get_or_create(name=name)
        try:
            with transaction.atomic():
                CaseTag.objects.create(case=case, tag=tag, created_at=now())
        except IntegrityError:
            raise Conflict(f"the case is already tagged {name}") from None
        _audit(actor, "CASE_TAGGED", case, before, reason_code, after={"tags": _tags(case)})
    return case


def case_tag_remove(*, actor: Actor, case: Case, name: str, reason_code: str) -> Case:
    actor.require(Perm.CASES_EDIT)
    with transaction.atomic():
        case = _locked(case)
        before = {"tags": _tags(case)}
        deleted, _ = CaseTag.objects.filter(case=case, tag__name=name.strip().lower()).delete()
        if not deleted:
            raise NotFound(f"the case is not tagged {name}")
        _audit(actor, "CASE_UNTAGGED", case, before, reason_code, after={"tags": _tags(case)})
    return case


def case_event_link(*, actor: Actor, case: Case, event_id: str, reason_code: str) -> CaseEvent:
    actor.require(Perm.CASES_EDIT)
    with transaction.atomic():
        case = _locked(case)
        event = Event.objects.filter(pk=event_id).first()
        if event is None:
            raise NotFound(f"no event {event_id}")
        try:
            with transaction.atomic():
                link = CaseEvent.objects.create(case=case, event=event, linked_by=actor.user,
                                                linked_at=now())
        except IntegrityError:
            raise Conflict(f"event {event_id} is already linked to this case") from None
        _audit(actor, "EVENT_LINKED", case, {"event_id": event_id, "linked": False},
               reason_code, after={"event_id": event_id, "linked": True},
               metadata={"fingerprint": event.fingerprint})
    return link


def case_event_unlink(*, actor: Actor, case: Case, event_id: str, reason_code: str) -> Case:
    actor.require(Perm.CASES_EDIT)
    with transaction.atomic():
        case = _locked(case)
        deleted, _ = CaseEvent.objects.filter(case=case, event_id=event_id).delete()
        if not deleted:
            raise NotFound(f"event {event_id} is not linked to this case")
        _audit(actor, "EVENT_UNLINKED", case, {"event_id": event_id, "linked": True},
               reason_code, after={"event_id": event_id, "linked": False})
    return case


def case_action_take(*, actor: Actor, case: Case, action: str, payload: dict[str, Any],
                     reason_code: str, ticket_ref: str | None = None) -> CaseAction:
    """Take a case action (TD-490's admin_action). `close` also closes the case. `suspend` and
    `refund` run their platform operation in the same transaction — its permission, its audit
    entry, its outbox command, or its four-eyes request when it needs one — so acting from a
    case is the same act as acting from the subject's page."""
    kind = CASE_ACTIONS.get(action)
    if kind is None:
        raise ValidationFailed(f"unknown case action {action!r}",
                               details={"actions": sorted(CASE_ACTIONS)})
    actor.require(kind.perm)
    given = validated(kind.payload, payload, what=f"the {action} action's payload",
                      strict=True)
    with transaction.atomic():
        case = _locked(case)
        before = snapshot(case)
        meta: dict[str, Any] = {"payload": given.model_dump(exclude_none=True)}
        if action == "close":  # the status machine says whether it may close
            meta |= _move(case, Status.CLOSED, actor, reason_code)
        elif case.status == Status.CLOSED:
            raise Conflict("the case is closed")
        outcome = None
        if kind.operation:
            outcome = operation_request(actor=actor, operation=kind.operation,
                                        params=_operation_params(case, given),
                                        reason_code=reason_code, ticket_ref=ticket_ref)
            meta |= ({"command_id": outcome.command.id} if outcome.command else
                     {"approval_id": outcome.approval.id if outcome.approval else None})
        entry = _audit(actor, kind.audit_action, case, before, reason_code,
                       ticket_ref=ticket_ref, metadata=meta)
        return CaseAction.objects.create(
            case=case, actor=actor.staff_user, action=action, payload=meta["payload"],
            reason_code=reason_code, audit_entry_id=entry.id, created_at=entry.created_at,
            command_id=meta.get("command_id") or "", approval_id=meta.get("approval_id") or "")


def _operation_params(case: Case, given) -> dict[str, Any]:
    """A case action's payload as its operation's parameters: the subject and order default to
    the case's own, and the case is named so the entry and the command point back to it."""
    params = given.model_dump(exclude_none=True, exclude={"message"})
    params.setdefault("user_id", case.subject_user or None)
    if isinstance(given, RefundPayload):
        params.setdefault("order_id", case.order_id or None)
    missing = sorted(k for k, v in params.items() if v is None)
    if missing:
        raise ValidationFailed(f"the case names no {' or '.join(missing)}: give it in the "
                               "payload", details={"missing": missing})
    return {**params, "case_id": case.id}


@dataclass(frozen=True)
class BulkOutcome:
    case_id: str
    ok: bool
    error: dict[str, Any] | None = None


BULK_OPERATIONS = ("assign", "tag", "status", "close")


def cases_bulk(*, actor: Actor, case_ids: list[str], operation: str, value: Any,
               reason_code: str, assignee: StaffUser | None = None,
               all_or_nothing: bool = False) -> list[BulkOutcome]:
    """Apply one change to many cases, one audit entry per case. Each case changes in its own
    transaction and a case that cannot take the change is reported with the reason, never
    skipped; with `all_or_nothing`, all change in one transaction or, at the first refusal,
    none does (that refusal is raised)."""
    actor.require(Perm.CASES_EDIT)
    if operation not in BULK_OPERATIONS:
        raise ValidationFailed(f"bulk operation must be one of {', '.join(BULK_OPERATIONS)}")
    if not case_ids or len(case_ids) > MAX_BULK:
        raise ValidationFailed(f"select between 1 and {MAX_BULK} cases")
    apply: dict[str, Callable[[Case], object]] = {
        "assign": lambda c: case_assign(actor=actor, case=c, assignee=assignee,
                                        reason_code=reason_code),
        "tag": lambda c: case_tag_add(actor=actor, case=c, name=str(value),
                                      reason_code=reason_code),
        "status": lambda c: case_transition(actor=actor, case=c, to=str(value),
                                            reason_code=reason_code),
        "close": lambda c: case_action_take(actor=actor, case=c, action="close", payload={},
                                            reason_code=reason_code),
    }
    cases = {c.id: c for c in Case.objects.filter(id__in=case_ids)}
    wanted = list(dict.fromkeys(case_ids))
    if all_or_nothing:
        with transaction.atomic(durable=True):
            for case_id in wanted:
                if case_id not in cases:
                    raise NotFound(f"no case {case_id}", details={"case_id": case_id})
                try:
                    apply[operation](cases[case_id])
                except AppError as exc:
                    exc.details = {"case_id": case_id, "error": exc.details}
                    raise
        return [BulkOutcome(case_id, True) for case_id in wanted]
    outcomes = []
    for case_id in wanted:
        case = cases.get(case_id)
        if case is None:
            outcomes.append(BulkOutcome(case_id, False, {"code": "not_found",
                                                         "message": f"no case {case_id}"}))
            continue
        try:
            with transaction.atomic(durable=True):
                apply[operation](case)
            outcomes.append(BulkOutcome(case_id, True))
        except AppError as exc:
            outcomes.append(BulkOutcome(case_id, False, {"code": exc.code,
                                                         "message": exc.message}))
    return outcomes


def cases_sla_sweep() -> list[str]:
    """Flag open cases past their SLA due time (clock running), one audit entry each, by
    Casefile itself. Each case is checked again once locked: it may have been closed, paused
    or given a later due time while the sweep waited for it. Returns the ids flagged."""
    system = Actor.system("sla-sweep")
    moment = now()
    flagged = []
    for case_id in _due_ids(moment):
        with transaction.atomic():
            case = Case.objects.select_for_update().get(pk=case_id)
            if not _breached(case, moment):
                continue
            before = snapshot(case)
            case.sla_breached_at = moment
            case.save(update_fields=["sla_breached_at"])
            _audit(system, "CASE_SLA_BREACHED", case, before, None,
                   metadata={"due_at": isoformat(case.sla_due_at) if case.sla_due_at else None})
            flagged.append(case_id)
    return flagged


def _due_ids(moment) -> list[str]:
    """Candidates, read without locks: by the time each is locked it may no longer be due."""
    return list(Case.objects.filter(status__in=OPEN_STATUSES, sla_paused_at__isnull=True,
                                    sla_breached_at__isnull=True, sla_due_at__lt=moment)
                .values_list("id", flat=True)[:1000])


def _breached(case: Case, moment) -> bool:
    return (case.status in OPEN_STATUSES and case.sla_paused_at is None
            and case.sla_breached_at is None and case.sla_due_at is not None
            and case.sla_due_at < moment)
