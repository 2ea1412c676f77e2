"""Safety reports under /api/v1/trust (docs/trust.md, "Safety reports"): file one, read one,
resolve one. Mounted by `trust.api` on its router. The console's resolve form reads the same
`ResolveIn`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from django.http import HttpRequest
from ninja import Router, Status
from pydantic import Field

from casefile.accounts.access import require
from casefile.accounts.permissions import Perm
from casefile.core.schemas import Bounded, CaseId, PlatformUserId, ReasonCode, Schema
from casefile.trust import reports
from casefile.trust.models import SafetyReport
from casefile.trust.reports_policy import LINKED_KINDS, MAX_LINKED_ITEMS, MAX_TEXT, OUTCOMES

router = Router(tags=["trust"])

LinkedKind = Literal["moderation", "media", "message", "listing", "order", "thread", "user"]
Outcome = Literal["no_violation", "warning", "content_removed", "strike", "suspension", "ban",
                  "referred"]
assert set(LinkedKind.__args__) == set(LINKED_KINDS)  # type: ignore[attr-defined]
assert set(Outcome.__args__) == set(OUTCOMES)  # type: ignore[attr-defined]


class LinkedItem(Schema):
    kind: LinkedKind
    id: Annotated[str, Bounded(200, min_length=1)]


class ReportIn(Schema):
    platform_report_id: Annotated[str, Bounded(200, min_length=1)]
    accused_user_id: PlatformUserId
    accuser_user_id: PlatformUserId | None = None  # None: an anonymous report
    # A content policy (trust.strikes_policy.POLICIES): checked by the service, whose 422
    # names the known ones.
    category: Annotated[str, Bounded(40, min_length=1)]
    text: Annotated[str, Bounded(MAX_TEXT)] = ""
    linked_items: list[LinkedItem] = Field(default_factory=list, max_length=MAX_LINKED_ITEMS)
    reason_code: ReasonCode | None = None  # staff filing on a user's behalf; not the platform


class FilingOut(Schema):
    case_id: str
    report_id: str
    joined: bool  # joined an open case of the same accused and category
    repeat: bool  # this platform report id had been received before
    severity: str
    priority: int
    status: str
    sla_due_at: datetime | None

    @staticmethod
    def of(filing: reports.Filing) -> FilingOut:
        case = filing.case
        return FilingOut(case_id=case.id, report_id=filing.report.id, joined=filing.joined,
                         repeat=filing.repeat, severity=filing.report.severity,
                         priority=case.priority, status=case.status, sla_due_at=case.sla_due_at)


class SubmissionOut(Schema):
    platform_report_id: str
    accuser_user_id: str  # "hidden" without trust.report_accuser; "" when anonymous
    text: str
    linked_items: list[dict[str, str]]
    received_at: datetime


class ReportOut(Schema):
    id: str
    case_id: str
    status: str  # the case's: the report's triage state
    priority: int
    sla_due_at: datetime | None
    accused_user_id: str
    category: str
    severity: str
    outcome: str | None
    strike_delta: int
    strike_id: str | None
    resolved_by: str
    resolved_at: datetime | None
    created_at: datetime
    accuser_visible: bool
    submissions: list[SubmissionOut]

    @staticmethod
    def of(report: SafetyReport, roles) -> ReportOut:
        case = report.case
        return ReportOut(
            id=report.id, case_id=case.id, status=case.status, priority=case.priority,
            sla_due_at=case.sla_due_at, accused_user_id=report.accused_user_id,
            category=report.category, severity=report.severity, outcome=report.outcome,
            strike_delta=report.strike_delta, strike_id=report.strike_id,
            resolved_by=report.resolved_by, resolved_at=report.resolved_at,
            created_at=report.created_at, accuser_visible=reports.may_see_accuser(roles),
            submissions=[SubmissionOut(**vars(s)) for s in reports.submissions(report, roles)])


class ResolveIn(Schema):
    outcome: Outcome
    reason_code: ReasonCode
    policy: Annotated[str, Bounded(40, min_length=1)] | None = None  # the category's if None
    points: Annotated[int, Field(ge=1, le=100)] | None = None  # None: the policy's weight
    days: Annotated[int, Field(ge=1, le=3650)] | None = None  # a suspension's length
    note: Annotated[str, Bounded(MAX_TEXT)] = ""


@router.post("/reports", response={200: FilingOut, 201: FilingOut},
             summary="File a safety report: opens a report case (201) or joins the open one "
                     "of the same accused and category, or repeats an earlier filing (200)")
def report_file(request: HttpRequest, body: ReportIn):
    actor = require(request, Perm.TRUST_REPORT_FILE)
    filing = reports.report_file(
        actor=actor, platform_report_id=body.platform_report_id,
        accused_user_id=body.accused_user_id, category=body.category,
        accuser_user_id=body.accuser_user_id or "", text=body.text,
        linked_items=[i.model_dump() for i in body.linked_items], reason_code=body.reason_code)
    return Status(201 if filing.created else 200, FilingOut.of(filing))


@router.get("/reports/{case_id}", response=ReportOut,
            summary="A report case's safety report and its submissions (the accuser shown only "
                    "to roles holding trust.report_accuser)")
def report_get(request: HttpRequest, case_id: CaseId):
    # The report is the case's detail: whoever reads the case reads it.
    actor = require(request, Perm.CASES_VIEW)
    return ReportOut.of(reports.report_of(case_id), actor.roles)


@router.post("/reports/{case_id}/resolve", response=ReportOut,
             summary="Resolve a safety report: outcome, strike, suspension request, removal, "
                     "and the case resolved, in one transaction")
def report_resolve(request: HttpRequest, case_id: CaseId, body: ResolveIn):
    actor = require(request, Perm.TRUST_STRIKE)
    report = reports.report_resolve(
        actor=actor, case=reports.report_of(case_id).case, outcome=body.outcome,
        reason_code=body.reason_code, policy=body.policy, points=body.points, days=body.days,
        note=body.note)
    return ReportOut.of(reports.report_of(report.case_id), actor.roles)
