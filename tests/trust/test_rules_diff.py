"""The rule-level diff between two rule set versions (pure: no database)."""

from __future__ import annotations

import copy

from casefile.trust.moderation_rules import parse_rule_set
from casefile.trust.rules_diff import PartChange, diff

NUDITY = {"id": "nudity-blur", "description": "likely nudity",
          "condition": {"signal": "nudity", "gte": 0.8},
          "outcome": {"decision": "blur", "safe_mode_required": True, "reason": "nudity"}}
VIOLENCE = {"id": "violence-block", "description": "graphic violence",
            "condition": {"signal": "violence", "gte": 0.9},
            "outcome": {"decision": "block", "reason": "violence"}}
KNOWN = {"id": "known-bad", "description": "known bad file",
         "condition": {"sha256_list": "known_bad"},
         "outcome": {"decision": "remove", "needs_review": True, "reason": "known file"}}


def rule_set(version, *rules, band=None):
    data = {"version": version, "rules": list(rules)}
    if band:
        data["review_band"] = band
    return parse_rule_set(data)


def test_added_removed_changed_by_rule_id():
    old = rule_set(1, NUDITY, VIOLENCE)
    stricter = copy.deepcopy(VIOLENCE)
    stricter["condition"] = {"signal": "violence", "gte": 0.7}
    stricter["outcome"] |= {"decision": "remove", "needs_review": True}
    new = rule_set(2, stricter, KNOWN)
    found = diff(old, new)
    assert (found.old_version, found.new_version) == (1, 2)
    assert [r["id"] for r in found.added] == ["known-bad"]
    assert found.added[0]["outcome"]["decision"] == "remove"
    assert [r["id"] for r in found.removed] == ["nudity-blur"]
    (change,) = found.changed
    assert change.rule_id == "violence-block"
    assert change.parts == (
        PartChange("condition", {"signal": "violence", "gte": 0.9},
                   {"signal": "violence", "gte": 0.7}),
        PartChange("outcome.decision", "block", "remove"),
        PartChange("outcome.needs_review", False, True))
    assert found.review_band is None and not found.reordered and found.unchanged == 0
    assert not found.empty


def test_description_and_an_outcome_field_absent_on_one_side():
    edited = copy.deepcopy(KNOWN)
    edited["description"] = "a file on the known-bad list"
    edited["outcome"] |= {"policy": "child_safety", "strike": True}
    (change,) = diff(rule_set(3, KNOWN), rule_set(4, edited)).changed
    assert change.parts == (
        PartChange("description", "known bad file", "a file on the known-bad list"),
        PartChange("outcome.policy", None, "child_safety"),
        PartChange("outcome.strike", False, True))


def test_review_band_and_order():
    old = rule_set(1, NUDITY, VIOLENCE, band={"low": 0.4, "high": 0.6})
    new = rule_set(2, VIOLENCE, NUDITY, band={"low": 0.5, "high": 0.6})
    found = diff(old, new)
    assert found.review_band == PartChange("review_band", {"low": 0.4, "high": 0.6},
                                           {"low": 0.5, "high": 0.6})
    assert found.reordered and not found.changed and found.unchanged == 2
    assert diff(old, rule_set(3, NUDITY, VIOLENCE)).review_band == PartChange(
        "review_band", {"low": 0.4, "high": 0.6}, None)


def test_the_same_rules_are_no_change_and_json_equals_parsed():
    old, new = rule_set(1, NUDITY, KNOWN), rule_set(2, NUDITY, KNOWN)
    found = diff(old, new)
    assert found.empty and found.unchanged == 2
    # Stored JSON (as `to_json` keeps it, or as written by hand with defaults left out) reads
    # the same as the parsed rule set.
    assert diff(old.to_json(), new.to_json()).to_dict() == found.to_dict()
    assert diff({"version": 1, "rules": [NUDITY, KNOWN]}, new).empty


def test_against_nothing_every_rule_is_added():
    found = diff(None, rule_set(1, NUDITY, KNOWN, band={"low": 0.4, "high": 0.6}))
    assert found.old_version is None and found.new_version == 1
    assert [r["id"] for r in found.added] == ["nudity-blur", "known-bad"]
    assert found.review_band == PartChange("review_band", None, {"low": 0.4, "high": 0.6})
    assert diff(rule_set(1, NUDITY), rule_set(2)).removed[0]["id"] == "nudity-blur"


def test_to_dict_is_json():
    import json

    edited = copy.deepcopy(NUDITY)
    edited["outcome"]["reason"] = "nudity (likely)"
    found = diff(rule_set(1, NUDITY, VIOLENCE), rule_set(2, edited, KNOWN))
    data = json.loads(json.dumps(found.to_dict()))
    assert data["changed"] == [{"rule_id": "nudity-blur", "parts": [
        {"part": "outcome.reason", "old": "nudity", "new": "nudity (likely)"}]}]
    assert [r["id"] for r in data["added"]] == ["known-bad"]
    assert [r["id"] for r in data["removed"]] == ["violence-block"]
    assert data["review_band"] is None and data["reordered"] is False
