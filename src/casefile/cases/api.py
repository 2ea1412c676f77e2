from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Status

from casefile.accounts.access import require
from casefile.accounts.permissions import Perm
from casefile.accounts.selectors import staff_user_get
from casefile.cases import selectors, services
from casefile.cases.models import Case
from casefile.core.pagination import keyset_page
from casefile.core.schemas import Schema
from casefile.core.timeutil import isoformat

router = Router(tags=["cases"])


class CaseOut(Schema):
    id: str
    kind: str
    status: str
    priority: int
    title: str
    summary: str
    description: str
    opened_by: str
    created_by: str | None
    assigned_to: str | None
    subject_user: str
    order_id: str
    thread_id: str
    listing_id: str
    sla_due_at: datetime | None
    sla_paused: bool
    sla_breached_at: datetime | None
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    tags: list[str]

    @staticmethod
    def of(case: Case) -> "CaseOut":
        return CaseOut(
            id=case.id, kind=case.kind, status=case.status, priority=case.priority,
            title=case.title, summary=case.summary, description=case.description,
            opened_by=case.opened_by, created_by=case.created_by_id,
            assigned_to=case.assigned_to_id, subject_user=case.subject_user,
            order_id=case.order_id, thread_id=case.thread_id, listing_id=case.listing_id,
            sla_due_at=case.sla_due_at, sla_paused=case.sla_paused_at is not None,
            sla_breached_at=case.sla_breached_at, created_at=case.created_at,
            updated_at=case.updated_at, closed_at=case.closed_at,
            tags=sorted(t.tag.name for t in case.case_tags.all()))


class CasePageOut(Schema):
    items: list[CaseOut]
    next_cursor: str | None


class Reasoned(Schema):
    reason_code: str


class CaseIn(Reasoned):
    kind: str
    title: str
    priority: int = 3
    summary: str = ""
    description: str = ""
    opened_by: str | None = None
    subject_user: str = ""
    order_id: str = ""
    thread_id: str = ""
    listing_id: str = ""


class CasePatch(Reasoned):
    title: str | None = None
    summary: str | None = None
    description: str | None = None
    priority: int | None = None
    kind: str | None = None
    subject_user: str | None = None
    order_id: str | None = None
    thread_id: str | None = None
    listing_id: str | None = None


class AssignIn(Reasoned):
    assignee_id: str | None  # null to unassign


class StatusIn(Reasoned):
    status: str


class NoteIn(Reasoned):
    content: str


class TagIn(Reasoned):
    name: str


class LinkIn(Reasoned):
    event_id: str


class ActionIn(Reasoned):
    action: str
    payload: dict[str, Any] = {}
    ticket_ref: str | None = None


class BulkIn(Reasoned):
    case_ids: list[str]
    operation: str
    value: str | None = None  # tag name, status, or assignee id ("none" to unassign)


class CaseFilterIn(Schema):
    q: str | None = None
    kind: list[str] | None = None
    status: list[str] | None = None
    priority: list[int] | None = None
    assignee: str | None = None
    tag: list[str] | None = None
    subject_user: str | None = None
    event_id: str | None = None


@router.post("", response={201: CaseOut}, summary="Open a case")
def case_create(request: HttpRequest, body: CaseIn):
    actor = require(request, Perm.CASES_EDIT)
    case = services.case_create(actor=actor, **body.model_dump())
    return Status(201, CaseOut.of(case))


@router.get("", response=CasePageOut, summary="Search cases, newest first")
def case_search(request: HttpRequest, filters: Query[CaseFilterIn], cursor: str | None = None,
                limit: int = 50):
    require(request, Perm.CASES_VIEW)
    query = selectors.cases(selectors.CaseFilter(**filters.model_dump()))
    page = keyset_page(query, keys=["created_at", "id"], cursor=cursor, limit=limit,
                       key_of=lambda c: [isoformat(c.created_at), c.id])
    return {"items": [CaseOut.of(c) for c in page.items], "next_cursor": page.next_cursor}


@router.get("/queues/{name}", response=CasePageOut, summary="Work queues")
def case_queue(request: HttpRequest, name: str, hours: int = 4, limit: int = 50):
    actor = require(request, Perm.CASES_VIEW)
    query = selectors.queue(name, user=actor.staff_user, hours=hours)
    # A queue is worked from the top in its own order (due time, urgency): one page of `limit`.
    return {"items": [CaseOut.of(c) for c in query[:max(1, min(limit, 500))]],
            "next_cursor": None}


@router.post("/bulk", summary="One operation over many cases; each reported")
def case_bulk(request: HttpRequest, body: BulkIn):
    actor = require(request, Perm.CASES_BULK)
    assignee = None
    if body.operation == "assign" and body.value not in (None, "", "none"):
        assignee = staff_user_get(user_id=body.value)
    outcomes = services.cases_bulk(actor=actor, case_ids=body.case_ids,
                                   operation=body.operation, value=body.value,
                                   reason_code=body.reason_code, assignee=assignee)
    return {"results": [o.__dict__ for o in outcomes],
            "succeeded": sum(o.ok for o in outcomes),
            "failed": sum(not o.ok for o in outcomes)}


@router.get("/{case_id}", response=CaseOut, summary="One case")
def case_detail(request: HttpRequest, case_id: str):
    require(request, Perm.CASES_VIEW)
    return CaseOut.of(selectors.case_get(case_id))


@router.patch("/{case_id}", response=CaseOut, summary="Change a case's fields or priority")
def case_update(request: HttpRequest, case_id: str, body: CasePatch):
    actor = require(request, Perm.CASES_EDIT)
    changes = body.model_dump(exclude_unset=True, exclude={"reason_code"})
    case = services.case_update(actor=actor, case=selectors.case_get(case_id), changes=changes,
                                reason_code=body.reason_code)
    return CaseOut.of(case)


@router.post("/{case_id}/assign", response=CaseOut, summary="Assign or unassign")
def case_assign(request: HttpRequest, case_id: str, body: AssignIn):
    actor = require(request, Perm.CASES_EDIT)
    assignee = staff_user_get(user_id=body.assignee_id) if body.assignee_id else None
    case = services.case_assign(actor=actor, case=selectors.case_get(case_id), assignee=assignee,
                                reason_code=body.reason_code)
    return CaseOut.of(case)


@router.post("/{case_id}/status", response=CaseOut, summary="Move to another status (409 if "
             "the status machine does not allow it)")
def case_status(request: HttpRequest, case_id: str, body: StatusIn):
    actor = require(request, Perm.CASES_EDIT)
    case = services.case_transition(actor=actor, case=selectors.case_get(case_id),
                                    to=body.status, reason_code=body.reason_code)
    return CaseOut.of(case)


@router.post("/{case_id}/notes", response={201: dict}, summary="Add a note")
def case_note_add(request: HttpRequest, case_id: str, body: NoteIn):
    actor = require(request, Perm.CASES_EDIT)
    note = services.case_note_add(actor=actor, case=selectors.case_get(case_id),
                                  content=body.content, reason_code=body.reason_code)
    return Status(201, {"id": note.pk, "content": note.content, "created_at": note.created_at})


@router.patch("/{case_id}/notes/{note_id}", summary="Edit your note (the old text is kept)")
def case_note_edit(request: HttpRequest, case_id: str, note_id: int, body: NoteIn):
    actor = require(request, Perm.CASES_EDIT)
    note = selectors.note_get(selectors.case_get(case_id), note_id)
    note = services.case_note_edit(actor=actor, note=note, content=body.content,
                                   reason_code=body.reason_code)
    return {"id": note.pk, "content": note.content, "updated_at": note.updated_at,
            "revisions": note.revisions.count()}


@router.post("/{case_id}/tags", response=CaseOut, summary="Tag a case")
def case_tag_add(request: HttpRequest, case_id: str, body: TagIn):
    actor = require(request, Perm.CASES_EDIT)
    case = services.case_tag_add(actor=actor, case=selectors.case_get(case_id), name=body.name,
                                 reason_code=body.reason_code)
    return CaseOut.of(case)


@router.delete("/{case_id}/tags/{name}", response=CaseOut, summary="Untag a case")
def case_tag_remove(request: HttpRequest, case_id: str, name: str, reason_code: str):
    actor = require(request, Perm.CASES_EDIT)
    case = services.case_tag_remove(actor=actor, case=selectors.case_get(case_id), name=name,
                                    reason_code=reason_code)
    return CaseOut.of(case)


@router.post("/{case_id}/events", response={201: dict}, summary="Link an event")
def case_event_link(request: HttpRequest, case_id: str, body: LinkIn):
    actor = require(request, Perm.CASES_EDIT)
    link = services.case_event_link(actor=actor, case=selectors.case_get(case_id),
                                    event_id=body.event_id, reason_code=body.reason_code)
    return Status(201, {"case_id": link.case_id, "event_id": link.event_id,
                        "linked_at": link.linked_at})


@router.delete("/{case_id}/events/{event_id}", response=CaseOut, summary="Unlink an event")
def case_event_unlink(request: HttpRequest, case_id: str, event_id: str, reason_code: str):
    actor = require(request, Perm.CASES_EDIT)
    case = services.case_event_unlink(actor=actor, case=selectors.case_get(case_id),
                                      event_id=event_id, reason_code=reason_code)
    return CaseOut.of(case)


@router.post("/{case_id}/actions", response={201: dict}, summary="Take a case action")
def case_action(request: HttpRequest, case_id: str, body: ActionIn):
    actor = require(request, Perm.CASES_VIEW)  # the action's own permission is checked next
    action = services.case_action_take(actor=actor, case=selectors.case_get(case_id),
                                       action=body.action, payload=body.payload,
                                       reason_code=body.reason_code, ticket_ref=body.ticket_ref)
    return Status(201, {"id": action.id, "action": action.action, "payload": action.payload,
                        "audit_entry_id": action.audit_entry_id,
                        "created_at": action.created_at})


@router.get("/{case_id}/timeline", summary="Status changes, actions, notes, links in order")
def case_timeline(request: HttpRequest, case_id: str):
    require(request, Perm.CASES_VIEW)
    return {"items": selectors.timeline(selectors.case_get(case_id))}
