"""Case policy in one place: the status machine, the SLA table, what each case action takes,
runs and needs.

Read this file to know how a case may move; nothing else decides it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from django.conf import settings
from django.db import models
from pydantic import Field

from casefile.accounts.permissions import Perm
from casefile.core.schemas import JSON_SAFE_MAX, Bounded, LongText, PlatformUserId, Schema
from casefile.platform.operations import OPERATIONS


class Kind(models.TextChoices):
    REPORT = "report"
    DMCA = "dmca"
    DISPUTE = "dispute"
    APPEAL = "appeal"
    FRAUD = "fraud"
    INCIDENT = "incident"


class Status(models.TextChoices):
    NEW = "new"
    TRIAGE = "triage"
    INVESTIGATING = "investigating"
    AWAITING_USER = "awaiting_user"
    RESOLVED = "resolved"
    CLOSED = "closed"


# new → triage → investigating ⇄ awaiting_user → resolved → closed. Dismissing spam closes a
# new or triaged case; a resolved case can be reopened. Closed is final.
TRANSITIONS: dict[Status, frozenset[Status]] = {
    Status.NEW: frozenset({Status.TRIAGE, Status.CLOSED}),
    Status.TRIAGE: frozenset({Status.INVESTIGATING, Status.RESOLVED, Status.CLOSED}),
    Status.INVESTIGATING: frozenset({Status.AWAITING_USER, Status.RESOLVED}),
    Status.AWAITING_USER: frozenset({Status.INVESTIGATING, Status.RESOLVED}),
    Status.RESOLVED: frozenset({Status.CLOSED, Status.INVESTIGATING}),
    Status.CLOSED: frozenset(),
}
OPEN_STATUSES = frozenset({Status.NEW, Status.TRIAGE, Status.INVESTIGATING,
                           Status.AWAITING_USER})
SLA_PAUSED_IN = Status.AWAITING_USER

# Hours to resolve, by kind, for priorities 1 (most urgent) to 5. Override with CASE_SLA_HOURS.
DEFAULT_SLA_HOURS: dict[str, list[int]] = {
    # A safety report's priority is its category's severity (trust.reports_policy): critical 1 h,
    # high 4 h, medium 24 h, low 72 h (DESIGN 9.4).
    Kind.REPORT: [1, 4, 24, 72, 168],
    Kind.DMCA: [24, 48, 72, 120, 240],
    Kind.DISPUTE: [8, 24, 48, 96, 168],
    Kind.APPEAL: [24, 48, 72, 120, 240],
    Kind.FRAUD: [2, 6, 24, 48, 96],
    Kind.INCIDENT: [1, 4, 12, 48, 120],
}


def sla_allowance(kind: str, priority: int) -> timedelta:
    table = {**DEFAULT_SLA_HOURS, **getattr(settings, "CASE_SLA_HOURS", {})}
    return timedelta(hours=table[kind][priority - 1])


class ActionPayload(Schema):
    message: LongText | None = None


class SuspendPayload(ActionPayload):
    user_id: PlatformUserId | None = None  # the case's subject when not given
    days: Annotated[int, Field(ge=1, le=3650)] | None = None


class RefundPayload(ActionPayload):
    user_id: PlatformUserId | None = None  # the case's subject when not given
    order_id: Annotated[str, Bounded(60, min_length=1)] | None = None  # the case's order
    amount_cents: Annotated[int, Field(ge=1, le=JSON_SAFE_MAX)]
    currency: Annotated[str, Bounded(3, pattern=r"^[A-Z]{3}$")]


class EvidencePayload(ActionPayload):
    message: Annotated[LongText, Field(min_length=1)]
    due_days: Annotated[int, Field(ge=1, le=365)] | None = None


class NotePayload(ActionPayload):
    message: Annotated[LongText, Field(min_length=1)]


@dataclass(frozen=True)
class CaseActionType:
    """A thing staff do on a case (TD-490's admin_action): its payload, and either the platform
    operation it runs — whose permission, four-eyes rule and outbox command then apply, the same
    as when the operation is run on its own — or the case permission it needs."""

    name: str
    audit_action: str
    payload: type[ActionPayload]
    operation: str | None = None
    case_perm: Perm = Perm.CASES_EDIT

    @property
    def perm(self) -> Perm:
        return OPERATIONS[self.operation].perm if self.operation else self.case_perm

    @property
    def required(self) -> list[str]:
        return [name for name, field in self.payload.model_fields.items() if field.is_required()]


CASE_ACTIONS: dict[str, CaseActionType] = {a.name: a for a in [
    CaseActionType("suspend", "CASE_ACTION_SUSPEND", SuspendPayload, operation="user_suspend"),
    CaseActionType("refund", "CASE_ACTION_REFUND", RefundPayload, operation="order_refund"),
    CaseActionType("request_evidence", "CASE_ACTION_REQUEST_EVIDENCE", EvidencePayload),
    CaseActionType("note", "CASE_ACTION_NOTE", NotePayload),
    CaseActionType("close", "CASE_ACTION_CLOSE", ActionPayload),
]}
