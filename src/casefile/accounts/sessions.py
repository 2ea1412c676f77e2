"""Console sessions: how they begin and end, their idle and absolute timeouts, the second factor
they proved, and signing a person out everywhere.

Django's session holds the cookie's data; a `StaffSession` row per session is what lets
Casefile reach every session of a person (sign out everywhere), time one out, and know when its
second factor was last proven (step-up). The row is made whenever Django logs someone in
(`user_logged_in`, so every way in has one); the sign-in views then call `session_begin`, which
says how the person signed in and records STAFF_SIGNED_IN. A console request whose session has
no row, or whose row has timed out, is signed out (`StaffSessionMiddleware`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.signals import user_logged_in
from django.contrib.auth.views import redirect_to_login
from django.contrib.sessions.models import Session
from django.db import transaction
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse

from casefile.accounts.models import ApiToken, StaffSession, StaffUser
from casefile.accounts.permissions import Perm
from casefile.audit import ledger
from casefile.audit.actor import Actor, client_ip
from casefile.core.timeutil import now

_TOUCH_EVERY = timedelta(seconds=60)  # last_seen_at is written at most this often


def _casefile(request: HttpRequest | None) -> Actor:
    """Casefile records sign-in entries itself: the person is not (or no longer) signed in."""
    if request is None:
        return Actor.system("sign-in")
    return Actor(user=None, ip_address=client_ip(request),
                 user_agent=request.META.get("HTTP_USER_AGENT", "")[:512],
                 context={"via": "sign-in"})


def _key(request: HttpRequest) -> str:
    if request.session.session_key is None:
        request.session.save()
    return request.session.session_key  # type: ignore[return-value]


@receiver(user_logged_in)
def _row_for_every_login(sender: Any, request: HttpRequest | None, user: StaffUser,
                         **kwargs: Any) -> None:
    if request is None or not hasattr(request, "session"):
        return
    moment = now()
    StaffSession.objects.update_or_create(
        session_key=_key(request),
        defaults={"user": user, "method": "password", "created_at": moment,
                  "last_seen_at": moment, "second_factor_at": None, "second_factor": "",
                  "ip_address": client_ip(request) or "",
                  "user_agent": request.META.get("HTTP_USER_AGENT", "")[:400]})


def current_session(request: HttpRequest) -> StaffSession | None:
    key = getattr(request, "session", None) and request.session.session_key
    if not key:
        return None
    return StaffSession.objects.filter(pk=key).first()


def session_begin(request: HttpRequest, user: StaffUser, *, method: str,
                  second_factor: str | None = None) -> StaffSession:
    """Right after `login(request, user)`: how the person signed in, and the ledger's entry.
    For an OpenID Connect sign-in, `request.session["oidc"]` holds the IdP's issuer and subject
    (and amr/acr); `second_factor` is set when the IdP proved one."""
    moment = now()
    key = _key(request)
    with transaction.atomic():
        session, _ = StaffSession.objects.update_or_create(
            session_key=key,
            defaults={"user": user, "method": method, "created_at": moment,
                      "last_seen_at": moment,
                      "second_factor_at": moment if second_factor else None,
                      "second_factor": second_factor or "",
                      "ip_address": client_ip(request) or "",
                      "user_agent": request.META.get("HTTP_USER_AGENT", "")[:400]})
        metadata: dict[str, Any] = {"method": method, "staff_email": user.email}
        if second_factor:
            metadata["second_factor"] = second_factor
        oidc = request.session.get("oidc")
        if oidc:
            metadata["oidc"] = {k: oidc[k] for k in ("iss", "sub", "amr", "acr") if k in oidc}
        ledger.record(actor=_casefile(request), action="STAFF_SIGNED_IN",
                      resource=f"staff:{user.id}", metadata=metadata)
    return session


def sign_in_failed(request: HttpRequest, *, email_or_subject: str, reason: str,
                   user: StaffUser | None = None) -> None:
    """A refused sign-in: who it claimed to be (what was typed, control characters dropped),
    and why."""
    claimed = "".join(c for c in email_or_subject[:254] if c.isprintable())
    with transaction.atomic():
        ledger.record(actor=_casefile(request), action="STAFF_SIGN_IN_FAILED",
                      resource=f"staff:{user.id}" if user else "staff:unknown",
                      metadata={"claimed": claimed, "reason": reason[:200]})


def session_prove_second_factor(request: HttpRequest, *, factor: str) -> None:
    """The person proved a second factor now (sign-in or step-up)."""
    session = current_session(request)
    if session is None:
        return
    moment = now()
    with transaction.atomic():
        StaffSession.objects.filter(pk=session.pk).update(second_factor_at=moment,
                                                          second_factor=factor[:40])
        ledger.record(actor=_casefile(request), action="STAFF_SECOND_FACTOR_PROVEN",
                      resource=f"staff:{session.user_id}", metadata={"factor": factor})


def second_factor_fresh(request: HttpRequest, *, within_seconds: int | None = None) -> bool:
    """Whether this session proved a second factor within the step-up window."""
    session = current_session(request)
    if session is None or session.second_factor_at is None:
        return False
    window = settings.STEP_UP_SECONDS if within_seconds is None else within_seconds
    return now() - session.second_factor_at <= timedelta(seconds=window)


def session_end(request: HttpRequest, *, why: str) -> None:
    """Sign this request's session out (sign-out, or a timeout), with its entry."""
    session = current_session(request)
    with transaction.atomic():
        if session is not None:
            session.delete()
            ledger.record(actor=_casefile(request), action="STAFF_SIGNED_OUT",
                          resource=f"staff:{session.user_id}",
                          metadata={"why": why, "method": session.method})
    logout(request)


def staff_sign_out_everywhere(*, actor: Actor, user: StaffUser,
                              reason_code: str | None = None) -> dict[str, int]:
    """End every console session of `user` and revoke every API token: a lost laptop, a
    leaver, a suspected compromise. A person may do it to themselves; admins to anyone."""
    if actor.user is None or actor.user.pk != user.pk:
        actor.require(Perm.STAFF_MANAGE)
    if actor.is_machine:
        reason = None  # the registry's system reason
    elif actor.staff_user.pk == user.pk:
        reason = reason_code or "ACCOUNT_PROVISIONING"  # one's own: no need to explain
    else:
        reason = actor.reason(reason_code)  # someone else's: a reason is due (422 without)
    moment = now()
    with transaction.atomic(durable=True):
        keys = list(StaffSession.objects.filter(user=user).values_list("session_key", flat=True))
        Session.objects.filter(session_key__in=keys).delete()
        StaffSession.objects.filter(session_key__in=keys).delete()
        tokens = ApiToken.objects.filter(user=user, revoked_at=None)
        revoked = list(tokens.values_list("id", flat=True))
        tokens.update(revoked_at=moment)
        ledger.record(actor=actor, action="STAFF_SIGNED_OUT_EVERYWHERE",
                      resource=f"staff:{user.id}", reason_code=reason,
                      metadata={"sessions": len(keys), "tokens": revoked})
    return {"sessions": len(keys), "tokens": len(revoked)}


class StaffSessionMiddleware:
    """Every signed-in console request: its session must have its row and be within the idle
    and absolute timeouts; otherwise it is signed out and sent to sign in again."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            ended = self._check(request)
            if ended is not None:
                return ended
        return self.get_response(request)

    def _check(self, request: HttpRequest) -> HttpResponse | None:
        session = current_session(request)
        moment = now()
        if session is None:
            why = "revoked"
        elif moment - session.created_at > timedelta(seconds=settings.SESSION_COOKIE_AGE):
            why = "expired"
        elif moment - session.last_seen_at > timedelta(minutes=settings.SESSION_IDLE_MINUTES):
            why = "idle"
        else:
            if moment - session.last_seen_at >= _TOUCH_EVERY:
                StaffSession.objects.filter(pk=session.pk).update(last_seen_at=moment)
            return None
        session_end(request, why=why)
        if request.path.startswith("/api/"):
            return None  # the API goes on as anonymous: its bearer token decides
        messages.info(request, {"idle": "You were signed out after a while without activity.",
                                "expired": "Your session reached its time limit.",
                                "revoked": "Your session has ended."}[why]
                      + " Please sign in again.")
        return redirect_to_login(request.get_full_path())
