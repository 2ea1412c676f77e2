"""Writes for staff accounts. Each verb: authorise, change, audit — in one transaction."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from casefile.accounts.models import ApiToken, LoginFailure, StaffRole, StaffUser
from casefile.accounts.permissions import Perm
from casefile.accounts.roles import Role, sorted_roles
from casefile.audit import ledger
from casefile.audit.actor import Actor
from casefile.core.errors import Conflict, ValidationFailed
from casefile.core.timeutil import now

TOKEN_PREFIX = "cf_"  # noqa: S105 - marks Casefile tokens (secret scanners key on it)


def _roles(user: StaffUser) -> list[str]:
    user.forget_roles()
    return sorted_roles(user.roles)


def staff_user_create(
    *,
    actor: Actor,
    email: str,
    roles: list[Role],
    reason_code: str,
    name: str = "",
    password: str | None = None,
) -> StaffUser:
    actor.require(Perm.STAFF_MANAGE)
    email = email.strip().lower()
    try:
        validate_email(email)
    except DjangoValidationError:
        raise ValidationFailed(f"not an e-mail address: {email!r}") from None
    if not roles:
        raise ValidationFailed("a staff user needs at least one role")
    user = StaffUser(email=email, name=name)
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
        user.save()
        StaffRole.objects.bulk_create(StaffRole(user=user, role=Role(r)) for r in set(roles))
        ledger.record(
            actor=actor,
            action="STAFF_USER_CREATED",
            resource=f"staff:{user.id}",
            reason_code=reason_code,
            after={"email": email, "name": name, "roles": _roles(user),
                   "password_set": password is not None},
        )
    return user


def staff_role_grant(*, actor: Actor, user: StaffUser, role: Role, reason_code: str) -> StaffUser:
    actor.require(Perm.STAFF_MANAGE)
    with transaction.atomic(durable=True):
        before = _roles(user)
        try:
            with transaction.atomic():
                StaffRole.objects.create(user=user, role=Role(role))
        except IntegrityError:
            raise Conflict(f"{user.email} already has the {role} role") from None
        ledger.record(
            actor=actor, action="STAFF_ROLE_GRANTED", resource=f"staff:{user.id}",
            reason_code=reason_code, before={"roles": before}, after={"roles": _roles(user)},
        )
    return user


def staff_role_revoke(*, actor: Actor, user: StaffUser, role: Role, reason_code: str) -> StaffUser:
    actor.require(Perm.STAFF_MANAGE)
    with transaction.atomic(durable=True):
        before = _roles(user)
        if role not in before:
            raise Conflict(f"{user.email} does not have the {role} role")
        if role == Role.ADMIN and not StaffRole.objects.filter(
            role=Role.ADMIN, user__is_active=True
        ).exclude(user=user).exists():
            raise Conflict("this is the last active administrator: grant admin to someone first")
        StaffRole.objects.filter(user=user, role=role).delete()
        ledger.record(
            actor=actor, action="STAFF_ROLE_REVOKED", resource=f"staff:{user.id}",
            reason_code=reason_code, before={"roles": before}, after={"roles": _roles(user)},
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
    *, actor: Actor, owner: StaffUser, name: str = "", reason_code: str = "ACCOUNT_PROVISIONING"
) -> tuple[ApiToken, str]:
    """Returns the token record and the token itself, which is never stored or shown again."""
    _may_manage_tokens_of(actor, owner)
    if not owner.is_active:
        raise Conflict(f"{owner.email} is deactivated")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic(durable=True):
        token = ApiToken.objects.create(
            user=owner, name=name[:100], prefix=secret[:10], key_hash=hash_token(secret)
        )
        ledger.record(
            actor=actor, action="API_TOKEN_CREATED", resource=f"token:{token.id}",
            reason_code=reason_code,
            after={"owner": owner.id, "owner_email": owner.email, "name": token.name,
                   "prefix": token.prefix},
        )
    return token, secret


def api_token_revoke(
    *, actor: Actor, token: ApiToken, reason_code: str = "ACCOUNT_PROVISIONING"
) -> ApiToken:
    _may_manage_tokens_of(actor, token.user)
    with transaction.atomic(durable=True):
        token = ApiToken.objects.select_for_update().get(pk=token.pk)
        if token.revoked_at is not None:
            raise Conflict("this token is already revoked")
        token.revoked_at = now()
        token.save(update_fields=["revoked_at"])
        ledger.record(
            actor=actor, action="API_TOKEN_REVOKED", resource=f"token:{token.id}",
            reason_code=reason_code,
            before={"revoked": False}, after={"revoked": True},
            metadata={"owner": token.user_id},
        )
    return token


def api_token_touch(token: ApiToken) -> None:
    """Record use, at most once a minute per token: not a write on every request."""
    moment = now()
    stale = moment - timedelta(seconds=settings.API_TOKEN_TOUCH_SECONDS)
    if token.last_used_at is None or token.last_used_at < stale:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=moment)
        token.last_used_at = moment


def login_throttled(*, email: str, ip_address: str | None) -> bool:
    since = now() - timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS)
    recent = LoginFailure.objects.filter(at__gte=since)
    limit = settings.LOGIN_FAILURE_LIMIT
    if recent.filter(email=email.lower()).count() >= limit:
        return True
    # A client address gets more room: several people may share one office's address.
    return bool(ip_address) and recent.filter(ip_address=ip_address).count() >= 4 * limit


def login_failure_record(*, email: str, ip_address: str | None) -> None:
    LoginFailure.objects.create(email=email.lower()[:254], ip_address=ip_address or "")


def login_failures_clear(*, email: str) -> None:
    LoginFailure.objects.filter(email=email.lower()).delete()

