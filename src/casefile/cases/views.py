"""Console screens for cases: the work queues with search and bulk changes, and the case page.

Reads come from `selectors`, every change goes through `services` via `console.change`, which
previews the audit entry (before/after) on request and applies it otherwise.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from casefile.accounts.models import StaffUser
from casefile.accounts.permissions import Perm, has_perm, roles_for
from casefile.audit.actor import Actor
from casefile.cases import selectors, services
from casefile.cases.models import Case
from casefile.cases.policy import CASE_ACTIONS, TRANSITIONS, Kind, Status
from casefile.core.console import back, change, query_without, reason, screen
from casefile.core.errors import NotFound, ValidationFailed
from casefile.core.pagination import keyset_page
from casefile.core.timeutil import isoformat

PAGE = 50
QUEUE_TABS = [("mine", "Mine"), ("unassigned", "Unassigned"), ("breaching", "Breaching soon"),
              ("breached", "Breached"), ("search", "All cases")]
# Sort orders a search may ask for: the keyset keys (all one direction, the last unique).
SEARCH_SORTS = {"newest": (["created_at", "id"], True), "oldest": (["created_at", "id"], False),
                "urgent": (["priority", "created_at", "id"], False)}
ACTION_FIELDS = ("user_id", "order_id", "amount_cents", "currency", "days", "due_days", "message")
WHOLE_NUMBERS = ("amount_cents", "days", "due_days")


def _case_filter(request: HttpRequest) -> selectors.CaseFilter:
    get = request.GET
    try:
        priority = [int(p) for p in get.getlist("priority") if p]
    except ValueError:
        raise ValidationFailed("priority must be 1 to 5") from None
    return selectors.CaseFilter(
        q=get.get("q", "").strip() or None, kind=[k for k in get.getlist("kind") if k] or None,
        status=[s for s in get.getlist("status") if s] or None, priority=priority or None,
        assignee=get.get("assignee") or None, tag=[t for t in get.getlist("tag") if t] or None,
        subject_user=get.get("subject_user") or None, event_id=get.get("event_id") or None)


@screen(Perm.CASES_VIEW)
def queue(request: HttpRequest, actor: Actor) -> HttpResponse:
    """One screen for the queues and for search: `queue` picks the tab, filters narrow it."""
    name = request.GET.get("queue") or "mine"
    case_filter = _case_filter(request)
    next_cursor = None
    if name == "search" or case_filter.as_dict():
        name = "search"
        keys, descending = SEARCH_SORTS.get(request.GET.get("sort", ""), SEARCH_SORTS["newest"])
        page = keyset_page(selectors.cases(case_filter), keys=keys,
                           cursor=request.GET.get("cursor"), limit=PAGE, descending=descending,
                           key_of=lambda c: [isoformat(v) if isinstance(v, datetime) else v
                                             for v in (getattr(c, k) for k in keys)])
        rows, next_cursor = page.items, page.next_cursor
    else:
        hours = int(request.GET.get("hours") or 4) if request.GET.get(
            "hours", "4").isdigit() else 4
        # A queue is worked from the top in its own order (due time, urgency).
        rows = list(selectors.queue(name, user=actor.staff_user, hours=hours)[:PAGE])
    return render(request, "cases/queue.html", {
        "rows": rows, "queue": name, "tabs": QUEUE_TABS, "filter": case_filter,
        "next_cursor": next_cursor, "keep": query_without(request.GET, "cursor"),
        "kinds": Kind.values, "statuses": Status.values, "priorities": range(1, 6),
        "staff": _workers() if has_perm(actor.roles, Perm.CASES_BULK) else [],
        "sort": request.GET.get("sort", "newest"), "get": request.GET,
    })


def _workers() -> list[StaffUser]:
    """Staff who may be assigned cases (for assignment pickers)."""
    return list(StaffUser.objects.filter(
        is_active=True, role_grants__role__in=roles_for(Perm.CASES_EDIT)).distinct()
        .order_by("email"))


@require_POST
@screen(Perm.CASES_BULK)
def bulk(request: HttpRequest, actor: Actor) -> HttpResponse:
    code, _ticket = reason(request)
    operation, value = request.POST.get("operation", ""), request.POST.get("value", "")
    assignee = None
    if operation == "assign" and value and value != "none":
        assignee = StaffUser.objects.filter(pk=value).first()
        if assignee is None:
            raise NotFound(f"no staff member {value}")
    outcomes = services.cases_bulk(actor=actor, case_ids=request.POST.getlist("case_ids"),
                                   operation=operation, value=value or None,
                                   reason_code=code, assignee=assignee)
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
    return render(request, "cases/case.html", {
        "case": case, "tags": sorted(t.tag.name for t in case.case_tags.all()),
        "timeline": timeline,
        "links": case.event_links.select_related("event").order_by("-linked_at")[:100],
        "notes": case.notes.order_by("created_at"),
        "next_statuses": sorted(TRANSITIONS[Status(case.status)]),
        "actions": [a for a in CASE_ACTIONS.values() if has_perm(roles, a.perm)],
        "action_fields": ACTION_FIELDS, "kinds": Kind.values, "priorities": range(1, 6),
        "staff": _workers(), "may_edit": has_perm(roles, Perm.CASES_EDIT),
        "is_open": case.status != Status.CLOSED,
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
    case = selectors.case_get(case_id)
    code, _ticket = reason(request)
    changes: dict[str, Any] = {}
    for name in ("title", "summary", "kind", "subject_user", "order_id"):
        if name in request.POST and request.POST[name].strip() != getattr(case, name):
            changes[name] = request.POST[name]
    if request.POST.get("priority") and int(request.POST["priority"]) != case.priority:
        changes["priority"] = int(request.POST["priority"])
    return change(request, lambda: services.case_update(
        actor=actor, case=case, changes=changes, reason_code=code),
        done="Case updated", redirect_to=_to(case))


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
    code, _ticket = reason(request)
    to = request.POST.get("status", "")
    return change(request, lambda: services.case_transition(
        actor=actor, case=case, to=to, reason_code=code),
        done=f"Moved to {to}", redirect_to=_to(case))


@_post(Perm.CASES_EDIT)
def case_note(request: HttpRequest, actor: Actor, case_id: str) -> HttpResponse:
    case = selectors.case_get(case_id)
    code, _ticket = reason(request)
    return change(request, lambda: services.case_note_add(
        actor=actor, case=case, content=request.POST.get("content", ""), reason_code=code),
        done="Note added", redirect_to=_to(case))


@_post(Perm.CASES_EDIT)
def case_note_edit(request: HttpRequest, actor: Actor, case_id: str, note_id: int
                   ) -> HttpResponse:
    case = selectors.case_get(case_id)
    note = selectors.note_get(case, note_id)
    code, _ticket = reason(request)
    return change(request, lambda: services.case_note_edit(
        actor=actor, note=note, content=request.POST.get("content", ""), reason_code=code),
        done="Note edited (the earlier text is kept)", redirect_to=_to(case))


@_post(Perm.CASES_EDIT)
def case_tag(request: HttpRequest, actor: Actor, case_id: str) -> HttpResponse:
    case = selectors.case_get(case_id)
    code, _ticket = reason(request)
    name = request.POST.get("name", "")
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
    code, _ticket = reason(request)
    event_id = request.POST.get("event_id", "").strip()
    if request.POST.get("remove"):
        return change(request, lambda: services.case_event_unlink(
            actor=actor, case=case, event_id=event_id, reason_code=code),
            done=f"Event {event_id} unlinked", redirect_to=_to(case))
    return change(request, lambda: services.case_event_link(
        actor=actor, case=case, event_id=event_id, reason_code=code),
        done=f"Event {event_id} linked", redirect_to=_to(case))


@_post(Perm.CASES_VIEW)  # each action names its own permission; the service checks it
def case_action(request: HttpRequest, actor: Actor, case_id: str) -> HttpResponse:
    case = selectors.case_get(case_id)
    code, ticket = reason(request)
    name = request.POST.get("action", "")
    kind = CASE_ACTIONS.get(name)
    payload: dict[str, Any] = {}
    for field in (kind.required + kind.optional) if kind else ():
        value = request.POST.get(field, "").strip()
        if value:
            if field in WHOLE_NUMBERS:
                if not value.isdigit():
                    raise ValidationFailed(f"{field} must be a whole number")
                payload[field] = int(value)
            else:
                payload[field] = value
    return change(request, lambda: services.case_action_take(
        actor=actor, case=case, action=name, payload=payload, reason_code=code,
        ticket_ref=ticket), done=f"Action {name} recorded", redirect_to=_to(case))


@screen(Perm.CASES_EDIT)
def case_new(request: HttpRequest, actor: Actor) -> HttpResponse:
    if request.method == "POST":
        code, _ticket = reason(request)
        post = request.POST
        try:
            priority = int(post.get("priority") or 3)
        except ValueError:
            raise ValidationFailed("priority must be 1 to 5") from None
        case = services.case_create(
            actor=actor, kind=post.get("kind", ""), title=post.get("title", ""),
            priority=priority, summary=post.get("summary", ""),
            subject_user=post.get("subject_user", "").strip(), reason_code=code)
        messages.success(request, f"Opened {case.id}")
        return redirect(_to(case))
    return render(request, "cases/new.html", {"kinds": Kind.values, "priorities": range(1, 6)})
