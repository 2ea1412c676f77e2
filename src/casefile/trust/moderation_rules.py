"""Moderation rules as data (DESIGN 9.4, issue 12 item 2): a versioned rule set read from JSON,
the conditions it may use, what a matching rule decides, and a replay of a draft over recent items.

Read this file to know why an item was allowed, blurred, blocked or removed; nothing else decides.

This layer is pure: a rule set, an item and the hash lists in, a `Decision` out. No database, no
network, no settings, no clock (an item carries its own time), so the same input always gives the
same output and a draft can be replayed over old items exactly as it would have decided them.
The caller stores the rule set versions, loads the hash lists, records the decision in the ledger
and sends enforcement through the outbox.

JSON shape, one rule:

    {"id": "csam-pdq", "description": "known CSAM by perceptual hash",
     "condition": {"all": [{"kind": "media"}, {"pdq_list": "known_csam", "max_distance": 31}]},
     "outcome": {"decision": "remove", "needs_review": true, "reason": "matches known CSAM",
                 "policy": "child_safety", "strike": true, "open_report": true}}

A condition is an object told apart by its key: `all`, `any`, `not` (combinators); `signal` (a
classifier score); `kind`; `sha256_list`, `md5_list`, `pdq_list` (hash lists); `new_account_days`,
`unverified`, `risk_score_gte`, `adult_attested` (trust-profile fields).
"""

from __future__ import annotations

import json
import math
import re
import weakref
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)

from casefile.core.errors import ValidationFailed
from casefile.trust.pdq_index import PdqIndex
from casefile.trust.strikes_policy import POLICIES

DecisionName = Literal["allow", "blur", "block", "remove"]
DECISIONS: tuple[str, ...] = get_args(DecisionName)
# Strictest wins: a higher rank overrides a lower one. The one precedence table.
RANK: dict[str, int] = {"allow": 0, "blur": 1, "block": 2, "remove": 3}
ItemKind = Literal["media", "message"]
ITEM_KINDS: frozenset[str] = frozenset(get_args(ItemKind))

# PDQ is 256 bits (64 hex digits). Meta's ThreatExchange/HMA treat distance <= 31 as a match.
PDQ_BITS = 256
PDQ_DEFAULT_MAX_DISTANCE = 31
_HEX_DIGITS = {"sha256": 64, "md5": 32, "pdq": PDQ_BITS // 4}
_HEX = {name: re.compile(f"[0-9a-f]{{{n}}}") for name, n in _HEX_DIGITS.items()}

# Names are short identifiers so they read well in ledger entries and console URLs.
_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"
ListName = Annotated[str, Field(pattern=_NAME)]


def _known_policy(name: str) -> str:
    if name not in POLICIES:
        raise ValueError(f"unknown policy {name!r}; one of {', '.join(POLICIES)}")
    return name


PolicyName = Annotated[str, AfterValidator(_known_policy)]


# --- items and hash lists ------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """What a decision is made about, as the platform sends it (already checked at the edge).

    `signals` is label → score in [0, 1] (take the strongest per label when several models
    report one: `strongest_scores`). Hashes are lowercase hex. `profile` is the subject user's
    trust-profile fields (`TrustProfile` columns by name); a missing field is unknown. `at` is
    when the item was posted: account age is measured from it, not from the clock, so a replay
    over last week's items asks "was the account new then", as the live decision did.
    """

    id: str
    kind: ItemKind
    signals: Mapping[str, float] = field(default_factory=dict)
    sha256: str | None = None
    md5: str | None = None
    pdq: str | None = None
    profile: Mapping[str, Any] = field(default_factory=dict)
    at: datetime | None = None

    def __post_init__(self) -> None:
        # Refused here, once, so that evaluation itself never has to raise on a malformed item.
        if self.kind not in ITEM_KINDS:
            raise ValueError(f"kind must be one of {sorted(ITEM_KINDS)}, not {self.kind!r}")
        for name, pattern in _HEX.items():
            value = getattr(self, name)
            if value is not None:
                value = value.lower()
                if not pattern.fullmatch(value):
                    raise ValueError(f"{name} must be {_HEX_DIGITS[name]} hex digits")
                object.__setattr__(self, name, value)
        for label, score in self.signals.items():
            if not isinstance(score, int | float) or not math.isfinite(score):
                raise ValueError(f"signal {label!r} score must be a finite number")


def strongest_scores(signals: Iterable[Mapping[str, Any]]) -> dict[str, float]:
    """DESIGN 9.4 signals (`[{source, label, score, model}]`) → label → the highest score: two
    models disagreeing about nudity should not let the weaker one hide the stronger."""
    out: dict[str, float] = {}
    for signal in signals:
        label, score = str(signal["label"]), float(signal["score"])
        out[label] = max(score, out.get(label, score))
    return out


class HashLists:
    """Named hash lists, passed in by the caller (loaded from wherever they are kept).

    Exact lists (SHA-256, MD5) are sets of lowercase hex. A list used for PDQ is read as 256-bit
    integers once, on first use, into a `pdq_index.PdqIndex`, so a query compares itself with
    the few hashes that share a piece with it rather than with every hash. Entries that are not
    64 hex digits are skipped for PDQ (lists are validated where they are loaded; evaluation
    must not fail on one bad row).
    """

    def __init__(self, lists: Mapping[str, Iterable[str]] | None = None):
        self._exact: dict[str, frozenset[str]] = {
            name: frozenset(h.strip().lower() for h in hashes) for name, hashes in
            (lists or {}).items()}
        self._pdq: dict[str, PdqIndex] = {}

    def contains(self, name: str, digest: str | None) -> bool:
        return digest is not None and digest in self._exact.get(name, frozenset())

    def pdq_within(self, name: str, pdq: str | None, max_distance: int) -> bool:
        if pdq is None:
            return False
        index = self._pdq.get(name)
        if index is None:
            index = self._pdq[name] = PdqIndex(int(h, 16) for h in self._exact.get(name, ())
                                               if _HEX["pdq"].fullmatch(h))
        return index.any_within(int(pdq, 16), max_distance)


def hamming(a: str, b: str) -> int:
    """Bits that differ between two hex hashes of the same length."""
    return (int(a, 16) ^ int(b, 16)).bit_count()


# --- conditions ----------------------------------------------------------------------------------


class _Model(BaseModel):
    # Plain pydantic, not `core.schemas.Schema`: that base comes from django-ninja (needs Django
    # settings to import, so this module would no longer be pure) and validates every nested
    # model twice, which doubles per level of `all`/`any`/`not` nesting. Same policy otherwise:
    # unknown keys are refused, never dropped, so a misspelt key cannot silently widen a rule.
    model_config = ConfigDict(extra="forbid", frozen=True, validate_by_name=True,
                              validate_by_alias=True, serialize_by_alias=True)


class _Condition(_Model):
    def matches(self, item: Item, lists: HashLists) -> bool:
        raise NotImplementedError


class AllOf(_Condition):
    """`{"all": [c, …]}`: every condition holds."""

    all_: tuple[Condition, ...] = Field(alias="all", min_length=1)

    def matches(self, item: Item, lists: HashLists) -> bool:
        return all(c.matches(item, lists) for c in self.all_)


class AnyOf(_Condition):
    """`{"any": [c, …]}`: at least one condition holds."""

    any_: tuple[Condition, ...] = Field(alias="any", min_length=1)

    def matches(self, item: Item, lists: HashLists) -> bool:
        return any(c.matches(item, lists) for c in self.any_)


class Not(_Condition):
    """`{"not": c}`: the condition does not hold."""

    not_: Condition = Field(alias="not")

    def matches(self, item: Item, lists: HashLists) -> bool:
        return not self.not_.matches(item, lists)


Score = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]


class SignalScore(_Condition):
    """`{"signal": "nudity", "gte": 0.8}`: a classifier label's score compared with a number;
    exactly one of `gte`, `gt`, `lte`, `lt`. A label the item does not carry never matches (the
    classifier did not run or said nothing: that is not a score of 0)."""

    signal: str = Field(pattern=_NAME)
    gte: Score | None = None
    gt: Score | None = None
    lte: Score | None = None
    lt: Score | None = None

    @model_validator(mode="after")
    def _one_comparison(self) -> SignalScore:
        given = [op for op in ("gte", "gt", "lte", "lt") if getattr(self, op) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of gte, gt, lte, lt (got {given or 'none'})")
        return self

    def matches(self, item: Item, lists: HashLists) -> bool:
        score = item.signals.get(self.signal)
        if score is None:
            return False
        if self.gte is not None:
            return score >= self.gte
        if self.gt is not None:
            return score > self.gt
        if self.lte is not None:
            return score <= self.lte
        return self.lt is not None and score < self.lt


class KindIs(_Condition):
    """`{"kind": "media"}`: the item is a media item (or a message)."""

    kind: ItemKind

    def matches(self, item: Item, lists: HashLists) -> bool:
        return item.kind == self.kind


class Sha256In(_Condition):
    """`{"sha256_list": "name"}`: the item's SHA-256 is in the list (exact)."""

    sha256_list: ListName

    def matches(self, item: Item, lists: HashLists) -> bool:
        return lists.contains(self.sha256_list, item.sha256)


class Md5In(_Condition):
    """`{"md5_list": "name"}`: the item's MD5 is in the list (exact; MD5 because industry lists
    such as NCMEC's are still shared that way, not because it resists collisions)."""

    md5_list: ListName

    def matches(self, item: Item, lists: HashLists) -> bool:
        return lists.contains(self.md5_list, item.md5)


class PdqNear(_Condition):
    """`{"pdq_list": "known_csam", "max_distance": 31}`: the item's PDQ hash is within
    `max_distance` differing bits (inclusive) of a hash in the list: a re-encoded, resized or
    lightly edited copy of a known image still matches, as in Meta's HMA."""

    pdq_list: ListName
    max_distance: int = Field(PDQ_DEFAULT_MAX_DISTANCE, ge=0, le=PDQ_BITS)

    def matches(self, item: Item, lists: HashLists) -> bool:
        return lists.pdq_within(self.pdq_list, item.pdq, self.max_distance)


class NewAccount(_Condition):
    """`{"new_account_days": 7}`: the subject's profile was created less than N days before the
    item. Unknown when the profile's `created_at` or the item's time is missing: no match."""

    new_account_days: int = Field(gt=0, le=36500)

    def matches(self, item: Item, lists: HashLists) -> bool:
        created = _as_datetime(item.profile.get("created_at"))
        if created is None or item.at is None or item.at.tzinfo is None:
            return False
        return item.at - created < timedelta(days=self.new_account_days)


class Unverified(_Condition):
    """`{"unverified": true}`: identity verification has not passed (`idv_status != passed`,
    which includes no profile at all); `false` asks for a verified user."""

    unverified: bool

    def matches(self, item: Item, lists: HashLists) -> bool:
        return (item.profile.get("idv_status") != "passed") == self.unverified


class RiskAtLeast(_Condition):
    """`{"risk_score_gte": 70}`: the profile's risk score (0–100) is at or above N."""

    risk_score_gte: int = Field(ge=0, le=100)

    def matches(self, item: Item, lists: HashLists) -> bool:
        score = item.profile.get("risk_score")
        return isinstance(score, int | float) and score >= self.risk_score_gte


class AdultAttested(_Condition):
    """`{"adult_attested": true}`: the user has attested being 18 or over (`false`: has not,
    including an unknown profile)."""

    adult_attested: bool

    def matches(self, item: Item, lists: HashLists) -> bool:
        return bool(item.profile.get("is_18plus_attested", False)) == self.adult_attested


def _as_datetime(value: Any) -> datetime | None:
    # The profile mapping may come from a model (datetime) or from JSON (ISO text).
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value
    return None


# The key that tells each condition apart → its class. Order matters only for an object with two
# such keys: the first one picks the class, and the other key is then refused as unknown.
CONDITION_KEYS: dict[str, type[_Condition]] = {
    "all": AllOf, "any": AnyOf, "not": Not, "signal": SignalScore, "kind": KindIs,
    "sha256_list": Sha256In, "md5_list": Md5In, "pdq_list": PdqNear,
    "new_account_days": NewAccount, "unverified": Unverified, "risk_score_gte": RiskAtLeast,
    "adult_attested": AdultAttested,
}
_KEY_OF = {cls: key for key, cls in CONDITION_KEYS.items()}


def _condition_key(value: Any) -> str | None:
    if isinstance(value, _Condition):
        return f"<{_KEY_OF[type(value)]}>"
    if isinstance(value, Mapping):
        return next((f"<{key}>" for key in CONDITION_KEYS if key in value), None)
    return None


# Tags are written `<key>` so they can be told apart from field names and dropped from error
# paths (pydantic puts the union tag in the location).
Condition = Annotated[
    Annotated[AllOf, Tag("<all>")] | Annotated[AnyOf, Tag("<any>")] | Annotated[Not, Tag("<not>")]
    | Annotated[SignalScore, Tag("<signal>")] | Annotated[KindIs, Tag("<kind>")]
    | Annotated[Sha256In, Tag("<sha256_list>")] | Annotated[Md5In, Tag("<md5_list>")]
    | Annotated[PdqNear, Tag("<pdq_list>")] | Annotated[NewAccount, Tag("<new_account_days>")]
    | Annotated[Unverified, Tag("<unverified>")] | Annotated[RiskAtLeast, Tag("<risk_score_gte>")]
    | Annotated[AdultAttested, Tag("<adult_attested>")],
    Discriminator(_condition_key, custom_error_type="unknown_condition",
                  custom_error_message="a condition is an object with one of the keys "
                  + ", ".join(CONDITION_KEYS)),
]


# --- rules ---------------------------------------------------------------------------------------


class Outcome(_Model):
    """What a matching rule decides. `needs_review` sends the item to the moderator queue
    (the decision still applies until a person overrides it). `policy` names the content policy
    the item breaks (`strikes_policy.POLICIES`): the category of its statement of reasons, and
    of the strike (`strike`: one under the policy's weight) and the report case (`open_report`:
    opened, or joined, against the item's user) the rule asks for."""

    decision: DecisionName
    safe_mode_required: bool = False
    needs_review: bool = False
    reason: str = Field(min_length=1, max_length=500)
    policy: PolicyName | None = None
    strike: bool = False
    open_report: bool = False

    @model_validator(mode="after")
    def _policy_named(self) -> Outcome:
        if (self.strike or self.open_report) and self.policy is None:
            raise ValueError("a strike or a report needs the policy the item breaks")
        return self


class Rule(_Model):
    id: str = Field(pattern=_NAME)
    description: str = Field(min_length=1, max_length=1000)
    condition: Condition
    outcome: Outcome


class ReviewBand(_Model):
    """Scores in [low, high) are low confidence: the model is unsure, so a person looks."""

    low: Score
    high: Score

    @model_validator(mode="after")
    def _ordered(self) -> ReviewBand:
        if not self.low < self.high:
            raise ValueError("low must be below high")
        return self


class RuleSet(_Model):
    """One version of the rules. `version` only grows (the caller enforces that on publish)."""

    version: int = Field(ge=1, le=2**31 - 1)
    rules: tuple[Rule, ...] = Field(default=(), max_length=5000)
    review_band: ReviewBand | None = None

    @field_validator("rules")
    @classmethod
    def _unique_ids(cls, rules: tuple[Rule, ...]) -> tuple[Rule, ...]:
        seen: dict[str, int] = {}
        for index, rule in enumerate(rules):
            if rule.id in seen:
                raise ValueError(f"rule id {rule.id!r} at rules[{index}] repeats "
                                 f"rules[{seen[rule.id]}]")
            seen[rule.id] = index
        return rules

    def referenced_lists(self) -> set[str]:
        """The hash list names the rules use: for checking, before publishing, that each exists."""
        return set(_plan_of(self).lists)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


for _model in (AllOf, AnyOf, Not, Rule, RuleSet):
    _model.model_rebuild()


class RuleSetInvalid(ValidationFailed):
    """The rule set is not valid. `errors` lists each problem with its JSON path (`$.rules[2]
    .condition.all[0].gte`), so an editor can point at it."""

    code = "rule_set_invalid"

    def __init__(self, errors: list[dict[str, str]]):
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        super().__init__(f"rule set invalid at {first['path']}: {first['reason']}{more}",
                         details={"errors": errors})
        self.errors = errors


def json_path(loc: Iterable[int | str]) -> str:
    """A pydantic error location as a JSON path, union tags dropped: `$.rules[0].condition`."""
    path = "$"
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif not part.startswith("<"):
            path += f".{part}"
    return path


def parse_rule_set(data: str | bytes | Mapping[str, Any]) -> RuleSet:
    """A rule set from JSON text or decoded JSON. Raises RuleSetInvalid and nothing else."""
    try:
        if isinstance(data, str | bytes):
            return RuleSet.model_validate_json(data)
        return RuleSet.model_validate(data)
    except ValidationError as exc:
        errors = [{"path": json_path(e["loc"]), "reason": e["msg"], "type": e["type"]}
                  for e in exc.errors(include_url=False)]
        # pydantic drops an invalid child before counting a list's length, so `{"all": [bad]}`
        # also reports "too short": noise that points away from the real problem below it.
        paths = [e["path"] for e in errors]
        raise RuleSetInvalid([
            {"path": e["path"], "reason": e["reason"]} for e in errors
            if not (e["type"] == "too_short"
                    and any(p.startswith(e["path"] + "[") for p in paths))]) from None
    except (TypeError, json.JSONDecodeError) as exc:  # not JSON at all
        raise RuleSetInvalid([{"path": "$", "reason": str(exc)}]) from None


# --- evaluation ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hit:
    """One rule that matched: what the seed's `ruleHits[]` holds."""

    rule_id: str
    version: int
    decision: DecisionName
    reason: str
    safe_mode_required: bool
    needs_review: bool
    policy: str | None = None
    strike: bool = False
    open_report: bool = False

    @classmethod
    def of(cls, rule: Rule, version: int) -> Hit:
        o = rule.outcome
        return cls(rule.id, version, o.decision, o.reason, o.safe_mode_required, o.needs_review,
                   o.policy, o.strike, o.open_report)

    def to_dict(self) -> dict[str, Any]:
        return {"rule_id": self.rule_id, "version": self.version, "decision": self.decision,
                "reason": self.reason, "safe_mode_required": self.safe_mode_required,
                "needs_review": self.needs_review, "policy": self.policy,
                "strike": self.strike, "open_report": self.open_report}

    def same_outcome(self) -> tuple[Any, ...]:
        # A hit compared across versions: the same rule deciding the same thing.
        return (self.rule_id, self.decision, self.reason, self.safe_mode_required,
                self.needs_review, self.policy, self.strike, self.open_report)


@dataclass(frozen=True)
class Decision:
    """The final decision (`finalDecision`, `safeModeRequired`), whether a person should look,
    and every hit in rule order. `low_confidence` says the review comes (also) from the
    strongest signal being in the review band."""

    decision: DecisionName
    safe_mode_required: bool
    needs_review: bool
    hits: tuple[Hit, ...]
    low_confidence: bool = False

    @property
    def strikes(self) -> tuple[str, ...]:
        """The policies the hits ask a strike under, once each, in hit order."""
        return tuple(dict.fromkeys(h.policy for h in self.hits if h.strike and h.policy))

    @property
    def reports(self) -> tuple[str, ...]:
        """The policies the hits ask a report case under, once each, in hit order."""
        return tuple(dict.fromkeys(h.policy for h in self.hits if h.open_report and h.policy))

    def to_dict(self) -> dict[str, Any]:
        return {"final_decision": self.decision, "safe_mode_required": self.safe_mode_required,
                "needs_review": self.needs_review, "low_confidence": self.low_confidence,
                "rule_hits": [h.to_dict() for h in self.hits]}


# A rule set is decided many times (every item, every replayed item), so its conditions are
# turned once into plain closures: walking the pydantic models costs an attribute lookup through
# pydantic and a method dispatch per node per item, several times what the comparisons cost with
# 200 rules. A closure does what the condition's `matches` does, in the same order (so the same
# short-circuits); a condition of a class not listed here (a subclass) keeps its `matches`.
Check = Callable[[Item, "HashLists"], bool]


def _compiled(c: _Condition) -> Check:
    if type(c) is AllOf or type(c) is AnyOf:
        is_all = isinstance(c, AllOf)
        children = tuple(_compiled(x) for x in (c.all_ if isinstance(c, AllOf) else c.any_))
        if len(children) == 1:
            return children[0]
        if is_all:
            def all_of(item: Item, lists: HashLists) -> bool:
                for child in children:
                    if not child(item, lists):
                        return False
                return True
            return all_of

        def any_of(item: Item, lists: HashLists) -> bool:
            for child in children:
                if child(item, lists):
                    return True
            return False
        return any_of
    if type(c) is Not:
        inner = _compiled(c.not_)
        return lambda item, lists: not inner(item, lists)
    if type(c) is SignalScore:
        return _signal_check(c)
    if type(c) is KindIs:
        wanted = c.kind
        return lambda item, lists: item.kind == wanted
    if type(c) is Sha256In:
        sha256_list = c.sha256_list
        return lambda item, lists: lists.contains(sha256_list, item.sha256)
    if type(c) is Md5In:
        md5_list = c.md5_list
        return lambda item, lists: lists.contains(md5_list, item.md5)
    if type(c) is PdqNear:
        pdq_list, distance = c.pdq_list, c.max_distance
        return lambda item, lists: lists.pdq_within(pdq_list, item.pdq, distance)
    if type(c) is Unverified:
        unverified = c.unverified
        return lambda item, lists: (item.profile.get("idv_status") != "passed") == unverified
    if type(c) is RiskAtLeast:
        floor = c.risk_score_gte

        def risk(item: Item, lists: HashLists) -> bool:
            score = item.profile.get("risk_score")
            return isinstance(score, int | float) and score >= floor
        return risk
    return c.matches  # NewAccount, AdultAttested (cheap or rare), and any subclass


def _signal_check(c: SignalScore) -> Check:
    label = c.signal
    if c.gte is not None:
        gte = c.gte
        return lambda item, lists: (s := item.signals.get(label)) is not None and s >= gte
    if c.gt is not None:
        gt = c.gt
        return lambda item, lists: (s := item.signals.get(label)) is not None and s > gt
    if c.lte is not None:
        lte = c.lte
        return lambda item, lists: (s := item.signals.get(label)) is not None and s <= lte
    lt = c.lt
    if lt is None:
        return lambda item, lists: False
    return lambda item, lists: (s := item.signals.get(label)) is not None and s < lt


@dataclass(frozen=True)
class _Plan:
    rules: tuple[tuple[Rule, Check], ...]
    lists: frozenset[str]
    owner: weakref.ref[RuleSet]


# id(rule set) → its plan. A rule set is frozen, so its plan never goes stale; `owner` tells a
# reused id from the same object, and an entry goes when its rule set does.
_plans: dict[int, _Plan] = {}


def _plan_of(rule_set: RuleSet) -> _Plan:
    key = id(rule_set)
    plan = _plans.get(key)
    if plan is not None and plan.owner() is rule_set:
        return plan
    names: set[str] = set()

    def walk(c: _Condition) -> None:
        if isinstance(c, AllOf | AnyOf):
            for child in (c.all_ if isinstance(c, AllOf) else c.any_):
                walk(child)
        elif isinstance(c, Not):
            walk(c.not_)
        elif isinstance(c, Sha256In | Md5In | PdqNear):
            names.add(c.sha256_list if isinstance(c, Sha256In) else
                      c.md5_list if isinstance(c, Md5In) else c.pdq_list)

    for rule in rule_set.rules:
        walk(rule.condition)
    plan = _Plan(tuple((rule, _compiled(rule.condition)) for rule in rule_set.rules),
                 frozenset(names), weakref.ref(rule_set, lambda _: _plans.pop(key, None)))
    _plans[key] = plan
    return plan


def _lists(lists: HashLists | Mapping[str, Iterable[str]] | None) -> HashLists:
    return lists if isinstance(lists, HashLists) else HashLists(lists)


def evaluate(rule_set: RuleSet, item: Item,
             lists: HashLists | Mapping[str, Iterable[str]] | None = None) -> Decision:
    """Every rule is tried, in order, so the hits say everything that matched (a moderator and a
    statement of reasons need all of them, not just the strongest). No hit → allow."""
    hash_lists = _lists(lists)
    hits = tuple(Hit.of(rule, rule_set.version)
                 for rule, holds in _plan_of(rule_set).rules if holds(item, hash_lists))
    final: DecisionName = "allow"
    for hit in hits:
        if RANK[hit.decision] > RANK[final]:
            final = hit.decision
    low_confidence = False
    band = rule_set.review_band
    if band is not None and item.signals:
        strongest = max(item.signals.values())
        low_confidence = band.low <= strongest < band.high
    return Decision(final, any(h.safe_mode_required for h in hits),
                    low_confidence or any(h.needs_review for h in hits), hits, low_confidence)


# --- replay --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """One item the draft would decide differently: `added` hits only the draft makes, `removed`
    hits only the published version made — between them, why it changed."""

    item_id: str
    before: Decision
    after: Decision
    added: tuple[Hit, ...]
    removed: tuple[Hit, ...]


@dataclass(frozen=True)
class ReplayReport:
    """`counts` covers every item replayed, (before, after) final decision → items, unchanged
    pairs included, so the console can show "412 allow → allow, 3 allow → block"."""

    draft_version: int
    published_version: int | None
    items: int
    changes: tuple[Change, ...]
    counts: dict[tuple[str, str], int]

    def changed_counts(self) -> dict[tuple[str, str], int]:
        return {pair: n for pair, n in self.counts.items() if pair[0] != pair[1]}

    def to_dict(self) -> dict[str, Any]:
        return {"draft_version": self.draft_version, "published_version": self.published_version,
                "items": self.items,
                "counts": [{"before": b, "after": a, "items": n}
                           for (b, a), n in sorted(self.counts.items())],
                "changes": [{"item_id": c.item_id, "before": c.before.to_dict(),
                             "after": c.after.to_dict(),
                             "added": [h.to_dict() for h in c.added],
                             "removed": [h.to_dict() for h in c.removed]}
                            for c in self.changes]}


def replay(draft: RuleSet, published: RuleSet | None, items: Iterable[Item],
           lists: HashLists | Mapping[str, Iterable[str]] | None = None) -> ReplayReport:
    """Decide each item (the last N, chosen by the caller) under both versions. `published` is
    None before any version is published: everything was allowed then. A change is any
    difference in final decision, safe mode, review, strikes or reports, listed in the items'
    order."""
    hash_lists = _lists(lists)
    before_set = published or RuleSet(version=1)
    counts: Counter[tuple[str, str]] = Counter()
    changes: list[Change] = []
    total = 0
    for item in items:
        total += 1
        before = evaluate(before_set, item, hash_lists)
        after = evaluate(draft, item, hash_lists)
        counts[(before.decision, after.decision)] += 1
        if (before.decision, before.safe_mode_required, before.needs_review, before.strikes,
                before.reports) != (after.decision, after.safe_mode_required,
                                    after.needs_review, after.strikes, after.reports):
            old = {h.same_outcome() for h in before.hits}
            new = {h.same_outcome() for h in after.hits}
            changes.append(Change(
                item.id, before, after,
                tuple(h for h in after.hits if h.same_outcome() not in old),
                tuple(h for h in before.hits if h.same_outcome() not in new)))
    return ReplayReport(draft.version, published.version if published else None, total,
                        tuple(changes), dict(counts))
