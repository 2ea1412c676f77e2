"""What every console screen shares: the permission gate, application errors as pages or form
messages, the preview-then-apply flow of privileged changes, and the navigation.

Screens consult the same permission matrix as the API (`casefile.accounts.permissions`); the
navigation shows a section only to roles that may open it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from casefile.accounts.access import actor_of
from casefile.accounts.permissions import Perm, has_perm
from casefile.accounts.stepup import StepUpRequired, redirect_to_step_up
from casefile.audit import ledger
from casefile.audit.registry import REASON_CODES
from casefile.core.errors import AppError, ValidationFailed
from casefile.core.timeutil import now

# Section, URL name, the permission that opens it. Order is the order in the bar.
NAVIGATION: list[tuple[str, str, Perm]] = [
    ("Cases", "cases:queue", Perm.CASES_VIEW),
    ("Events", "events:explorer", Perm.EVENTS_VIEW),
    ("Tenants", "platform:tenants", Perm.PLATFORM_VIEW),
    ("Approvals", "platform:approvals", Perm.PLATFORM_VIEW),
    ("Evidence", "evidence:list", Perm.EVIDENCE_VIEW),
    ("Holds", "holds:list", Perm.HOLDS_VIEW),
    ("Trust", "trust:queues", Perm.TRUST_VIEW),
    ("Moderation", "moderation:queue", Perm.MODERATION_REVIEW),
    ("Webhooks", "webhooks:log", Perm.TRUST_VIEW),
    ("Documents", "documents:library", Perm.DOCUMENTS_VIEW),
    ("Audit", "audit:entries", Perm.AUDIT_VIEW),
]


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    roles = user.roles
    return {
        "nav": [{"label": label, "url": url, "active": request.path.startswith(url)}
                for label, url in ((label, reverse(name)) for label, name, perm in NAVIGATION
                                   if has_perm(roles, perm))],
        "may": {p.name: has_perm(roles, p) for p in Perm},
        "reason_codes": REASON_CODES,
        "now": now(),
    }


def screen(perm: Perm) -> Callable:
    """A console view: signed in, holding `perm`, with application errors shown to the user
    (a page for reads, a message or an inline fragment for form posts)."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            try:
                actor = actor_of(request)
                actor.require(perm)
                return view(request, actor, *args, **kwargs)
            except AppError as exc:
                return _error(request, exc)

        return wrapper

    return decorate


def _error(request: HttpRequest, exc: AppError) -> HttpResponse:
    if isinstance(exc, StepUpRequired):  # to the verify page, then back to the form's page
        return redirect_to_step_up(request, back(request))
    if request.method == "POST" and exc.status not in (403, 404):
        if getattr(request, "htmx", False):  # shown where the preview would have been
            return render(request, "console/_problem.html", {"error": exc})
        messages.error(request, exc.message)
        return redirect(back(request))
    template = {403: "403.html", 404: "404.html"}.get(exc.status, "400.html")
    return render(request, template, {"error": exc}, status=exc.status)


def back(request: HttpRequest, default: str = "/") -> str:
    """Where a form post returns to: the page it came from, if it is ours."""
    target = request.POST.get("next") or request.headers.get("Referer", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return default


def change(request: HttpRequest, apply: Callable[[], object], *, done: str,
           redirect_to: str) -> HttpResponse:
    """Preview or apply one audited change. With `preview` in the form, run the service up to
    its audit entry and show that entry's before/after (nothing is changed); otherwise apply
    it and return to `redirect_to` with `done` as the confirmation."""
    if request.POST.get("preview"):
        return render(request, "console/_preview.html", {"preview": ledger.preview(apply)})
    apply()
    messages.success(request, done)
    return redirect(redirect_to)


def reason(request: HttpRequest) -> tuple[str, str | None]:
    """The reason code (required) and ticket reference (optional) every change form carries."""
    code = request.POST.get("reason_code", "")
    if not code:
        raise ValidationFailed("choose a reason code")
    return code, (request.POST.get("ticket_ref") or "").strip() or None


def query_without(query: QueryDict, *names: str) -> str:
    """The current query string minus `names` (for paging and tab links that keep filters)."""
    copy = query.copy()
    for name in names:
        copy.pop(name, None)
    return copy.urlencode()


def instant(value: str, name: str) -> datetime | None:
    """A `datetime-local` value, read as UTC (the console shows UTC throughout)."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(f"{name} must be a date and time such as 2026-11-25T09:30") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
