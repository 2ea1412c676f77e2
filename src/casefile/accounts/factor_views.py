"""Console pages for second factors: one's factors (enrol, remove), the verify page (after the
password, and for step-up), the security-key ceremonies' JSON endpoints, and enrolment links.

The JSON endpoints are POSTs under Django's CSRF protection (the page's script sends the token
in X-CSRFToken); they answer errors in the API's one shape."""

from __future__ import annotations

import time
from functools import wraps
from typing import Any
from urllib.parse import urlencode

import orjson
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import SetPasswordForm
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from casefile.accounts import factors, sessions, stepup
from casefile.accounts.access import actor_of
from casefile.accounts.models import StaffUser
from casefile.accounts.roles import Role
from casefile.core.errors import AppError, NotAuthenticated, Throttled, ValidationFailed
from casefile.core.http import error_response

_LINK_SESSION = "casefile_enrolment_link_at"  # when this session began from an enrolment link
_BACKEND = "casefile.accounts.backends.ThrottledEmailBackend"


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return "/"


def _user(request: HttpRequest) -> StaffUser:
    return request.user  # type: ignore[return-value]


def _may_change_factors(request: HttpRequest) -> bool:
    """Adding or removing a factor when one exists needs a factor proven within the step-up
    window — else a session taken over after sign-in could add its own key, or remove the
    person's. The first factor needs none (there is nothing to prove), nor does a session that
    began from an enrolment link within the window (the operator's recovery path)."""
    if not factors.has_factor(_user(request)):
        return True
    if sessions.second_factor_fresh(request):
        return True
    began = request.session.get(_LINK_SESSION)
    return isinstance(began, int | float) and time.time() - began <= settings.STEP_UP_SECONDS


def _step_up_first(request: HttpRequest, back_to: str) -> HttpResponse:
    messages.info(request, "Prove one of your second factors first: changing them needs a "
                           "recent proof.")
    return redirect(f"{reverse('accounts:verify')}?{urlencode({'next': back_to})}")


def _json_view(view):
    """A JSON endpoint of the console: signed in, POST, errors in the API's shape."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_authenticated:
            return error_response(NotAuthenticated("sign in first"))
        try:
            return view(request, *args, **kwargs)
        except AppError as exc:
            return error_response(exc)

    return require_POST(wrapper)


def _body(request: HttpRequest) -> dict[str, Any]:
    try:
        body = orjson.loads(request.body or b"{}")
    except orjson.JSONDecodeError:
        raise ValidationFailed("the body must be JSON") from None
    if not isinstance(body, dict):
        raise ValidationFailed("the body must be a JSON object")
    return body


def _options(text: str) -> HttpResponse:
    return HttpResponse(text, content_type="application/json")


# --- one's factors ----------------------------------------------------------------------------


@login_required
def factors_page(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    return render(request, "accounts/factors.html", {
        "totp_devices": factors.totp_devices(user),
        "security_keys": factors.security_keys(user),
        "may_change": _may_change_factors(request),
        "state": factors.sign_in_state(request),
        "fresh_until": stepup.fresh_until(request),
        "next": _next(request),
    })


@login_required
def totp_enrol(request: HttpRequest) -> HttpResponse:
    """GET: a new secret, shown as an otpauth:// URI and as text to type; POST: its first code."""
    user = _user(request)
    here = reverse("accounts:totp_enrol")
    if not _may_change_factors(request):
        return _step_up_first(request, here)
    pending_id = request.session.get("casefile_totp_pending")
    device = (factors.TOTPDevice.objects.filter(pk=pending_id, user=user, confirmed=False).first()
              if pending_id else None)
    if request.method == "POST" and device is not None:
        try:
            factors.totp_enrol_confirm(actor=actor_of(request), user=user, device_id=device.pk,
                                       code=request.POST.get("code", ""),
                                       name=request.POST.get("name", ""))
        except AppError as exc:
            messages.error(request, exc.message)
            return redirect(here)
        request.session.pop("casefile_totp_pending", None)
        # Confirming proved the app is in the person's hands: that is this session's factor.
        sessions.session_prove_second_factor(request, factor=factors.TOTP)
        messages.success(request, "Authenticator app enrolled.")
        return redirect(_next(request) if request.POST.get("next") else "accounts:factors")
    if device is None:
        device = factors.totp_enrol_begin(user=user)
        request.session["casefile_totp_pending"] = device.pk
    return render(request, "accounts/totp_enrol.html", {
        "uri": device.config_url, "secret": factors.totp_secret(device), "next": _next(request)})


@_json_view
def webauthn_register_options(request: HttpRequest) -> HttpResponse:
    if not _may_change_factors(request):
        raise stepup.StepUpRequired("prove one of your second factors first",
                                    details={"step_up_url": reverse("accounts:verify")})
    return _options(factors.webauthn_register_begin(request=request, user=_user(request)))


@_json_view
def webauthn_register_verify(request: HttpRequest) -> HttpResponse:
    if not _may_change_factors(request):
        raise stepup.StepUpRequired("prove one of your second factors first",
                                    details={"step_up_url": reverse("accounts:verify")})
    body = _body(request)
    factors.webauthn_register_finish(actor=actor_of(request), request=request,
                                      user=_user(request), credential=body.get("credential", {}),
                                      name=str(body.get("name", "")))
    sessions.session_prove_second_factor(request, factor=factors.WEBAUTHN)
    messages.success(request, "Security key registered.")
    return JsonResponse({"next": reverse("accounts:factors")})


@require_POST
@login_required
def factor_remove(request: HttpRequest, factor: str, factor_id: int) -> HttpResponse:
    here = reverse("accounts:factors")
    if not sessions.second_factor_fresh(request):
        return _step_up_first(request, here)
    try:
        factors.factor_remove(actor=actor_of(request), user=_user(request), factor=factor,
                              factor_id=factor_id)
    except AppError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Second factor removed.")
    return redirect(here)


# --- proving a factor: after the password, and for step-up -----------------------------------


def _failed(request: HttpRequest, what: str) -> None:
    user = _user(request)
    purpose = "sign-in" if factors.sign_in_state(request) == "verify" else "step-up"
    sessions.sign_in_failed(request, email_or_subject=user.email, user=user,
                            reason=f"{purpose}: {what}")


@login_required
def verify(request: HttpRequest) -> HttpResponse:
    """The second factor after the password, and the step-up page: the same proof."""
    user = _user(request)
    state = factors.sign_in_state(request)
    if request.method == "POST":
        try:
            factors.totp_verify(user=user, code=request.POST.get("code", ""))
        except Throttled as exc:
            wait = (exc.details or {}).get("retry_after_seconds")
            messages.error(request, f"{exc.message} ({wait} s)." if wait else exc.message)
        except AppError as exc:
            _failed(request, f"authenticator code refused ({exc.message})")
            messages.error(request, exc.message)
        else:
            sessions.session_prove_second_factor(request, factor=factors.TOTP)
            return redirect(_next(request))
    return render(request, "accounts/verify.html", {
        "has_totp": factors.totp_devices(user).exists(),
        "has_key": factors.security_keys(user).exists(),
        "signing_in": state == "verify",
        "next": _next(request),
        "fresh_until": stepup.fresh_until(request),
        "step_up_minutes": settings.STEP_UP_SECONDS // 60,
    })


@_json_view
def verify_webauthn_options(request: HttpRequest) -> HttpResponse:
    return _options(factors.webauthn_authenticate_begin(request=request, user=_user(request)))


@_json_view
def verify_webauthn(request: HttpRequest) -> HttpResponse:
    body = _body(request)
    try:
        factors.webauthn_authenticate_finish(request=request, user=_user(request),
                                             credential=body.get("credential", {}))
    except ValidationFailed as exc:
        _failed(request, f"security key refused ({exc.message})")
        raise
    sessions.session_prove_second_factor(request, factor=factors.WEBAUTHN)
    return JsonResponse({"next": _next(request)})


# --- enrolment links --------------------------------------------------------------------------


@sensitive_post_parameters("new_password1", "new_password2")
def enrol(request: HttpRequest, token: str) -> HttpResponse:
    """A link from `casefile user add`: set a password (which spends the link), sign in, and
    go on to enrol a second factor."""
    user = factors.enrolment_user(token)
    if user is None:
        return render(request, "accounts/enrol.html", {"invalid": True}, status=404)
    form = SetPasswordForm(user, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        form.save()
        login(request, user, backend=_BACKEND)
        sessions.session_begin(request, user, method="password")
        request.session[_LINK_SESSION] = time.time()
        messages.success(request, "Password set. Now enrol a second factor"
                         + (" — administrators need one to use the console." if
                            Role.ADMIN in user.roles else "."))
        return redirect("accounts:factors")
    return render(request, "accounts/enrol.html", {"form": form, "person": user})
