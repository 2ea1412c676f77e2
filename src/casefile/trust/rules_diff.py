"""What changed between two versions of the moderation rules, rule by rule (issue 12 item 7: the
rules page's diff), beside the replay that says which decisions would change.

`diff(old, new)` is pure: two rule sets (parsed, or as `RuleSet.to_json()` stores them; `old`
None when nothing came before) in, a `RulesDiff` out. Rules are matched by `id`, so a rule edited
in place is one change — its description, its condition, or some fields of its outcome, each with
the old and the new value — not a removal and an addition. Order matters only for the order of an
item's hits (the strictest decision wins whatever the order), so a new order is one flag.

`version_diff(version)` reads the version and the one before it: the latest version below it
that was published (for the draft, the published one), nothing for the first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from casefile.trust.moderation_rules import RuleSet, RuleSetInvalid, parse_rule_set

if TYPE_CHECKING:
    from casefile.trust.models import RuleSetVersion

RuleSetLike = RuleSet | Mapping[str, Any]


@dataclass(frozen=True)
class PartChange:
    """One part of a rule: `description`, `condition`, or `outcome.<field>`; None: absent."""

    part: str
    old: Any
    new: Any


@dataclass(frozen=True)
class RuleChange:
    rule_id: str
    parts: tuple[PartChange, ...]


@dataclass(frozen=True)
class RulesDiff:
    old_version: int | None
    new_version: int | None
    added: tuple[dict[str, Any], ...]  # the rules as JSON, in the new version's order
    removed: tuple[dict[str, Any], ...]  # in the old version's order
    changed: tuple[RuleChange, ...]  # in the new version's order
    review_band: PartChange | None  # set when it changed
    reordered: bool  # the rules both versions have are in another order
    unchanged: int  # rules identical in both

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed or self.review_band
                    or self.reordered)

    def to_dict(self) -> dict[str, Any]:
        return {"old_version": self.old_version, "new_version": self.new_version,
                "added": list(self.added), "removed": list(self.removed),
                "changed": [{"rule_id": c.rule_id,
                             "parts": [{"part": p.part, "old": p.old, "new": p.new}
                                       for p in c.parts]} for c in self.changed],
                "review_band": ({"old": self.review_band.old, "new": self.review_band.new}
                                if self.review_band else None),
                "reordered": self.reordered, "unchanged": self.unchanged}


def _as_json(rules: RuleSetLike | None) -> dict[str, Any]:
    if rules is None:
        return {"rules": []}
    if isinstance(rules, RuleSet):
        return rules.to_json()
    try:
        # Stored JSON is re-read through the model, so a field added since the version was saved
        # (with its default) is not reported as a change.
        return parse_rule_set(rules).to_json()
    except RuleSetInvalid:
        return dict(rules)


def _parts(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[PartChange, ...]:
    parts: list[PartChange] = []
    keys = [k for k in (*new, *(k for k in old if k not in new)) if k != "id"]
    for key in dict.fromkeys(("description", "condition", "outcome", *keys)):
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        if isinstance(before, Mapping) and isinstance(after, Mapping) and key == "outcome":
            fields = dict.fromkeys((*after, *before))
            parts.extend(PartChange(f"outcome.{f}", before.get(f), after.get(f))
                         for f in fields if before.get(f) != after.get(f))
        else:
            parts.append(PartChange(key, before, after))
    return tuple(parts)


def diff(old: RuleSetLike | None, new: RuleSetLike | None) -> RulesDiff:
    """From `old` to `new`."""
    before, after = _as_json(old), _as_json(new)
    old_rules = {r["id"]: r for r in before.get("rules", [])}
    new_rules = {r["id"]: r for r in after.get("rules", [])}
    changed = []
    for rule_id, rule in new_rules.items():
        if rule_id in old_rules and old_rules[rule_id] != rule:
            changed.append(RuleChange(rule_id, _parts(old_rules[rule_id], rule)))
    both_old = [i for i in old_rules if i in new_rules]
    both_new = [i for i in new_rules if i in old_rules]
    band = None
    if before.get("review_band") != after.get("review_band"):
        band = PartChange("review_band", before.get("review_band"), after.get("review_band"))
    return RulesDiff(
        old_version=before.get("version") if old is not None else None,
        new_version=after.get("version") if new is not None else None,
        added=tuple(r for i, r in new_rules.items() if i not in old_rules),
        removed=tuple(r for i, r in old_rules.items() if i not in new_rules),
        changed=tuple(changed), review_band=band, reordered=both_old != both_new,
        unchanged=sum(1 for i in both_new if old_rules[i] == new_rules[i]))


def previous_version(version: int) -> RuleSetVersion | None:
    """The version `version` is compared with: the latest published (or since retired) below
    it."""
    from casefile.trust.models import RuleSetVersion

    return (RuleSetVersion.objects.filter(version__lt=version,
                                          status__in=("published", "retired"))
            .order_by("-version").first())


def version_diff(version: int) -> RulesDiff:
    """A read: version `version` against the one before it (404 for an unknown version; the
    first version: every rule added)."""
    from casefile.trust.moderation import rule_set_get

    row = rule_set_get(version)
    before = previous_version(version)
    return diff(before.rules if before else None, row.rules)
