from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Router, Status

from casefile.accounts.access import require
from casefile.accounts.permissions import Perm
from casefile.core.schemas import Schema
from casefile.platform import selectors, services
from casefile.platform.models import Approval, OutboxCommand, PlatformUser, Tenant

router = Router(tags=["platform"])


class TenantOut(Schema):
    id: str
    name: str
    status: str
    policy: dict[str, Any]
    limits: dict[str, Any]
    credit_balance_cents: int
    updated_at: datetime

    @staticmethod
    def of(t: Tenant) -> "TenantOut":
        return TenantOut(id=t.id, name=t.name, status=t.status, policy=t.policy, limits=t.limits,
                         credit_balance_cents=t.credit_balance_cents, updated_at=t.updated_at)


class TenantIn(Schema):
    name: str
    status: str = "active"
    policy: dict[str, Any] | None = None
    limits: dict[str, Any] | None = None
    details: dict[str, Any] | None = None


class UserOut(Schema):
    id: str
    email: str
    name: str
    tenant_id: str | None
    status: str
    suspended_until: datetime | None

    @staticmethod
    def of(u: PlatformUser) -> "UserOut":
        return UserOut(id=u.id, email=u.email, name=u.name, tenant_id=u.tenant_id,
                       status=u.status, suspended_until=u.suspended_until)


class UserIn(Schema):
    email: str
    name: str = ""
    tenant_id: str | None = None


class OperationIn(Schema):
    operation: str
    params: dict[str, Any]
    reason_code: str
    ticket_ref: str | None = None


class ApprovalOut(Schema):
    id: str
    operation: str
    params: dict[str, Any]
    reason_code: str
    ticket_ref: str
    requested_by: str
    status: str
    decided_by: str | None
    created_at: datetime
    expires_at: datetime
    result: dict[str, Any]

    @staticmethod
    def of(a: Approval) -> "ApprovalOut":
        return ApprovalOut(id=a.id, operation=a.operation, params=a.params,
                           reason_code=a.reason_code, ticket_ref=a.ticket_ref,
                           requested_by=a.requested_by_id, status=a.status,
                           decided_by=a.decided_by_id, created_at=a.created_at,
                           expires_at=a.expires_at, result=a.result)


class CommandOut(Schema):
    id: str
    type: str
    payload: dict[str, Any]
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str
    delivered_at: datetime | None

    @staticmethod
    def of(c: OutboxCommand) -> "CommandOut":
        return CommandOut(id=c.id, type=c.type, payload=c.payload, status=c.status,
                          attempts=c.attempts, next_attempt_at=c.next_attempt_at,
                          last_error=c.last_error, delivered_at=c.delivered_at)


class ReasonIn(Schema):
    reason_code: str


def _outcome(outcome: services.Outcome):
    if outcome.command is None:
        assert outcome.approval is not None
        return Status(202, {"status": "pending_approval",
                            "approval": ApprovalOut.of(outcome.approval)})
    change = outcome.change
    return Status(200, {"status": "done", "command_id": outcome.command.id,
                        "before": change.before if change else None,
                        "after": change.after if change else None})


@router.put("/tenants/{tenant_id}", summary="Upsert a tenant (the platform's sync; idempotent)")
def tenant_upsert(request: HttpRequest, tenant_id: str, body: TenantIn):
    actor = require(request, Perm.PLATFORM_SYNC)
    tenant, changed = services.tenant_upsert(actor=actor, tenant_id=tenant_id, **body.model_dump())
    return {"tenant": TenantOut.of(tenant), "changed": changed}


@router.get("/tenants", response=list[TenantOut], summary="Tenants")
def tenant_list(request: HttpRequest, limit: int = 100):
    require(request, Perm.PLATFORM_VIEW)
    return [TenantOut.of(t) for t in selectors.tenants()[:max(1, min(limit, 500))]]


@router.get("/tenants/{tenant_id}", response=TenantOut, summary="A tenant (no sensitive details)")
def tenant_get(request: HttpRequest, tenant_id: str):
    require(request, Perm.PLATFORM_VIEW)
    return TenantOut.of(selectors.tenant_get(tenant_id))


@router.post("/tenants/{tenant_id}/details", summary="Read sensitive details (audited)")
def tenant_details(request: HttpRequest, tenant_id: str, body: ReasonIn):
    actor = require(request, Perm.TENANT_DETAILS)
    tenant = selectors.tenant_get(tenant_id)
    return {"tenant_id": tenant.id,
            "details": services.tenant_view_details(actor=actor, tenant=tenant,
                                                    reason_code=body.reason_code)}


@router.put("/users/{user_id}", summary="Upsert a platform user (the platform's sync)")
def user_upsert(request: HttpRequest, user_id: str, body: UserIn):
    actor = require(request, Perm.PLATFORM_SYNC)
    user, changed = services.platform_user_upsert(actor=actor, user_id=user_id,
                                                  **body.model_dump())
    return {"user": UserOut.of(user), "changed": changed}


@router.get("/users/{user_id}", response=UserOut, summary="A platform user")
def user_get(request: HttpRequest, user_id: str):
    require(request, Perm.PLATFORM_VIEW)
    return UserOut.of(selectors.platform_user_get(user_id))


@router.post("/operations", response={200: dict, 202: dict},
             summary="Run a privileged operation (202 when it needs a second approval)")
def operation_run(request: HttpRequest, body: OperationIn):
    actor = require(request, Perm.PLATFORM_VIEW)  # then the operation's own permission
    return _outcome(services.operation_request(actor=actor, operation=body.operation,
                                               params=body.params, reason_code=body.reason_code,
                                               ticket_ref=body.ticket_ref))


@router.get("/approvals", response=list[ApprovalOut], summary="Four-eyes requests")
def approval_list(request: HttpRequest, status: str | None = "pending"):
    require(request, Perm.PLATFORM_VIEW)
    return [ApprovalOut.of(a) for a in selectors.approvals(status)[:200]]


@router.post("/approvals/{approval_id}/approve", response={200: dict, 202: dict},
             summary="Approve: the operation takes effect now")
def approval_approve(request: HttpRequest, approval_id: str):
    actor = require(request, Perm.PLATFORM_VIEW)
    outcome = services.approval_decide(actor=actor, approval=selectors.approval_get(approval_id),
                                       approve=True)
    return _outcome(outcome)


@router.post("/approvals/{approval_id}/reject", response=ApprovalOut, summary="Reject")
def approval_reject(request: HttpRequest, approval_id: str):
    actor = require(request, Perm.PLATFORM_VIEW)
    outcome = services.approval_decide(actor=actor, approval=selectors.approval_get(approval_id),
                                       approve=False)
    assert outcome.approval is not None
    return ApprovalOut.of(outcome.approval)


@router.post("/impersonations/{session_id}/end", summary="End an impersonation")
def impersonation_end(request: HttpRequest, session_id: str, body: ReasonIn):
    actor = require(request, Perm.PLATFORM_VIEW)
    session = services.impersonation_end(actor=actor,
                                         session=selectors.impersonation_get(session_id),
                                         reason_code=body.reason_code)
    return {"id": session.id, "ended_at": session.ended_at}


@router.get("/outbox", response=list[CommandOut], summary="Commands to the platform")
def outbox_list(request: HttpRequest, status: str | None = None):
    require(request, Perm.OUTBOX_MANAGE)
    return [CommandOut.of(c) for c in selectors.commands(status)[:200]]


@router.post("/outbox/{command_id}/retry", response=CommandOut,
             summary="Queue a dead-lettered command again")
def outbox_retry(request: HttpRequest, command_id: str, body: ReasonIn):
    actor = require(request, Perm.OUTBOX_MANAGE)
    return CommandOut.of(services.outbox_retry(actor=actor,
                                               command=selectors.command_get(command_id),
                                               reason_code=body.reason_code))
