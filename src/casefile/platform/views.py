"""Console screens for the platform's tenants and users: their pages with the privileged
operations (each previewed before it is applied), and the four-eyes approval inbox."""

from __future__ import annotations

from typing import Any

import orjson
from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from casefile.accounts.permissions import Perm, has_perm
from casefile.audit.actor import Actor
from casefile.audit.models import AuditEntry
from casefile.audit.selectors import AuditFilter, audit_entries
from casefile.cases.schemas import CaseFilter
from casefile.cases.selectors import cases as case_search
from casefile.core.console import back, query_without, reason, screen
from casefile.core.errors import ValidationFailed
from casefile.core.pagination import keyset_page
from casefile.core.schemas import Schema, SearchText
from casefile.core.timeutil import now
from casefile.core.validation import validated
from casefile.platform import selectors, services
from casefile.platform.models import Impersonation

PAGE = 100


class TenantSearch(Schema):
    q: SearchText = ""
APPROVAL_STATUSES = ("pending", "approved", "rejected", "expired", "void", "all")
TENANT_OPERATIONS = ("tenant_policy_update", "tenant_credit_add", "tenant_limit_override")
USER_OPERATIONS = ("user_suspend", "user_unsuspend", "impersonation_start")


def _may(actor: Actor, operations: tuple[str, ...]) -> list[str]:
    return [name for name in operations if has_perm(actor.roles,
                                                    services.OPERATIONS[name].perm)]


@screen(Perm.PLATFORM_VIEW)
def tenants(request: HttpRequest, actor: Actor) -> HttpResponse:
    q = validated(TenantSearch, {"q": request.GET.get("q", "").strip()}, what="the search").q
    page = keyset_page(selectors.tenants(q), keys=["name", "id"], descending=False,
                       cursor=request.GET.get("cursor"), limit=PAGE)
    return render(request, "platform/tenants.html", {
        "tenants": page.items, "next_cursor": page.next_cursor,
        "keep": query_without(request.GET, "cursor"), "q": q,
        "users": selectors.platform_users_matching(q)[:50] if q else []})


@screen(Perm.PLATFORM_VIEW)
def tenant_page(request: HttpRequest, actor: Actor, tenant_id: str) -> HttpResponse:
    tenant = selectors.tenant_get(tenant_id)
    details = None
    if request.method == "POST":  # the audited read of sensitive details
        code, _ticket = reason(request)
        details = services.tenant_view_details(actor=actor, tenant=tenant, reason_code=code)
    return render(request, "platform/tenant.html", {
        "tenant": tenant, "details": details,
        "users": tenant.users.order_by("email")[:PAGE],
        "operations": _may(actor, TENANT_OPERATIONS),
        "may_details": has_perm(actor.roles, Perm.TENANT_DETAILS),
        "pending": selectors.approvals("pending").filter(params__tenant_id=tenant.id),
        "recent": _recent(actor, AuditFilter(target_tenant_id=tenant.id)),
        "policy_json": _pretty(tenant.policy), "limits_json": _pretty(tenant.limits),
    })


@screen(Perm.PLATFORM_VIEW)
def user_page(request: HttpRequest, actor: Actor, user_id: str) -> HttpResponse:
    user = selectors.platform_user_get(user_id)
    mine = Impersonation.objects.filter(staff=actor.staff_user, target=user,
                                        ended_at__isnull=True).order_by("-started_at").first()
    return render(request, "platform/user.html", {
        "subject": user, "operations": _may(actor, USER_OPERATIONS),
        "impersonation": mine,
        "cases": case_search(CaseFilter(subject_user=user.id)).order_by("-created_at")[:20],
        "recent": _recent(actor, AuditFilter(target_user_id=user.id)),
    })


def _recent(actor: Actor, entries: AuditFilter) -> list[AuditEntry] | None:
    """The subject's latest audit entries, for those who may read the ledger."""
    if not has_perm(actor.roles, Perm.AUDIT_VIEW):
        return None
    return list(audit_entries(entries).order_by("-seq")[:20])


def _pretty(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()


def _json_object(text: str, name: str) -> dict[str, Any]:
    try:
        value = orjson.loads(text or "{}")
    except orjson.JSONDecodeError as exc:
        raise ValidationFailed(f"{name} must be a JSON object: {exc}") from None
    if not isinstance(value, dict) or not value:
        raise ValidationFailed(f"{name} must be a JSON object with at least one setting")
    return value


def _params(operation: str, post) -> dict[str, Any]:
    """The operation's form as its parameters; the operation's schema (the API's too) validates
    them, reading numbers from their text. Policy and limits are edited as JSON text."""
    op = services.OPERATIONS.get(operation)
    if op is None:
        raise ValidationFailed(f"unknown operation {operation!r}")
    params: dict[str, Any] = {name: post[name] for name in op.params.model_fields
                              if post.get(name, "").strip()}
    for name in ("policy", "limits"):
        if name in params:
            params[name] = _json_object(params[name], name)
    return op.parse(params, strict=False).model_dump(exclude_none=True)


@require_POST
@screen(Perm.PLATFORM_VIEW)  # each operation names its own permission; the service checks it
def operation(request: HttpRequest, actor: Actor, name: str) -> HttpResponse:
    code, ticket = reason(request)
    params = _params(name, request.POST)
    if request.POST.get("preview"):
        entry = services.operation_preview(actor=actor, operation=name, params=params,
                                           reason_code=code, ticket_ref=ticket)
        note = ("Needs a second member of staff's approval before it takes effect."
                if services.needs_approval(operation=name, params=params) else "")
        return render(request, "console/_preview.html", {"preview": entry, "note": note})
    with transaction.atomic(durable=True):
        outcome = services.operation_request(actor=actor, operation=name, params=params,
                                             reason_code=code, ticket_ref=ticket)
    if outcome.approval is not None:
        messages.success(request, f"Sent for approval ({outcome.approval.id}): another member "
                                  "of staff must approve it before it takes effect")
    else:
        messages.success(request, f"{services.OPERATIONS[name].action} done")
    subject = (reverse("platform:tenant", args=[params["tenant_id"]]) if "tenant_id" in params
               else reverse("platform:user", args=[params["user_id"]]))
    return redirect(back(request, subject))


@require_POST
@screen(Perm.PLATFORM_VIEW)
def impersonation_end(request: HttpRequest, actor: Actor, session_id: str) -> HttpResponse:
    session = selectors.impersonation_get(session_id)
    code, _ticket = reason(request)
    services.impersonation_end(actor=actor, session=session, reason_code=code)
    messages.success(request, "Impersonation ended")
    return redirect(back(request))


@screen(Perm.PLATFORM_VIEW)
def approvals(request: HttpRequest, actor: Actor) -> HttpResponse:
    status = request.GET.get("status", "pending")
    if status not in APPROVAL_STATUSES:
        raise ValidationFailed(f"status must be one of {', '.join(APPROVAL_STATUSES)}")
    page = keyset_page(selectors.approvals(status if status != "all" else None),
                       keys=["created_at", "id"], cursor=request.GET.get("cursor"), limit=PAGE)
    moment = now()
    # A request past its time is shown as such and offered to nobody; the worker closes it
    # (audited) — reading the inbox changes nothing.
    rows = [{"approval": a, "params_json": _pretty(a.params),
             "lapsed": a.status == "pending" and a.expires_at <= moment,
             "may_decide": (a.status == "pending" and a.expires_at > moment
                            and a.requested_by_id != actor.staff_user.pk
                            and services.staff_may(actor.staff_user, a.operation))}
            for a in page.items]
    return render(request, "platform/approvals.html", {
        "rows": rows, "status": status, "statuses": APPROVAL_STATUSES,
        "next_cursor": page.next_cursor, "keep": query_without(request.GET, "cursor")})


@require_POST
@screen(Perm.PLATFORM_VIEW)
def approval_decide(request: HttpRequest, actor: Actor, approval_id: str) -> HttpResponse:
    approval = selectors.approval_get(approval_id)
    code, _ticket = reason(request)
    decision = request.POST.get("decision")
    if decision not in ("approve", "reject"):
        raise ValidationFailed("decide to approve or to reject")
    approve = decision == "approve"
    services.approval_decide(actor=actor, approval=approval, approve=approve, reason_code=code)
    verdict = "approved and applied" if approve else "rejected"
    messages.success(request, f"{approval.operation} {verdict}")
    return redirect(reverse("platform:approvals"))
