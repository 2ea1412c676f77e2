"""Writes for cases. Each verb authorises, changes the case, and records exactly one audit
entry (before/after/diff of the case) in one transaction."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction

from casefile.accounts.models import StaffUser
from casefile.accounts.permissions import Perm, has_perm
from casefile.audit import ledger
from casefile.audit.actor import Actor
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
    Status,
    sla_allowance,
)
from casefile.core.errors import (
    AppError,
    Conflict,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from casefile.core.timeutil import isoformat, now
from casefile.events.models import Event

EDITABLE = ("title", "summary", "description", "priority", "kind", "subject_user", "order_id",
            "thread_id", "listing_id")
_TAG = re.compile(r"^[a-z0-9][a-z0-9_:.-]{0,59}$")


def snapshot(case: Case) -> dict[str, Any]:
    """The case as the audit ledger records it."""
    return {
        "kind": case.kind, "status": case.status, "priority": case.priority,
        "title": case.title, "summary": case.summary, "description": case.description,
        "assigned_to": case.assigned_to_id, "subject_user": case.subject_user,
        "order_id": case.order_id, "thread_id": case.thread_id, "listing_id": case.listing_id,
        "sla_due_at": case.sla_due_at, "sla_paused_at": case.sla_paused_at,
        "sla_breached_at": case.sla_breached_at, "closed_at": case.closed_at,
    }


def _audit(actor: Actor, action: str, case: Case, before: dict | None, reason_code: str, *,
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
                listing_id: str = "") -> Case:
    actor.require(Perm.CASES_EDIT)
    _check_fields(kind, priority, title)
    moment = now()
    with transaction.atomic(durable=True):
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
    with transaction.atomic(durable=True):
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
    with transaction.atomic(durable=True):
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
    with transaction.atomic(durable=True):
        case = _locked(case)
        before = snapshot(case)
        meta = _move(case, Status(to), actor, reason_code)
        _audit(actor, "CASE_STATUS_CHANGED", case, before, reason_code, metadata=meta)
    return case


def case_note_add(*, actor: Actor, case: Case, content: str, reason_code: str) -> CaseNote:
    actor.require(Perm.CASES_EDIT)
    if not content.strip():
        raise ValidationFailed("a note needs some text")
    with transaction.atomic(durable=True):
        case = _locked(case)
        moment = now()
        note = CaseNote.objects.create(case=case, author=actor.staff_user, content=content,
                                       created_at=moment, updated_at=moment)
        case.updated_at = moment
        case.save(update_fields=["updated_at"])
        _audit(actor, "CASE_NOTE_ADDED", case, None, reason_code,
               after={"note_id": note.pk, "content": content})
    return note


def case_note_edit(*, actor: Actor, note: CaseNote, content: str, reason_code: str) -> CaseNote:
    actor.require(Perm.CASES_EDIT)
    if note.author_id != actor.staff_user.pk:
        raise PermissionDenied("only a note's author may edit it")
    if not content.strip():
        raise ValidationFailed("a note needs some text")
    with transaction.atomic(durable=True):
        note = CaseNote.objects.select_for_update().get(pk=note.pk)
        if note.content == content:
            raise Conflict("the note already says that")
        moment = now()
        CaseNoteRevision.objects.create(note=note, content=note.content,
                                        edited_by=actor.staff_user, replaced_at=moment)
        previous, note.content, note.updated_at = note.content, content, moment
        note.save(update_fields=["content", "updated_at"])
        ledger.record(actor=actor, action="CASE_NOTE_EDITED", resource=f"case:{note.case_id}",
                      reason_code=reason_code, before={"note_id": note.pk, "content": previous},
                      after={"note_id": note.pk, "content": content})
    return note


def case_tag_add(*, actor: Actor, case: Case, name: str, reason_code: str) -> Case:
    actor.require(Perm.CASES_EDIT)
    name = name.strip().lower()
    if not _TAG.match(name):
        raise ValidationFailed("tags are 1–60 of a-z 0-9 _ : . - (starting with a letter or "
                               "digit)")
    with transaction.atomic(durable=True):
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
    with transaction.atomic(durable=True):
        case = _locked(case)
        before = {"tags": _tags(case)}
        deleted, _ = CaseTag.objects.filter(case=case, tag__name=name.strip().lower()).delete()
        if not deleted:
            raise NotFound(f"the case is not tagged {name}")
        _audit(actor, "CASE_UNTAGGED", case, before, reason_code, after={"tags": _tags(case)})
    return case


def case_event_link(*, actor: Actor, case: Case, event_id: str, reason_code: str) -> CaseEvent:
    actor.require(Perm.CASES_EDIT)
    with transaction.atomic(durable=True):
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
    with transaction.atomic(durable=True):
        case = _locked(case)
        deleted, _ = CaseEvent.objects.filter(case=case, event_id=event_id).delete()
        if not deleted:
            raise NotFound(f"event {event_id} is not linked to this case")
        _audit(actor, "EVENT_UNLINKED", case, {"event_id": event_id, "linked": True},
               reason_code, after={"event_id": event_id, "linked": False})
    return case


def _check_payload(name: str, payload: dict[str, Any]) -> dict[str, Any]:
    kind = CASE_ACTIONS[name]
    missing = [k for k in kind.required if payload.get(k) in (None, "")]
    unknown = sorted(set(payload) - set(kind.required) - set(kind.optional))
    if missing or unknown:
        problems = ([f"missing {', '.join(missing)}"] if missing else []) + (
            [f"unknown {', '.join(unknown)}"] if unknown else [])
        raise ValidationFailed(f"the {name} action's payload: {'; '.join(problems)}",
                               details={"missing": missing, "unknown": unknown,
                                        "required": kind.required, "optional": kind.optional})
    for key in ("amount_cents", "days", "due_days"):
        if key in payload and (not isinstance(payload[key], int) or isinstance(payload[key], bool)
                               or payload[key] <= 0):
            raise ValidationFailed(f"{key} must be a positive whole number")
    if "currency" in payload and not re.fullmatch(r"[A-Z]{3}", str(payload["currency"])):
        raise ValidationFailed("currency must be an ISO 4217 code such as EUR")
    return payload


def case_action_take(*, actor: Actor, case: Case, action: str, payload: dict[str, Any],
                     reason_code: str, ticket_ref: str | None = None) -> CaseAction:
    """Record a case action (TD-490's admin_action). `close` also closes the case; the other
    actions' effects on the platform go out through the platform app's outbox (not yet built)."""
    if action not in CASE_ACTIONS:
        raise ValidationFailed(f"unknown case action {action!r}",
                               details={"actions": sorted(CASE_ACTIONS)})
    kind = CASE_ACTIONS[action]
    actor.require(kind.perm)
    payload = _check_payload(action, payload)
    with transaction.atomic(durable=True):
        case = _locked(case)
        before = snapshot(case)
        meta: dict[str, Any] = {"payload": payload}
        if action == "close":
            meta |= _move(case, Status.CLOSED, actor, reason_code)
        elif case.status == Status.CLOSED:
            raise Conflict("the case is closed")
        entry = _audit(actor, kind.audit_action, case, before, reason_code,
                       ticket_ref=ticket_ref, metadata=meta)
        return CaseAction.objects.create(case=case, actor=actor.staff_user, action=action,
                                         payload=payload, reason_code=reason_code,
                                         audit_entry_id=entry.id, created_at=entry.created_at)


@dataclass(frozen=True)
class BulkOutcome:
    case_id: str
    ok: bool
    error: dict[str, Any] | None = None


BULK_OPERATIONS = ("assign", "tag", "status", "close")


def cases_bulk(*, actor: Actor, case_ids: list[str], operation: str, value: Any,
               reason_code: str, assignee: StaffUser | None = None) -> list[BulkOutcome]:
    """Apply one operation to many cases, each in its own transaction with its own audit
    entry. A case that cannot take the change is reported with the reason, never skipped."""
    actor.require(Perm.CASES_BULK)
    if operation not in BULK_OPERATIONS:
        raise ValidationFailed(f"bulk operation must be one of {', '.join(BULK_OPERATIONS)}")
    if not case_ids or len(case_ids) > 500:
        raise ValidationFailed("select between 1 and 500 cases")
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
    outcomes = []
    for case_id in dict.fromkeys(case_ids):
        case = cases.get(case_id)
        if case is None:
            outcomes.append(BulkOutcome(case_id, False, {"code": "not_found",
                                                         "message": f"no case {case_id}"}))
            continue
        try:
            apply[operation](case)
            outcomes.append(BulkOutcome(case_id, True))
        except AppError as exc:
            outcomes.append(BulkOutcome(case_id, False, {"code": exc.code,
                                                         "message": exc.message}))
    return outcomes


def cases_sla_sweep() -> list[str]:
    """Flag open cases past their SLA due time (clock running), one audit entry each, by
    Casefile itself. Returns the ids flagged."""
    system = Actor.system("sla-sweep")
    moment = now()
    due = Case.objects.filter(status__in=OPEN_STATUSES, sla_paused_at__isnull=True,
                              sla_breached_at__isnull=True, sla_due_at__lt=moment)
    flagged = []
    for case_id in due.values_list("id", flat=True)[:1000]:
        with transaction.atomic():
            case = Case.objects.select_for_update().get(pk=case_id)
            if case.sla_breached_at is not None or case.sla_paused_at is not None:
                continue
            before = snapshot(case)
            case.sla_breached_at = moment
            case.save(update_fields=["sla_breached_at"])
            _audit(system, "CASE_SLA_BREACHED", case, before, "AUTOMATED",
                   metadata={"due_at": isoformat(case.sla_due_at) if case.sla_due_at else None})
            flagged.append(case_id)
    return flagged
