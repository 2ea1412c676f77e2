"""Privileged operations on the platform's tenants and users (DESIGN section 8).

Every operation goes through `_run`: authorise, lock the subject, change it, write the audit
entry (before/after/diff) and the outbox command that tells the platform — one transaction.
Operations that are CRITICAL, and credits above FOUR_EYES_CREDIT_CENTS, first become an
`Approval` that another member of staff must approve before it expires (four-eyes).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction

from casefile.accounts.models import StaffUser
from casefile.accounts.permissions import Perm, has_perm
from casefile.audit import ledger
from casefile.audit.actor import Actor
from casefile.audit.registry import Risk, action_type
from casefile.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from casefile.core.timeutil import isoformat, now
from casefile.platform.models import Approval, Impersonation, OutboxCommand, PlatformUser, Tenant

# --- the platform's own sync (idempotent upserts) ----------------------------------------------


def _tenant_state(t: Tenant) -> dict[str, Any]:
    return {"name": t.name, "status": t.status, "policy": t.policy, "limits": t.limits,
            "credit_balance_cents": t.credit_balance_cents}


def _user_state(u: PlatformUser) -> dict[str, Any]:
    return {"email": u.email, "name": u.name, "tenant": u.tenant_id, "status": u.status,
            "suspended_until": u.suspended_until}


def tenant_upsert(*, actor: Actor, tenant_id: str | None, name: str, status: str = "active",
                  policy: dict | None = None, limits: dict | None = None,
                  details: dict | None = None, reason_code: str = "OPERATIONS"
                  ) -> tuple[Tenant, bool]:
    """Create or update a tenant as the platform sees it. Sending the same state again changes
    nothing and records nothing. Returns (tenant, changed)."""
    actor.require(Perm.PLATFORM_SYNC)
    if tenant_id is not None and not tenant_id.startswith("ten_"):
        raise ValidationFailed("tenant ids start with ten_")
    moment = now()
    with transaction.atomic(durable=True):
        tenant = (Tenant.objects.select_for_update().filter(pk=tenant_id).first()
                  if tenant_id else None)
        before = _tenant_state(tenant) if tenant else None
        if tenant is None:
            tenant = Tenant(name=name, created_at=moment, updated_at=moment)
            if tenant_id:
                tenant.id = tenant_id
        tenant.name, tenant.status = name, status
        for field, value in (("policy", policy), ("limits", limits), ("details", details)):
            if value is not None:
                setattr(tenant, field, value)
        if before == _tenant_state(tenant) and details is None:
            return tenant, False
        tenant.updated_at = moment
        tenant.save()
        ledger.record(actor=actor, action="TENANT_UPSERTED", resource=f"tenant:{tenant.id}",
                      reason_code=reason_code, before=before, after=_tenant_state(tenant),
                      target_tenant_id=tenant.id)
    return tenant, True


def platform_user_upsert(*, actor: Actor, user_id: str | None, email: str, name: str = "",
                         tenant_id: str | None = None, reason_code: str = "OPERATIONS"
                         ) -> tuple[PlatformUser, bool]:
    actor.require(Perm.PLATFORM_SYNC)
    if user_id is not None and not user_id.startswith("usr_"):
        raise ValidationFailed("platform user ids start with usr_")
    moment = now()
    with transaction.atomic(durable=True):
        if tenant_id and not Tenant.objects.filter(pk=tenant_id).exists():
            raise NotFound(f"no tenant {tenant_id}")
        user = (PlatformUser.objects.select_for_update().filter(pk=user_id).first()
                if user_id else None)
        before = _user_state(user) if user else None
        if user is None:
            user = PlatformUser(created_at=moment, updated_at=moment)
            if user_id:
                user.id = user_id
        user.email, user.name, user.tenant_id = email.strip().lower(), name, tenant_id
        if before == _user_state(user):
            return user, False
        user.updated_at = moment
        user.save()
        ledger.record(actor=actor, action="PLATFORM_USER_UPSERTED", resource=f"user:{user.id}",
                      reason_code=reason_code, before=before, after=_user_state(user),
                      target_user_id=user.id, target_tenant_id=tenant_id)
    return user, True


# --- privileged operations --------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """What an operation did: for the audit entry and the outbox command."""

    resource: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    command: dict[str, Any]
    tenant_id: str | None = None
    user_id: str | None = None


@dataclass(frozen=True)
class Operation:
    name: str
    action: str  # audit registry key
    perm: Perm
    command: str  # the outbox command's type
    apply: Callable[[Actor, dict[str, Any], dict[str, Any]], Change]
    needs_approval: Callable[[dict[str, Any]], bool] = lambda params: False

    @property
    def critical(self) -> bool:
        return action_type(self.action).risk is Risk.CRITICAL


def _tenant(params) -> Tenant:
    found = Tenant.objects.select_for_update().filter(pk=params["tenant_id"]).first()
    if found is None:
        raise NotFound(f"no tenant {params['tenant_id']}")
    return found


def _user(params) -> PlatformUser:
    found = PlatformUser.objects.select_for_update().filter(pk=params["user_id"]).first()
    if found is None:
        raise NotFound(f"no platform user {params['user_id']}")
    return found


def _apply_policy(actor, params, meta) -> Change:
    tenant = _tenant(params)
    before = {"policy": tenant.policy}
    tenant.policy = {**tenant.policy, **params["policy"]}
    tenant.updated_at = now()
    tenant.save(update_fields=["policy", "updated_at"])
    return Change(f"tenant:{tenant.id}", before, {"policy": tenant.policy},
                  {"tenant_id": tenant.id, "policy": tenant.policy}, tenant_id=tenant.id)


def _apply_credit(actor, params, meta) -> Change:
    tenant = _tenant(params)
    before = {"credit_balance_cents": tenant.credit_balance_cents}
    tenant.credit_balance_cents += params["amount_cents"]
    tenant.updated_at = now()
    tenant.save(update_fields=["credit_balance_cents", "updated_at"])
    return Change(f"tenant:{tenant.id}", before,
                  {"credit_balance_cents": tenant.credit_balance_cents},
                  {"tenant_id": tenant.id, "amount_cents": params["amount_cents"],
                   "balance_cents": tenant.credit_balance_cents}, tenant_id=tenant.id)


def _apply_limits(actor, params, meta) -> Change:
    tenant = _tenant(params)
    before = {"limits": tenant.limits}
    tenant.limits = {**tenant.limits, **params["limits"]}
    tenant.updated_at = now()
    tenant.save(update_fields=["limits", "updated_at"])
    return Change(f"tenant:{tenant.id}", before, {"limits": tenant.limits},
                  {"tenant_id": tenant.id, "limits": tenant.limits}, tenant_id=tenant.id)


def _apply_suspension(suspend: bool):
    def apply(actor, params, meta) -> Change:
        user = _user(params)
        wanted = "suspended" if suspend else "active"
        if user.status == wanted:
            raise Conflict(f"{user.id} is already {wanted}")
        before = _user_state(user)
        user.status = wanted
        user.suspended_until = (now() + timedelta(days=params["days"])
                                if suspend and params.get("days") else None)
        user.updated_at = now()
        user.save(update_fields=["status", "suspended_until", "updated_at"])
        return Change(f"user:{user.id}", before, _user_state(user),
                      {"user_id": user.id, "status": wanted,
                       "until": isoformat(user.suspended_until) if user.suspended_until
                       else None},
                      tenant_id=user.tenant_id, user_id=user.id)

    return apply


def _apply_impersonation(actor, params, meta) -> Change:
    user = _user(params)
    moment = now()
    session = Impersonation.objects.create(
        staff=actor.staff_user, target=user, reason_code=meta["reason_code"],
        ticket_ref=meta["ticket_ref"], started_at=moment,
        expires_at=moment + timedelta(minutes=params["minutes"]))
    return Change(f"user:{user.id}", None,
                  {"impersonation_id": session.id, "expires_at": session.expires_at},
                  {"impersonation_id": session.id, "user_id": user.id,
                   "staff_email": actor.staff_user.email,
                   "expires_at": isoformat(session.expires_at)},
                  tenant_id=user.tenant_id, user_id=user.id)


def _credit_needs_approval(params) -> bool:
    return params["amount_cents"] > settings.FOUR_EYES_CREDIT_CENTS


OPERATIONS: dict[str, Operation] = {op.name: op for op in [
    Operation("tenant_policy_update", "TENANT_POLICY_UPDATE", Perm.TENANT_POLICY,
              "tenant.policy.update", _apply_policy),
    Operation("tenant_credit_add", "BILLING_CREDIT_ADD", Perm.BILLING_CREDIT,
              "tenant.credit.add", _apply_credit, _credit_needs_approval),
    Operation("tenant_limit_override", "LIMIT_OVERRIDE", Perm.TENANT_LIMITS,
              "tenant.limits.override", _apply_limits),
    Operation("user_suspend", "USER_SUSPEND", Perm.USER_SUSPEND, "user.suspend",
              _apply_suspension(True)),
    Operation("user_unsuspend", "USER_UNSUSPEND", Perm.USER_SUSPEND, "user.unsuspend",
              _apply_suspension(False)),
    Operation("impersonation_start", "IMPERSONATION_START", Perm.IMPERSONATE,
              "user.impersonation.start", _apply_impersonation),
]}


@dataclass(frozen=True)
class Outcome:
    """Either the operation took effect (`command`), or it awaits approval (`approval`)."""

    command: OutboxCommand | None = None
    approval: Approval | None = None
    change: Change | None = None


def _operation(operation: str) -> Operation:
    op = OPERATIONS.get(operation)
    if op is None:
        raise ValidationFailed(f"unknown operation {operation!r}",
                               details={"operations": sorted(OPERATIONS)})
    return op


def operation_request(*, actor: Actor, operation: str, params: dict[str, Any],
                      reason_code: str, ticket_ref: str | None = None) -> Outcome:
    op = _operation(operation)
    actor.require(op.perm)
    _check_params(operation, params)
    if op.critical and not ticket_ref:
        raise ValidationFailed(f"{op.action} is CRITICAL: a ticket reference is required")
    if op.critical or op.needs_approval(params):
        return Outcome(approval=_approval_create(actor, op, params, reason_code, ticket_ref))
    with transaction.atomic(durable=True):
        return _run(actor, op, params, reason_code, ticket_ref)


def operation_preview(*, actor: Actor, operation: str, params: dict[str, Any],
                      reason_code: str, ticket_ref: str | None = None) -> ledger.Preview | None:
    """The audit entry the operation will write when it takes effect — now, or once approved —
    computed against the subject as it is now. Nothing is changed (see `ledger.preview`)."""
    op = _operation(operation)
    actor.require(op.perm)
    _check_params(operation, params)

    def run() -> None:
        with transaction.atomic(durable=True):
            _run(actor, op, params, reason_code, ticket_ref)

    return ledger.preview(run)


def needs_approval(operation: str, params: dict[str, Any]) -> bool:
    op = _operation(operation)
    return op.critical or op.needs_approval(params)


def _check_params(operation: str, params: dict[str, Any]) -> None:
    def positive_int(key, maximum=None):
        value = params.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value <= 0 or (
                maximum and value > maximum):
            raise ValidationFailed(f"{key} must be a whole number from 1"
                                   + (f" to {maximum}" if maximum else ""))

    subject = "user_id" if operation.startswith(("user_", "impersonation")) else "tenant_id"
    if not isinstance(params.get(subject), str):
        raise ValidationFailed(f"{operation} needs {subject}")
    if operation == "tenant_credit_add":
        positive_int("amount_cents")
    if operation == "tenant_policy_update" and not isinstance(params.get("policy"), dict):
        raise ValidationFailed("policy must be an object of settings to change")
    if operation == "tenant_limit_override":
        limits = params.get("limits")
        if not isinstance(limits, dict) or not limits or not all(
                isinstance(v, int) and not isinstance(v, bool) and v >= 0
                for v in limits.values()):
            raise ValidationFailed("limits must map limit names to whole numbers >= 0")
    if operation == "user_suspend" and "days" in params:
        positive_int("days", 3650)
    if operation == "impersonation_start":
        positive_int("minutes", settings.IMPERSONATION_MAX_MINUTES)


def _run(actor: Actor, op: Operation, params: dict[str, Any], reason_code: str,
         ticket_ref: str | None, *, approval: Approval | None = None) -> Outcome:
    """Change, audit, command: the caller holds the transaction."""
    change = op.apply(actor, params, {"reason_code": reason_code, "ticket_ref": ticket_ref})
    metadata: dict[str, Any] = {"operation": op.name}
    if approval is not None:
        metadata |= {"approval_id": approval.id, "approved_by": approval.decided_by_id}
    entry = ledger.record(actor=actor, action=op.action, resource=change.resource,
                          reason_code=reason_code, ticket_ref=ticket_ref, before=change.before,
                          after=change.after, target_tenant_id=change.tenant_id,
                          target_user_id=change.user_id, metadata=metadata)
    moment = now()
    command = OutboxCommand.objects.create(
        type=op.command, payload={**change.command, "audit_entry_id": entry.id,
                                  "reason_code": reason_code},
        audit_entry_id=entry.id, created_at=moment, next_attempt_at=moment)
    return Outcome(command=command, change=change)


def _approval_create(actor: Actor, op: Operation, params, reason_code, ticket_ref) -> Approval:
    moment = now()
    ttl = timedelta(minutes=settings.APPROVAL_TTL_MINUTES)
    with transaction.atomic(durable=True):
        approval = Approval.objects.create(
            operation=op.name, params=params, reason_code=reason_code,
            ticket_ref=ticket_ref or "", requested_by=actor.staff_user, created_at=moment,
            expires_at=moment + ttl)
        ledger.record(actor=actor, action="APPROVAL_REQUESTED",
                      resource=f"approval:{approval.id}", reason_code=reason_code,
                      ticket_ref=ticket_ref,
                      after={"operation": op.name, "params": params, "status": "pending",
                             "expires_at": approval.expires_at},
                      target_tenant_id=params.get("tenant_id"),
                      target_user_id=params.get("user_id"))
    return approval


def approval_decide(*, actor: Actor, approval: Approval, approve: bool) -> Outcome:
    """Approve (the operation then takes effect, in the same transaction) or reject. The
    requester may not decide their own request; an expired request can only expire."""
    op = OPERATIONS[approval.operation]
    actor.require(op.perm)
    with transaction.atomic(durable=True):
        approval = Approval.objects.select_for_update().get(pk=approval.pk)
        if approval.status != "pending":
            raise Conflict(f"this request is already {approval.status}")
        if approval.requested_by_id == actor.staff_user.pk:
            raise PermissionDenied("four-eyes: someone else must approve your request")
        moment = now()
        expired = approval.expires_at <= moment
        if expired:  # recorded (committed), then refused below
            approval.status = "expired"
            approval.save(update_fields=["status"])
        else:
            return _decide(actor, op, approval, approve, moment)
    assert expired
    raise Conflict("this request expired before it was approved")


def _decide(actor: Actor, op: Operation, approval: Approval, approve: bool, moment) -> Outcome:
    """Record the decision and, on approval, run the operation (caller's transaction)."""
    approval.status = "approved" if approve else "rejected"
    approval.decided_by, approval.decided_at = actor.staff_user, moment
    approval.save(update_fields=["status", "decided_by", "decided_at"])
    ledger.record(actor=actor, action="APPROVAL_DECIDED", resource=f"approval:{approval.id}",
                  reason_code=approval.reason_code, ticket_ref=approval.ticket_ref or None,
                  before={"status": "pending"}, after={"status": approval.status},
                  target_tenant_id=approval.params.get("tenant_id"),
                  target_user_id=approval.params.get("user_id"))
    if not approve:
        return Outcome(approval=approval)
    requester = Actor.staff(approval.requested_by)
    outcome = _run(requester, op, approval.params, approval.reason_code,
                   approval.ticket_ref or None, approval=approval)
    approval.result = {"command_id": outcome.command.id if outcome.command else None}
    approval.save(update_fields=["result"])
    return Outcome(command=outcome.command, approval=approval, change=outcome.change)


def impersonation_end(*, actor: Actor, session: Impersonation, reason_code: str = "OPERATIONS"
                      ) -> Impersonation:
    if actor.user is not None and session.staff_id != actor.user.pk:
        actor.require(Perm.IMPERSONATE)
    with transaction.atomic(durable=True):
        session = Impersonation.objects.select_for_update().get(pk=session.pk)
        if session.ended_at is not None:
            raise Conflict("this impersonation has already ended")
        _end(actor, session, reason_code)
    return session


def _end(actor: Actor, session: Impersonation, reason_code: str) -> None:
    moment = now()
    session.ended_at = min(moment, session.expires_at)
    session.save(update_fields=["ended_at"])
    entry = ledger.record(actor=actor, action="IMPERSONATION_END",
                          resource=f"user:{session.target_id}", reason_code=reason_code,
                          before={"impersonation_id": session.id, "active": True},
                          after={"impersonation_id": session.id, "active": False},
                          target_user_id=session.target_id)
    OutboxCommand.objects.create(
        type="user.impersonation.end", payload={"impersonation_id": session.id,
                                                "user_id": session.target_id,
                                                "audit_entry_id": entry.id},
        audit_entry_id=entry.id, created_at=moment, next_attempt_at=moment)


def impersonations_expire() -> int:
    """End, as Casefile itself, every session past its time box. Returns how many."""
    system = Actor.system("impersonation-expiry")
    ended = 0
    for session_id in Impersonation.objects.filter(
            ended_at__isnull=True, expires_at__lte=now()).values_list("id", flat=True):
        with transaction.atomic():
            session = Impersonation.objects.select_for_update().get(pk=session_id)
            if session.ended_at is None:
                _end(system, session, "AUTOMATED")
                ended += 1
    return ended


def approvals_expire() -> int:
    return Approval.objects.filter(status="pending", expires_at__lte=now()).update(
        status="expired")


def tenant_view_details(*, actor: Actor, tenant: Tenant, reason_code: str) -> dict[str, Any]:
    """An audited read: the entry is written before the details are returned."""
    actor.require(Perm.TENANT_DETAILS)
    with transaction.atomic(durable=True):
        ledger.record(actor=actor, action="TENANT_VIEW_DETAILS", resource=f"tenant:{tenant.id}",
                      reason_code=reason_code, target_tenant_id=tenant.id,
                      metadata={"fields": sorted(tenant.details)})
    return tenant.details


def outbox_retry(*, actor: Actor, command: OutboxCommand, reason_code: str) -> OutboxCommand:
    actor.require(Perm.OUTBOX_MANAGE)
    with transaction.atomic(durable=True):
        command = OutboxCommand.objects.select_for_update().get(pk=command.pk)
        if command.status != "dead":
            raise Conflict("only dead-lettered commands can be retried")
        command.status, command.attempts, command.next_attempt_at = "pending", 0, now()
        command.save(update_fields=["status", "attempts", "next_attempt_at"])
        ledger.record(actor=actor, action="OUTBOX_RETRIED", resource=f"command:{command.id}",
                      reason_code=reason_code, before={"status": "dead"},
                      after={"status": "pending"})
    return command


def staff_may(user: StaffUser, operation: str) -> bool:
    return has_perm(user.roles, OPERATIONS[operation].perm)
