"""Signing in to the console through the company's OpenID Connect provider (docs/sign-in.md).

Authlib is the relying party: it reads the provider's discovery document, sends the
authorization code request with PKCE (S256), a `state` and a `nonce` kept in the session, and
checks the ID token's signature against the provider's JWKS (fetched again on an unknown key
id, so the IdP may rotate keys) and its claims (iss, exp, iat, nonce, azp, at_hash). This
module adds what Authlib leaves to the application: the discovery document must name the
configured issuer, the authorization response's `iss` (RFC 9207) must be it too, the ID
token's `aud` must hold the client id (Authlib checks only `azp`), an ID token is required,
the userinfo `sub` must be the ID token's, and the person is found by the IdP's (issuer,
subject), never by the e-mail, which the IdP may change or reassign.

Roles follow the IdP's groups through one mapping (OIDC_ROLE_MAP) at every sign-in; each grant
and revocation goes through the accounts services, audited, with Casefile itself as the actor.
Every refusal is a `Refused`, which the view shows as a page and records as
STAFF_SIGN_IN_FAILED.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.django_client import DjangoOAuth2App
from authlib.integrations.django_client.integration import DjangoIntegration
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from joserfc.errors import JoseError

from casefile.accounts import services
from casefile.accounts.models import StaffUser
from casefile.accounts.roles import MACHINE_ROLES, Role
from casefile.audit.actor import Actor, client_ip
from casefile.core.errors import AppError

logger = logging.getLogger(__name__)

NAME = "casefile-oidc"  # Authlib keeps its state under this name in the session
NEXT_KEY = "oidc_next"
STEP_UP_KEY = "oidc_step_up"
LEEWAY_SECONDS = 120  # clock skew allowed on exp/iat, Authlib's default
METADATA_SECONDS = 3600  # discovery and JWKS are read again after this long
MAX_SUBJECT = 255  # StaffUser.oidc_subject
MAX_ISSUER = 500  # StaffUser.oidc_issuer
MAX_SECOND_FACTOR = 40  # StaffSession.second_factor

# RFC 8176 authentication method reference values by kind of factor. "mfa" says outright that
# several factors were used; a possession or inherence method is a factor a stolen password
# does not give; two methods of different kinds (pwd + sms, pin + tel) are two factors.
KNOWLEDGE = frozenset({"pwd", "pin", "kba"})
POSSESSION = frozenset({"hwk", "swk", "otp", "sc", "pop", "sms", "tel"})
INHERENCE = frozenset({"fpt", "face", "iris", "retina", "vbm"})
# Possession or inherence proven without a channel an attacker can redirect (SIM swap): these
# alone count. SMS and telephone count only beside another kind of factor.
STRONG = frozenset({"hwk", "swk", "otp", "sc", "pop"}) | INHERENCE


class Refused(Exception):
    """A sign-in through the IdP that Casefile refuses: `message` for the person (no IdP text
    in it), `reason` for the ledger, `status` for the page."""

    def __init__(self, message: str, *, reason: str, status: int = 403,
                 claimed: str = "", user: StaffUser | None = None) -> None:
        super().__init__(reason)
        self.message = message
        self.reason = reason
        self.status = status
        self.claimed = claimed
        self.user = user


@dataclass(frozen=True)
class Config:
    issuer: str
    client_id: str
    client_secret: str
    scopes: str
    groups_claim: str
    role_map: Mapping[str, frozenset[Role]]
    provider_name: str
    mfa_acr: frozenset[str]
    active_claim: str
    redirect_uri: str
    timeout: int


@dataclass(frozen=True)
class SignedIn:
    user: StaffUser
    issuer: str
    subject: str
    amr: list[str]
    acr: str | None
    second_factor: str | None
    auth_time: int | None = None  # when the IdP authenticated the person (epoch seconds)
    step_up_since: int | None = None  # set when this was a step-up: when it was asked for

    def session_data(self) -> dict[str, Any]:
        """What `request.session["oidc"]` holds: the lead's sessions put it in the ledger."""
        return {"iss": self.issuer, "sub": self.subject, "amr": self.amr, "acr": self.acr}

    def step_up_problem(self) -> str | None:
        """Why this answer does not prove a second factor now (None: it does). The IdP was
        asked to authenticate afresh (prompt=login, max_age=0), so its auth_time must be no
        older than the request; and its amr or acr must say more than a password."""
        assert self.step_up_since is not None
        if self.auth_time is None or self.auth_time < self.step_up_since - LEEWAY_SECONDS:
            return "no fresh auth_time"
        if self.second_factor is None:
            return "no second factor in amr/acr"
        return None


def enabled() -> bool:
    return bool(settings.OIDC_ISSUER)


def parse_role_map(value: str | Mapping[str, Any]) -> dict[str, frozenset[Role]]:
    """`"cf-admins=admin,cf-analysts=analyst"` (or a mapping group → role or roles). A group
    may be named several times for several roles. Unknown and machine roles are refused: a
    person signing in through the IdP must never become a log shipper or the platform."""
    pairs: list[tuple[str, str]] = []
    if isinstance(value, Mapping):
        for group, roles in value.items():
            for role in [roles] if isinstance(roles, str) else roles:
                pairs.append((str(group), str(role)))
    else:
        for entry in re.split(r"[,\n;]", value):
            if not entry.strip():
                continue
            group, sep, role = entry.rpartition("=")
            if not sep or not group.strip():
                raise ImproperlyConfigured(
                    f"OIDC_ROLE_MAP: {entry.strip()!r} is not group=role")
            pairs.append((group.strip(), role.strip()))
    mapping: dict[str, set[Role]] = {}
    for group, role in pairs:
        try:
            parsed = Role(role.lower())
        except ValueError:
            raise ImproperlyConfigured(
                f"OIDC_ROLE_MAP: {role!r} is not a role (one of "
                f"{', '.join(r.value for r in Role if r not in MACHINE_ROLES)})") from None
        if parsed in MACHINE_ROLES:
            raise ImproperlyConfigured(
                f"OIDC_ROLE_MAP: {role!r} is a machine role; people are not given it")
        mapping.setdefault(group, set()).add(parsed)
    return {group: frozenset(roles) for group, roles in mapping.items()}


def config() -> Config:
    """The settings, checked. ImproperlyConfigured names what is wrong (the system check and
    the sign-in page both show it)."""
    issuer = settings.OIDC_ISSUER
    if not issuer:
        raise ImproperlyConfigured("OIDC_ISSUER is not set")
    if not re.match(r"^https?://[^\s/?#]+[^\s?#]*$", issuer) or len(issuer) > MAX_ISSUER:
        raise ImproperlyConfigured(f"OIDC_ISSUER {issuer!r} is not an http(s) URL "
                                   "without query or fragment")
    if issuer.startswith("http://") and not re.match(r"^http://(127\.|localhost[:/]|\[::1\])",
                                                     issuer + "/"):
        raise ImproperlyConfigured("OIDC_ISSUER must be https (http only for a local IdP)")
    if not settings.OIDC_CLIENT_ID:
        raise ImproperlyConfigured("OIDC_CLIENT_ID is not set")
    scopes = " ".join(settings.OIDC_SCOPES.replace(",", " ").split())
    if "openid" not in scopes.split():
        raise ImproperlyConfigured("OIDC_SCOPES must include openid")
    role_map = parse_role_map(settings.OIDC_ROLE_MAP)
    if not role_map:
        raise ImproperlyConfigured("OIDC_ROLE_MAP maps no group to a role: nobody could sign in")
    return Config(
        issuer=issuer,
        client_id=settings.OIDC_CLIENT_ID,
        client_secret=settings.OIDC_CLIENT_SECRET,
        scopes=scopes,
        groups_claim=settings.OIDC_GROUPS_CLAIM or "groups",
        role_map=role_map,
        provider_name=settings.OIDC_PROVIDER_NAME or "your identity provider",
        mfa_acr=frozenset(a.strip() for a in settings.OIDC_MFA_ACR.split(",") if a.strip()),
        active_claim=settings.OIDC_ACTIVE_CLAIM.strip(),
        redirect_uri=settings.OIDC_REDIRECT_URI.strip(),
        timeout=max(1, settings.OIDC_TIMEOUT_SECONDS),
    )


def problems() -> list[str]:
    """What is wrong with the configuration, for the system check (empty when OIDC is off)."""
    if not enabled():
        return []
    try:
        config()
    except ImproperlyConfigured as exc:
        return [str(exc)]
    return []


# --- The Authlib client, one per configuration, rebuilt hourly so discovery is read again ---

_clients: dict[tuple, tuple[DjangoOAuth2App, float]] = {}
_clients_lock = threading.Lock()


def _client(cfg: Config) -> DjangoOAuth2App:
    key = (cfg.issuer, cfg.client_id, cfg.client_secret, cfg.scopes, cfg.timeout)
    with _clients_lock:
        cached = _clients.get(key)
        if cached is not None and time.monotonic() - cached[1] < METADATA_SECONDS:
            return cached[0]
        app = DjangoOAuth2App(
            DjangoIntegration(NAME), NAME,
            client_id=cfg.client_id,
            client_secret=cfg.client_secret,
            server_metadata_url=cfg.issuer.rstrip("/") + "/.well-known/openid-configuration",
            client_kwargs={"scope": cfg.scopes, "code_challenge_method": "S256",
                           "default_timeout": cfg.timeout},
        )
        _clients.clear()
        _clients[key] = (app, time.monotonic())
        return app


def _unreachable(cfg: Config, exc: Exception) -> Refused:
    logger.warning("OpenID Connect provider %s: %s", cfg.issuer, exc)
    return Refused(f"{cfg.provider_name} could not be reached, or answered with something that "
                   "is not OpenID Connect. Try again in a moment, or use the local form if "
                   "you have a break-glass account.",
                   reason=f"provider unreachable: {type(exc).__name__}", status=503)


def _metadata(client: DjangoOAuth2App, cfg: Config) -> dict[str, Any]:
    try:
        metadata = client.load_server_metadata()
    except (requests.RequestException, ValueError) as exc:
        raise _unreachable(cfg, exc) from None
    # OpenID Connect Discovery 4.3: the issuer in the document is the one it was fetched for;
    # anything else is another provider (or an impostor) answering at that address.
    if metadata.get("issuer") != cfg.issuer:
        with _clients_lock:
            _clients.clear()
        raise Refused(f"{cfg.provider_name} describes itself as another issuer than the one "
                      "Casefile is configured for, so its answers are not trusted.",
                      reason=f"wrong issuer in discovery: {str(metadata.get('issuer'))[:200]}",
                      status=400)
    return metadata


def redirect_uri(request: HttpRequest, cfg: Config) -> str:
    return cfg.redirect_uri or request.build_absolute_uri(reverse("accounts:oidc_callback"))


def start(request: HttpRequest, *, next_url: str, step_up: bool = False) -> HttpResponse:
    """Send the browser to the IdP (state, nonce and the PKCE verifier stay in the session).

    `step_up`: someone signed in through the IdP proves a second factor there again for a
    CRITICAL action: the IdP is asked to authenticate afresh (`prompt=login`, `max_age=0`)
    and, when OIDC_MFA_ACR is set, for those acr values."""
    cfg = config()
    client = _client(cfg)
    _metadata(client, cfg)
    params: dict[str, Any] = {}
    if step_up:
        params = {"prompt": "login", "max_age": 0}
        if cfg.mfa_acr:
            params["acr_values"] = " ".join(sorted(cfg.mfa_acr))
    uri = redirect_uri(request, cfg)
    try:
        authorization = client.create_authorization_url(uri, **params)
    except (requests.RequestException, ValueError, RuntimeError) as exc:
        raise _unreachable(cfg, exc) from None
    state = authorization["state"]
    client.save_authorize_data(request, redirect_uri=uri, **authorization)
    request.session[NEXT_KEY] = next_url
    if step_up:
        request.session[STEP_UP_KEY] = {"state": state, "since": int(time.time())}
    else:
        request.session.pop(STEP_UP_KEY, None)
    return HttpResponseRedirect(authorization["url"])


def take_next(request: HttpRequest) -> str:
    return str(request.session.pop(NEXT_KEY, "") or "")


# --- The callback ---------------------------------------------------------------------------

_ERROR_CODE = re.compile(r"^[a-z0-9_.-]{1,60}$")


def complete(request: HttpRequest) -> SignedIn:
    """Check the IdP's answer and return who signed in, with their account brought in line
    with the claims (created, roles granted and revoked, e-mail and name). Raises Refused."""
    cfg = config()
    error = request.GET.get("error")
    if error is not None:
        code = error if _ERROR_CODE.match(error) else "invalid"
        description = request.GET.get("error_description", "")[:200]
        if code in ("access_denied", "login_required", "interaction_required",
                    "consent_required", "account_selection_required"):
            message = (f"{cfg.provider_name} did not sign you in to Casefile (you cancelled, or "
                       "it refused). If you should have access, ask your administrator.")
        else:
            message = (f"{cfg.provider_name} answered with an error ({code}). Try again; if "
                       "it persists, tell your administrator.")
        raise Refused(message, reason=f"provider error: {code} {description}".strip())
    client = _client(cfg)
    metadata = _metadata(client, cfg)
    returned_iss = request.GET.get("iss")
    if returned_iss is not None and returned_iss != cfg.issuer:
        # RFC 9207: an answer from another issuer (a mix-up attack) is not this sign-in's.
        raise Refused("The answer came from another identity provider than the one this "
                      "sign-in was sent to.", reason="wrong issuer in the authorization "
                      f"response: {returned_iss[:200]}", status=400)
    state = request.GET.get("state", "")
    if not state or not request.GET.get("code") or client.framework.get_state_data(
            request.session, state) is None:
        raise Refused("This sign-in was not started from this browser, or it has expired. "
                      "Start again from the sign-in page.",
                      reason="unknown or missing state", status=400)
    try:
        token = client.authorize_access_token(
            request, leeway=LEEWAY_SECONDS,
            # Authlib checks aud only through azp: OpenID Connect Core 3.1.3.7 wants the
            # client id among the audiences, whatever azp says.
            claims_options={"iss": {"essential": True, "value": cfg.issuer},
                            "aud": {"essential": True, "value": cfg.client_id},
                            "sub": {"essential": True}})
    except requests.RequestException as exc:
        raise _unreachable(cfg, exc) from None
    except JoseError as exc:
        raise Refused(f"The ID token {cfg.provider_name} sent could not be trusted, so you were "
                      "not signed in. Try again; if it persists, tell your administrator.",
                      reason=f"ID token refused: {_jose_reason(exc)}", status=400) from None
    except AuthlibBaseError as exc:
        raise Refused(f"{cfg.provider_name} refused to complete the sign-in. Start again from "
                      "the sign-in page.",
                      reason=f"token endpoint: {str(exc.error)[:60]}", status=400) from None
    except ValueError as exc:  # a token response or key set that is not JSON
        raise _unreachable(cfg, exc) from None
    id_claims = token.get("userinfo")
    if not id_claims:
        raise Refused(f"{cfg.provider_name} did not send an ID token, so it did not say who "
                      "you are.", reason="no ID token in the token response", status=400)
    subject = id_claims.get("sub")
    if not isinstance(subject, str) or not subject or len(subject) > MAX_SUBJECT \
            or not subject.isprintable():
        raise Refused("The ID token names nobody Casefile can record.",
                      reason="unusable sub claim", status=400)
    claims = {**_userinfo(client, cfg, metadata, token, subject), **_profile(id_claims)}
    amr, acr = _amr(id_claims.get("amr")), _acr(id_claims.get("acr"))
    auth_time = id_claims.get("auth_time")
    step_up = request.session.pop(STEP_UP_KEY, None)
    if isinstance(step_up, dict) and step_up.get("state") == state and not _is_signed_in_as(
            request, cfg.issuer, subject):
        # A step-up proves something about the person signed in here, and nobody else.
        raise Refused("You proved your identity at the identity provider as someone else than "
                      "the person signed in here, so nothing was proven.",
                      reason="step-up as another IdP subject", claimed=subject)
    user = _account(request, cfg, subject, claims)
    return SignedIn(user=user, issuer=cfg.issuer, subject=subject, amr=amr, acr=acr,
                    second_factor=second_factor(amr, acr, cfg.mfa_acr),
                    auth_time=int(auth_time) if isinstance(auth_time, int | float) else None,
                    step_up_since=step_up["since"] if isinstance(step_up, dict)
                    and step_up.get("state") == state else None)


def _is_signed_in_as(request: HttpRequest, issuer: str, subject: str) -> bool:
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated
                and (user.oidc_issuer, user.oidc_subject) == (issuer, subject))


def may_step_up(user: Any) -> bool:
    """Whether this person proves a step-up at the configured IdP (they signed in through it)."""
    return bool(enabled() and user is not None and user.is_authenticated
                and user.oidc_subject and user.oidc_issuer == settings.OIDC_ISSUER)


_PROTOCOL_CLAIMS = frozenset({"iss", "aud", "exp", "iat", "nbf", "nonce", "azp", "at_hash",
                              "c_hash", "auth_time", "sid", "jti", "amr", "acr"})


def _profile(id_claims: Mapping[str, Any]) -> dict[str, Any]:
    """The ID token's claims about the person (not about the token), which win over userinfo's:
    the ID token is the one whose signature was checked."""
    return {k: v for k, v in id_claims.items() if k not in _PROTOCOL_CLAIMS}


def _userinfo(client: DjangoOAuth2App, cfg: Config, metadata: Mapping[str, Any],
              token: Mapping[str, Any], subject: str) -> dict[str, Any]:
    """Claims an IdP gives only at its userinfo endpoint (many send groups and e-mail there)."""
    if not metadata.get("userinfo_endpoint") or not token.get("access_token"):
        return {}
    try:
        info = dict(client.userinfo(token=token))
    except requests.RequestException as exc:
        raise _unreachable(cfg, exc) from None
    except (ValueError, TypeError, AuthlibBaseError) as exc:
        raise Refused(f"{cfg.provider_name}'s userinfo answer was not usable.",
                      reason=f"userinfo: {type(exc).__name__}", status=400,
                      claimed=subject) from None
    if info.get("sub") != subject:
        # OpenID Connect Core 5.3.4: otherwise the userinfo is someone else's.
        raise Refused("The identity provider described someone else than the person it signed "
                      "in.", reason="userinfo sub differs from the ID token's", status=400,
                      claimed=subject)
    return {k: v for k, v in info.items() if k not in _PROTOCOL_CLAIMS}


def _jose_reason(exc: JoseError) -> str:
    name = type(exc).__name__
    detail = getattr(exc, "description", None) or str(exc)
    return f"{name}: {detail}"[:160]


def _amr(value: Any) -> list[str]:
    if not isinstance(value, list):
        return []
    return [v[:32] for v in value if isinstance(v, str) and v][:10]


def _acr(value: Any) -> str | None:
    return value[:200] if isinstance(value, str) and value else None


def second_factor(amr: list[str], acr: str | None, mfa_acr: frozenset[str]) -> str | None:
    """`idp:<amr joined by +>` when the IdP's amr says it proved more than a password (RFC
    8176), else `idp:acr=<acr>` when its acr is one configured as multi-factor (OIDC_MFA_ACR),
    else None. At most 40 characters (the session's column); the whole amr and acr are kept in
    the session and the sign-in's ledger entry."""
    methods = {m.lower() for m in amr}
    kinds = sum(1 for kind in (KNOWLEDGE, POSSESSION, INHERENCE) if methods & kind)
    if "mfa" in methods or methods & STRONG or kinds >= 2:
        return ("idp:" + "+".join(amr))[:MAX_SECOND_FACTOR]
    if acr is not None and acr in mfa_acr:
        return f"idp:acr={acr}"[:MAX_SECOND_FACTOR]
    return None


def _groups(value: Any) -> set[str]:
    """The groups claim: a list of names (or ids), or one string. Anything else is no group."""
    if isinstance(value, str):
        return {value}
    if isinstance(value, list):
        return {g for g in value if isinstance(g, str)}
    return set()


def mapped_roles(cfg: Config, groups: set[str]) -> set[Role]:
    roles: set[Role] = set()
    for group in groups:
        roles |= cfg.role_map.get(group, frozenset())
    return roles


def _text_claim(claims: Mapping[str, Any], name: str) -> str:
    value = claims.get(name)
    return value.strip() if isinstance(value, str) else ""


def _account(request: HttpRequest, cfg: Config, subject: str,
             claims: Mapping[str, Any]) -> StaffUser:
    """Find the person by (issuer, subject); create them on a first sign-in with a mapped role;
    bring e-mail, name and roles in line with the claims. Raises Refused."""
    found = StaffUser.objects.filter(oidc_issuer=cfg.issuer, oidc_subject=subject).first()
    if cfg.active_claim and claims.get(cfg.active_claim) is False:
        raise Refused(f"{cfg.provider_name} says your account is deactivated.",
                      reason=f"deactivated at the IdP ({cfg.active_claim}=false)",
                      claimed=subject, user=found)
    if found is not None and not found.is_active:
        raise Refused("Your Casefile account is deactivated. Ask an administrator.",
                      reason="deactivated in Casefile", claimed=subject, user=found)
    groups = _groups(claims.get(cfg.groups_claim))
    roles = mapped_roles(cfg, groups)
    email = _text_claim(claims, "email").lower()
    name = _text_claim(claims, "name")[:services.MAX_NAME]
    actor = Actor(user=None, ip_address=client_ip(request),
                  user_agent=request.META.get("HTTP_USER_AGENT", "")[:512],
                  context={"via": "sign-in",
                           "oidc": {"iss": cfg.issuer, "sub": subject,
                                    "groups": sorted(g for g in groups if g in cfg.role_map)}})
    if found is None:
        if not roles:
            raise Refused("None of your groups at the identity provider gives a role in "
                          "Casefile, so there is no account for you. If you should have "
                          "access, ask to be added to the right group.",
                          reason="no group maps to a role (first sign-in)", claimed=subject)
        if not email:
            raise Refused(f"{cfg.provider_name} did not send your e-mail address, which "
                          "Casefile needs for your account.",
                          reason="no email claim", claimed=subject)
        try:
            return services.staff_user_create(
                actor=actor, email=email, name=name, roles=sorted(roles),
                oidc_issuer=cfg.issuer, oidc_subject=subject)
        except AppError as exc:
            raise _account_refused(exc, email, subject, None) from None
    user = found
    try:
        services.staff_user_update(actor=actor, user=user, email=email or None, name=name or None)
    except AppError as exc:
        raise _account_refused(exc, email, subject, user) from None
    _follow_groups(actor, user, roles, subject)
    if not roles:
        raise Refused("None of your groups at the identity provider gives a role in Casefile "
                      "any more, so your roles were removed and you cannot sign in.",
                      reason="no group maps to a role", claimed=subject, user=user)
    return user


def _account_refused(exc: AppError, email: str, subject: str,
                     user: StaffUser | None) -> Refused:
    if exc.status == 409:
        return Refused(f"The e-mail address {email} belongs to another Casefile account, "
                       "which is not linked to your identity at the identity provider. Ask "
                       "an administrator to sort it out.",
                       reason=f"e-mail {email} collides with another account",
                       claimed=subject, user=user)
    return Refused(f"The identity provider's details for you are not usable in Casefile: "
                   f"{exc.message}", reason=f"unusable claims: {exc.message}"[:200],
                   claimed=subject, user=user)


def _follow_groups(actor: Actor, user: StaffUser, roles: set[Role], subject: str) -> None:
    """Grant the mapped roles the person lacks, then revoke those not mapped (grants first,
    so someone moving between groups is never left with nothing in between)."""
    user.forget_roles()
    held = set(user.roles)
    for role in sorted(roles - held):
        try:
            services.staff_role_grant(actor=actor, user=user, role=role,
                                      reason_code="ACCOUNT_PROVISIONING")
        except AppError:  # granted meanwhile by a concurrent sign-in
            pass
    for role in sorted(held - roles):
        try:
            services.staff_role_revoke(actor=actor, user=user, role=role,
                                       reason_code="ACCOUNT_PROVISIONING")
        except AppError as exc:
            user.forget_roles()
            if role not in user.roles:  # revoked meanwhile
                continue
            raise Refused("Your groups at the identity provider no longer give you the "
                          f"{role.label} role, but Casefile could not take it away: "
                          f"{exc.message}. Ask an administrator.",
                          reason=f"could not revoke {role}: {exc.message}"[:200],
                          claimed=subject, user=user) from None
    user.forget_roles()
