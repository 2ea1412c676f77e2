"""Writes on the platform's tenants and users (DESIGN section 8).

- The platform's own sync (`tenant_upsert`, `platform_user_upsert`): its machine identity
  reports the state it holds; recorded with the registry's system reason, nothing sent back.
- Privileged operations (`operation_request`): authorise, then either apply now or, when the
  operation is CRITICAL or over its threshold, create an `Approval` that another member of staff
  must approve before it expires (four-eyes). Applying (`operation_apply`) changes the subject,
  writes the audit entry (before/after/diff) and the outbox command that tells the platform, in
  the caller's transaction.

Verbs that other verbs call (`operation_request`, `operation_apply`) join the caller's
transaction, so a case action and the operation it runs commit together or not at all. Entry
points that nothing else calls are `durable`.
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
from casefile.accounts.stepup import require_step_up
from casefile.audit import ledger
from casefile.audit.actor import Actor
from casefile.audit.snapshot import snapshot
from casefile.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from casefile.core.timeutil import now
from casefile.platform.models import Approval, Impersonation, OutboxCommand, PlatformUser, Tenant
from casefile.platform.operations import OPERATIONS, Change, Operation, operation_named

__all__ = ["OPERATIONS", "Change", "Outcome"]

# --- the platform's own sync (idempotent upserts) ----------------------------------------------


def tenant_upsert(*, actor: Actor, tenant_id: str, name: str, status: str = "active",
                  policy: dict | None = None, limits: dict | None = None,
                  details: dict | None = None) -> tuple[Tenant, bool]:
    """Create or update a tenant as the platform holds it. Sending the same state again changes
    nothing and records nothing. Returns (tenant, changed)."""
    actor.require(Perm.PLATFORM_SYNC)
    moment = now()
    with transaction.atomic(durable=True):
        tenant = Tenant.objects.select_for_update().filter(pk=tenant_id).first()
        before = snapshot(tenant) if tenant else None
        if tenant is None:
            tenant = Tenant(id=tenant_id, created_at=moment, updated_at=moment)
        tenant.name, tenant.status = name, status
        for field, value in (("policy", policy), ("limits", limits), ("details", details)):
            if value is not None:
                setattr(tenant, field, value)
        if before is not None and _same(before, snapshot(tenant)):
            return tenant, False
        tenant.updated_at = moment
        tenant.save()
        ledger.record(actor=actor, action="TENANT_UPSERTED", resource=f"tenant:{tenant.id}",
                      before=before, after=snapshot(tenant), target_tenant_id=tenant.id)
    return tenant, True


def platform_user_upsert(*, actor: Actor, user_id: str, email: str, name: str = "",
                         tenant_id: str | None = None) -> tuple[PlatformUser, bool]:
    actor.require(Perm.PLATFORM_SYNC)
    moment = now()
    with transaction.atomic(durable=True):
        if tenant_id and not Tenant.objects.filter(pk=tenant_id).exists():
            raise NotFound(f"no tenant {tenant_id}")
        user = PlatformUser.objects.select_for_update().filter(pk=user_id).first()
        before = snapshot(user) if user else None
        if user is None:
            user = PlatformUser(id=user_id, created_at=moment, updated_at=moment)
        user.email, user.name, user.tenant_id = email.strip().lower(), name, tenant_id
        if before is not None and _same(before, snapshot(user)):
            return user, False
        user.updated_at = moment
        user.save()
        ledger.record(actor=actor, action="PLATFORM_USER_UPSERTED", resource=f"user:{user.id}",
                      before=before, after=snapshot(user), target_user_id=user.id,
                      target_tenant_id=tenant_id)
    return user, True


def _same(before: dict[str, Any], after: dict[str, Any]) -> bool:
    return {k: v for k, v in before.items() if k != "updated_at"} == {
        k: v for k, v in after.items() if k != "updated_at"}


# --- privileged operations --------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """Either the operation took effect (`command`), or it awaits approval (`approval`)."""

    command: OutboxCommand | None = None
    approval: Approval | None = None
    change: Change | None = None


# Called when an operation takes effect, in its transaction, with keyword arguments `operation`,
# `params` (parsed), `change`, `entry` (its ledger entry), `actor` and `approval`: apps that
# build on platform register here (trust writes a suspension's statement of reasons), so
# platform never imports them.
_applied_listeners: list[Callable[..., None]] = []


def on_operation_applied(listener: Callable[..., None]) -> None:
    if listener not in _applied_listeners:
        _applied_listeners.append(listener)


def needs_approval(*, operation: str, params: dict[str, Any]) -> bool:
    op = operation_named(operation)
    return op.requires_approval(op.parse(params))


def operation_request(*, actor: Actor, operation: str, params: dict[str, Any],
                      reason_code: str, ticket_ref: str | None = None) -> Outcome:
    """Run an operation now, or ask for a second person's approval when it needs one."""
    op = operation_named(operation)
    actor.require(op.perm)
    parsed = op.parse(params)
    if op.critical and not ticket_ref:
        raise ValidationFailed(f"{op.action} is CRITICAL: a ticket reference is required")
    if op.critical:
        require_step_up(actor)  # a second factor proven in the last few minutes
    if parsed.case_id:  # the entry will say it was taken from this case: it must be one
        from casefile.cases.models import Case  # cases build on platform, not the reverse

        if not Case.objects.filter(pk=parsed.case_id).exists():
            raise NotFound(f"no case {parsed.case_id}")
    with transaction.atomic():
        if op.requires_approval(parsed):
            return Outcome(approval=_approval_create(actor, op, parsed, reason_code,
                                                     ticket_ref))
        return operation_apply(actor=actor, operation=operation, params=params,
                               reason_code=reason_code, ticket_ref=ticket_ref)


def operation_preview(*, actor: Actor, operation: str, params: dict[str, Any],
                      reason_code: str, ticket_ref: str | None = None) -> ledger.Preview | None:
    """The audit entry the operation will write when it takes effect — now, or once approved —
    computed against the subject as it is now. Nothing is changed (see `ledger.preview`)."""
    op = operation_named(operation)
    actor.require(op.perm)

    def run() -> None:
        with transaction.atomic(durable=True):
            operation_apply(actor=actor, operation=operation, params=params,
                            reason_code=reason_code, ticket_ref=ticket_ref)

    return ledger.preview(run)


def operation_apply(*, actor: Actor, operation: str, params: dict[str, Any],
                    reason_code: str | None, ticket_ref: str | None = None,
                    approval: Approval | None = None, approver: Actor | None = None) -> Outcome:
    """Change, audit, command — now, without asking for approval: for `operation_request`,
    for an approved request (`approval`, decided by `approver`), and for Casefile's own jobs.
    An operation without a command (`Operation.command` None) tells the platform nothing."""
    op = operation_named(operation)
    actor.require(op.perm)
    parsed = op.parse(params)
    with transaction.atomic():
        change = op.apply(actor, parsed, {"reason_code": reason_code, "ticket_ref": ticket_ref,
                                          "approval": approval, "approver": approver})
        metadata: dict[str, Any] = {"operation": op.name, **(change.metadata or {})}
        if parsed.case_id:
            metadata["case_id"] = parsed.case_id
        if approval is not None and approver is not None:
            metadata |= {"approval_id": approval.id, "approved_by": {
                **approver.snapshot(), "ip_address": approver.ip_address,
                "user_agent": approver.user_agent}}
        entry = ledger.record(actor=actor, action=op.action, resource=change.resource,
                              reason_code=reason_code, ticket_ref=ticket_ref,
                              before=change.before, after=change.after,
                              target_tenant_id=change.tenant_id, target_user_id=change.user_id,
                              metadata=metadata)
        for listener in _applied_listeners:
            listener(operation=op.name, params=parsed, change=change, entry=entry, actor=actor,
                     approval=approval)
        if op.command is None:
            return Outcome(change=change)
        moment = now()
        payload = {**change.command, "audit_entry_id": entry.id,
                   "reason_code": entry.reason_code}
        if parsed.case_id:
            payload["case_id"] = parsed.case_id
        command = OutboxCommand.objects.create(
            type=op.command, payload=payload, audit_entry_id=entry.id, created_at=moment,
            next_attempt_at=moment)
    return Outcome(command=command, change=change)


def _approval_create(actor: Actor, op: Operation, params, reason_code: str,
                     ticket_ref: str | None) -> Approval:
    moment = now()
    raw = params.model_dump(exclude_none=True)
    approval = Approval.objects.create(
        operation=op.name, params=raw, reason_code=reason_code, ticket_ref=ticket_ref or "",
        requested_by=actor.staff_user, requested_ip=actor.ip_address,
        requested_user_agent=actor.user_agent, requested_context=actor.context,
        created_at=moment, expires_at=moment + timedelta(minutes=settings.APPROVAL_TTL_MINUTES))
    ledger.record(actor=actor, action="APPROVAL_REQUESTED", resource=f"approval:{approval.id}",
                  reason_code=reason_code, ticket_ref=ticket_ref, after=snapshot(approval),
                  target_tenant_id=raw.get("tenant_id"), target_user_id=raw.get("user_id"),
                  metadata={"operation": op.name, **({"case_id": raw["case_id"]}
                                                     if "case_id" in raw else {})})
    return approval


def _requester(approval: Approval) -> Actor:
    """The requester as they were when they asked: their address, browser and session."""
    return Actor(user=approval.requested_by, ip_address=approval.requested_ip,
                 user_agent=approval.requested_user_agent,
                 context=dict(approval.requested_context))


def approval_decide(*, actor: Actor, approval: Approval, approve: bool,
                    reason_code: str) -> Outcome:
    """Approve (the operation then takes effect, in the same transaction) or reject, with the
    approver's own reason. The requester may not decide their own request. A request that has
    expired, or whose requester may no longer ask for it (deactivated, or the permission
    revoked), is closed as such — recorded — and refused."""
    op = operation_named(approval.operation)
    actor.require(op.perm)
    if approve:  # approving makes a four-eyes request take effect: a step-up, like CRITICAL
        require_step_up(actor)
    with transaction.atomic(durable=True):
        approval = Approval.objects.select_for_update().get(pk=approval.pk)
        if approval.status != "pending":
            raise Conflict(f"this request is already {approval.status}")
        if approval.requested_by_id == actor.staff_user.pk:
            raise PermissionDenied("four-eyes: someone else must approve your request")
        moment = now()
        requester: StaffUser = approval.requested_by
        refusal = None
        if approval.expires_at <= moment:
            _approval_close(approval, "expired", Actor.system("approval-expiry"))
            refusal = "this request expired before it was decided"
        elif not (requester.is_active and has_perm(requester.roles, op.perm)):
            _approval_close(approval, "void", actor, reason_code=reason_code,
                            why=f"{requester.email} may no longer request {op.name}")
            refusal = (f"the requester {requester.email} may no longer request {op.name}; "
                       "the request is void")
        else:
            before = snapshot(approval)
            approval.status = "approved" if approve else "rejected"
            approval.decided_by, approval.decided_at = actor.staff_user, moment
            approval.save()
            ledger.record(actor=actor, action="APPROVAL_DECIDED",
                          resource=f"approval:{approval.id}", reason_code=reason_code,
                          ticket_ref=approval.ticket_ref or None, before=before,
                          after=snapshot(approval),
                          target_tenant_id=approval.params.get("tenant_id"),
                          target_user_id=approval.params.get("user_id"),
                          metadata={"operation": op.name})
            if not approve:
                return Outcome(approval=approval)
            outcome = operation_apply(actor=_requester(approval), operation=op.name,
                                      params=approval.params, reason_code=approval.reason_code,
                                      ticket_ref=approval.ticket_ref or None,
                                      approval=approval, approver=actor)
            approval.result = {"command_id": outcome.command.id if outcome.command else None}
            approval.save(update_fields=["result"])
            return Outcome(command=outcome.command, approval=approval, change=outcome.change)
    raise Conflict(refusal)


def _approval_close(approval: Approval, status: str, actor: Actor, *,
                    reason_code: str | None = None, why: str | None = None) -> None:
    before = snapshot(approval)
    approval.status = status
    approval.decided_at = now()
    if status == "void":
        approval.decided_by = actor.staff_user
    approval.save()
    action = {"expired": "APPROVAL_EXPIRED", "withdrawn": "APPROVAL_WITHDRAWN"}.get(
        status, "APPROVAL_DECIDED")
    ledger.record(actor=actor, action=action, resource=f"approval:{approval.id}",
                  reason_code=reason_code, before=before, after=snapshot(approval),
                  target_tenant_id=approval.params.get("tenant_id"),
                  target_user_id=approval.params.get("user_id"),
                  metadata={"operation": approval.operation, **({"why": why} if why else {})})


def approvals_expire() -> int:
    """Close, as Casefile itself, every pending request past its time; each is audited."""
    system = Actor.system("approval-expiry")
    expired = 0
    for approval_id in Approval.objects.filter(status="pending", expires_at__lte=now()
                                               ).values_list("id", flat=True)[:1000]:
        with transaction.atomic():
            approval = Approval.objects.select_for_update().get(pk=approval_id)
            if approval.status == "pending" and approval.expires_at <= now():
                _approval_close(approval, "expired", system)
                expired += 1
    return expired


def approvals_withdraw(*, actor: Actor, operation: str, user_id: str, reason_code: str | None,
                       why: str) -> list[str]:
    """Close the pending requests for `operation` on `user_id` that the strike ladder made
    (their params name a strike) once their cause is gone — the points fell below the step by
    decay or a reversal — so that no one approves a suspension nothing calls for any more.
    Joins the caller's transaction; each request closed is audited (`APPROVAL_WITHDRAWN`)."""
    closed = []
    with transaction.atomic():
        for approval in (Approval.objects.select_for_update()
                         .filter(status="pending", operation=operation,
                                 params__user_id=user_id, params__has_key="strike_id")
                         .order_by("created_at", "id")):
            _approval_close(approval, "withdrawn", actor, reason_code=reason_code, why=why)
            closed.append(approval.id)
    return closed


def suspensions_expire() -> int:
    """Lift, as Casefile itself, every suspension whose time is up (with its command)."""
    system = Actor.system("suspension-expiry")
    lifted = 0
    for user_id in PlatformUser.objects.filter(status="suspended", suspended_until__lte=now()
                                               ).values_list("id", flat=True)[:1000]:
        with transaction.atomic():
            user = PlatformUser.objects.select_for_update().get(pk=user_id)
            if user.status == "suspended" and user.suspended_until and (
                    user.suspended_until <= now()):
                operation_apply(actor=system, operation="user_unsuspend",
                                params={"user_id": user.id}, reason_code=None)
                lifted += 1
    return lifted


# --- impersonation --------------------------------------------------------------------------


def impersonation_end(*, actor: Actor, session: Impersonation, reason_code: str
                      ) -> Impersonation:
    if actor.user is not None and session.staff_id != actor.user.pk:
        actor.require(Perm.IMPERSONATE)
    with transaction.atomic(durable=True):
        session = Impersonation.objects.select_for_update().get(pk=session.pk)
        if session.ended_at is not None:
            raise Conflict("this impersonation has already ended")
        _end(actor, session, reason_code)
    return session


def _end(actor: Actor, session: Impersonation, reason_code: str | None) -> None:
    moment = now()
    before = snapshot(session)
    session.ended_at = min(moment, session.expires_at)
    session.save(update_fields=["ended_at"])
    entry = ledger.record(actor=actor, action="IMPERSONATION_END",
                          resource=f"user:{session.target_id}", reason_code=reason_code,
                          before=before, after=snapshot(session),
                          target_user_id=session.target_id,
                          metadata={"impersonation_id": session.id})
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
                _end(system, session, None)
                ended += 1
    return ended


# --- audited reads and the outbox -------------------------------------------------------------


def tenant_view_details(*, actor: Actor, tenant: Tenant, reason_code: str) -> dict[str, Any]:
    """An audited read: the entry is written before the details are returned."""
    actor.require(Perm.TENANT_DETAILS)
    details = ledger.normalise(tenant.details)  # what is shown is what the entry names
    with transaction.atomic(durable=True):
        ledger.record(actor=actor, action="TENANT_VIEW_DETAILS", resource=f"tenant:{tenant.id}",
                      reason_code=reason_code, target_tenant_id=tenant.id,
                      metadata={"fields": sorted(details)})
    return details


def outbox_retry(*, actor: Actor, command: OutboxCommand, reason_code: str) -> OutboxCommand:
    actor.require(Perm.OUTBOX_MANAGE)
    with transaction.atomic(durable=True):
        command = OutboxCommand.objects.select_for_update().get(pk=command.pk)
        if command.status != "dead":
            raise Conflict("only dead-lettered commands can be retried")
        before = snapshot(command)
        command.status, command.attempts, command.next_attempt_at = "pending", 0, now()
        command.save(update_fields=["status", "attempts", "next_attempt_at"])
        ledger.record(actor=actor, action="OUTBOX_RETRIED", resource=f"command:{command.id}",
                      reason_code=reason_code, before=before, after=snapshot(command))
    return command


def staff_may(user: StaffUser, operation: str) -> bool:
    return has_perm(user.roles, OPERATIONS[operation].perm)
