from datetime import datetime
from typing import Annotated, Any, Literal

from django.db import transaction
from django.http import HttpRequest
from ninja import Router, Status
from pydantic import Field

from casefile.accounts.access import require
from casefile.accounts.permissions import Perm
from casefile.core.pagination import keyset_page
from casefile.core.schemas import (
    ApprovalId,
    Column,
    CommandId,
    Email,
    ImpersonationId,
    JsonObject,
    Limit,
    PlatformUserId,
    ReasonCode,
    ReasonIn,
    Schema,
    TenantId,
    TicketRef,
)
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


TenantStatus = Literal["active", "suspended", "closed"]


class TenantIn(Schema):
    name: Annotated[str, Column(Tenant, "name", min_length=1)]
    status: TenantStatus = "active"
    policy: JsonObject | None = None
    limits: JsonObject | None = None
    details: JsonObject | None = None


class TenantUpsertOut(Schema):
    tenant: TenantOut
    changed: bool


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
    email: Email
    name: Annotated[str, Column(PlatformUser, "name")] = ""
    tenant_id: TenantId | None = None


class UserUpsertOut(Schema):
    user: UserOut
    changed: bool


class OperationIn(Schema):
    operation: Annotated[str, Field(max_length=40)]
    params: JsonObject  # the operation's own schema (platform/operations.py) validates them
    reason_code: ReasonCode
    ticket_ref: TicketRef | None = None


class ApprovalOut(Schema):
    id: str
    operation: str
    params: dict[str, Any]
    reason_code: str
    ticket_ref: str
    requested_by: str
    requested_ip: str | None
    status: str
    decided_by: str | None
    created_at: datetime
    expires_at: datetime
    result: dict[str, Any]

    @staticmethod
    def of(a: Approval) -> "ApprovalOut":
        return ApprovalOut(id=a.id, operation=a.operation, params=a.params,
                           reason_code=a.reason_code, ticket_ref=a.ticket_ref,
                           requested_by=a.requested_by_id, requested_ip=a.requested_ip,
                           status=a.status,
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


class TenantPageOut(Schema):
    items: list[TenantOut]
    next_cursor: str | None


class ApprovalPageOut(Schema):
    items: list[ApprovalOut]
    next_cursor: str | None


class CommandPageOut(Schema):
    items: list[CommandOut]
    next_cursor: str | None


class DoneOut(Schema):
    status: Literal["done"]
    command_id: str | None  # None: an operation that tells the platform nothing (a hold release)
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class PendingOut(Schema):
    status: Literal["pending_approval"]
    approval: ApprovalOut


class DetailsOut(Schema):
    tenant_id: str
    details: dict[str, Any]


class EndedOut(Schema):
    id: str
    ended_at: datetime


def _outcome(outcome: services.Outcome):
    if outcome.change is None:
        assert outcome.approval is not None
        return Status(202, {"status": "pending_approval",
                            "approval": ApprovalOut.of(outcome.approval)})
    change = outcome.change
    return Status(200, {"status": "done",
                        "command_id": outcome.command.id if outcome.command else None,
                        "before": change.before if change else None,
                        "after": change.after if change else None})


@router.put("/tenants/{tenant_id}", response=TenantUpsertOut,
            summary="Upsert a tenant (the platform's machine identity; idempotent)")
def tenant_upsert(request: HttpRequest, tenant_id: TenantId, body: TenantIn):
    actor = require(request, Perm.PLATFORM_SYNC)
    tenant, changed = services.tenant_upsert(actor=actor, tenant_id=tenant_id, **body.model_dump())
    return {"tenant": TenantOut.of(tenant), "changed": changed}


@router.get("/tenants", response=TenantPageOut, summary="Tenants, by name")
def tenant_list(request: HttpRequest, cursor: str | None = None, limit: Limit = 100):
    require(request, Perm.PLATFORM_VIEW)
    page = keyset_page(selectors.tenants(), keys=["name", "id"], descending=False,
                       cursor=cursor, limit=limit)
    return {"items": [TenantOut.of(t) for t in page.items], "next_cursor": page.next_cursor}


@router.get("/tenants/{tenant_id}", response=TenantOut, summary="A tenant (no sensitive details)")
def tenant_get(request: HttpRequest, tenant_id: TenantId):
    require(request, Perm.PLATFORM_VIEW)
    return TenantOut.of(selectors.tenant_get(tenant_id))


@router.post("/tenants/{tenant_id}/details", response=DetailsOut,
             summary="Read sensitive details (audited)")
def tenant_details(request: HttpRequest, tenant_id: TenantId, body: ReasonIn):
    actor = require(request, Perm.TENANT_DETAILS)
    tenant = selectors.tenant_get(tenant_id)
    return {"tenant_id": tenant.id,
            "details": services.tenant_view_details(actor=actor, tenant=tenant,
                                                    reason_code=body.reason_code)}


@router.put("/users/{user_id}", response=UserUpsertOut,
            summary="Upsert a platform user (the platform's machine identity; idempotent)")
def user_upsert(request: HttpRequest, user_id: PlatformUserId, body: UserIn):
    actor = require(request, Perm.PLATFORM_SYNC)
    user, changed = services.platform_user_upsert(actor=actor, user_id=user_id,
                                                  **body.model_dump())
    return {"user": UserOut.of(user), "changed": changed}


@router.get("/users/{user_id}", response=UserOut, summary="A platform user")
def user_get(request: HttpRequest, user_id: PlatformUserId):
    require(request, Perm.PLATFORM_VIEW)
    return UserOut.of(selectors.platform_user_get(user_id))


@router.post("/operations", response={200: DoneOut, 202: PendingOut},
             summary="Run a privileged operation (202 when it needs a second approval)")
def operation_run(request: HttpRequest, body: OperationIn):
    actor = require(request, Perm.PLATFORM_VIEW)  # then the operation's own permission
    with transaction.atomic(durable=True):
        outcome = services.operation_request(actor=actor, operation=body.operation,
                                             params=body.params, reason_code=body.reason_code,
                                             ticket_ref=body.ticket_ref)
    return _outcome(outcome)


ApprovalStatus = Literal["pending", "approved", "rejected", "expired", "void", "all"]


@router.get("/approvals", response=ApprovalPageOut, summary="Four-eyes requests, newest first")
def approval_list(request: HttpRequest, status: ApprovalStatus = "pending",
                  cursor: str | None = None, limit: Limit = 100):
    require(request, Perm.PLATFORM_VIEW)
    page = keyset_page(selectors.approvals(None if status == "all" else status),
                       keys=["created_at", "id"], cursor=cursor, limit=limit)
    return {"items": [ApprovalOut.of(a) for a in page.items], "next_cursor": page.next_cursor}


@router.post("/approvals/{approval_id}/approve", response={200: DoneOut},
             summary="Approve, with your reason: the operation takes effect now")
def approval_approve(request: HttpRequest, approval_id: ApprovalId, body: ReasonIn):
    actor = require(request, Perm.PLATFORM_VIEW)
    outcome = services.approval_decide(actor=actor, approval=selectors.approval_get(approval_id),
                                       approve=True, reason_code=body.reason_code)
    return _outcome(outcome)


@router.post("/approvals/{approval_id}/reject", response=ApprovalOut,
             summary="Reject, with your reason")
def approval_reject(request: HttpRequest, approval_id: ApprovalId, body: ReasonIn):
    actor = require(request, Perm.PLATFORM_VIEW)
    outcome = services.approval_decide(actor=actor, approval=selectors.approval_get(approval_id),
                                       approve=False, reason_code=body.reason_code)
    assert outcome.approval is not None
    return ApprovalOut.of(outcome.approval)


@router.post("/impersonations/{session_id}/end", response=EndedOut,
             summary="End an impersonation")
def impersonation_end(request: HttpRequest, session_id: ImpersonationId, body: ReasonIn):
    actor = require(request, Perm.PLATFORM_VIEW)
    session = services.impersonation_end(actor=actor,
                                         session=selectors.impersonation_get(session_id),
                                         reason_code=body.reason_code)
    return {"id": session.id, "ended_at": session.ended_at}


CommandStatus = Literal["pending", "delivered", "dead"]


@router.get("/outbox", response=CommandPageOut, summary="Commands to the platform, newest first")
def outbox_list(request: HttpRequest, status: CommandStatus | None = None,
                cursor: str | None = None, limit: Limit = 100):
    require(request, Perm.OUTBOX_MANAGE)
    page = keyset_page(selectors.commands(status), keys=["created_at", "id"], cursor=cursor,
                       limit=limit)
    return {"items": [CommandOut.of(c) for c in page.items], "next_cursor": page.next_cursor}


@router.post("/outbox/{command_id}/retry", response=CommandOut,
             summary="Queue a dead-lettered command again")
def outbox_retry(request: HttpRequest, command_id: CommandId, body: ReasonIn):
    actor = require(request, Perm.OUTBOX_MANAGE)
    return CommandOut.of(services.outbox_retry(actor=actor,
                                               command=selectors.command_get(command_id),
                                               reason_code=body.reason_code))
