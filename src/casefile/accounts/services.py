"""Writes for staff accounts. Each verb: authorise, change, audit — in one transaction."""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from casefile.accounts.models import (
    ApiToken,
    KnownSignInSource,
    LoginFailure,
    StaffRole,
    StaffUser,
)
from casefile.accounts.permissions import Perm
from casefile.accounts.roles import Role, sorted_roles
from casefile.audit import ledger
from casefile.audit.actor import Actor
from casefile.audit.snapshot import snapshot
from casefile.core.errors import Conflict, ValidationFailed
from casefile.core.timeutil import now

TOKEN_PREFIX = "cf_"  # noqa: S105 - marks Casefile tokens (secret scanners key on it)
# Column sizes, checked here too for callers that bypass the API's schemas (the CLI).
MAX_EMAIL = 254
MAX_NAME = 200
MAX_TOKEN_NAME = 100


def _text(value: str, field: str, max_length: int) -> None:
    if len(value) > max_length or "\x00" in value:
        raise ValidationFailed(f"{field}: at most {max_length} characters, no NUL",
                               details={"field": field})


def _state(user: StaffUser) -> dict:
    """A staff account as the ledger records it: the row, and the roles it holds."""
    return {**snapshot(user), "roles": _roles(user)}


def _roles(user: StaffUser) -> list[str]:
    user.forget_roles()
    return sorted_roles(user.roles)


def staff_user_create(
    *,
    actor: Actor,
    email: str,
    roles: list[Role],
    reason_code: str | None = None,
    name: str = "",
    password: str | None = None,
    oidc_issuer: str = "",
    oidc_subject: str = "",
) -> StaffUser:
    """`reason_code`: a person's; the operator's CLI gives none (the registry's is recorded).
    `oidc_issuer`/`oidc_subject`: the IdP's identity of a person created at their first sign-in
    through it (accounts.oidc), recorded with the account in the same entry."""
    actor.require(Perm.STAFF_MANAGE)
    reason_code = actor.reason(reason_code)
    email = email.strip().lower()
    try:
        if len(email) > MAX_EMAIL:
            raise DjangoValidationError("too long")
        validate_email(email)
    except DjangoValidationError:
        raise ValidationFailed(f"not an e-mail address: {email[:254]!r}") from None
    _text(name, "name", MAX_NAME)
    if not roles:
        raise ValidationFailed("a staff user needs at least one role")
    user = StaffUser(email=email, name=name, oidc_issuer=oidc_issuer, oidc_subject=oidc_subject)
    if password is not None:
        try:
            validate_password(password, user)
        except DjangoValidationError as exc:
            raise ValidationFailed("password refused", details={"password": exc.messages}) from None
        user.set_password(password)
    else:
        user.set_unusable_password()
    with transaction.atomic(durable=True):
        if StaffUser.objects.filter(email__iexact=email).exists():
            raise Conflict(f"a staff user with e-mail {email} exists")
        try:
            with transaction.atomic():
                user.save()
        except IntegrityError:  # the same e-mail or IdP identity, created concurrently
            raise Conflict(f"a staff user with e-mail {email} or this IdP identity "
                           "exists") from None
        StaffRole.objects.bulk_create(StaffRole(user=user, role=Role(r)) for r in set(roles))
        ledger.record(
            actor=actor,
            action="STAFF_USER_CREATED",
            resource=f"staff:{user.id}",
            reason_code=reason_code,
            after=_state(user),
        )
    return user


def staff_user_update(
    *, actor: Actor, user: StaffUser, email: str | None = None, name: str | None = None,
    reason_code: str | None = None,
) -> StaffUser:
    """Change a staff account's e-mail or name (the IdP's claims at each sign-in through it).
    An e-mail another account holds is refused (409), not half-applied."""
    actor.require(Perm.STAFF_MANAGE)
    reason_code = actor.reason(reason_code)
    changes: dict[str, str] = {}
    if email is not None and email.strip().lower() != user.email:
        email = email.strip().lower()
        try:
            if len(email) > MAX_EMAIL:
                raise DjangoValidationError("too long")
            validate_email(email)
        except DjangoValidationError:
            raise ValidationFailed(f"not an e-mail address: {email[:254]!r}") from None
        changes["email"] = email
    if name is not None and name != user.name:
        _text(name, "name", MAX_NAME)
        changes["name"] = name
    if not changes:
        return user
    with transaction.atomic(durable=True):
        before = _state(user)
        if "email" in changes and StaffUser.objects.filter(
                email__iexact=changes["email"]).exclude(pk=user.pk).exists():
            raise Conflict(f"another staff user has the e-mail {changes['email']}")
        for field, value in changes.items():
            setattr(user, field, value)
        try:
            with transaction.atomic():
                user.save(update_fields=list(changes))
        except IntegrityError:
            raise Conflict(f"another staff user has the e-mail {changes.get('email')}") from None
        ledger.record(
            actor=actor, action="STAFF_USER_UPDATED", resource=f"staff:{user.id}",
            reason_code=reason_code, before=before, after=_state(user),
        )
    return user


def staff_role_grant(*, actor: Actor, user: StaffUser, role: Role, reason_code: str) -> StaffUser:
    actor.require(Perm.STAFF_MANAGE)
    actor.reason(reason_code)
    with transaction.atomic(durable=True):
        before = _state(user)
        try:
            with transaction.atomic():
                StaffRole.objects.create(user=user, role=Role(role))
        except IntegrityError:
            raise Conflict(f"{user.email} already has the {role} role") from None
        ledger.record(
            actor=actor, action="STAFF_ROLE_GRANTED", resource=f"staff:{user.id}",
            reason_code=reason_code, before=before, after=_state(user),
        )
    return user


def staff_role_revoke(*, actor: Actor, user: StaffUser, role: Role, reason_code: str) -> StaffUser:
    actor.require(Perm.STAFF_MANAGE)
    actor.reason(reason_code)
    with transaction.atomic(durable=True):
        before = _state(user)
        if role not in before["roles"]:
            raise Conflict(f"{user.email} does not have the {role} role")
        if role == Role.ADMIN and not StaffRole.objects.filter(
            role=Role.ADMIN, user__is_active=True
        ).exclude(user=user).exists():
            raise Conflict("this is the last active administrator: grant admin to someone first")
        StaffRole.objects.filter(user=user, role=role).delete()
        ledger.record(
            actor=actor, action="STAFF_ROLE_REVOKED", resource=f"staff:{user.id}",
            reason_code=reason_code, before=before, after=_state(user),
        )
    return user


def _may_manage_tokens_of(actor: Actor, owner: StaffUser) -> None:
    if actor.user is not None and actor.user.pk == owner.pk:
        actor.require(Perm.TOKEN_MANAGE_OWN)
    else:
        actor.require(Perm.TOKEN_MANAGE_ANY)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def api_token_create(
    *, actor: Actor, owner: StaffUser, name: str = "", reason_code: str | None = None
) -> tuple[ApiToken, str]:
    """Returns the token record and the token itself, which is never stored or shown again.

    `reason_code`: a person's; the operator's CLI gives none (the registry's is recorded)."""
    _may_manage_tokens_of(actor, owner)
    reason_code = actor.reason(reason_code)
    _text(name, "name", MAX_TOKEN_NAME)
    if not owner.is_active:
        raise Conflict(f"{owner.email} is deactivated")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic(durable=True):
        token = ApiToken.objects.create(
            user=owner, name=name, prefix=secret[:10], key_hash=hash_token(secret)
        )
        ledger.record(
            actor=actor, action="API_TOKEN_CREATED", resource=f"token:{token.id}",
            reason_code=reason_code,
            after=snapshot(token), metadata={"owner_email": owner.email},
        )
    return token, secret


def api_token_revoke(
    *, actor: Actor, token: ApiToken, reason_code: str | None = None
) -> ApiToken:
    """`reason_code`: a person's; the operator's CLI gives none (the registry's is recorded)."""
    _may_manage_tokens_of(actor, token.user)
    reason_code = actor.reason(reason_code)
    with transaction.atomic(durable=True):
        token = ApiToken.objects.select_for_update().get(pk=token.pk)
        if token.revoked_at is not None:
            raise Conflict("this token is already revoked")
        before = snapshot(token)
        token.revoked_at = now()
        token.save(update_fields=["revoked_at"])
        ledger.record(
            actor=actor, action="API_TOKEN_REVOKED", resource=f"token:{token.id}",
            reason_code=reason_code,
            before=before, after=snapshot(token),
        )
    return token


def api_token_touch(token: ApiToken) -> None:
    """Record use, at most once a minute per token: not a write on every request."""
    moment = now()
    stale = moment - timedelta(seconds=settings.API_TOKEN_TOUCH_SECONDS)
    if token.last_used_at is None or token.last_used_at < stale:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=moment)
        token.last_used_at = moment


def throttle_source(ip_address: str | None) -> str:
    """What sign-in throttling counts by: an IPv4 address, or the /64 of an IPv6 address (one
    host is given a whole /64 and may use any address in it)."""
    if not ip_address:
        return ""
    try:
        ip = ipaddress.ip_address(ip_address)
    except ValueError:
        return ""
    if ip.version == 6:
        return ipaddress.ip_network(f"{ip}/64", strict=False).compressed
    return ip.compressed


def login_throttled(*, email: str, ip_address: str | None) -> bool:
    """Whether a sign-in for `email` from `ip_address` is refused without trying the password.

    Three counts of failures within LOGIN_FAILURE_WINDOW_SECONDS, each against its own limit:

    1. this account from this address (LOGIN_FAILURE_LIMIT, 5): guessing one person's password
       from one place stops, and only that place is refused for that person;
    2. this address over all accounts (LOGIN_FAILURE_ADDRESS_LIMIT, 20): trying one password
       against many accounts (spraying) stops at the address, whichever accounts it names —
       higher than 1 because an office's staff may share an address;
    3. this account from every address (LOGIN_FAILURE_ACCOUNT_LIMIT, 100), which bounds a
       guessing campaign spread over many addresses; it does not apply from an address the
       person has signed in from before (KnownSignInSource), so nobody can lock a person out of
       where they work by failing from elsewhere.

    Addresses are counted as `throttle_source` gives them (IPv6 by /64). A refused attempt is
    not counted: it tried no password, and counting it would let a refusal renew itself.
    """
    email = email.lower()
    source = throttle_source(ip_address)
    window = timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS)
    recent = LoginFailure.objects.filter(at__gte=now() - window)
    if recent.filter(email=email, source=source).count() >= settings.LOGIN_FAILURE_LIMIT:
        return True
    if source and recent.filter(source=source).count() >= settings.LOGIN_FAILURE_ADDRESS_LIMIT:
        return True
    if recent.filter(email=email).count() < settings.LOGIN_FAILURE_ACCOUNT_LIMIT:
        return False
    return not (source and KnownSignInSource.objects.filter(
        user__email__iexact=email, source=source,
        last_seen_at__gte=now() - timedelta(days=settings.LOGIN_KNOWN_ADDRESS_DAYS),
    ).exists())


def login_failure_record(*, email: str, ip_address: str | None) -> None:
    LoginFailure.objects.create(email=email.lower()[:254], ip_address=ip_address or "",
                                source=throttle_source(ip_address))


def login_succeeded(*, user: StaffUser, ip_address: str | None) -> None:
    """Forget this place's failures for the person and remember the place as theirs. Failures
    from elsewhere stay counted: signing in here does not undo someone else's guessing."""
    source = throttle_source(ip_address)
    LoginFailure.objects.filter(email=user.email.lower(), source=source).delete()
    if source:
        KnownSignInSource.objects.update_or_create(user=user, source=source,
                                                   defaults={"last_seen_at": now()})


def known_sign_in_sources_prune() -> int:
    """Forget places unseen for LOGIN_KNOWN_ADDRESS_DAYS (they no longer count as known anyway);
    housekeeping for the periodic jobs, beside the pruning of old failures."""
    stale = now() - timedelta(days=settings.LOGIN_KNOWN_ADDRESS_DAYS)
    deleted, _ = KnownSignInSource.objects.filter(last_seen_at__lt=stale).delete()
    return deleted
