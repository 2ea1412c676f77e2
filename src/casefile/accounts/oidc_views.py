"""The console's sign-in through the company's identity provider: the button's start and the
provider's callback (`accounts.oidc` does the protocol and the account)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import SESSION_KEY, login
from django.core.exceptions import ImproperlyConfigured
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from casefile.accounts import oidc, sessions

logger = logging.getLogger(__name__)


def _safe_next(request: HttpRequest, url: str) -> str:
    if url and url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()},
                                               require_https=request.is_secure()):
        return url
    return ""


def _refused(request: HttpRequest, message: str, status: int) -> HttpResponse:
    return render(request, "accounts/oidc_refused.html",
                  {"message": message, "provider_name": settings.OIDC_PROVIDER_NAME},
                  status=status)


def _misconfigured(request: HttpRequest, exc: ImproperlyConfigured) -> HttpResponse:
    # The operator sees the detail (`casefile check`, the log); the public page does not.
    logger.error("OpenID Connect sign-in is misconfigured: %s", exc)
    return _refused(request, "Signing in through the identity provider is not configured "
                    "correctly here. Use the local form if you have a break-glass account, "
                    "and tell your administrator.", 503)


@never_cache
@require_GET
def oidc_start(request: HttpRequest) -> HttpResponse:
    if not oidc.enabled():
        raise Http404("OpenID Connect sign-in is not configured")
    step_up = request.GET.get("step_up") == "1"
    if step_up and not oidc.may_step_up(request.user):
        return _refused(request, "Only someone signed in through the identity provider proves "
                        "a second factor there.", 400)
    try:
        return oidc.start(request, next_url=_safe_next(request, request.GET.get("next", "")),
                          step_up=step_up)
    except oidc.Refused as exc:
        return _refused(request, exc.message, exc.status)
    except ImproperlyConfigured as exc:
        return _misconfigured(request, exc)


@never_cache
@require_GET
def oidc_callback(request: HttpRequest) -> HttpResponse:
    if not oidc.enabled():
        raise Http404("OpenID Connect sign-in is not configured")
    try:
        signed_in = oidc.complete(request)
    except oidc.Refused as exc:
        sessions.sign_in_failed(request, email_or_subject=exc.claimed,
                                reason=f"oidc: {exc.reason}", user=exc.user)
        if exc.user is not None and request.session.get(SESSION_KEY) == str(exc.user.pk):
            # Refused now (deactivated, no role left): a session from before does not go on.
            sessions.session_end(request, why="sign-in refused")
        return _refused(request, exc.message, exc.status)
    except ImproperlyConfigured as exc:
        return _misconfigured(request, exc)
    next_url = _safe_next(request, oidc.take_next(request))
    if signed_in.step_up_since is not None:
        return _step_up_done(request, signed_in, next_url)
    # The only backend there is loads the user on later requests; named, so another backend
    # added later (a second factor's) does not make login() ask which one.
    login(request, signed_in.user, backend=settings.AUTHENTICATION_BACKENDS[0])
    request.session["oidc"] = signed_in.session_data()
    sessions.session_begin(request, signed_in.user, method="oidc",
                           second_factor=signed_in.second_factor)
    return redirect(next_url or settings.LOGIN_REDIRECT_URL)


def _step_up_done(request: HttpRequest, signed_in: oidc.SignedIn, next_url: str) -> HttpResponse:
    """The IdP authenticated the person signed in here again: their session's second factor is
    proven now, if the IdP did authenticate afresh and with more than a password."""
    problem = signed_in.step_up_problem()
    if problem is not None:
        sessions.sign_in_failed(request, email_or_subject=signed_in.subject,
                                reason=f"oidc: step-up: {problem}", user=signed_in.user)
        return _refused(request, f"{settings.OIDC_PROVIDER_NAME} signed you in again but did "
                        "not prove a second factor, so this action still needs one. Use a "
                        "method with a second factor there, or a factor enrolled in Casefile.",
                        403)
    assert signed_in.second_factor is not None
    request.session["oidc"] = signed_in.session_data()
    sessions.session_prove_second_factor(request, factor=signed_in.second_factor)
    return redirect(next_url or settings.LOGIN_REDIRECT_URL)
