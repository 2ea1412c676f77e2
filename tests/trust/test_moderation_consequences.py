"""What a rule's outcome sets off besides the decision: a strike under the policy the item
breaks (issued by the rules, once per item and policy) and a report case (issue 12 item 2)."""

from __future__ import annotations

import itertools

import pytest

from casefile.accounts.roles import Role
from casefile.audit.actor import Actor
from casefile.audit.models import AuditEntry
from casefile.platform.models import Approval, OutboxCommand
from casefile.trust import moderation
from casefile.trust.models import RestrictionChange, Strike, TrustProfile
from tests.conftest import make_staff
from tests.trust.helpers import profile

pytestmark = pytest.mark.django_db
_items = itertools.count(1)

RULES = {"rules": [
    {"id": "hate-remove", "description": "hate speech",
     "condition": {"signal": "hate", "gte": 0.9},
     "outcome": {"decision": "remove", "reason": "hate speech", "policy": "hate",
                 "strike": True}},
    {"id": "hate-review", "description": "hate speech, second model",
     "condition": {"signal": "hate2", "gte": 0.9},
     "outcome": {"decision": "block", "reason": "hate speech (model 2)", "policy": "hate",
                 "strike": True}},
    {"id": "spam-blur", "description": "spam, no strike",
     "condition": {"signal": "spam", "gte": 0.9},
     "outcome": {"decision": "blur", "reason": "spam", "policy": "spam"}},
    {"id": "threat", "description": "threats of violence",
     "condition": {"signal": "threat", "gte": 0.9},
     "outcome": {"decision": "remove", "reason": "threat", "policy": "threats",
                 "strike": True}},
]}


@pytest.fixture(autouse=True)
def _published():
    moderation.clear_caches()
    actor = Actor.staff(make_staff(Role.OPS))
    draft = moderation.rule_set_draft_save(actor=actor, rules_json=RULES,
                                           reason_code="POLICY_VIOLATION")
    moderation.rule_set_publish(actor=actor, version=draft.version,
                                reason_code="POLICY_VIOLATION")
    yield
    moderation.clear_caches()


def platform() -> Actor:
    return Actor.staff(make_staff(Role.PLATFORM))


def decide(user_id: str, *signals: tuple[str, float], item_id: str | None = None):
    return moderation.moderation_decide(actor=platform(), item_data={
        "kind": "message", "item_id": item_id or f"msg_{next(_items)}",
        "subject_user_id": user_id,
        "signals": [{"source": "t", "label": label, "score": score} for label, score in signals]})


def test_a_rule_strikes_the_user_under_its_policy_in_the_decisions_transaction():
    user = profile(idv_status="passed").user_id
    row = decide(user, ("hate", 0.95), ("hate2", 0.95), ("spam", 0.95))
    strikes = list(Strike.objects.filter(user_id=user))
    assert [(s.policy, s.points) for s in strikes] == [("hate", 3)]  # one per policy
    strike = strikes[0]
    assert strike.reason.startswith(f"{row.id}: hate speech; hate speech (model 2)")
    assert strike.issued_by == "system"
    entry = AuditEntry.objects.get(pk=strike.audit_entry_id)
    assert (entry.action, entry.actor_role, entry.reason_code) == (
        "STRIKE_ISSUED", "system", "MODERATION_RULES")
    assert entry.metadata["via"] == moderation.RULES_ACTOR_VIA
    assert entry.metadata["moderation_id"] == row.id
    # The ladder moved with it: 3 points hide the listings and pause, through the outbox.
    assert sorted(RestrictionChange.objects.filter(user_id=user).values_list(
        "action", flat=True)) == ["listing_hide", "pauses"]
    assert OutboxCommand.objects.filter(type="user.restriction.apply").count() == 2
    assert TrustProfile.objects.get(pk=user).strike_points_active == 3


def test_the_same_item_decided_again_is_not_struck_again():
    user = profile(idv_status="passed").user_id
    decide(user, ("hate", 0.95), item_id="msg_again")
    decide(user, ("hate", 0.95), item_id="msg_again")
    assert Strike.objects.filter(user_id=user).count() == 1
    decide(user, ("hate", 0.95), item_id="msg_other")
    assert Strike.objects.filter(user_id=user).count() == 2


def test_no_strike_without_a_strike_outcome():
    user = profile(idv_status="passed").user_id
    row = decide(user, ("spam", 0.95))
    assert row.final_decision == "blur"
    assert not Strike.objects.filter(user_id=user).exists()


def test_a_failed_strike_undoes_the_decision(monkeypatch):
    from casefile.trust import strikes

    def broken(**kwargs):
        raise RuntimeError("the strike could not be written")

    monkeypatch.setattr(strikes, "strike_issue", broken)
    user = profile(idv_status="passed").user_id
    before = moderation.ModerationItem.objects.count()
    with pytest.raises(RuntimeError):
        decide(user, ("hate", 0.95))
    assert moderation.ModerationItem.objects.count() == before
    assert not OutboxCommand.objects.filter(type="content.enforce").exists()


def test_a_zero_tolerance_strike_by_the_rules_asks_no_four_eyes_of_itself():
    # Casefile cannot be the first of two people: the suspension step is recorded as reached
    # and no approval is requested in its name.
    user = profile(idv_status="passed").user_id
    decide(user, ("threat", 0.95))
    strike = Strike.objects.get(user_id=user)
    assert "suspension_request" in strike.actions_applied
    assert not Approval.objects.exists()
    assert set(RestrictionChange.objects.filter(user_id=user, applied=True)
               .values_list("action", flat=True)) == {
        "listing_hide", "pauses", "contact_block", "suspension_request"}


REPORTING = {"rules": [
    {"id": "scam-report", "description": "scam links",
     "condition": {"signal": "scam", "gte": 0.9},
     "outcome": {"decision": "block", "reason": "scam link", "policy": "scam",
                 "open_report": True}},
    {"id": "threat", "description": "threats of violence",
     "condition": {"signal": "threat", "gte": 0.9},
     "outcome": {"decision": "remove", "reason": "threat", "policy": "threats",
                 "strike": True}},
]}


def _publish(rules) -> None:
    actor = Actor.staff(make_staff(Role.OPS))
    draft = moderation.rule_set_draft_save(actor=actor, rules_json=rules,
                                           reason_code="POLICY_VIOLATION")
    moderation.rule_set_publish(actor=actor, version=draft.version,
                                reason_code="POLICY_VIOLATION")


def test_a_rule_opens_a_report_case_once_per_item_and_policy():
    from casefile.cases.models import Case
    from casefile.trust.models import SafetyReport

    _publish(REPORTING)
    user = profile(idv_status="passed").user_id
    row = decide(user, ("scam", 0.95), item_id="msg_scam")
    report = SafetyReport.objects.get(accused_user_id=user)
    assert (report.category, report.severity, report.case.kind, report.case.priority) == (
        "scam", "medium", "report", 3)
    (submission,) = report.submissions.all()
    assert submission.linked_items == [{"kind": "moderation", "id": row.id}]
    assert submission.platform_report_id == "message:msg_scam:scam"
    assert not Strike.objects.filter(user_id=user).exists()  # a report, not a strike
    decide(user, ("scam", 0.95), item_id="msg_scam")  # decided again: the same report
    assert report.submissions.count() == 1 and Case.objects.filter(kind="report").count() == 1
    decide(user, ("scam", 0.95), item_id="msg_scam_2")  # another item joins the open case
    assert report.submissions.count() == 2 and Case.objects.filter(kind="report").count() == 1


def test_a_rule_strike_reaching_suspension_puts_the_user_before_a_person():
    from casefile.trust.models import SafetyReport

    _publish(REPORTING)
    user = profile(idv_status="passed").user_id
    decide(user, ("threat", 0.95))
    report = SafetyReport.objects.get(accused_user_id=user)
    assert (report.category, report.severity, report.case.priority) == (
        "threats", "critical", 1)
    assert not Approval.objects.exists()  # a person resolving the case asks for it
