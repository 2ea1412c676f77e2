"""Safety reports as cases (DESIGN 9.4; issue 12 item 4): the verbs and reads.

A `SafetyReport` is the Trust & Safety detail of a case of kind `report`, one to one: the case's
status is the report's triage state and the case's SLA its SLA (`reports_policy`: the category's
severity gives the priority, the SLA table the due time). What the platform sends each time is a
`ReportSubmission` (append-only); several join one report.

`report_file` opens a case — or joins the open case of the same accused and category opened
within `JOIN_WINDOW` — under a lock on the accused's trust profile row, so two filings about
the same person cannot both open a case. Its entries: `CASE_CREATED` (from `case_create`) and
`REPORT_FILED` for a new case, `REPORT_JOINED` for a join, none for a repeat of a platform
report id already received (the same answer again). The first report about a user without a
trust profile also creates the profile (`TRUST_PROFILE_CREATED`, by Casefile).

`report_resolve` settles the report in one transaction: the strike (and the ladder's actions
it sets off), a suspension request, the linked items' removal, the case's moves to `resolved`
and `REPORT_RESOLVED` all commit together, or none does.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from django.db import IntegrityError, transaction

from casefile.accounts.permissions import Perm, has_perm
from casefile.audit import ledger
from casefile.audit.actor import Actor
from casefile.audit.snapshot import snapshot
from casefile.cases.models import Case
from casefile.cases.policy import OPEN_STATUSES, TRANSITIONS, Kind, Status
from casefile.core.errors import Conflict, NotFound, ValidationFailed
from casefile.core.timeutil import now
from casefile.trust import reports_policy, strikes
from casefile.trust.models import ModerationItem, ReportSubmission, SafetyReport
from casefile.trust.reports_policy import (
    HIDDEN,
    JOIN_WINDOW,
    LINKED_KINDS,
    MAX_LINKED_ITEMS,
    MAX_TEXT,
    OUTCOMES,
    STRIKING,
    SUSPENDING,
)
from casefile.trust.services import _actor_id, _locked_profile, _reason, _text
from casefile.trust.strikes_policy import POLICIES, SUSPENSION


@dataclass(frozen=True)
class _Filer(Actor):
    """The filer, allowed to open the one case its report opens. The platform holds no case
    permission (it may not open, edit or move cases), yet a report it files must open one, in
    its own name: `trust.report_file` was checked, and `case_create` is asked for nothing else."""

    def require(self, perm: Perm) -> None:
        if perm is not Perm.CASES_EDIT:
            super().require(perm)


def _as_filer(actor: Actor) -> Actor:
    return _Filer(**{f.name: getattr(actor, f.name) for f in fields(actor)})


@dataclass(frozen=True)
class Filing:
    report: SafetyReport
    submission: ReportSubmission
    created: bool  # a new case was opened
    joined: bool  # the submission joined an open case
    repeat: bool  # the platform's report id had been received before: nothing was written

    @property
    def case(self) -> Case:
        return self.report.case


def _check_category(category: str) -> str:
    if category not in POLICIES:
        allowed = reports_policy.categories()
        raise ValidationFailed(f"unknown report category {category!r}; one of "
                               f"{', '.join(allowed)}", details={"categories": allowed})
    return category


def _check_linked(items: list[dict[str, Any]] | None) -> list[dict[str, str]]:
    items = list(items or [])
    if len(items) > MAX_LINKED_ITEMS:
        raise ValidationFailed(f"at most {MAX_LINKED_ITEMS} linked items")
    checked = []
    for item in items:
        kind, item_id = str(item.get("kind", "")), str(item.get("id", "")).strip()
        if kind not in LINKED_KINDS or not item_id or len(item_id) > 200 or "\x00" in item_id:
            raise ValidationFailed("a linked item is {kind, id} with kind one of "
                                   f"{', '.join(LINKED_KINDS)}", details={"item": item})
        checked.append({"kind": kind, "id": item_id})
    return checked


def _submission_after(sub: ReportSubmission) -> dict[str, Any]:
    return snapshot(sub)  # the accuser and the text as digests (AUDIT_DIGESTED)


def _joinable(accused: str, category: str, moment) -> SafetyReport | None:
    return (SafetyReport.objects.select_related("case")
            .filter(accused_user_id=accused, category=category,
                    case__status__in=OPEN_STATUSES, created_at__gte=moment - JOIN_WINDOW)
            .order_by("-created_at", "-id").first())


def _repeat(platform_report_id: str, accused: str, category: str) -> Filing | None:
    sub = (ReportSubmission.objects.select_related("safety_report__case")
           .filter(platform_report_id=platform_report_id).first())
    if sub is None:
        return None
    report = sub.safety_report
    if (report.accused_user_id, report.category) != (accused, category):
        raise Conflict(f"platform report {platform_report_id} was filed about "
                       f"{report.accused_user_id} ({report.category}) on {report.case_id}",
                       details={"case_id": report.case_id})
    first = report.submissions.order_by("received_at", "id").values_list("pk", flat=True)[0]
    return Filing(report, sub, created=False, joined=sub.pk != first, repeat=True)


def report_file(*, actor: Actor, platform_report_id: str, accused_user_id: str, category: str,
                accuser_user_id: str = "", text: str = "",
                linked_items: list[dict[str, Any]] | None = None,
                reason_code: str | None = None) -> Filing:
    """File a report: open a case of kind `report` (priority from the category's severity,
    so the SLA follows) or join the open one of the same accused and category opened within
    the join window. A repeat of a platform report id returns what it did the first time.
    404 for an accused the platform has not told Casefile about; 422 for an unknown
    category, naming the known ones."""
    from casefile.cases.services import case_create  # cases do not depend on trust

    actor.require(Perm.TRUST_REPORT_FILE)
    reason_code = _reason(actor, reason_code)
    category = _check_category(category)
    platform_report_id = _text(platform_report_id, 200, "platform_report_id")
    if not platform_report_id:
        raise ValidationFailed("a report needs the platform's report id")
    accuser_user_id = _text(accuser_user_id, 40, "accuser_user_id")
    text = _text(text, MAX_TEXT, "text")
    linked = _check_linked(linked_items)
    seen = _repeat(platform_report_id, accused_user_id, category)
    if seen is not None:
        return seen
    try:
        with transaction.atomic():
            # Every filing about the accused queues here, so the join sees the case a
            # concurrent filing just opened (and a repeat the submission it just added).
            _locked_profile(accused_user_id)
            seen = _repeat(platform_report_id, accused_user_id, category)
            if seen is not None:
                return seen
            moment = now()
            report = _joinable(accused_user_id, category, moment)
            created = report is None
            if report is None:
                policy = POLICIES[category]
                case = case_create(
                    actor=_as_filer(actor), kind=Kind.REPORT,
                    reason_code=reason_code,  # type: ignore[arg-type] # a machine's: None
                    priority=reports_policy.priority_of(category),
                    title=f"Report: {category} against {accused_user_id}",
                    summary=f"{policy.severity} severity safety report",
                    subject_user=accused_user_id)
                report = SafetyReport.objects.create(
                    case=case, accused_user_id=accused_user_id, category=category,
                    severity=policy.severity, created_at=case.created_at)
            sub = ReportSubmission(safety_report=report, platform_report_id=platform_report_id,
                                   accuser_user_id=accuser_user_id, text=text,
                                   linked_items=linked, submitted_by=_actor_id(actor),
                                   received_at=moment)
            entry = ledger.record(
                actor=actor, action="REPORT_FILED" if created else "REPORT_JOINED",
                resource=f"case:{report.case_id}", reason_code=reason_code,
                after={"report": snapshot(report), "submission": _submission_after(sub)},
                target_user_id=accused_user_id,
                metadata={"report_id": report.id, "platform_report_id": platform_report_id,
                          "submissions": report.submissions.count() + 1})
            sub.audit_entry_id = entry.id
            sub.save(force_insert=True)
    except IntegrityError:  # the same platform id filed meanwhile about someone else
        seen = _repeat(platform_report_id, accused_user_id, category)
        if seen is None:
            raise
        return seen
    return Filing(report, sub, created=created, joined=not created, repeat=False)


# --- resolution -------------------------------------------------------------------------------


def _moderation_items(linked: list[dict[str, str]]) -> list[ModerationItem]:
    """The Casefile moderation items a report links to (by `mod_…` id, or by the platform's
    media/message id when Casefile has decided it), newest row of each, once each; unknown
    ones are left out (the platform may link items Casefile never saw)."""
    from casefile.trust import moderation

    found: dict[tuple[str, str], ModerationItem] = {}
    for item in linked:
        row = None
        if item["id"].startswith("mod_"):
            row = ModerationItem.objects.filter(pk=item["id"]).first()
        elif item["kind"] in ("media", "message"):
            row = ModerationItem.objects.filter(kind=item["kind"], item_id=item["id"]).first()
        if row is not None:
            latest = moderation.latest(row)
            found.setdefault((latest.kind, latest.item_id), latest)
    return list(found.values())


def _path_to_resolved(status: Status) -> list[Status]:
    """The moves from `status` to `resolved` the transition table allows, shortest first."""
    paths: list[list[Status]] = [[status]]
    seen = {status}
    while paths:
        path = paths.pop(0)
        for nxt in sorted(TRANSITIONS[path[-1]]):
            if nxt == Status.RESOLVED:
                return path[1:] + [nxt]
            if nxt not in seen and nxt in OPEN_STATUSES:
                seen.add(nxt)
                paths.append(path + [nxt])
    raise Conflict(f"a {status} case cannot be resolved")


def _locked_report(case: Case) -> SafetyReport:
    report = (SafetyReport.objects.select_for_update().select_related("case")
              .filter(case_id=case.pk).first())
    if report is None:
        raise NotFound(f"no safety report on case {case.pk}")
    return report


def report_resolve(*, actor: Actor, case: Case, outcome: str, reason_code: str,
                   policy: str | None = None, points: int | None = None,
                   days: int | None = None, note: str = "") -> SafetyReport:
    """Resolve the report on `case`, in one transaction: `strike|suspension|ban` issue a
    strike (under `policy`, the report's category by default; `points` its weight by default)
    and record its points as the strike delta; `suspension|ban` also ask for the accused's
    suspension (four-eyes; a ban has no end date, a suspension `days`, 30 by default) unless
    the strike's ladder already asked; `content_removed` removes each linked item Casefile
    moderated; a `note` is added to the case; the case moves to `resolved`; `REPORT_RESOLVED`.
    409 when the report is already resolved or its case closed."""
    from casefile.cases.services import case_note_add, case_transition
    from casefile.platform.services import operation_request
    from casefile.trust import moderation

    actor.require(Perm.TRUST_STRIKE)
    if actor.is_machine:
        raise ValidationFailed("resolving a report is a person's judgement")
    reason_code = actor.reason(reason_code)  # type: ignore[assignment]
    if outcome not in OUTCOMES:
        raise ValidationFailed(f"outcome must be one of {', '.join(OUTCOMES)}",
                               details={"outcomes": list(OUTCOMES)})
    if outcome not in STRIKING and (policy is not None or points is not None):
        raise ValidationFailed("a policy and points are given only with a strike, suspension "
                               "or ban")
    if outcome != "suspension" and days is not None:
        raise ValidationFailed("days are given only with a suspension")
    note = _text(note, MAX_TEXT, "note")
    with transaction.atomic():
        report = _locked_report(case)
        if report.outcome is not None:
            raise Conflict(f"the report on {case.pk} is already resolved ({report.outcome})",
                           details={"outcome": report.outcome})
        case = report.case
        if case.status == Status.CLOSED:
            raise Conflict(f"{case.pk} is closed; closed is final")
        before = snapshot(report)
        done: dict[str, Any] = {}
        if outcome in STRIKING:
            strike = strikes.strike_issue(
                actor=actor, user_id=report.accused_user_id, policy=policy or report.category,
                points=points, reason=note[:500] or f"safety report {report.id}",
                case_id=case.pk, reason_code=reason_code)
            report.strike, report.strike_delta = strike, strike.points
            done["strike_id"] = strike.id
            if outcome in SUSPENDING:
                if SUSPENSION in strike.actions_applied:
                    done["suspension"] = "requested by the strike's ladder"
                else:
                    requested = operation_request(
                        actor=actor, operation="user_suspend", reason_code=reason_code,
                        params={"user_id": report.accused_user_id, "strike_id": strike.id,
                                "case_id": case.pk,
                                **({"days": days or reports_policy.DEFAULT_SUSPENSION_DAYS}
                                   if outcome == "suspension" else {})})
                    done["approval_id"] = requested.approval.id if requested.approval else None
        if outcome == "content_removed":
            linked = [item for sub in report.submissions.all() for item in sub.linked_items]
            removed = [moderation.moderation_review(actor=actor, item=item, decision="remove",
                                                    reason_code=reason_code)
                       for item in _moderation_items(linked)]
            done["removed"] = [row.id for row in removed]
        if note:
            case_note_add(actor=actor, case=case, content=note, reason_code=reason_code)
        # The outcome first: the case may be resolved only once its report has one.
        report.outcome, report.resolved_by, report.resolved_at = (outcome, _actor_id(actor),
                                                                  now())
        report.save()
        if case.status != Status.RESOLVED:  # resolved before it had to say: the outcome is due
            for status in _path_to_resolved(Status(case.status)):
                case = case_transition(actor=actor, case=case, to=status,
                                       reason_code=reason_code)
        ledger.record(actor=actor, action="REPORT_RESOLVED", resource=f"case:{case.pk}",
                      reason_code=reason_code, before=before, after=snapshot(report),
                      target_user_id=report.accused_user_id,
                      metadata={"report_id": report.id, "outcome": outcome, **done})
    return report


# --- reads ------------------------------------------------------------------------------------


def check_resolve(case: Case) -> None:
    """A report case is resolved with its outcome (`report_resolve`), not by a bare move: the
    outcome and the strike delta are what the resolution is."""
    if SafetyReport.objects.filter(case_id=case.pk, outcome__isnull=True).exists():
        raise Conflict(f"{case.pk} is a safety report: resolve it with its outcome "
                       f"(POST /api/v1/trust/reports/{case.pk}/resolve)",
                       details={"resolve": f"/api/v1/trust/reports/{case.pk}/resolve"})


def report_of(case_id: str) -> SafetyReport:
    found = SafetyReport.objects.select_related("case").filter(case_id=case_id).first()
    if found is None:
        raise NotFound(f"no safety report on case {case_id}")
    return found


def may_see_accuser(roles) -> bool:
    return has_perm(roles, Perm.TRUST_REPORT_ACCUSER)


@dataclass(frozen=True)
class SubmissionView:
    """A submission as a reader may see it: the accuser only with `trust.report_accuser`."""

    platform_report_id: str
    accuser_user_id: str
    text: str
    linked_items: list[dict[str, str]]
    received_at: Any


def submissions(report: SafetyReport, roles) -> list[SubmissionView]:
    visible = may_see_accuser(roles)
    return [SubmissionView(s.platform_report_id,
                           (s.accuser_user_id or "") if visible else HIDDEN, s.text,
                           s.linked_items, s.received_at)
            for s in report.submissions.order_by("received_at", "id")]
