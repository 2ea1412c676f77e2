"""Safety reports as cases (issue 12 item 4): a filing opens a report case whose priority and
SLA come from the category's severity, or joins the open one (same accused and category,
within 24 h; race-safe on PostgreSQL); a repeat is idempotent; the accuser is shown only to
roles that need it (API and case page); a resolution sets outcome and strike delta in the
transaction of the strike, the suspension request and the removals."""

from __future__ import annotations

import itertools
import threading
import time
from datetime import timedelta

import pytest
from django.db import DatabaseError, connection, connections, transaction

from casefile.accounts.permissions import Perm, roles_for
from casefile.accounts.roles import Role
from casefile.audit import ledger
from casefile.audit.actor import Actor
from casefile.audit.models import AuditEntry
from casefile.cases import services as cases
from casefile.cases.models import Case
from casefile.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from casefile.platform.models import Approval
from casefile.trust import moderation, reports, strikes
from casefile.trust.models import ModerationItem, ReportSubmission, SafetyReport, Strike
from casefile.trust.strikes_policy import POLICIES
from tests.conftest import ApiClient, CommittingClient, make_staff, token_for
from tests.trust.helpers import analyst, profile

pytestmark = pytest.mark.django_db
_ids = itertools.count(1)
ACCUSER = "usr_accuser7"


_platform: list[Actor] = []


@pytest.fixture(autouse=True)
def _one_platform_identity():
    _platform.clear()
    yield
    _platform.clear()


def platform() -> Actor:
    """The platform's machine identity (one per test, made on first use)."""
    if not _platform:
        _platform.append(Actor.staff(make_staff(Role.PLATFORM)))
    return _platform[0]


def accused() -> str:
    return profile().user_id


def file(user_id: str, category: str = "harassment", *, pid: str | None = None,
         actor: Actor | None = None, **kw) -> reports.Filing:
    kw.setdefault("accuser_user_id", ACCUSER)
    kw.setdefault("text", "keeps messaging me after I said stop")
    return reports.report_file(actor=actor or platform(),
                               platform_report_id=pid or f"pr-{next(_ids)}",
                               accused_user_id=user_id, category=category, **kw)


def entries(**filters) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(**filters).order_by("created_at", "id"))


def resolve(filing: reports.Filing, outcome: str, actor: Actor | None = None, **kw):
    return reports.report_resolve(actor=actor or analyst(), case=filing.case, outcome=outcome,
                                  reason_code="POLICY_VIOLATION", **kw)


# --- filing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("category", "severity", "priority", "hours"), [
    ("threats", "critical", 1, 1), ("child_safety", "critical", 1, 1),
    ("harassment", "high", 2, 4), ("hate", "high", 2, 4),
    ("scam", "medium", 3, 24), ("impersonation", "medium", 3, 24),
    ("spam", "low", 4, 72)])
def test_a_report_opens_a_case_with_priority_and_sla_from_severity(category, severity,
                                                                  priority, hours):
    assert POLICIES[category].severity == severity
    filing = file(accused(), category)
    case = filing.case
    assert (filing.created, filing.joined, filing.repeat) == (True, False, False)
    assert (case.kind, case.status, case.priority) == ("report", "new", priority)
    assert case.sla_due_at - case.created_at == timedelta(hours=hours)
    assert filing.report.severity == severity and filing.report.category == category
    assert case.subject_user == filing.report.accused_user_id
    assert case.title == f"Report: {category} against {filing.report.accused_user_id}"


def test_a_filing_writes_case_created_and_report_filed_by_the_platform():
    user = accused()
    actor = platform()
    before = AuditEntry.objects.count()
    filing = file(user, actor=actor)
    new = entries()[before:]
    assert [e.action for e in new] == ["CASE_CREATED", "REPORT_FILED"]
    assert {e.actor_user_id for e in new} == {actor.user.id}
    assert {e.reason_code for e in new} == {"SAFETY_REPORT"}
    filed = new[1]
    assert filed.resource == f"case:{filing.case.id}"
    assert filed.metadata["report_id"] == filing.report.id
    # The ledger keeps digests of who reported and what they wrote, not the words.
    sub = filed.details["after"]["submission"]
    assert set(sub["accuser_user_id"]) == {"sha256"} and set(sub["text"]) == {"sha256"}
    assert ACCUSER not in str(filed.details)
    assert filing.submission.audit_entry_id == filed.id
    assert filing.case.opened_by == actor.user.id


def test_reports_of_the_same_accused_and_category_within_24_hours_join_the_open_case():
    user = accused()
    first = file(user)
    before = AuditEntry.objects.count()
    second = file(user, accuser_user_id="usr_other", text="same here")
    assert (second.created, second.joined) == (False, True)
    assert second.case.id == first.case.id and second.report.id == first.report.id
    assert [e.action for e in entries()[before:]] == ["REPORT_JOINED"]
    assert first.report.submissions.count() == 2
    assert Case.objects.filter(kind="report", subject_user=user).count() == 1


def test_no_join_after_24_hours():
    user = accused()
    first = file(user)
    SafetyReport.objects.filter(pk=first.report.pk).update(
        created_at=first.report.created_at - timedelta(hours=24, minutes=1))
    second = file(user)
    assert second.created and second.case.id != first.case.id


@pytest.mark.parametrize("how", ["closed", "resolved"])
def test_no_join_when_the_case_is_resolved_or_closed(how):
    user = accused()
    first = file(user)
    if how == "closed":
        case = cases.case_transition(actor=analyst(), case=first.case, to="triage",
                                     reason_code="OPERATIONS")
        cases.case_transition(actor=analyst(), case=case, to="closed", reason_code="OPERATIONS")
    else:
        resolve(first, "warning")
    second = file(user)
    assert second.created and second.case.id != first.case.id


def test_a_case_still_being_worked_is_joined():
    user = accused()
    first = file(user)
    cases.case_transition(actor=analyst(), case=first.case, to="triage",
                          reason_code="OPERATIONS")
    cases.case_transition(actor=analyst(), case=first.case, to="investigating",
                          reason_code="OPERATIONS")
    assert file(user).joined


def test_no_join_for_another_category_or_another_accused():
    user = accused()
    first = file(user, "harassment")
    assert file(user, "spam").created
    assert file(accused(), "harassment").created
    assert first.report.submissions.count() == 1


def test_a_repeated_platform_report_id_is_idempotent():
    user = accused()
    first = file(user, pid="pr-same")
    joined = file(user, pid="pr-joined")
    before = AuditEntry.objects.count()
    again = file(user, pid="pr-same")
    assert (again.repeat, again.created, again.joined) == (True, False, False)
    assert again.case.id == first.case.id
    assert file(user, pid="pr-joined").joined and joined.joined
    assert AuditEntry.objects.count() == before
    assert ReportSubmission.objects.filter(platform_report_id="pr-same").count() == 1
    with pytest.raises(Conflict):  # the same id about someone else is not a repeat
        file(accused(), pid="pr-same")


def test_unknown_accused_is_404_and_unknown_category_422_naming_the_known():
    with pytest.raises(NotFound):
        file("usr_nobody")
    with pytest.raises(ValidationFailed) as err:
        file(accused(), "jaywalking")
    assert err.value.details["categories"] == sorted(POLICIES)
    assert "harassment" in err.value.message
    assert not SafetyReport.objects.exists()


def test_staff_file_on_a_users_behalf_with_their_reason_viewers_may_not():
    user = accused()
    support = Actor.staff(make_staff(Role.SUPPORT))
    filing = file(user, actor=support, reason_code="CUSTOMER_REQUEST")
    assert {e.reason_code for e in entries(resource=f"case:{filing.case.id}")} == {
        "CUSTOMER_REQUEST"}
    with pytest.raises(ValidationFailed):  # a person names their reason
        file(user, actor=support)
    with pytest.raises(PermissionDenied):
        file(user, actor=Actor.staff(make_staff(Role.VIEWER)), reason_code="CUSTOMER_REQUEST")


def test_submissions_are_append_only():
    filing = file(accused())
    with pytest.raises(DatabaseError), transaction.atomic():
        ReportSubmission.objects.filter(pk=filing.submission.pk).update(text="changed")
    with pytest.raises(DatabaseError), transaction.atomic():
        ReportSubmission.objects.filter(pk=filing.submission.pk).delete()


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres_only
def test_two_concurrent_filings_open_one_case(monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (SQLite serialises them)")
    user = accused()
    actor = platform()
    real_create = cases.case_create

    def slow_create(**kwargs):  # widen the window between looking for a case and opening one
        time.sleep(0.3)
        return real_create(**kwargs)

    monkeypatch.setattr(cases, "case_create", slow_create)
    start = threading.Barrier(2)
    filings: list[reports.Filing] = []
    errors: list[BaseException] = []

    def run(pid: str):
        try:
            start.wait()
            filings.append(file(user, pid=pid, actor=actor))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(f"pr-race-{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert sorted((f.created, f.joined) for f in filings) == [(False, True), (True, False)]
    assert Case.objects.filter(kind="report", subject_user=user).count() == 1
    assert ReportSubmission.objects.filter(safety_report__accused_user_id=user).count() == 2


# --- who sees the accuser -------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ANALYST, Role.SUPPORT, Role.OPS,
                                  Role.LEGAL, Role.ADMIN])
def test_the_accuser_is_shown_only_with_the_permission(role):
    filing = file(accused(), linked_items=[{"kind": "message", "id": "msg_9"}])
    visible = role in roles_for(Perm.TRUST_REPORT_ACCUSER)
    user = make_staff(role)
    body = ApiClient(token_for(user)).call("GET", f"/api/v1/trust/reports/{filing.case.id}")
    assert body.status_code == 200
    report = body.json()
    sub = report["submissions"][0]
    assert sub["accuser_user_id"] == (ACCUSER if visible else "hidden")
    assert sub["text"] == "keeps messaging me after I said stop"
    assert sub["linked_items"] == [{"kind": "message", "id": "msg_9"}]
    assert (report["category"], report["severity"], report["priority"]) == (
        "harassment", "high", 2)
    assert report["accuser_visible"] is visible

    client = CommittingClient()
    client.force_login(user)
    page = client.get(f"/cases/{filing.case.id}/")
    html = page.content.decode()
    assert page.status_code == 200
    assert 'id="safety-report"' in html and "keeps messaging me" in html and "msg_9" in html
    assert (ACCUSER in html) is visible
    assert ('<span class="mono accuser">hidden</span>' in html) is not visible
    assert ("Resolve this report" in html) is (role in roles_for(Perm.TRUST_STRIKE))


def test_the_accuser_roles_are_a_deliberate_few():
    assert roles_for(Perm.TRUST_REPORT_ACCUSER) == {Role.ANALYST, Role.LEGAL, Role.ADMIN}
    assert Role.PLATFORM in roles_for(Perm.TRUST_REPORT_FILE)
    # Resolving runs a strike, a suspension request, removals and case moves: whoever may
    # resolve holds each of their permissions.
    for perm in (Perm.CASES_EDIT, Perm.MODERATION_REVIEW, Perm.USER_SUSPEND):
        assert roles_for(Perm.TRUST_STRIKE) <= roles_for(perm), perm
    # Whoever may file a report (other than the platform) may open a case.
    assert roles_for(Perm.TRUST_REPORT_FILE) - {Role.PLATFORM} <= roles_for(Perm.CASES_EDIT)


def test_a_case_of_another_kind_shows_no_report():
    case = cases.case_create(actor=analyst(), kind="fraud", title="Card testing",
                             reason_code="FRAUD_SIGNAL")
    client = CommittingClient()
    client.force_login(make_staff(Role.ADMIN))
    assert 'id="safety-report"' not in client.get(f"/cases/{case.id}/").content.decode()


# --- resolution -----------------------------------------------------------------------------


@pytest.mark.parametrize("outcome", ["no_violation", "warning", "referred"])
def test_a_resolution_without_a_strike_sets_the_outcome_and_resolves_the_case(outcome):
    filing = file(accused())
    actor = analyst()
    before = AuditEntry.objects.count()
    report = resolve(filing, outcome, actor=actor)
    assert (report.outcome, report.strike_delta, report.strike_id) == (outcome, 0, None)
    assert report.resolved_by == actor.user.id and report.resolved_at is not None
    assert Case.objects.get(pk=filing.case.id).status == "resolved"
    new = entries()[before:]
    assert [e.action for e in new] == ["CASE_STATUS_CHANGED", "CASE_STATUS_CHANGED",
                                       "REPORT_RESOLVED"]
    resolved = new[-1].details
    assert resolved["before"]["outcome"] is None and resolved["after"]["outcome"] == outcome
    assert not Strike.objects.exists()


def test_a_strike_resolution_issues_the_strike_in_the_same_transaction():
    filing = file(accused(), "harassment")
    actor = analyst()
    before = AuditEntry.objects.count()
    report = resolve(filing, "strike", actor=actor, note="three threads of abuse")
    strike = Strike.objects.get()
    assert report.strike_id == strike.id and report.strike_delta == strike.points == 3
    assert (strike.policy, strike.case_id, strike.user_id) == (
        "harassment", filing.case.id, filing.report.accused_user_id)
    assert [e.action for e in entries()[before:]] == [
        "STRIKE_ISSUED", "TRUST_PROFILE_UPDATED", "CASE_NOTE_ADDED", "CASE_STATUS_CHANGED",
        "CASE_STATUS_CHANGED", "REPORT_RESOLVED"]
    assert entries(action="REPORT_RESOLVED")[0].metadata["strike_id"] == strike.id


def test_the_policy_and_points_may_differ_from_the_category():
    filing = file(accused(), "harassment")
    report = resolve(filing, "strike", policy="spam", points=2)
    assert (report.strike.policy, report.strike_delta) == ("spam", 2)


def test_a_failing_strike_leaves_the_report_unresolved(monkeypatch):
    filing = file(accused())
    cases.case_transition(actor=analyst(), case=filing.case, to="triage",
                          reason_code="OPERATIONS")
    actor = analyst()
    before = AuditEntry.objects.count()

    def broken(*args, **kwargs):  # after the strike row was written
        raise RuntimeError("ladder unavailable")

    monkeypatch.setattr(strikes, "_sync", broken)
    with pytest.raises(RuntimeError):
        resolve(filing, "strike", actor=actor)
    report = SafetyReport.objects.get(pk=filing.report.pk)
    assert (report.outcome, report.strike_delta, report.strike_id) == (None, 0, None)
    assert Case.objects.get(pk=filing.case.id).status == "triage"
    assert not Strike.objects.exists()
    assert AuditEntry.objects.count() == before


@pytest.mark.parametrize(("outcome", "days"), [("suspension", 30), ("suspension", 7),
                                               ("ban", None)])
def test_suspension_and_ban_ask_for_a_four_eyes_suspension(outcome, days):
    filing = file(accused(), "spam")  # 1 point: the ladder does not reach a suspension
    report = resolve(filing, outcome, **({"days": days} if days != 30 else {}))
    approval = Approval.objects.get(operation="user_suspend")
    assert approval.status == "pending"
    assert approval.params["user_id"] == filing.report.accused_user_id
    assert approval.params["strike_id"] == report.strike_id
    assert approval.params["case_id"] == filing.case.id
    assert approval.params.get("days") == days
    assert report.strike_delta == 1
    assert entries(action="REPORT_RESOLVED")[0].metadata["approval_id"] == approval.id


def test_a_ban_whose_strike_already_asked_for_suspension_asks_once():
    filing = file(accused(), "threats")  # zero tolerance: the ladder asks at once
    resolve(filing, "ban")
    assert Approval.objects.filter(operation="user_suspend").count() == 1
    assert entries(action="REPORT_RESOLVED")[0].metadata["suspension"].startswith("requested")


def test_content_removed_removes_each_linked_moderated_item():
    user = accused()
    system = Actor.system("platform")
    by_id = moderation.moderation_decide(actor=system, item_data={
        "kind": "media", "item_id": "med_r1", "subject_user_id": user})
    by_platform_id = moderation.moderation_decide(actor=system, item_data={
        "kind": "message", "item_id": "msg_r2", "subject_user_id": user})
    filing = file(user, linked_items=[{"kind": "moderation", "id": by_id.id},
                                      {"kind": "message", "id": "msg_r2"},
                                      {"kind": "moderation", "id": "mod_unknown"},
                                      {"kind": "listing", "id": "lst_1"}])
    actor = analyst()
    report = resolve(filing, "content_removed", actor=actor)
    assert report.outcome == "content_removed" and report.strike_delta == 0
    for row in (by_id, by_platform_id):
        latest = moderation.latest(row)
        assert (latest.final_decision, latest.decided_by, latest.overrides) == (
            "remove", actor.user.id, row.id)
    removed = entries(action="REPORT_RESOLVED")[0].metadata["removed"]
    assert len(removed) == 2
    assert ModerationItem.objects.filter(final_decision="remove").count() == 2


def test_resolving_twice_or_a_closed_case_is_409():
    filing = file(accused())
    resolve(filing, "warning")
    with pytest.raises(Conflict):
        resolve(filing, "no_violation")
    closed = file(accused())
    case = cases.case_transition(actor=analyst(), case=closed.case, to="closed",
                                 reason_code="OPERATIONS")
    with pytest.raises(Conflict):
        resolve(closed, "warning")
    assert SafetyReport.objects.get(pk=closed.report.pk).outcome is None
    assert case.status == "closed"


def test_a_report_case_is_resolved_with_its_outcome_not_by_a_bare_move(api_as):
    filing = file(accused())
    case = cases.case_transition(actor=analyst(), case=filing.case, to="triage",
                                 reason_code="OPERATIONS")
    person, client = analyst(), api_as(Role.ANALYST)
    before = AuditEntry.objects.count()
    with pytest.raises(Conflict):
        cases.case_transition(actor=person, case=case, to="resolved",
                              reason_code="OPERATIONS")
    response = client.call("POST", f"/api/v1/cases/{case.pk}/status",
                                         {"status": "resolved", "reason_code": "OPERATIONS"})
    assert response.status_code == 409, response.content
    assert "resolve" in response.json()["error"]["details"]
    assert AuditEntry.objects.count() == before
    assert Case.objects.get(pk=case.pk).status == "triage"
    assert resolve(filing, "warning").outcome == "warning"
    assert Case.objects.get(pk=case.pk).status == "resolved"


def test_resolution_checks_its_inputs_and_permission():
    filing = file(accused())
    with pytest.raises(ValidationFailed):
        resolve(filing, "dismissed")
    with pytest.raises(ValidationFailed):
        resolve(filing, "warning", points=3)
    with pytest.raises(ValidationFailed):
        resolve(filing, "ban", days=3)
    with pytest.raises(PermissionDenied):
        resolve(filing, "warning", actor=Actor.staff(make_staff(Role.VIEWER)))
    with pytest.raises(PermissionDenied):
        resolve(filing, "warning", actor=platform())
    assert SafetyReport.objects.get(pk=filing.report.pk).outcome is None


# --- the API --------------------------------------------------------------------------------


def test_the_api_files_joins_repeats_and_resolves(api_as):
    user = accused()
    client = api_as(Role.PLATFORM)
    body = {"platform_report_id": "pr-api-1", "accused_user_id": user,
            "accuser_user_id": ACCUSER, "category": "scam", "text": "fake listing",
            "linked_items": [{"kind": "listing", "id": "lst_9"}]}
    opened = client.call("POST", "/api/v1/trust/reports", body)
    assert opened.status_code == 201, opened.content
    out = opened.json()
    assert (out["joined"], out["repeat"], out["severity"], out["priority"]) == (
        False, False, "medium", 3)
    assert out["case_id"].startswith("cas_") and out["report_id"].startswith("rpt_")
    assert out["sla_due_at"]
    again = client.call("POST", "/api/v1/trust/reports", body)
    assert again.status_code == 200 and again.json()["repeat"] is True
    assert again.json()["case_id"] == out["case_id"]
    joined = client.call("POST", "/api/v1/trust/reports", {**body, "platform_report_id": "pr-2"})
    assert joined.status_code == 200 and joined.json()["joined"] is True

    bad = client.call("POST", "/api/v1/trust/reports", {**body, "category": "nope",
                                                        "platform_report_id": "pr-3"})
    assert bad.status_code == 422
    assert bad.json()["error"]["details"]["categories"] == sorted(POLICIES)
    missing = client.call("POST", "/api/v1/trust/reports", {**body, "accused_user_id": "usr_no",
                                                            "platform_report_id": "pr-4"})
    assert missing.status_code == 404
    assert client.call("POST", "/api/v1/trust/reports",
                       {**body, "text": "x" * 10_001}).status_code == 422

    staff = api_as(Role.ANALYST)
    resolved = staff.call("POST", f"/api/v1/trust/reports/{out['case_id']}/resolve",
                          {"outcome": "strike", "reason_code": "POLICY_VIOLATION"})
    assert resolved.status_code == 200, resolved.content
    assert (resolved.json()["outcome"], resolved.json()["strike_delta"],
            resolved.json()["status"]) == ("strike", 3, "resolved")
    twice = staff.call("POST", f"/api/v1/trust/reports/{out['case_id']}/resolve",
                       {"outcome": "warning", "reason_code": "POLICY_VIOLATION"})
    assert twice.status_code == 409
    got = staff.call("GET", f"/api/v1/trust/reports/{out['case_id']}").json()
    assert [s["platform_report_id"] for s in got["submissions"]] == ["pr-api-1", "pr-2"]
    assert staff.call("GET", "/api/v1/trust/reports/cas_nothere").status_code == 404


def test_the_console_resolves_through_the_form(client):
    filing = file(accused(), "spam")
    staff = make_staff(Role.SUPPORT)
    client.force_login(staff)
    response = client.post(f"/trust/reports/{filing.case.id}/resolve/",
                           {"outcome": "strike", "points": "2", "note": "bulk messages",
                            "reason_code": "POLICY_VIOLATION"})
    assert response.status_code == 302
    report = SafetyReport.objects.get(pk=filing.report.pk)
    assert (report.outcome, report.strike_delta) == ("strike", 2)
    page = client.get(f"/cases/{filing.case.id}/").content.decode()
    assert 'id="report-outcome">strike' in page and "Resolve this report" not in page
    ledger.chain_pending()
    bad = client.post(f"/trust/reports/{file(accused()).case.id}/resolve/",
                      {"outcome": "nonsense", "reason_code": "POLICY_VIOLATION"}, follow=True)
    assert "error" in [m.level_tag for m in bad.context["messages"]]
