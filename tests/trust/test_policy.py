"""The rules table and the transition table, on their own (no database)."""

from types import SimpleNamespace

import pytest

from casefile.trust import policy
from casefile.trust.policy import TRANSITIONS, VerificationState

S = VerificationState

ELIGIBLE = dict(is_18plus_attested=True, idv_status="passed", bg_status="clear", hold_type="none",
                risk_score=0, strike_points_active=0, adult_strike_active=False)


def profile(**changes):
    return SimpleNamespace(**{**ELIGIBLE, **changes})


def test_a_fully_verified_user_is_eligible_for_everything():
    for flag, (eligible, reasons) in policy.evaluate(profile()).items():
        assert eligible, flag
        assert reasons == []


# (input changed, flag → the reason code it adds; flags not named stay true)
CASES = [
    ({"idv_status": "pending"}, {"payouts_eligible": "idv_not_passed",
                                 "nsfw_toggle_eligible": "idv_not_passed",
                                 "instant_book_eligible": "idv_not_passed"}),
    ({"idv_status": "failed"}, {"payouts_eligible": "idv_not_passed",
                                "nsfw_toggle_eligible": "idv_not_passed",
                                "instant_book_eligible": "idv_not_passed"}),
    ({"is_18plus_attested": False}, {"payouts_eligible": "not_18plus_attested",
                                     "nsfw_toggle_eligible": "not_18plus_attested"}),
    ({"hold_type": "new_acct"}, {"payouts_eligible": "on_hold",
                                 "instant_book_eligible": "on_hold"}),
    ({"hold_type": "risk"}, {"payouts_eligible": "on_hold", "instant_book_eligible": "on_hold"}),
    ({"risk_score": 70}, {"payouts_eligible": "risk_at_or_above_threshold"}),
    ({"risk_score": 100}, {"payouts_eligible": "risk_at_or_above_threshold"}),
    ({"risk_score": 69}, {}),
    ({"adult_strike_active": True}, {"nsfw_toggle_eligible": "adult_content_strike"}),
    ({"bg_status": "consider"}, {"instant_book_eligible": "background_not_clear"}),
    ({"bg_status": "none"}, {"instant_book_eligible": "background_not_clear"}),
    ({"strike_points_active": 1}, {"instant_book_eligible": "active_strike_points"}),
]


@pytest.mark.parametrize(("changes", "refused"), CASES, ids=lambda v: str(v))
def test_each_input_denies_exactly_its_flags_with_its_reason(changes, refused):
    result = policy.evaluate(profile(**changes))
    for flag in policy.FLAGS:
        eligible, reasons = result[flag]
        if flag in refused:
            assert not eligible
            assert [r["code"] for r in reasons] == [refused[flag]]
            assert all(r["message"] for r in reasons)
        else:
            assert eligible and reasons == []


def test_every_failing_rule_is_a_reason(settings):
    _, reasons = policy.evaluate(profile(idv_status="none", is_18plus_attested=False,
                                         hold_type="risk", risk_score=90))["payouts_eligible"]
    assert [r["code"] for r in reasons] == ["idv_not_passed", "not_18plus_attested", "on_hold",
                                            "risk_at_or_above_threshold"]
    assert "90" in reasons[-1]["message"] and "70" in reasons[-1]["message"]


def test_the_finance_threshold_is_a_setting(settings):
    settings.FINANCE_RISK_THRESHOLD = 50
    assert not policy.evaluate(profile(risk_score=50))["payouts_eligible"][0]
    assert policy.evaluate(profile(risk_score=49))["payouts_eligible"][0]


def test_the_transition_table_is_the_designed_one():
    assert TRANSITIONS[S.CREATED] == {S.PENDING, S.EXPIRED, S.CANCELED}
    assert TRANSITIONS[S.PENDING] == {S.IN_REVIEW, S.EXPIRED, S.CANCELED}
    assert TRANSITIONS[S.IN_REVIEW] == {S.PASSED, S.FAILED, S.EXPIRED, S.CANCELED}
    assert TRANSITIONS[S.PASSED] == TRANSITIONS[S.FAILED] == {S.APPEALED}
    assert TRANSITIONS[S.APPEALED] == {S.IN_REVIEW, S.EXPIRED, S.CANCELED}
    assert TRANSITIONS[S.EXPIRED] == TRANSITIONS[S.CANCELED] == frozenset()


@pytest.mark.parametrize(("start", "goal", "path"), [
    ("created", "passed", ["pending", "in_review", "passed"]),
    ("pending", "failed", ["in_review", "failed"]),
    ("in_review", "in_review", []),
    ("created", "expired", ["expired"]),
    ("failed", "in_review", ["appealed", "in_review"]),
    ("passed", "created", None),
    ("expired", "pending", None),
])
def test_path_to_walks_the_table(start, goal, path):
    assert policy.path_to(start, goal) == path
    if path:
        here = S(start)
        for step in path:
            assert step in TRANSITIONS[here]
            here = step


def current(idv="none", bg="none"):
    return SimpleNamespace(idv_status=idv, bg_status=bg)


@pytest.mark.parametrize(("type_", "state", "decision", "now", "prior", "expected"), [
    ("idv", "created", None, current(), "none", {"idv_status": "pending"}),
    ("idv", "in_review", None, current(idv="failed"), "failed", {"idv_status": "pending"}),
    ("idv", "pending", None, current(idv="passed"), "passed", {}),  # a re-check keeps the pass
    ("idv", "passed", "approved", current(idv="pending"), "none", {"idv_status": "passed"}),
    ("idv", "failed", None, current(idv="passed"), "passed", {"idv_status": "failed"}),
    ("idv", "expired", None, current(idv="pending"), "none", {"idv_status": "expired"}),
    ("idv", "expired", None, current(idv="passed"), "passed", {}),
    ("idv", "canceled", None, current(idv="pending"), "failed", {"idv_status": "failed"}),
    ("idv", "appealed", None, current(idv="failed"), "none", {"idv_status": "pending"}),
    ("background", "passed", "clear", current(bg="pending"), "none", {"bg_status": "clear"}),
    ("background", "passed", "consider", current(bg="pending"), "none",
     {"bg_status": "consider"}),
    ("background", "failed", None, current(bg="pending"), "none", {"bg_status": "failed"}),
    ("background", "created", None, current(bg="clear"), "clear", {}),
    ("studio", "passed", None, current(), "", {"studio_verified": True}),
    ("studio", "failed", None, current(), "", {"studio_verified": False}),
    ("studio", "in_review", None, current(), "", {}),
    ("reference", "passed", None, current(), "", {}),
])
def test_a_decision_moves_the_profile_by_type(type_, state, decision, now, prior, expected):
    assert policy.profile_changes_for(type_, state, decision, current=now,
                                      prior=prior) == expected
