"""Console screens for cases: the work queues with search and bulk changes, and the case page.

Reads come from `selectors`, every change goes through `services` via `console.change`, which
previews the audit entry (before/after) on request and applies it otherwise.
"""

from __future__ import annotations

from typing import Annotated, TypeVar

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST
from pydantic import Field

from casefile.accounts.models import StaffUser
from casefile.accounts.permissions import Perm, has_perm, roles_for
from casefile.accounts.selectors import staff_user_get
from casefile.audit.actor import Actor
from casefile.cases import details, selectors, services
from casefile.cases.models import Case, CaseAction
from casefile.cases.policy import CASE_ACTIONS, TRANSITIONS, Kind, Status
from casefile.cases.schemas import (
    BulkIn,
    CaseFilter,
    CaseIn,
    CasePatch,
    LinkIn,
    NoteIn,
    StatusIn,
    TagIn,
)
from casefile.core.console import back, change, query_without, reason, screen
from casefile.core.errors import NotFound
from casefile.core.pagination import keyset_page
from casefile.core.schemas import Schema
from casefile.core.validation import from_query, validated
from casefile.events.selectors import issues_of_fingerprints

S = TypeVar("S", bound=Schema)
PAGE = 50
QUEUE_TABS = [("mine", "Mine"), ("unassigned", "Unassigned"), ("breaching", "Breaching soon"),
              ("breached", "Breached"), ("search", "All cases")]
# Sort orders a search may ask for: the keyset keys (all one direction, the last unique).
SEARCH_SORTS = {"newest": (["created_at", "id"], True), "oldest": (["created_at", "id"], False),
                "urgent": (["priority", "created_at", "id"], False)}


@screen(Perm.CASES_VIEW)
def queue(request: HttpRequest, actor: Actor) -> HttpResponse:
    """One screen for the queues and for search: `queue` picks the tab, filters narrow it."""
    name = request.GET.get("queue") or "mine"
    case_filter = from_query(CaseFilter, request.GET)
    cursor = request.GET.get("cursor")
    if name == "search" or case_filter.as_dict():
        name = "search"
        keys, descending = SEARCH_SORTS.get(request.GET.get("sort", ""), SEARCH_SORTS["newest"])
        page = keyset_page(selectors.cases(case_filter), keys=keys, cursor=cursor, limit=PAGE,
                           descending=descending)
    else:
        hours = validated(QueueHours, {"hours": request.GET.get("hours") or 4}).hours
        page = keyset_page(selectors.queue(name, user=actor.staff_user, hours=hours),
                           keys=selectors.QUEUES[name], descending=False, cursor=cursor,
                           limit=PAGE)
    return render(request, "cases/queue.html", {
        "rows": page.items, "queue": name, "tabs": QUEUE_TABS, "filter": case_filter,
        "next_cursor": page.next_cursor, "keep": query_without(request.GET, "cursor"),
        "kinds": Kind.values, "statuses": Status.values, "priorities": range(1, 6),
        "staff": _workers() if has_perm(actor.roles, Perm.CASES_EDIT) else [],
        "sort": request.GET.get("sort", "newest"), "get": request.GET,
    })


class QueueHours(Schema):
    hours: Annotated[int, Field(ge=1, le=selectors.MAX_BREACHING_HOURS)]


def _workers() -> list[StaffUser]:
    """Staff who may be assigned cases (for assignment pickers)."""
    return list(StaffUser.objects.filter(
        is_active=True, role_grants__role__in=roles_for(Perm.CASES_EDIT)).distinct()
        .order_by("email"))


@require_POST
@screen(Perm.CASES_EDIT)
def bulk(request: HttpRequest, actor: Actor) -> HttpResponse:
    post = request.POST
    body = validated(BulkIn, {"case_ids": post.getlist("case_ids"),
                              "operation": post.get("operation", ""),
                              "value": post.get("value") or None,
                              "reason_code": post.get("reason_code", "")}, what="the bulk change")
    operation = body.operation
    assignee = None
    if operation == "assign" and body.value and body.value != "none":
        assignee = staff_user_get(user_id=body.value)
    outcomes = services.cases_bulk(actor=actor, case_ids=body.case_ids, operation=operation,
                                   value=body.value, reason_code=body.reason_code,
                                   assignee=assignee)
    done = sum(o.ok for o in outcomes)
    messages.success(request, f"{operation}: {done} of {len(outcomes)} cases changed")
    for failed in (o for o in outcomes if not o.ok):
        problem = failed.error["message"] if failed.error else "not changed"
        messages.error(request, f"{failed.case_id}: {problem}")
    return redirect(back(request, reverse("cases:queue")))


@screen(Perm.CASES_VIEW)
def case_page(request: HttpRequest, actor: Actor, case_id: str) -> HttpResponse:
    case = selectors.case_get(case_id)
    roles = actor.roles
    timeline = selectors.timeline(case)
    emails = dict(StaffUser.objects.filter(pk__in={i["actor"] for i in timeline})
                  .values_list("id", "email"))
    for item in timeline:
        item["actor_id"], item["actor"] = item["actor"], emails.get(item["actor"], item["actor"])
        if item["type"] == "note":
            item["preview_id"] = f"preview-note-{item['note_id']}"
    links = list(case.event_links.select_related("event").order_by("-linked_at")[:100])
    issues = issues_of_fingerprints([link.event.fingerprint for link in links])
    for link in links:  # the recurring issue each linked event belongs to
        link.issue = issues.get(link.event.fingerprint)  # type: ignore[attr-defined]
    return render(request, "cases/case.html", {
        "case": case, "tags": sorted(t.tag.name for t in case.case_tags.all()),
        "timeline": timeline,
        "links": links,
        "notes": case.notes.order_by("created_at"),
        "next_statuses": sorted(TRANSITIONS[Status(case.status)]),
        "actions": [a for a in CASE_ACTIONS.values() if has_perm(roles, a.perm)],
        "kinds": Kind.values, "priorities": range(1, 6),
        "staff": _workers(), "may_edit": has_perm(roles, Perm.CASES_EDIT),
        "is_open": case.status != Status.CLOSED,
        "detail": details.detail_for(case, actor),  # a kind's own part (cases.details)
    })


def _post(perm: Perm):
    """A change to one case: POST only, `perm` checked, back to the case page afterwards."""
    def decorate(view):
        return require_POST(screen(perm)(view))
    return decorate


def _to(case: Case) -> str:
    return reverse("cases:case", args=[case.id])


@_post(Perm.CASES_EDIT)
def case_update(request: HttpRequest, actor: Actor, case_id: str) -> HttpResponse:
    """The form shows every field; only those that differ from the case are changes."""
    case = selectors.case_get(case_id)
    form = {name: request.POST[name] for name in CasePatch.model_fields if name in request.POST}
    patch = validated(CasePatch, form, what="the change")
    changes = {name: value for name, value in patch.changes().items()
               if value != getattr(case, name)}
    return change(request, lambda: services.case_update(
        actor=actor, case=case, changes=changes, reason_code=patch.reason_code),
        done="Case updated", redirect_to=_to(case))


def _form(request: HttpRequest, schema: type[S], *fields: str) -> S:
    """A one-field change form, read by the API's schema for the same change."""
    data = {name: request.POST.get(name, "").strip() for name in fields}
    return validated(schema, {**data, "reason_code": request.POST.get("reason_code", "")},
                     what="the form")


@_post(Perm.CASES_EDIT)
def case_assign(request: HttpRequest, actor: Actor, case_id: str) -> HttpResponse:
    case = selectors.case_get(case_id)
    code, _ticket = reason(request)
    wanted = request.POST.get("assignee", "")
    assignee = (actor.staff_user if wanted == "me" else
                StaffUser.objects.filter(pk=wanted).first() if wanted else None)
    if wanted and assignee is None:
        raise NotFound(f"no staff member {wanted}")
    return change(request, lambda: services.case_assign(
        actor=actor, case=case, assignee=assignee, reason_code=code),
        done="Assignment changed", redirect_to=_to(case))


@_post(Perm.CASES_EDIT)
def case_status(request: HttpRequest, actor: Actor, case_id: str) -> HttpResponse:
    case = selectors.case_get(case_id)
    body = _form(request, StatusIn, "status")
    return change(request, lambda: services.case_transition(
        actor=actor, case=case, to=body.status, reason_code=body.reason_code),
        done=f"Moved to {body.status}", redirect_to=_to(case))


@_post(Perm.CASES_EDIT)
def case_note(request: HttpRequest, actor: Actor, case_id: str) -> HttpResponse:
    case = selectors.case_get(case_id)
    body = _form(request, NoteIn, "content")
    return change(request, lambda: services.case_note_add(
        actor=actor, case=case, content=body.content, reason_code=body.reason_code),
        done="Note added", redirect_to=_to(case))


@_post(Perm.CASES_EDIT)
def case_note_edit(request: HttpRequest, actor: Actor, case_id: str, note_id: int
                   ) -> HttpResponse:
    case = selectors.case_get(case_id)
    note = selectors.note_get(case, note_id)
    body = _form(request, NoteIn, "content")
    return change(request, lambda: services.case_note_edit(
        actor=actor, note=note, content=body.content, reason_code=body.reason_code),
        done="Note edited (the earlier text is kept)", redirect_to=_to(case))


@_post(Perm.CASES_EDIT)
def case_tag(request: HttpRequest, actor: Actor, case_id: str) -> HttpResponse:
    case = selectors.case_get(case_id)
    body = _form(request, TagIn, "name")
    code, name = body.reason_code, body.name
    if request.POST.get("remove"):
        return change(request, lambda: services.case_tag_remove(
            actor=actor, case=case, name=name, reason_code=code),
            done=f"Tag {name} removed", redirect_to=_to(case))
    return change(request, lambda: services.case_tag_add(
        actor=actor, case=case, name=name, reason_code=code),
        done=f"Tagged {name}", redirect_to=_to(case))


@_post(Perm.CASES_EDIT)
def case_link(request: HttpRequest, actor: Actor, case_id: str) -> HttpResponse:
    """Link (or, with `remove`, unlink) an event by its id."""
    case = selectors.case_get(case_id)
    body = _form(request, LinkIn, "event_id")
    code, event_id = body.reason_code, body.event_id
    if request.POST.get("remove"):
        return change(request, lambda: services.case_event_unlink(
            actor=actor, case=case, event_id=event_id, reason_code=code),
            done=f"Event {event_id} unlinked", redirect_to=_to(case))
    return change(request, lambda: services.case_event_link(
        actor=actor, case=case, event_id=event_id, reason_code=code),
        done=f"Event {event_id} linked", redirect_to=_to(case))


@_post(Perm.CASES_VIEW)  # each action names its own permission; the service checks it
def case_action(request: HttpRequest, actor: Actor, case_id: str) -> HttpResponse:
    """The action's payload is read by the action's own schema (the API's too): a field left
    empty is not given, numbers are read from their text."""
    case = selectors.case_get(case_id)
    code, ticket = reason(request)
    name = request.POST.get("action", "")
    kind = CASE_ACTIONS.get(name)
    form = {field: request.POST[field].strip()
            for field in (kind.payload.model_fields if kind else ())
            if request.POST.get(field, "").strip()}
    payload = (validated(kind.payload, form, what=f"the {name} action").model_dump(
        exclude_none=True) if kind else form)
    return change(request, lambda: _action_taken(request, services.case_action_take(
        actor=actor, case=case, action=name, payload=payload, reason_code=code,
        ticket_ref=ticket)), done=f"Action {name} taken", redirect_to=_to(case))


def _action_taken(request: HttpRequest, action: CaseAction) -> CaseAction:
    if action.approval_id:
        messages.info(request, f"{action.action} waits for a second member of staff's approval "
                               f"({action.approval_id}) before it reaches the platform")
    return action


@screen(Perm.CASES_EDIT)
def case_new(request: HttpRequest, actor: Actor) -> HttpResponse:
    if request.method == "POST":
        form = {name: request.POST[name].strip() for name in CaseIn.model_fields
                if request.POST.get(name, "").strip()}
        body = validated(CaseIn, form, what="the new case")
        case = services.case_create(actor=actor, **body.model_dump(exclude_none=True))
        messages.success(request, f"Opened {case.id}")
        return redirect(_to(case))
    return render(request, "cases/new.html", {"kinds": Kind.values, "priorities": range(1, 6)})
