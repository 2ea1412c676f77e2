"""Step-up: a CRITICAL action needs a second factor proven within the last STEP_UP_SECONDS,
however the person signed in.

The one check is `require_step_up(actor)`. The services of the CRITICAL actions call it, so
every way to them (console, API, a case action) passes it: `platform.services.operation_request`
for a CRITICAL operation (starting an impersonation) and `platform.services.approval_decide`
for approving a four-eyes request (rejecting one needs no step-up: it changes nothing).

What counts as proof:
- a console session: the session's `second_factor_at` (a TOTP code or a security key on the
  verify page, or the IdP's MFA at an OpenID Connect sign-in) within the window; otherwise the
  console sends the person to the verify page and back to the form (`redirect_to_step_up`);
- an API request: a bearer token alone cannot prove a factor — it is a stored secret, which is
  what step-up guards against — so the request itself carries a current code from the person's
  authenticator app in the `X-Casefile-TOTP` header (like AWS's MFA token code on an API call).
  The code is checked once per request, spent (a replay is refused), throttled and audited like
  one typed in the console. Without it: 403 `step_up_required`. Security keys cannot answer an
  API call: their challenge needs a browser ceremony.
- Casefile's own jobs, the operator's CLI, and code run in-process without a request (the demo
  loader, a shell) act with the host's authority, as they do for permissions: there is no
  session to step up.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from casefile.accounts import factors, sessions
from casefile.accounts.models import StaffUser
from casefile.audit import ledger
from casefile.audit.actor import Actor, client_ip
from casefile.core.errors import AppError, PermissionDenied, Throttled

TOTP_HEADER = "X-Casefile-TOTP"
_PROVEN = "_casefile_step_up_proven"  # set on an API request whose header code was accepted


class StepUpRequired(PermissionDenied):
    code = "step_up_required"


def require_step_up(actor: Actor) -> None:
    """Refuse (403 `step_up_required`) unless the acting person proved a second factor within
    STEP_UP_SECONDS. Call it after the permission check: someone who may not act at all is
    told so, not asked for a factor."""
    request = actor.request
    if actor.user is None or request is None:
        return
    window = settings.STEP_UP_SECONDS
    if getattr(request, "api_token", None) is not None:
        if getattr(request, _PROVEN, False):
            return
        raise StepUpRequired(
            f"this action needs a second factor (step-up): send a current code from your "
            f"authenticator app in the {TOTP_HEADER} header — an API token alone cannot "
            f"prove one", details={"header": TOTP_HEADER})
    if sessions.second_factor_fresh(request, within_seconds=window):
        return
    raise StepUpRequired(
        f"this action needs a second factor proven in the last {_minutes(window)} (step-up): "
        f"prove it, then submit again",
        details={"step_up_url": reverse("accounts:verify"), "within_seconds": window})


def _minutes(seconds: int) -> str:
    return f"{seconds // 60} minutes" if seconds % 60 == 0 else f"{seconds} seconds"


def prove_by_header(request: HttpRequest, user: StaffUser) -> None:
    """An API request carrying `X-Casefile-TOTP`: check the code once, before any transaction
    of the request's own (so a wrong code's count commits), and mark the request proven.
    A wrong, used or throttled code is refused at once (403, or 429 while throttled)."""
    code = request.headers.get(TOTP_HEADER)
    if (code is None or getattr(request, "api_token", None) is None
            or getattr(request, "_casefile_step_up_checked", False)):
        return
    request._casefile_step_up_checked = True  # type: ignore[attr-defined]
    try:
        device = factors.totp_verify(user=user, code=code)
    except AppError as exc:
        sessions.sign_in_failed(request, email_or_subject=user.email, user=user,
                                reason=f"API step-up ({TOTP_HEADER}): {exc.message}")
        if not isinstance(exc, Throttled):  # wrong, spent, or no app enrolled
            raise StepUpRequired(f"{TOTP_HEADER}: {exc.message}",
                                 details={"header": TOTP_HEADER}) from None
        raise
    setattr(request, _PROVEN, True)
    with transaction.atomic():
        ledger.record(
            actor=Actor(user=None, ip_address=client_ip(request),
                        user_agent=request.META.get("HTTP_USER_AGENT", "")[:512],
                        context={"via": "api"}),
            action="STAFF_SECOND_FACTOR_PROVEN", resource=f"staff:{user.id}",
            metadata={"factor": factors.TOTP, "factor_id": device.pk, "via": "api",
                      "api_token_id": request.api_token.id})  # type: ignore[attr-defined]


def redirect_to_step_up(request: HttpRequest, back_to: str) -> HttpResponse:
    """The console's answer to StepUpRequired: the verify page, then back to the form's page
    to submit it again (its fields are not kept: the person sees what they are confirming)."""
    messages.info(request, "Starting an impersonation or approving a four-eyes request needs "
                           "a second factor proven in the last few minutes: prove it, then "
                           "submit the form again.")
    target = f"{reverse('accounts:verify')}?{urlencode({'next': back_to})}"
    if getattr(request, "htmx", False):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = target
        return response
    return redirect(target)


def fresh_until(request: HttpRequest):
    """When this session's step-up runs out (None: not proven), for the pages to say so."""
    session = sessions.current_session(request)
    if session is None or session.second_factor_at is None:
        return None
    return session.second_factor_at + timedelta(seconds=settings.STEP_UP_SECONDS)
