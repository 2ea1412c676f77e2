"""Second factors of staff: an authenticator app (TOTP, django-otp) and security keys (WebAuthn,
py_webauthn), their enrolment and removal (audited), proving one, the sign-in gate that asks for
it, and the single-use enrolment links `casefile user add` prints.

Who must prove a factor after the password: anyone who has enrolled one, and every
administrator (an administrator without one is sent to enrol before anything else). A session
that began with the IdP (OpenID Connect) is not asked here: the IdP decides how people sign in,
and its `amr` says whether it asked for a second factor (`accounts.sessions`). Step-up for
CRITICAL actions is in `accounts.stepup`.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core import signing
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from django.http.request import split_domain_port
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.crypto import constant_time_compare
from django_otp.plugins.otp_totp.models import TOTPDevice
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    base64url_to_bytes,
    bytes_to_base64url,
    parse_authentication_credential_json,
    parse_registration_credential_json,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from casefile.accounts import sessions
from casefile.accounts.models import StaffUser, WebAuthnCredential
from casefile.accounts.permissions import Perm
from casefile.accounts.roles import Role
from casefile.audit import ledger
from casefile.audit.actor import Actor
from casefile.core.errors import Conflict, NotFound, Throttled, ValidationFailed
from casefile.core.timeutil import now

TOTP = "totp"
WEBAUTHN = "webauthn"
# A person enrolling or removing their own factor records this reason (the registry's
# system reason, AUTHENTICATION, is for Casefile itself).
OWN_REASON = "ACCOUNT_PROVISIONING"
_CHALLENGE_KEY = "casefile_webauthn"
_CHALLENGE_SECONDS = 300
_MAX_NAME = 100


# --- which factors a person has, and who must prove one ----------------------------------------


def totp_devices(user: StaffUser):
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("created_at", "pk")


def security_keys(user: StaffUser):
    return WebAuthnCredential.objects.filter(user=user).order_by("created_at", "pk")


def has_factor(user: StaffUser) -> bool:
    return totp_devices(user).exists() or security_keys(user).exists()


def sign_in_state(request: HttpRequest) -> str:
    """"ok"; "verify" (the password is not enough: prove a factor first); or "enrol" (an
    administrator without a factor: enrol one first). Only password sessions are asked."""
    session = sessions.current_session(request)
    if session is None or session.method != "password" or session.second_factor_at is not None:
        return "ok"
    user = request.user
    if has_factor(user):  # type: ignore[arg-type]
        return "verify"
    return "enrol" if Role.ADMIN in user.roles else "ok"  # type: ignore[union-attr]


def _name(name: str, default: str) -> str:
    name = "".join(c for c in name.strip() if c.isprintable())
    if len(name) > _MAX_NAME:
        raise ValidationFailed(f"name: at most {_MAX_NAME} characters")
    return name or default


def _may_change_factors_of(actor: Actor, user: StaffUser) -> None:
    """A person changes their own factors; an administrator may remove someone else's (a lost
    phone); Casefile itself and the operator's CLI act with the host's authority."""
    if actor.user is not None and actor.user.pk != user.pk:
        actor.require(Perm.STAFF_MANAGE)


def _record(actor: Actor, action: str, user: StaffUser, factor: str, **metadata: Any) -> None:
    ledger.record(actor=actor, action=action, resource=f"staff:{user.id}",
                  reason_code=actor.reason(OWN_REASON if not actor.is_machine else None),
                  metadata={"factor": factor, "staff_email": user.email, **metadata})


# --- authenticator app (TOTP) ------------------------------------------------------------------


def totp_enrol_begin(*, user: StaffUser) -> TOTPDevice:
    """A new, unconfirmed secret: nothing accepts it until a first code confirms it
    (`totp_enrol_confirm`), so it is not audited. An earlier unconfirmed one is dropped."""
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        return TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)


def totp_secret(device: TOTPDevice) -> str:
    """The secret as authenticator apps take it typed in: base32, in groups of four."""
    import base64

    text = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(text[i:i + 4] for i in range(0, len(text), 4))


def totp_enrol_confirm(*, actor: Actor, user: StaffUser, device_id: int, code: str,
                       name: str = "") -> TOTPDevice:
    """The first code proves the app holds the secret; the device then counts (audited)."""
    _may_change_factors_of(actor, user)
    name = _name(name, "Authenticator app")
    device = TOTPDevice.objects.filter(pk=device_id, user=user, confirmed=False).first()
    if device is None:
        raise NotFound("no enrolment in progress: start again")
    if not _check_totp([device], code, pending=True):
        raise ValidationFailed("wrong code: check the app's clock and try the next code")
    with transaction.atomic():
        device.confirmed, device.name = True, name
        device.save(update_fields=["confirmed", "name"])
        _record(actor, "STAFF_FACTOR_ENROLLED", user, TOTP, factor_id=device.pk, name=name)
    return device


def totp_verify(*, user: StaffUser, code: str) -> TOTPDevice:
    """The person's device that accepts `code`. A code is accepted once (django-otp keeps the
    last accepted time step, `last_t`, and accepts only later ones), so a replayed code is
    refused like a wrong one. Every failure counts: the device then refuses everything for
    1, 2, 4, 8… seconds (django-otp's throttling, OTP_TOTP_THROTTLE_FACTOR), 429 meanwhile."""
    devices = list(totp_devices(user))
    if not devices:
        raise Conflict("no authenticator app is enrolled")
    found = _check_totp(devices, code)
    if found is None:
        raise ValidationFailed("wrong code, or a code that was already used")
    return found


def _check_totp(devices: list[TOTPDevice], code: str, *, pending: bool = False):
    """Under the devices' row locks, so two requests cannot both spend one code. The
    failure counts commit even though the caller then refuses: nothing here raises inside the
    transaction."""
    code = "".join(code.split())[:12]
    waits: list[Any] = []
    with transaction.atomic():
        locked = {d.pk: d for d in TOTPDevice.objects.select_for_update().filter(
            pk__in=[d.pk for d in devices], confirmed=not pending)}
        for device in (locked[d.pk] for d in devices if d.pk in locked):
            allowed, info = device.verify_is_allowed()
            if not allowed:
                waits.append((info or {}).get("locked_until"))
                continue
            if device.verify_token(code):
                return device
    if waits and len(waits) == len(devices):
        until = max((w for w in waits if w is not None), default=None)
        seconds = max(1, int((until - now()).total_seconds()) + 1) if until else None
        raise Throttled("too many wrong codes: wait a moment before the next try",
                        details={"retry_after_seconds": seconds})
    return None


# --- security keys (WebAuthn) -----------------------------------------------------------------


def relying_party(request: HttpRequest) -> tuple[str, list[str]]:
    """The RP id (WEBAUTHN_RP_ID, else this request's host name) and the origins a response may
    come from (WEBAUTHN_ORIGINS, else this request's own scheme and host)."""
    rp_id = settings.WEBAUTHN_RP_ID or split_domain_port(request.get_host())[0]
    origins = list(settings.WEBAUTHN_ORIGINS) or [f"{request.scheme}://{request.get_host()}"]
    return rp_id, origins


def _descriptors(user: StaffUser) -> list[PublicKeyCredentialDescriptor]:
    known = {t.value for t in AuthenticatorTransport}
    return [PublicKeyCredentialDescriptor(
        id=base64url_to_bytes(key.credential_id),
        transports=[AuthenticatorTransport(t) for t in key.transports if t in known] or None)
        for key in security_keys(user)]


def _remember_challenge(request: HttpRequest, purpose: str, user: StaffUser,
                        challenge: bytes) -> None:
    request.session[_CHALLENGE_KEY] = {"purpose": purpose, "user": user.pk,
                                       "challenge": bytes_to_base64url(challenge),
                                       "until": time.time() + _CHALLENGE_SECONDS}


def _take_challenge(request: HttpRequest, purpose: str, user: StaffUser) -> bytes:
    """The challenge this session was given for `purpose`, once: a response is verified
    against it at most once, and never after it ran out."""
    held = request.session.pop(_CHALLENGE_KEY, None)
    if (not isinstance(held, dict) or held.get("purpose") != purpose
            or held.get("user") != user.pk or held.get("until", 0) < time.time()):
        raise ValidationFailed("no security-key request in progress, or it ran out: try again")
    return base64url_to_bytes(held["challenge"])


def webauthn_register_begin(*, request: HttpRequest, user: StaffUser) -> str:
    """The options (JSON) for navigator.credentials.create(): attestation "none" — a second
    factor needs the key's possession, not its make — and the keys already registered
    excluded, so one key is not registered twice."""
    rp_id, _origins = relying_party(request)
    options = generate_registration_options(
        rp_id=rp_id, rp_name=settings.WEBAUTHN_RP_NAME, user_id=user.pk.encode(),
        user_name=user.email, user_display_name=user.name or user.email,
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.DISCOURAGED,
            user_verification=UserVerificationRequirement.DISCOURAGED),
        exclude_credentials=_descriptors(user), timeout=_CHALLENGE_SECONDS * 1000)
    _remember_challenge(request, "register", user, options.challenge)
    return options_to_json(options)


def webauthn_register_finish(
    *, actor: Actor, request: HttpRequest, user: StaffUser, credential: dict[str, Any] | str,
    name: str = "",
) -> WebAuthnCredential:
    """Checks the authenticator's response (challenge, origin, RP id, user presence, the
    public key) and keeps the key (audited)."""
    _may_change_factors_of(actor, user)
    name = _name(name, "Security key")
    challenge = _take_challenge(request, "register", user)
    rp_id, origins = relying_party(request)
    try:
        parsed = parse_registration_credential_json(credential)
        verified = verify_registration_response(
            credential=parsed, expected_challenge=challenge, expected_rp_id=rp_id,
            expected_origin=origins)
    except WebAuthnException as exc:
        raise ValidationFailed(f"the security key's response was refused: {exc}") from None
    try:
        with transaction.atomic():
            key = WebAuthnCredential.objects.create(
                user=user, credential_id=bytes_to_base64url(verified.credential_id),
                public_key=verified.credential_public_key, sign_count=verified.sign_count,
                transports=[t.value for t in parsed.response.transports or []], name=name,
                created_at=now())
            _record(actor, "STAFF_FACTOR_ENROLLED", user, WEBAUTHN, factor_id=key.pk, name=name,
                    aaguid=verified.aaguid)
    except IntegrityError:
        raise Conflict("this security key is already registered") from None
    return key


def webauthn_authenticate_begin(*, request: HttpRequest, user: StaffUser) -> str:
    """The options (JSON) for navigator.credentials.get(), allowing the person's own keys."""
    allowed = _descriptors(user)
    if not allowed:
        raise Conflict("no security key is registered")
    rp_id, _origins = relying_party(request)
    options = generate_authentication_options(
        rp_id=rp_id, allow_credentials=allowed, timeout=_CHALLENGE_SECONDS * 1000,
        user_verification=UserVerificationRequirement.DISCOURAGED)
    _remember_challenge(request, "authenticate", user, options.challenge)
    return options_to_json(options)


def webauthn_authenticate_finish(*, request: HttpRequest, user: StaffUser,
                                 credential: dict[str, Any] | str) -> WebAuthnCredential:
    """Checks an assertion by one of the person's keys: challenge, origin, RP id, user
    presence, the signature over authenticatorData and the hash of clientDataJSON, and a
    signature counter that moved forward (a cloned key shows as one that did not)."""
    challenge = _take_challenge(request, "authenticate", user)
    rp_id, origins = relying_party(request)
    try:
        parsed = parse_authentication_credential_json(credential)
    except WebAuthnException as exc:
        raise ValidationFailed(f"the security key's response was refused: {exc}") from None
    with transaction.atomic():
        key = WebAuthnCredential.objects.select_for_update().filter(
            user=user, credential_id=bytes_to_base64url(parsed.raw_id)).first()
        if key is None:
            raise ValidationFailed("this security key is not registered to you")
        try:
            verified = verify_authentication_response(
                credential=parsed, expected_challenge=challenge, expected_rp_id=rp_id,
                expected_origin=origins, credential_public_key=bytes(key.public_key),
                credential_current_sign_count=key.sign_count)
        except WebAuthnException as exc:
            raise ValidationFailed(f"the security key's response was refused: {exc}") from None
        key.sign_count, key.last_used_at = verified.new_sign_count, now()
        key.save(update_fields=["sign_count", "last_used_at"])
    return key


# --- removing a factor ------------------------------------------------------------------------


def factor_remove(*, actor: Actor, user: StaffUser, factor: str, factor_id: int,
                  reason_code: str | None = None) -> None:
    """Remove an authenticator app or a security key (audited). An administrator keeps at
    least one: the console would otherwise send them straight back to enrol."""
    _may_change_factors_of(actor, user)
    if actor.user is not None and actor.user.pk != user.pk:
        reason = actor.reason(reason_code)
    else:
        reason = actor.reason(reason_code or (None if actor.is_machine else OWN_REASON))
    model = {TOTP: TOTPDevice, WEBAUTHN: WebAuthnCredential}.get(factor)
    if model is None:
        raise ValidationFailed(f"unknown factor {factor!r}: {TOTP} or {WEBAUTHN}")
    with transaction.atomic():
        found = model.objects.select_for_update().filter(pk=factor_id, user=user).first()
        if found is None:
            raise NotFound(f"no {factor} factor {factor_id}")
        name = found.name
        found.delete()
        if Role.ADMIN in user.roles and not has_factor(user):
            raise Conflict("an administrator keeps at least one second factor: enrol another "
                           "before removing this one")
        ledger.record(actor=actor, action="STAFF_FACTOR_REMOVED", resource=f"staff:{user.id}",
                      reason_code=reason, metadata={"factor": factor, "factor_id": factor_id,
                                                    "name": name, "staff_email": user.email})


# --- enrolment links --------------------------------------------------------------------------

_LINK_SALT = "casefile.accounts.enrolment-link"


def _account_state(user: StaffUser) -> str:
    """What a link is bound to: it stops working once the password is set or the person has
    signed in (single use), or the account is deactivated."""
    text = f"{user.pk}|{user.password}|{user.last_login}|{user.is_active}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def enrolment_token(user: StaffUser) -> str:
    return signing.dumps({"u": user.pk, "s": _account_state(user)}, salt=_LINK_SALT)


def enrolment_link(user: StaffUser) -> str:
    path = reverse("accounts:enrol", args=[enrolment_token(user)])
    return settings.CASEFILE_BASE_URL.rstrip("/") + path


def enrolment_user(token: str) -> StaffUser | None:
    """The person a link was made for, while it is unused and within ENROLMENT_LINK_HOURS."""
    try:
        held = signing.loads(token, salt=_LINK_SALT,
                             max_age=timedelta(hours=settings.ENROLMENT_LINK_HOURS))
    except signing.BadSignature:  # also SignatureExpired
        return None
    if not isinstance(held, dict):
        return None
    user = StaffUser.objects.filter(pk=held.get("u"), is_active=True).first()
    if user is None or not constant_time_compare(_account_state(user), str(held.get("s"))):
        return None
    return user


# --- the sign-in gate -------------------------------------------------------------------------

# Paths a signed-in person reaches before proving a factor: signing in (the IdP's callback
# too) and out, the factor pages themselves, the API (its bearer token decides, not the
# session), static files, and local signing links (no sign-in at all). Not "sign out
# everywhere": a password alone must not end the person's other sessions and revoke their tokens.
OPEN_PREFIXES = ("/account/", "/login/", "/api/", "/static/", "/sign/")
OPEN_PATHS = frozenset({"/logout/"})


class SecondFactorMiddleware:
    """After the password, a session of someone who must prove a factor reaches nothing but
    the factor pages until they have (`sign_in_state`)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if (user is not None and user.is_authenticated
                and request.path not in OPEN_PATHS
                and not request.path.startswith(OPEN_PREFIXES)):
            state = sign_in_state(request)
            if state == "verify":
                return _to(request, reverse("accounts:verify"))
            if state == "enrol":
                messages.info(request, "Administrators prove a second factor at every sign-in: "
                                       "enrol an authenticator app or a security key first.")
                return _to(request, reverse("accounts:factors"))
        return self.get_response(request)


def _to(request: HttpRequest, url: str) -> HttpResponse:
    target = f"{url}?{urlencode({'next': request.get_full_path()})}"
    if getattr(request, "htmx", False):  # a fragment request: the whole page must go
        response = HttpResponse(status=204)
        response["HX-Redirect"] = target
        return response
    return redirect(target)
