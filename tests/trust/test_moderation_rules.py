"""Moderation rules as data (trust/moderation_rules.py): pure, so no database mark anywhere."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from casefile.trust.moderation_rules import (
    DECISIONS,
    RANK,
    HashLists,
    Item,
    RuleSet,
    RuleSetInvalid,
    evaluate,
    hamming,
    parse_rule_set,
    replay,
    strongest_scores,
)

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
PDQ_BASE = "a5" * 32  # a made-up 256-bit hash: the platform sends hashes, we never compute one


def flip(hex_hash: str, bits: int) -> str:
    """`hex_hash` with its lowest `bits` bits inverted: exactly that Hamming distance away."""
    value = int(hex_hash, 16) ^ ((1 << bits) - 1)
    return f"{value:0{len(hex_hash)}x}"


def rule(rid: str, condition: dict[str, Any], decision: str = "block", **outcome: Any) -> dict:
    return {"id": rid, "description": f"rule {rid}", "condition": condition,
            "outcome": {"decision": decision, "reason": f"because {rid}", **outcome}}


def rules(*rs: dict, version: int = 1, **extra: Any) -> RuleSet:
    return parse_rule_set({"version": version, "rules": list(rs), **extra})


def item(**kw: Any) -> Item:
    kw.setdefault("id", "itm_1")
    kw.setdefault("kind", "media")
    kw.setdefault("at", NOW)
    return Item(**kw)


def matches(condition: dict[str, Any], it: Item, lists: dict | None = None) -> bool:
    return bool(evaluate(rules(rule("r", condition)), it, lists).hits)


# --- each condition kind, at and beyond its boundary ---------------------------------------------


@pytest.mark.parametrize(("op", "score", "expected"), [
    ("gte", 0.8, True), ("gte", 0.81, True), ("gte", 0.79, False),
    ("gt", 0.8, False), ("gt", 0.81, True), ("gt", 0.79, False),
    ("lte", 0.8, True), ("lte", 0.79, True), ("lte", 0.81, False),
    ("lt", 0.8, False), ("lt", 0.79, True), ("lt", 0.81, False),
])
def test_signal_threshold(op: str, score: float, expected: bool) -> None:
    assert matches({"signal": "nudity", op: 0.8}, item(signals={"nudity": score})) is expected


@pytest.mark.parametrize("op", ["gte", "gt", "lte", "lt"])
def test_absent_signal_never_matches(op: str) -> None:
    # A classifier that did not run said nothing: that is not a score of 0.
    assert not matches({"signal": "nudity", op: 0.5}, item(signals={"violence": 0.1}))


def test_strongest_scores_keeps_the_highest_per_label() -> None:
    assert strongest_scores([
        {"source": "a", "label": "nudity", "score": 0.4, "model": "m1"},
        {"source": "b", "label": "nudity", "score": 0.9, "model": "m2"},
        {"source": "b", "label": "spam", "score": 0.2, "model": "m2"},
    ]) == {"nudity": 0.9, "spam": 0.2}


@pytest.mark.parametrize(("wanted", "kind", "expected"), [
    ("media", "media", True), ("media", "message", False),
    ("message", "message", True), ("message", "media", False),
])
def test_item_kind(wanted: str, kind: str, expected: bool) -> None:
    assert matches({"kind": wanted}, item(kind=kind)) is expected


SHA = "ab" * 32
MD5 = "cd" * 16


@pytest.mark.parametrize(("condition", "it", "expected"), [
    ({"sha256_list": "bad"}, item(sha256=SHA), True),
    ({"sha256_list": "bad"}, item(sha256=SHA.upper()), True),  # hex case is not a difference
    ({"sha256_list": "bad"}, item(sha256=flip(SHA, 1)), False),  # exact: one bit is a miss
    ({"sha256_list": "bad"}, item(), False),
    ({"sha256_list": "missing"}, item(sha256=SHA), False),
    ({"md5_list": "bad_md5"}, item(md5=MD5), True),
    ({"md5_list": "bad_md5"}, item(md5=flip(MD5, 1)), False),
    ({"md5_list": "bad"}, item(md5=MD5), False),  # a list is looked up by its own name only
])
def test_exact_hash_lists(condition: dict, it: Item, expected: bool) -> None:
    lists = {"bad": {SHA}, "bad_md5": {MD5.upper()}}
    assert matches(condition, it, lists) is expected


@pytest.mark.parametrize(("max_distance", "distance", "expected"), [
    (31, 0, True), (31, 30, True), (31, 31, True), (31, 32, False), (31, 128, False),
    (0, 0, True), (0, 1, False),
    (10, 10, True), (10, 11, False),
    (256, 256, True),
])
def test_pdq_within_hamming_distance(max_distance: int, distance: int, expected: bool) -> None:
    query = flip(PDQ_BASE, distance)
    assert hamming(query, PDQ_BASE) == distance
    lists = {"known": {flip(PDQ_BASE, 200), PDQ_BASE}}
    condition = {"pdq_list": "known", "max_distance": max_distance}
    assert matches(condition, item(pdq=query), lists) is expected


def test_pdq_default_distance_is_31_and_bad_rows_are_skipped() -> None:
    lists = {"known": {"not-a-hash", PDQ_BASE}}
    assert matches({"pdq_list": "known"}, item(pdq=flip(PDQ_BASE, 31)), lists)
    assert not matches({"pdq_list": "known"}, item(pdq=flip(PDQ_BASE, 32)), lists)
    assert not matches({"pdq_list": "known"}, item(), lists)  # no PDQ (a message): no match


def test_hash_lists_can_be_prepared_once() -> None:
    lists = HashLists({"known": [PDQ_BASE]})
    rs = rules(rule("r", {"pdq_list": "known", "max_distance": 5}))
    assert evaluate(rs, item(pdq=flip(PDQ_BASE, 5)), lists).hits
    assert not evaluate(rs, item(pdq=flip(PDQ_BASE, 6)), lists).hits


@pytest.mark.parametrize(("age", "expected"), [
    (timedelta(days=6, hours=23), True),
    (timedelta(days=7) - timedelta(microseconds=1), True),
    (timedelta(days=7), False),
    (timedelta(days=30), False),
])
def test_new_account(age: timedelta, expected: bool) -> None:
    created = NOW - age
    assert matches({"new_account_days": 7}, item(profile={"created_at": created})) is expected
    # The profile may come from JSON, the date as ISO text.
    assert matches({"new_account_days": 7},
                   item(profile={"created_at": created.isoformat()})) is expected


@pytest.mark.parametrize("profile", [{}, {"created_at": "yesterday"},
                                     {"created_at": datetime(2025, 6, 1)}])  # noqa: DTZ001
def test_new_account_unknown_age_does_not_match(profile: dict) -> None:
    assert not matches({"new_account_days": 7}, item(profile=profile))
    assert not matches({"new_account_days": 7},
                       item(profile={"created_at": NOW}, at=None))


@pytest.mark.parametrize(("idv", "unverified", "expected"), [
    ("passed", True, False), ("pending", True, True), ("failed", True, True),
    ("expired", True, True), ("none", True, True), (None, True, True),
    ("passed", False, True), ("pending", False, False),
])
def test_unverified(idv: str | None, unverified: bool, expected: bool) -> None:
    profile = {} if idv is None else {"idv_status": idv}
    assert matches({"unverified": unverified}, item(profile=profile)) is expected


@pytest.mark.parametrize(("score", "expected"), [
    (69, False), (70, True), (71, True), (100, True), (0, False), (None, False), ("80", False),
])
def test_risk_score_at_or_above(score: Any, expected: bool) -> None:
    profile = {} if score is None else {"risk_score": score}
    assert matches({"risk_score_gte": 70}, item(profile=profile)) is expected


@pytest.mark.parametrize(("attested", "wanted", "expected"), [
    (True, True, True), (False, True, False), (None, True, False),
    (False, False, True), (None, False, True), (True, False, False),
])
def test_adult_attested(attested: bool | None, wanted: bool, expected: bool) -> None:
    profile = {} if attested is None else {"is_18plus_attested": attested}
    assert matches({"adult_attested": wanted}, item(profile=profile)) is expected


# --- combinators ---------------------------------------------------------------------------------


MEDIA = {"kind": "media"}
NUDE = {"signal": "nudity", "gte": 0.8}


@pytest.mark.parametrize(("condition", "kind", "nudity", "expected"), [
    ({"all": [MEDIA, NUDE]}, "media", 0.9, True),
    ({"all": [MEDIA, NUDE]}, "message", 0.9, False),
    ({"all": [MEDIA, NUDE]}, "media", 0.1, False),
    ({"any": [MEDIA, NUDE]}, "message", 0.9, True),
    ({"any": [MEDIA, NUDE]}, "media", 0.1, True),
    ({"any": [MEDIA, NUDE]}, "message", 0.1, False),
    ({"not": MEDIA}, "media", 0.1, False),
    ({"not": MEDIA}, "message", 0.1, True),
    ({"not": {"not": MEDIA}}, "media", 0.1, True),
    ({"all": [{"any": [NUDE, {"unverified": True}]}, {"not": {"kind": "message"}}]},
     "media", 0.1, True),  # unverified: the item has no profile
])
def test_combinators(condition: dict, kind: str, nudity: float, expected: bool) -> None:
    assert matches(condition, item(kind=kind, signals={"nudity": nudity})) is expected


# --- evaluation: precedence, flags, review ------------------------------------------------------


def test_no_hit_allows() -> None:
    decision = evaluate(rules(rule("r", NUDE, "remove")), item(signals={"nudity": 0.1}))
    assert (decision.decision, decision.safe_mode_required, decision.needs_review,
            decision.hits) == ("allow", False, False, ())
    assert evaluate(RuleSet(version=1), item()).decision == "allow"


@pytest.mark.parametrize(("a", "b"), list(itertools.product(DECISIONS, repeat=2)))
def test_strictest_wins_for_every_pair(a: str, b: str) -> None:
    rs = rules(rule("first", MEDIA, a), rule("second", MEDIA, b), version=4)
    decision = evaluate(rs, item())
    assert decision.decision == max(a, b, key=RANK.__getitem__)
    assert [(h.rule_id, h.version, h.decision, h.reason) for h in decision.hits] == [
        ("first", 4, a, "because first"), ("second", 4, b, "because second")]


def test_precedence_order() -> None:
    assert sorted(DECISIONS, key=RANK.__getitem__) == ["allow", "blur", "block", "remove"]


def test_safe_mode_and_review_come_from_any_hit() -> None:
    rs = rules(rule("blur", MEDIA, "blur", safe_mode_required=True),
               rule("check", MEDIA, "allow", needs_review=True),
               rule("quiet", {"kind": "message"}, "remove", safe_mode_required=False))
    decision = evaluate(rs, item())
    assert (decision.decision, decision.safe_mode_required, decision.needs_review) == (
        "blur", True, True)
    assert not decision.low_confidence
    assert decision.to_dict()["rule_hits"][0] == {
        "rule_id": "blur", "version": 1, "decision": "blur", "reason": "because blur",
        "safe_mode_required": True, "needs_review": False, "policy": None, "strike": False,
        "open_report": False}


@pytest.mark.parametrize(("scores", "expected"), [
    ({"nudity": 0.39}, False), ({"nudity": 0.4}, True), ({"nudity": 0.69}, True),
    ({"nudity": 0.7}, False), ({"nudity": 0.5, "violence": 0.95}, False),  # strongest is sure
    ({"nudity": 0.1, "violence": 0.5}, True), ({}, False),
])
def test_low_confidence_band_asks_for_review(scores: dict, expected: bool) -> None:
    rs = rules(version=2, review_band={"low": 0.4, "high": 0.7})
    decision = evaluate(rs, item(signals=scores))
    assert (decision.needs_review, decision.low_confidence) == (expected, expected)
    assert decision.decision == "allow"
    # Without a band, confidence never asks for review.
    assert not evaluate(rules(), item(signals=scores)).needs_review


def test_item_refuses_malformed_hashes_and_scores() -> None:
    for bad in ({"sha256": "ab"}, {"md5": "zz" * 16}, {"pdq": "a5" * 31},
                {"signals": {"x": float("nan")}}, {"kind": "video"}):
        with pytest.raises(ValueError):
            item(**bad)


# --- parsing: errors name the path --------------------------------------------------------------


def ruleset_with(condition: Any = None, outcome: Any = None, **top: Any) -> dict:
    r = rule("r", MEDIA if condition is None else condition)
    if outcome is not None:
        r["outcome"] = outcome
    return {"version": 1, "rules": [r], **top}


@pytest.mark.parametrize(("data", "path"), [
    (ruleset_with({"all": [MEDIA, {"signal": "nudity", "gte": 1.5}]}),
     "$.rules[0].condition.all[1].gte"),
    (ruleset_with({"any": [MEDIA, {"bogus": 1}]}), "$.rules[0].condition.any[1]"),
    (ruleset_with({"not": {"kind": "video"}}), "$.rules[0].condition.not.kind"),
    (ruleset_with({"signal": "nudity", "gte": 0.5, "lt": 0.9}), "$.rules[0].condition"),
    (ruleset_with({"signal": "nudity"}), "$.rules[0].condition"),
    (ruleset_with({"kind": "media", "pdq_list": "x"}), "$.rules[0].condition.pdq_list"),
    (ruleset_with({"pdq_list": "x", "max_distance": 257}),
     "$.rules[0].condition.max_distance"),
    (ruleset_with({"all": []}), "$.rules[0].condition.all"),
    (ruleset_with({"risk_score_gte": 101}), "$.rules[0].condition.risk_score_gte"),
    (ruleset_with({"new_account_days": 0}), "$.rules[0].condition.new_account_days"),
    (ruleset_with(outcome={"decision": "nuke", "reason": "x"}), "$.rules[0].outcome.decision"),
    (ruleset_with(outcome={"decision": "block"}), "$.rules[0].outcome.reason"),
    (ruleset_with(review_band={"low": 0.7, "high": 0.4}), "$.review_band"),
    ({"version": 0, "rules": []}, "$.version"),
    ({"rules": []}, "$.version"),
    ({"version": 1, "rules": [], "extra": 1}, "$.extra"),
    ({"version": 1, "rules": [rule("same", MEDIA), rule("same", MEDIA)]}, "$.rules"),
    ({"version": 1, "rules": [rule("bad id!", MEDIA)]}, "$.rules[0].id"),
    ({"version": 1, "rules": [{"id": "r", "condition": MEDIA,
                               "outcome": {"decision": "allow", "reason": "x"}}]},
     "$.rules[0].description"),
])
def test_parse_errors_name_the_path(data: dict, path: str) -> None:
    with pytest.raises(RuleSetInvalid) as caught:
        parse_rule_set(data)
    assert path in [e["path"] for e in caught.value.errors]
    assert caught.value.status == 422
    # The same error from JSON text.
    with pytest.raises(RuleSetInvalid) as from_text:
        parse_rule_set(json.dumps(data))
    assert path in [e["path"] for e in from_text.value.errors]


def test_an_invalid_child_is_reported_once() -> None:
    with pytest.raises(RuleSetInvalid) as caught:
        parse_rule_set(ruleset_with({"any": [{"bogus": 1}]}))
    assert [e["path"] for e in caught.value.errors] == ["$.rules[0].condition.any[0]"]
    assert "one of the keys" in caught.value.errors[0]["reason"]


@pytest.mark.parametrize("data", ["{not json", b"[1, 2]", 5])
def test_parse_refuses_what_is_not_a_rule_set(data: Any) -> None:
    with pytest.raises(RuleSetInvalid) as caught:
        parse_rule_set(data)
    assert caught.value.errors[0]["path"] == "$"


def test_rule_set_round_trips_and_names_its_lists() -> None:
    rs = rules(rule("a", {"all": [MEDIA, {"not": {"pdq_list": "csam", "max_distance": 20}}]}),
               rule("b", {"any": [{"sha256_list": "s"}, {"md5_list": "m"}]}),
               review_band={"low": 0.4, "high": 0.6})
    assert parse_rule_set(rs.to_json()) == rs
    assert parse_rule_set(json.dumps(rs.to_json())) == rs
    assert rs.referenced_lists() == {"csam", "s", "m"}
    assert rs.to_json()["rules"][0]["condition"]["all"][1] == {
        "not": {"pdq_list": "csam", "max_distance": 20}}


# --- replay --------------------------------------------------------------------------------------


def test_replay_counts_and_changes() -> None:
    published = rules(rule("nude", {"signal": "nudity", "gte": 0.9}, "blur"), version=3)
    draft = rules(rule("nude", {"signal": "nudity", "gte": 0.7}, "blur"),
                  rule("csam", {"pdq_list": "csam"}, "remove", needs_review=True), version=4)
    lists = {"csam": {PDQ_BASE}}
    items = [
        item(id="a", signals={"nudity": 0.95}),                  # blur → blur
        item(id="b", signals={"nudity": 0.8}),                   # allow → blur
        item(id="c", signals={"nudity": 0.1}),                   # allow → allow
        item(id="d", signals={"nudity": 0.95}, pdq=flip(PDQ_BASE, 3)),  # blur → remove
        item(id="e", signals={"nudity": 0.75}),                  # allow → blur
        item(id="f", kind="message"),                            # allow → allow
    ]
    report = replay(draft, published, items, lists)
    assert (report.draft_version, report.published_version, report.items) == (4, 3, 6)
    assert report.counts == {("blur", "blur"): 1, ("allow", "blur"): 2,
                             ("allow", "allow"): 2, ("blur", "remove"): 1}
    assert report.changed_counts() == {("allow", "blur"): 2, ("blur", "remove"): 1}
    assert [c.item_id for c in report.changes] == ["b", "d", "e"]
    d = report.changes[1]
    assert (d.before.decision, d.after.decision, d.after.needs_review) == ("blur", "remove", True)
    assert [h.rule_id for h in d.added] == ["csam"] and d.removed == ()
    b = report.changes[0]
    assert [h.rule_id for h in b.added] == ["nude"] and b.removed == ()
    assert json.loads(json.dumps(report.to_dict()))["counts"][0] == {
        "before": "allow", "after": "allow", "items": 2}


def test_replay_shows_what_a_loosened_draft_stops_doing() -> None:
    published = rules(rule("new", {"new_account_days": 7}, "block"), version=1)
    draft = rules(rule("new", {"new_account_days": 1}, "block"), version=2)
    young = item(id="y", profile={"created_at": NOW - timedelta(days=3)})
    report = replay(draft, published, [young])
    assert report.counts == {("block", "allow"): 1}
    assert [h.rule_id for h in report.changes[0].removed] == ["new"]


def test_replay_before_anything_is_published() -> None:
    draft = rules(rule("m", MEDIA, "blur", safe_mode_required=True))
    report = replay(draft, None, [item(id="a"), item(id="b", kind="message")])
    assert report.published_version is None
    assert report.counts == {("allow", "blur"): 1, ("allow", "allow"): 1}
    assert [c.item_id for c in report.changes] == ["a"]


def test_replay_counts_a_change_of_safe_mode_or_review_alone() -> None:
    published = rules(rule("m", MEDIA, "blur"))
    draft = rules(rule("m", MEDIA, "blur", safe_mode_required=True), version=2)
    report = replay(draft, published, [item()])
    assert report.counts == {("blur", "blur"): 1}
    assert len(report.changes) == 1


# --- properties ----------------------------------------------------------------------------------


hex_of = lambda n: st.text("0123456789abcdef", min_size=n, max_size=n)  # noqa: E731
labels = st.sampled_from(["nudity", "violence", "spam", "hate"])
scores = st.floats(min_value=0, max_value=1, allow_nan=False)

leaf = st.one_of(
    st.builds(lambda label, op, s: {"signal": label, op: s}, labels,
              st.sampled_from(["gte", "gt", "lte", "lt"]), scores),
    st.sampled_from([{"kind": "media"}, {"kind": "message"}]),
    st.sampled_from([{"sha256_list": "s"}, {"md5_list": "m"}, {"sha256_list": "nope"}]),
    st.builds(lambda d: {"pdq_list": "p", "max_distance": d}, st.integers(0, 256)),
    st.builds(lambda d: {"new_account_days": d}, st.integers(1, 400)),
    st.builds(lambda b: {"unverified": b}, st.booleans()),
    st.builds(lambda n: {"risk_score_gte": n}, st.integers(0, 100)),
    st.builds(lambda b: {"adult_attested": b}, st.booleans()),
)
conditions = st.recursive(leaf, lambda inner: st.one_of(
    st.builds(lambda cs: {"all": cs}, st.lists(inner, min_size=1, max_size=3)),
    st.builds(lambda cs: {"any": cs}, st.lists(inner, min_size=1, max_size=3)),
    st.builds(lambda c: {"not": c}, inner)), max_leaves=8)
rule_dicts = st.builds(
    lambda c, d, safe, review: {"condition": c, "outcome": {
        "decision": d, "safe_mode_required": safe, "needs_review": review, "reason": "r"}},
    conditions, st.sampled_from(DECISIONS), st.booleans(), st.booleans())
rule_lists = st.lists(rule_dicts, max_size=6).map(
    lambda rs: [{"id": f"r{i}", "description": "d", **r} for i, r in enumerate(rs)])
profiles = st.fixed_dictionaries({}, optional={
    "is_18plus_attested": st.booleans(),
    "idv_status": st.sampled_from(["none", "pending", "passed", "failed", "expired"]),
    "bg_status": st.sampled_from(["none", "pending", "clear", "consider", "failed", "expired"]),
    "risk_score": st.integers(0, 100),
    "hold_type": st.sampled_from(["none", "new_acct", "risk"]),
    "strikes_active_count": st.integers(0, 10),
    "strike_points_active": st.integers(0, 100),
    "created_at": st.datetimes(timezones=st.just(UTC)),
})
items = st.builds(
    Item, id=st.just("itm"), kind=st.sampled_from(["media", "message"]),
    signals=st.dictionaries(labels, scores), sha256=st.none() | hex_of(64),
    md5=st.none() | hex_of(32), pdq=st.none() | hex_of(64), profile=profiles,
    at=st.none() | st.datetimes(timezones=st.just(UTC)))
hash_lists = st.fixed_dictionaries({"s": st.sets(hex_of(64), max_size=3),
                                    "m": st.sets(hex_of(32), max_size=3),
                                    "p": st.sets(hex_of(64), max_size=3)})


@settings(max_examples=200, deadline=None)
@given(rule_lists, rule_dicts, items, hash_lists,
       st.none() | st.just({"low": 0.3, "high": 0.6}))
def test_evaluate_never_raises_and_adding_a_rule_is_never_less_strict(
        base: list[dict], extra: dict, it: Item, lists: dict, band: dict | None) -> None:
    top = {} if band is None else {"review_band": band}
    before_set = parse_rule_set({"version": 1, "rules": base, **top})
    after_set = parse_rule_set({"version": 2, "rules": [*base, {"id": "extra", "description": "d",
                                                                **extra}], **top})
    before = evaluate(before_set, it, lists)
    after = evaluate(after_set, it, lists)
    assert RANK[after.decision] >= RANK[before.decision]
    assert after.safe_mode_required >= before.safe_mode_required
    assert after.needs_review >= before.needs_review
    assert [h.rule_id for h in after.hits][:len(before.hits)] == [h.rule_id for h in before.hits]
    # Deterministic: the same input gives the same output.
    assert evaluate(before_set, it, lists) == before


def test_an_outcome_names_its_policy_for_a_strike_or_a_report() -> None:
    with pytest.raises(RuleSetInvalid):
        rules(rule("s", MEDIA, "remove", strike=True))
    with pytest.raises(RuleSetInvalid):
        rules(rule("r", MEDIA, "remove", open_report=True))
    with pytest.raises(RuleSetInvalid):
        rules(rule("p", MEDIA, "remove", policy="no_such_policy"))
    rs = rules(rule("a", MEDIA, "remove", policy="hate", strike=True),
               rule("b", MEDIA, "block", policy="hate", strike=True, open_report=True),
               rule("c", MEDIA, "blur", policy="spam"))
    decision = evaluate(rs, item())
    assert decision.strikes == ("hate",)  # one strike per policy, however many rules ask
    assert decision.reports == ("hate",)
    assert decision.hits[2].policy == "spam" and not decision.hits[2].strike


def test_replay_counts_a_new_strike_as_a_change() -> None:
    before = rules(rule("a", MEDIA, "remove", policy="hate"))
    after = rules(rule("a", MEDIA, "remove", policy="hate", strike=True), version=2)
    report = replay(after, before, [item()])
    assert len(report.changes) == 1 and report.changes[0].after.strikes == ("hate",)
    assert report.changed_counts() == {}  # the decision itself did not change
