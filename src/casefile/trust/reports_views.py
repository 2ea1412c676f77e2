"""The safety report on its case's page (through `cases.details`, registered in
`trust.apps`) and the console's resolve form, which posts through the API's `ResolveIn`."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_POST

from casefile.accounts.permissions import Perm, has_perm
from casefile.audit.actor import Actor
from casefile.cases.details import Detail
from casefile.cases.models import Case
from casefile.cases.policy import Status
from casefile.core.console import change, reason, screen
from casefile.core.validation import validated
from casefile.trust import reports
from casefile.trust.models import SafetyReport
from casefile.trust.reports_api import ResolveIn
from casefile.trust.reports_policy import DEFAULT_SUSPENSION_DAYS, OUTCOMES
from casefile.trust.strikes_policy import POLICIES


def case_detail(case: Case, actor: Actor) -> Detail | None:
    report = SafetyReport.objects.select_related("case").filter(case=case).first()
    if report is None:
        return None
    context: dict[str, Any] = {
        "report": report, "submissions": reports.submissions(report, actor.roles),
        "accuser_visible": reports.may_see_accuser(actor.roles),
        "may_resolve": (report.outcome is None and case.status != Status.CLOSED
                        and has_perm(actor.roles, Perm.TRUST_STRIKE)),
        "outcomes": OUTCOMES, "policies": sorted(POLICIES.values(), key=lambda p: p.name),
        "suspension_days": DEFAULT_SUSPENSION_DAYS,
    }
    return Detail("trust/_report_detail.html", context)


@require_POST
@screen(Perm.TRUST_STRIKE)
def report_resolve(request: HttpRequest, actor: Actor, case_id: str) -> HttpResponse:
    case = reports.report_of(case_id).case
    fields = ("outcome", "policy", "points", "days", "note")
    data = {name: request.POST[name].strip() for name in fields
            if request.POST.get(name, "").strip()}
    code, _ticket = reason(request)
    body = validated(ResolveIn, {**data, "reason_code": code}, what="the resolution")
    return change(request, lambda: reports.report_resolve(
        actor=actor, case=case, outcome=body.outcome, reason_code=body.reason_code,
        policy=body.policy, points=body.points, days=body.days, note=body.note),
        done=f"Report resolved: {body.outcome}", redirect_to=reverse("cases:case",
                                                                     args=[case.id]))
