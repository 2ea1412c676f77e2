"""Case policy in one place: the status machine, the SLA table, what each case action needs.

Read this file to know how a case may move; nothing else decides it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import models

from casefile.accounts.permissions import Perm


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
    Kind.REPORT: [4, 12, 24, 72, 168],
    Kind.DMCA: [24, 48, 72, 120, 240],
    Kind.DISPUTE: [8, 24, 48, 96, 168],
    Kind.APPEAL: [24, 48, 72, 120, 240],
    Kind.FRAUD: [2, 6, 24, 48, 96],
    Kind.INCIDENT: [1, 4, 12, 48, 120],
}


def sla_allowance(kind: str, priority: int) -> timedelta:
    table = {**DEFAULT_SLA_HOURS, **getattr(settings, "CASE_SLA_HOURS", {})}
    return timedelta(hours=table[kind][priority - 1])


@dataclass(frozen=True)
class CaseActionType:
    """A thing staff do on a case (TD-490's admin_action), its payload and who may do it."""

    name: str
    audit_action: str
    perm: Perm
    required: tuple[str, ...] = ()  # payload keys that must be present
    optional: tuple[str, ...] = ()


CASE_ACTIONS: dict[str, CaseActionType] = {a.name: a for a in [
    CaseActionType("suspend", "CASE_ACTION_SUSPEND", Perm.CASES_ENFORCE,
                   required=("user_id",), optional=("days", "message")),
    CaseActionType("refund", "CASE_ACTION_REFUND", Perm.CASES_REFUND,
                   required=("order_id", "amount_cents", "currency"), optional=("message",)),
    CaseActionType("request_evidence", "CASE_ACTION_REQUEST_EVIDENCE", Perm.CASES_EDIT,
                   required=("message",), optional=("due_days",)),
    CaseActionType("note", "CASE_ACTION_NOTE", Perm.CASES_EDIT, required=("message",)),
    CaseActionType("close", "CASE_ACTION_CLOSE", Perm.CASES_EDIT, optional=("message",)),
]}
