"""Trust policy in one place (DESIGN 9.3): the value lists, the eligibility rules table, the
verification case transition table, and what a verification decision does to the profile.

Read this file to know why a user may or may not be paid, book instantly or turn on NSFW
content, and how a verification case may move; nothing else decides it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import models


class IdvStatus(models.TextChoices):
    NONE = "none"
    PENDING = "pending"
    PASSED = "passed"
    FAILED = "failed"
    EXPIRED = "expired"


class BgStatus(models.TextChoices):
    NONE = "none"
    PENDING = "pending"
    CLEAR = "clear"
    CONSIDER = "consider"
    FAILED = "failed"
    EXPIRED = "expired"


class SafeMode(models.TextChoices):
    DEFAULT_ON = "default_on"
    OFF = "off"


class HoldType(models.TextChoices):
    NONE = "none"
    NEW_ACCT = "new_acct"
    RISK = "risk"


# The columns staff and integrations may set (`trust_profile_update`). Statuses move with
# verification decisions, but may be set directly too (a status reported by the platform, a
# correction); the risk score and holds have their own verbs (history, audit of their own).
INPUTS = ("is_18plus_attested", "idv_status", "idv_vendor", "bg_status", "bg_vendor",
          "social_ig_verified", "social_yt_verified", "social_tt_verified", "studio_verified",
          "safe_mode_preference", "strikes_active_count", "strike_points_active",
          "adult_strike_active")
# Inputs with their own verbs: refused by `trust_profile_update`.
OWN_VERBS = {"risk_score": "trust_risk_score_set", "hold_type": "trust_hold_set / _clear"}

# --- eligibility: the rules table --------------------------------------------------------------


def finance_risk_threshold() -> int:
    return int(getattr(settings, "FINANCE_RISK_THRESHOLD", 70))


@dataclass(frozen=True)
class Rule:
    """One condition of a flag: `holds(profile)` is True when the condition is met; otherwise
    the flag is false and `reason` (a stable code) and `message` (for people) say why."""

    reason: str
    message: str | Callable[[Any], str]
    holds: Callable[[Any], bool]

    def explain(self, profile: Any) -> dict[str, str]:
        text = self.message(profile) if callable(self.message) else self.message
        return {"code": self.reason, "message": text}


_IDV_PASSED = Rule("idv_not_passed", lambda p: f"identity verification is {p.idv_status}, "
                   "not passed", lambda p: p.idv_status == IdvStatus.PASSED)
_ADULT = Rule("not_18plus_attested", "the user has not attested being 18 or over",
              lambda p: bool(p.is_18plus_attested))
_NO_HOLD = Rule("on_hold", lambda p: f"the account is on a {p.hold_type} hold",
                lambda p: p.hold_type == HoldType.NONE)

# Flag → its rules, all of which must hold. The one table the flags are derived from.
RULES: dict[str, tuple[Rule, ...]] = {
    "payouts_eligible": (
        _IDV_PASSED,
        _ADULT,
        _NO_HOLD,
        Rule("risk_at_or_above_threshold",
             lambda p: f"risk score {p.risk_score} is at or above the finance threshold "
                       f"{finance_risk_threshold()}",
             lambda p: p.risk_score < finance_risk_threshold()),
    ),
    "nsfw_toggle_eligible": (
        _ADULT,
        _IDV_PASSED,
        Rule("adult_content_strike", "the user has an active strike under an adult-content "
             "policy", lambda p: not p.adult_strike_active),
    ),
    "instant_book_eligible": (
        _IDV_PASSED,
        Rule("background_not_clear", lambda p: f"the background check is {p.bg_status}, not "
             "clear", lambda p: p.bg_status == BgStatus.CLEAR),
        Rule("active_strike_points", lambda p: f"the user has {p.strike_points_active} active "
             "strike points", lambda p: p.strike_points_active == 0),
        _NO_HOLD,
    ),
}
FLAGS = tuple(RULES)


def reasons_field(flag: str) -> str:
    """The column holding why `flag` is false: `payouts_eligible` → `payouts_reasons`."""
    return flag.removesuffix("_eligible") + "_reasons"


def evaluate(profile: Any) -> dict[str, tuple[bool, list[dict[str, str]]]]:
    """Each flag and the reasons it is false (empty when true), from the profile's inputs."""
    out = {}
    for flag, rules in RULES.items():
        failed = [rule.explain(profile) for rule in rules if not rule.holds(profile)]
        out[flag] = (not failed, failed)
    return out


# --- verification cases ------------------------------------------------------------------------


class VerificationType(models.TextChoices):
    IDV = "idv"
    BACKGROUND = "background"
    STUDIO = "studio"
    REFERENCE = "reference"


class VerificationState(models.TextChoices):
    CREATED = "created"
    PENDING = "pending"
    IN_REVIEW = "in_review"
    PASSED = "passed"
    FAILED = "failed"
    APPEALED = "appealed"
    EXPIRED = "expired"
    CANCELED = "canceled"


S = VerificationState
OPEN_STATES = frozenset({S.CREATED, S.PENDING, S.IN_REVIEW, S.APPEALED})
DECIDED_STATES = frozenset({S.PASSED, S.FAILED})

# created → pending → in_review → passed|failed; any open state → expired|canceled;
# passed|failed → appealed → in_review. Expired and canceled are final.
TRANSITIONS: dict[VerificationState, frozenset[VerificationState]] = {
    S.CREATED: frozenset({S.PENDING, S.EXPIRED, S.CANCELED}),
    S.PENDING: frozenset({S.IN_REVIEW, S.EXPIRED, S.CANCELED}),
    S.IN_REVIEW: frozenset({S.PASSED, S.FAILED, S.EXPIRED, S.CANCELED}),
    S.PASSED: frozenset({S.APPEALED}),
    S.FAILED: frozenset({S.APPEALED}),
    S.APPEALED: frozenset({S.IN_REVIEW, S.EXPIRED, S.CANCELED}),
    S.EXPIRED: frozenset(),
    S.CANCELED: frozenset(),
}
assert set(TRANSITIONS) == set(VerificationState)
assert OPEN_STATES == {s for s in S if S.EXPIRED in TRANSITIONS[s]}

_FORWARD = (S.CREATED, S.PENDING, S.IN_REVIEW)


def path_to(current: str, target: str) -> list[VerificationState] | None:
    """The moves that take a case from `current` to `target` along the table, shortest first,
    or None if it cannot get there: a vendor may report `approved` for a case still `pending`
    (the user finished and the vendor decided at once); its webhook then walks
    `in_review → passed`, each move its own audited step. `[]` when already there."""
    start, goal = S(current), S(target)
    if start == goal:
        return []
    frontier: list[list[VerificationState]] = [[start]]
    seen = {start}
    while frontier:
        route = frontier.pop(0)
        for nxt in sorted(TRANSITIONS[route[-1]], key=list(S).index):
            if nxt in seen:
                continue
            if nxt == goal:
                return route[1:] + [nxt]
            if nxt in _FORWARD or nxt == S.APPEALED:
                seen.add(nxt)
                frontier.append(route + [nxt])
    return None


# Decision words: the case's `decision` when it is decided (vendors may give their own word,
# e.g. Persona's `approved`/`declined`; the state is what moves the profile).
DECISIONS = ("passed", "failed")


def profile_changes_for(case_type: str, state: str, decision: str | None, *,
                        current: Any, prior: str = "") -> dict[str, Any]:
    """What a verification case reaching `state` sets on its user's profile (`current`), by
    type. `prior` is the profile's status when the case was opened.

    - idv → `idv_status`; background → `bg_status`:
      - an open state (created, pending, in review, appealed) → `pending`, unless the user is
        already verified (`passed` / `clear` / `consider`): a re-check in progress takes
        nothing away until it is decided;
      - passed → `passed` (background: `clear`, or `consider` when that was the vendor's word —
        a record was found and a person accepted it, which is not Trusted Pro material);
      - failed → `failed`;
      - expired → `expired`, canceled → the status before the case — each only while the
        profile still shows this case's `pending` (an abandoned re-check leaves a pass alone).
    - studio → `studio_verified`: true on passed, false on failed; nothing otherwise.
    - reference → nothing on the profile. A reference (who vouched for the user) has no flag or
      status of its own in the seed: its decision is kept on the case, and staff weigh it in
      their other decisions.
    """
    t, s = VerificationType(case_type), S(state)
    if t == VerificationType.STUDIO:
        return ({"studio_verified": s == S.PASSED} if s in DECIDED_STATES else {})
    if t == VerificationType.REFERENCE:
        return {}
    field = "idv_status" if t == VerificationType.IDV else "bg_status"
    now_status = getattr(current, field)
    verified = {"passed"} if t == VerificationType.IDV else {"clear", "consider"}
    if s in OPEN_STATES:
        status = None if now_status in verified else "pending"
    elif s == S.PASSED:
        status = ("passed" if t == VerificationType.IDV
                  else "consider" if (decision or "").lower() == "consider" else "clear")
    elif s == S.FAILED:
        status = "failed"
    elif now_status != "pending":
        status = None
    elif s == S.EXPIRED:
        status = "expired"
    else:  # canceled
        status = prior or "none"
    return {} if status is None or status == now_status else {field: status}


def vendor_field(case_type: str) -> str | None:
    """The profile column naming the vendor of this type's verification."""
    return {"idv": "idv_vendor", "background": "bg_vendor"}.get(case_type)
