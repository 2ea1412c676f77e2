"""trust/moderation_rules.py evaluates a rule set through closures compiled once per rule set:
they must decide exactly as the conditions' own `matches` do."""

from __future__ import annotations

import gc
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from casefile.trust import moderation_rules as mr

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
LABELS = ["nudity", "spam", "violence"]
PDQ = ["0" * 64, "f" * 64, "0f" * 32]

leaf = st.one_of(
    st.builds(lambda label, op, t: {"signal": label, op: t}, st.sampled_from(LABELS),
              st.sampled_from(["gte", "gt", "lte", "lt"]), st.sampled_from([0.0, 0.5, 0.8, 1.0])),
    st.builds(lambda k: {"kind": k}, st.sampled_from(["media", "message"])),
    st.builds(lambda n: {"sha256_list": n}, st.sampled_from(["sha", "nope"])),
    st.builds(lambda n: {"md5_list": n}, st.sampled_from(["md5", "nope"])),
    st.builds(lambda n, d: {"pdq_list": n, "max_distance": d}, st.sampled_from(["pdq", "nope"]),
              st.integers(0, 256)),
    st.builds(lambda d: {"new_account_days": d}, st.integers(1, 30)),
    st.builds(lambda b: {"unverified": b}, st.booleans()),
    st.builds(lambda n: {"risk_score_gte": n}, st.integers(0, 100)),
    st.builds(lambda b: {"adult_attested": b}, st.booleans()),
)
conditions = st.recursive(leaf, lambda inner: st.one_of(
    st.builds(lambda cs: {"all": cs}, st.lists(inner, min_size=1, max_size=3)),
    st.builds(lambda cs: {"any": cs}, st.lists(inner, min_size=1, max_size=3)),
    st.builds(lambda c: {"not": c}, inner)), max_leaves=8)
items = st.builds(
    lambda kind, signals, sha, md5, pdq, profile: mr.Item(
        id="i", kind=kind, signals=signals, sha256=sha, md5=md5,
        pdq=pdq if kind == "media" else None, profile=profile, at=NOW),
    st.sampled_from(["media", "message"]),
    st.dictionaries(st.sampled_from(LABELS), st.sampled_from([0.0, 0.5, 0.8, 0.9, 1.0])),
    st.sampled_from([None, "a" * 64, "b" * 64]), st.sampled_from([None, "c" * 32]),
    st.sampled_from([None, *PDQ]),
    st.fixed_dictionaries({}, optional={
        "idv_status": st.sampled_from(["passed", "none"]), "risk_score": st.integers(0, 100),
        "is_18plus_attested": st.booleans(),
        "created_at": st.sampled_from([NOW - timedelta(days=2), NOW - timedelta(days=40)])}))
LISTS = mr.HashLists({"sha": ["a" * 64], "md5": ["c" * 32], "pdq": ["0" * 64, "00" * 31 + "ff"]})


@settings(max_examples=300, deadline=None)
@given(conds=st.lists(conditions, min_size=1, max_size=5), item=items)
def test_compiled_rules_decide_as_the_conditions_do(conds, item) -> None:
    rule_set = mr.parse_rule_set({"version": 1, "rules": [
        {"id": f"r{i}", "description": "d", "condition": c,
         "outcome": {"decision": "block", "reason": "r"}} for i, c in enumerate(conds)]})
    compiled = [rule.id for rule, holds in mr._plan_of(rule_set).rules if holds(item, LISTS)]
    walked = [rule.id for rule in rule_set.rules if rule.condition.matches(item, LISTS)]
    assert compiled == walked
    assert [h.rule_id for h in mr.evaluate(rule_set, item, LISTS).hits] == walked


def test_a_plan_is_made_once_per_rule_set_and_goes_with_it() -> None:
    rule_set = mr.parse_rule_set({"version": 1, "rules": [
        {"id": "r", "description": "d", "condition": {"pdq_list": "pdq"},
         "outcome": {"decision": "block", "reason": "r"}}]})
    plan = mr._plan_of(rule_set)
    assert mr._plan_of(rule_set) is plan and rule_set.referenced_lists() == {"pdq"}
    key = id(rule_set)
    del rule_set, plan
    gc.collect()
    assert key not in mr._plans
