"""The privileged operations on the platform's tenants and users: the one table of what each
operation takes, who may run it, what it records, what it tells the platform, and when a second
person must approve it (DESIGN section 8).

Each operation's parameters are one schema, shared by the API, the console and the case actions
that run operations; `apply` changes Casefile's record of the subject and says what changed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from django.conf import settings
from pydantic import Field

from casefile.accounts.permissions import Perm
from casefile.audit.actor import Actor
from casefile.audit.registry import Risk, action_type
from casefile.audit.snapshot import snapshot
from casefile.core.errors import Conflict, NotFound, ValidationFailed
from casefile.core.schemas import (
    JSON_SAFE_MAX,
    Bounded,
    CaseId,
    IdOf,
    JsonObject,
    PlatformUserId,
    Schema,
    TenantId,
)
from casefile.core.timeutil import isoformat, now
from casefile.core.validation import validated
from casefile.platform.models import Impersonation, PlatformUser, Tenant

Cents = Annotated[int, Field(ge=1, le=JSON_SAFE_MAX)]
LimitName = Annotated[str, Bounded(64, min_length=1)]
LimitValue = Annotated[int, Field(ge=0, le=JSON_SAFE_MAX)]
Currency = Annotated[str, Bounded(3, pattern=r"^[A-Z]{3}$")]  # ISO 4217


class OperationParams(Schema):
    """Every operation may name the case it was taken from; the entry and command carry it."""

    case_id: CaseId | None = None


class TenantPolicyParams(OperationParams):
    tenant_id: TenantId
    policy: Annotated[JsonObject, Field(min_length=1)]  # the settings to change


class CreditParams(OperationParams):
    tenant_id: TenantId
    amount_cents: Cents


class LimitParams(OperationParams):
    tenant_id: TenantId
    limits: Annotated[dict[LimitName, LimitValue], Field(min_length=1, max_length=100)]


class SuspendParams(OperationParams):
    user_id: PlatformUserId
    days: Annotated[int, Field(ge=1, le=3650)] | None = None  # None: until lifted
    # The strike whose points reached the ladder's top (trust.strikes): such a request always
    # waits for a second person's approval — Casefile never suspends on points alone.
    strike_id: Annotated[str, IdOf("stk")] | None = None


def _suspension_needs_approval(params: SuspendParams) -> bool:
    return params.strike_id is not None


class UnsuspendParams(OperationParams):
    user_id: PlatformUserId


class ImpersonationParams(OperationParams):
    user_id: PlatformUserId
    minutes: Annotated[int, Field(ge=1)]  # at most IMPERSONATION_MAX_MINUTES, checked on use


class HoldReleaseParams(OperationParams):
    hold_id: Annotated[str, IdOf("hld")]


class RefundParams(OperationParams):
    user_id: PlatformUserId
    order_id: Annotated[str, Bounded(60, min_length=1)]
    amount_cents: Cents
    currency: Currency


@dataclass(frozen=True)
class Change:
    """What an operation did: for the audit entry and the outbox command."""

    resource: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    command: dict[str, Any]
    tenant_id: str | None = None
    user_id: str | None = None
    metadata: dict[str, Any] | None = None  # more for the entry's metadata


@dataclass(frozen=True)
class Operation:
    name: str
    action: str  # audit registry key
    perm: Perm
    command: str | None  # the outbox command's type; None: nothing to tell the platform
    params: type[OperationParams]
    apply: Callable[[Actor, Any, dict[str, Any]], Change]
    needs_approval: Callable[[Any], bool] = lambda params: False

    @property
    def critical(self) -> bool:
        return action_type(self.action).risk is Risk.CRITICAL

    def requires_approval(self, params: OperationParams) -> bool:
        return self.critical or self.needs_approval(params)

    def parse(self, raw: dict[str, Any], *, strict: bool = True) -> OperationParams:
        """The parameters as JSON gives them (`strict`: a number is a number), or as a form
        gives them (text read as the declared types)."""
        params = validated(self.params, raw, what=f"{self.name}'s parameters", strict=strict)
        if isinstance(params, ImpersonationParams) and (
                params.minutes > settings.IMPERSONATION_MAX_MINUTES):
            raise ValidationFailed(
                f"minutes must be at most {settings.IMPERSONATION_MAX_MINUTES}")
        return params


def _tenant(tenant_id: str) -> Tenant:
    found = Tenant.objects.select_for_update().filter(pk=tenant_id).first()
    if found is None:
        raise NotFound(f"no tenant {tenant_id}")
    return found


def _user(user_id: str) -> PlatformUser:
    found = PlatformUser.objects.select_for_update().filter(pk=user_id).first()
    if found is None:
        raise NotFound(f"no platform user {user_id}")
    return found


def _tenant_change(tenant: Tenant, before: dict[str, Any], command: dict[str, Any]) -> Change:
    tenant.updated_at = now()
    tenant.save()
    return Change(f"tenant:{tenant.id}", before, snapshot(tenant),
                  {"tenant_id": tenant.id, **command}, tenant_id=tenant.id)


def _apply_policy(actor: Actor, params: TenantPolicyParams, meta) -> Change:
    tenant = _tenant(params.tenant_id)
    before = snapshot(tenant)
    tenant.policy = {**tenant.policy, **params.policy}
    return _tenant_change(tenant, before, {"policy": tenant.policy})


def _apply_credit(actor: Actor, params: CreditParams, meta) -> Change:
    tenant = _tenant(params.tenant_id)
    before = snapshot(tenant)
    tenant.credit_balance_cents += params.amount_cents
    return _tenant_change(tenant, before, {"amount_cents": params.amount_cents,
                                           "balance_cents": tenant.credit_balance_cents})


def _apply_limits(actor: Actor, params: LimitParams, meta) -> Change:
    tenant = _tenant(params.tenant_id)
    before = snapshot(tenant)
    tenant.limits = {**tenant.limits, **params.limits}
    return _tenant_change(tenant, before, {"limits": tenant.limits})


def _apply_suspension(suspend: bool):
    def apply(actor: Actor, params: SuspendParams | UnsuspendParams, meta) -> Change:
        user = _user(params.user_id)
        wanted = "suspended" if suspend else "active"
        if user.status == wanted:
            raise Conflict(f"{user.id} is already {wanted}")
        before = snapshot(user)
        days = getattr(params, "days", None)
        user.status = wanted
        user.suspended_until = now() + timedelta(days=days) if suspend and days else None
        user.updated_at = now()
        user.save()
        return Change(f"user:{user.id}", before, snapshot(user),
                      {"user_id": user.id, "status": wanted,
                       "until": isoformat(user.suspended_until) if user.suspended_until
                       else None},
                      tenant_id=user.tenant_id, user_id=user.id)

    return apply


def _apply_impersonation(actor: Actor, params: ImpersonationParams, meta) -> Change:
    user = _user(params.user_id)
    moment = now()
    session = Impersonation.objects.create(
        staff=actor.staff_user, target=user, reason_code=meta["reason_code"],
        ticket_ref=meta["ticket_ref"], started_at=moment,
        expires_at=moment + timedelta(minutes=params.minutes))
    return Change(f"user:{user.id}", None, snapshot(session),
                  {"impersonation_id": session.id, "user_id": user.id,
                   "staff_email": actor.staff_user.email,
                   "expires_at": isoformat(session.expires_at)},
                  tenant_id=user.tenant_id, user_id=user.id)


def _apply_refund(actor: Actor, params: RefundParams, meta) -> Change:
    """Casefile keeps no orders: the refund is the platform's to carry out, on the command."""
    user = _user(params.user_id)
    refund = {"order_id": params.order_id, "user_id": user.id,
              "amount_cents": params.amount_cents, "currency": params.currency}
    return Change(f"order:{params.order_id}", None, refund, refund,
                  tenant_id=user.tenant_id, user_id=user.id)


def _apply_hold_release(actor: Actor, params: HoldReleaseParams, meta) -> Change:
    """A legal hold is Casefile's own record: nothing to tell the platform (DESIGN 9.1)."""
    from casefile.holds.services import legal_hold_release_apply  # holds build on platform

    return legal_hold_release_apply(actor=actor, hold_id=params.hold_id, meta=meta)


def _always(params: OperationParams) -> bool:
    return True


def _credit_needs_approval(params: CreditParams) -> bool:
    return params.amount_cents > settings.FOUR_EYES_CREDIT_CENTS


def _refund_needs_approval(params: RefundParams) -> bool:
    return params.amount_cents > settings.FOUR_EYES_REFUND_CENTS


OPERATIONS: dict[str, Operation] = {op.name: op for op in [
    Operation("tenant_policy_update", "TENANT_POLICY_UPDATE", Perm.TENANT_POLICY,
              "tenant.policy.update", TenantPolicyParams, _apply_policy),
    Operation("tenant_credit_add", "BILLING_CREDIT_ADD", Perm.BILLING_CREDIT,
              "tenant.credit.add", CreditParams, _apply_credit, _credit_needs_approval),
    Operation("tenant_limit_override", "LIMIT_OVERRIDE", Perm.TENANT_LIMITS,
              "tenant.limits.override", LimitParams, _apply_limits),
    Operation("user_suspend", "USER_SUSPEND", Perm.USER_SUSPEND, "user.suspend",
              SuspendParams, _apply_suspension(True), _suspension_needs_approval),
    Operation("user_unsuspend", "USER_UNSUSPEND", Perm.USER_SUSPEND, "user.unsuspend",
              UnsuspendParams, _apply_suspension(False)),
    Operation("impersonation_start", "IMPERSONATION_START", Perm.IMPERSONATE,
              "user.impersonation.start", ImpersonationParams, _apply_impersonation),
    Operation("order_refund", "BILLING_REFUND", Perm.BILLING_REFUND, "order.refund",
              RefundParams, _apply_refund, _refund_needs_approval),
    # Releasing a legal hold lets its data be shredded and purged again: always a second legal
    # person's approval (holds.release is legal's alone; docs/holds.md).
    Operation("legal_hold_release", "LEGAL_HOLD_RELEASED", Perm.HOLDS_RELEASE, None,
              HoldReleaseParams, _apply_hold_release, _always),
]}


def operation_named(name: str) -> Operation:
    op = OPERATIONS.get(name)
    if op is None:
        raise ValidationFailed(f"unknown operation {name!r}",
                               details={"operations": sorted(OPERATIONS)})
    return op

