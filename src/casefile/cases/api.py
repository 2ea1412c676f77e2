from datetime import datetime
from typing import Annotated, Any, Literal

from django.http import HttpRequest
from ninja import Query, Router, Status
from pydantic import Field

from casefile.accounts.access import require
from casefile.accounts.permissions import Perm
from casefile.accounts.selectors import staff_user_get
from casefile.cases import selectors, services
from casefile.cases.models import Case
from casefile.cases.schemas import (
    ActionIn,
    AssignIn,
    BulkIn,
    CaseFilter,
    CaseIn,
    CasePatch,
    LinkIn,
    NoteIn,
    StatusIn,
    TagIn,
    TagName,
)
from casefile.core.pagination import keyset_page
from casefile.core.schemas import CaseId, EventId, Int64, Limit, ReasonCode, Schema

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


class ActionOut(Schema):
    id: str
    action: str
    payload: dict[str, Any]
    audit_entry_id: str
    command_id: str | None  # the command sent to the platform, for suspend and refund
    approval_id: str | None  # or the four-eyes request it now waits on
    created_at: datetime


class BulkResultOut(Schema):
    case_id: str
    ok: bool
    error: dict[str, Any] | None


class BulkOut(Schema):
    results: list[BulkResultOut]
    succeeded: int
    failed: int


@router.post("", response={201: CaseOut}, summary="Open a case")
def case_create(request: HttpRequest, body: CaseIn):
    actor = require(request, Perm.CASES_EDIT)
    case = services.case_create(actor=actor, **body.model_dump())
    return Status(201, CaseOut.of(case))


@router.get("", response=CasePageOut, summary="Search cases, newest first")
def case_search(request: HttpRequest, filters: Query[CaseFilter], cursor: str | None = None,
                limit: Limit = 50):
    require(request, Perm.CASES_VIEW)
    page = keyset_page(selectors.cases(filters), keys=["created_at", "id"], cursor=cursor,
                       limit=limit)
    return {"items": [CaseOut.of(c) for c in page.items], "next_cursor": page.next_cursor}


@router.get("/queues/{name}", response=CasePageOut,
            summary="Work queues, each in its working order (mine, unassigned, breaching, "
                    "breached)")
def case_queue(request: HttpRequest, name: Literal["mine", "unassigned", "breaching", "breached"],
               hours: Annotated[int, Field(ge=1, le=selectors.MAX_BREACHING_HOURS)] = 4,
               cursor: str | None = None, limit: Limit = 50):
    actor = require(request, Perm.CASES_VIEW)
    page = keyset_page(selectors.queue(name, user=actor.staff_user, hours=hours),
                       keys=selectors.QUEUES[name], descending=False, cursor=cursor, limit=limit)
    return {"items": [CaseOut.of(c) for c in page.items], "next_cursor": page.next_cursor}


@router.post("/bulk", response=BulkOut, summary="One change over many cases; each reported")
def case_bulk(request: HttpRequest, body: BulkIn):
    actor = require(request, Perm.CASES_EDIT)
    assignee = None
    if body.operation == "assign" and body.value not in (None, "", "none"):
        assignee = staff_user_get(user_id=body.value)
    outcomes = services.cases_bulk(actor=actor, case_ids=body.case_ids,
                                   operation=body.operation, value=body.value,
                                   reason_code=body.reason_code, assignee=assignee,
                                   all_or_nothing=body.all_or_nothing)
    return {"results": [o.__dict__ for o in outcomes],
            "succeeded": sum(o.ok for o in outcomes),
            "failed": sum(not o.ok for o in outcomes)}


@router.get("/{case_id}", response=CaseOut, summary="One case")
def case_detail(request: HttpRequest, case_id: CaseId):
    require(request, Perm.CASES_VIEW)
    return CaseOut.of(selectors.case_get(case_id))


@router.patch("/{case_id}", response=CaseOut, summary="Change a case's fields or priority")
def case_update(request: HttpRequest, case_id: CaseId, body: CasePatch):
    actor = require(request, Perm.CASES_EDIT)
    case = services.case_update(actor=actor, case=selectors.case_get(case_id),
                                changes=body.changes(),
                                reason_code=body.reason_code)
    return CaseOut.of(case)


@router.post("/{case_id}/assign", response=CaseOut, summary="Assign or unassign")
def case_assign(request: HttpRequest, case_id: CaseId, body: AssignIn):
    actor = require(request, Perm.CASES_EDIT)
    assignee = staff_user_get(user_id=body.assignee_id) if body.assignee_id else None
    case = services.case_assign(actor=actor, case=selectors.case_get(case_id), assignee=assignee,
                                reason_code=body.reason_code)
    return CaseOut.of(case)


@router.post("/{case_id}/status", response=CaseOut, summary="Move to another status (409 if "
             "the status machine does not allow it)")
def case_status(request: HttpRequest, case_id: CaseId, body: StatusIn):
    actor = require(request, Perm.CASES_EDIT)
    case = services.case_transition(actor=actor, case=selectors.case_get(case_id),
                                    to=body.status, reason_code=body.reason_code)
    return CaseOut.of(case)


@router.post("/{case_id}/notes", response={201: dict}, summary="Add a note")
def case_note_add(request: HttpRequest, case_id: CaseId, body: NoteIn):
    actor = require(request, Perm.CASES_EDIT)
    note = services.case_note_add(actor=actor, case=selectors.case_get(case_id),
                                  content=body.content, reason_code=body.reason_code)
    return Status(201, {"id": note.pk, "content": note.content, "created_at": note.created_at})


@router.patch("/{case_id}/notes/{note_id}", summary="Edit your note (the old text is kept)")
def case_note_edit(request: HttpRequest, case_id: CaseId, note_id: Int64, body: NoteIn):
    actor = require(request, Perm.CASES_EDIT)
    note = selectors.note_get(selectors.case_get(case_id), note_id)
    note = services.case_note_edit(actor=actor, note=note, content=body.content,
                                   reason_code=body.reason_code)
    return {"id": note.pk, "content": note.content, "updated_at": note.updated_at,
            "revisions": note.revisions.count()}


@router.post("/{case_id}/tags", response=CaseOut, summary="Tag a case")
def case_tag_add(request: HttpRequest, case_id: CaseId, body: TagIn):
    actor = require(request, Perm.CASES_EDIT)
    case = services.case_tag_add(actor=actor, case=selectors.case_get(case_id), name=body.name,
                                 reason_code=body.reason_code)
    return CaseOut.of(case)


@router.delete("/{case_id}/tags/{name}", response=CaseOut, summary="Untag a case")
def case_tag_remove(request: HttpRequest, case_id: CaseId, name: TagName,
                    reason_code: ReasonCode):
    actor = require(request, Perm.CASES_EDIT)
    case = services.case_tag_remove(actor=actor, case=selectors.case_get(case_id), name=name,
                                    reason_code=reason_code)
    return CaseOut.of(case)


@router.post("/{case_id}/events", response={201: dict}, summary="Link an event")
def case_event_link(request: HttpRequest, case_id: CaseId, body: LinkIn):
    actor = require(request, Perm.CASES_EDIT)
    link = services.case_event_link(actor=actor, case=selectors.case_get(case_id),
                                    event_id=body.event_id, reason_code=body.reason_code)
    return Status(201, {"case_id": link.case_id, "event_id": link.event_id,
                        "linked_at": link.linked_at})


@router.delete("/{case_id}/events/{event_id}", response=CaseOut, summary="Unlink an event")
def case_event_unlink(request: HttpRequest, case_id: CaseId, event_id: EventId,
                      reason_code: ReasonCode):
    actor = require(request, Perm.CASES_EDIT)
    case = services.case_event_unlink(actor=actor, case=selectors.case_get(case_id),
                                      event_id=event_id, reason_code=reason_code)
    return CaseOut.of(case)


@router.post("/{case_id}/actions", response={201: ActionOut},
             summary="Take a case action (suspend and refund run their platform operation)")
def case_action(request: HttpRequest, case_id: CaseId, body: ActionIn):
    actor = require(request, Perm.CASES_VIEW)  # the action's own permission is checked next
    action = services.case_action_take(actor=actor, case=selectors.case_get(case_id),
                                       action=body.action, payload=body.payload,
                                       reason_code=body.reason_code, ticket_ref=body.ticket_ref)
    return Status(201, ActionOut(id=action.id, action=action.action, payload=action.payload,
                                 audit_entry_id=action.audit_entry_id,
                                 command_id=action.command_id or None,
                                 approval_id=action.approval_id or None,
                                 created_at=action.created_at))


@router.get("/{case_id}/timeline", summary="Status changes, actions, notes, links in order")
def case_timeline(request: HttpRequest, case_id: CaseId):
    require(request, Perm.CASES_VIEW)
    return {"items": selectors.timeline(selectors.case_get(case_id))}
