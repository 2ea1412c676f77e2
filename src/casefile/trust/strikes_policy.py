"""The content policies in one place (DESIGN 9.4; TD-596.3's StrikeLedger): what a strike under
each policy weighs, how long it counts, and which actions the user's active points bring; how
severe a report alleging it is; its category in a DSA statement of reasons.

Active points are the sum of the points of the user's strikes not yet decayed (`decay_at` in
the future); a reversing strike (an appeal that succeeded) has negative points and the decay of
the strike it reverses, so it cancels it exactly. The ladder is read against active points
across every policy (one account, one standing), each policy bringing its own strike weight.

The ladder follows the ROOST-style 1 / 3 / 9 points scale, with a step at 6 in between:

    1 point  → `listing_hide`   (the user's listings leave search and discovery)
    3 points → `pauses`         (bookings and new conversations are paused)
    6 points → `contact_block`  (the user can no longer contact other users)
    9 points → a suspension *request* (`platform.user_suspend`, waiting for a second person's
               approval: four-eyes; Casefile never suspends on points alone)

A minor policy (spam) weighs 1 point, a serious one 3, so one harassment strike pauses at
once; zero-tolerance policies (child safety, threats) skip the ladder and go straight to a
suspension request, whatever the points. Adult-content policies feed the profile's
`adult_strike_active` (which closes the NSFW toggle while one is active).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

DEFAULT_DECAY_DAYS = 90
SUSPENSION = "suspension_request"
# The restrictions the ladder applies, in order (the platform enforces them: outbox commands
# `user.restriction.apply` / `user.restriction.lift`).
RESTRICTIONS = ("listing_hide", "pauses", "contact_block")
ACTIONS = (*RESTRICTIONS, SUSPENSION)
APPLY_COMMAND = "user.restriction.apply"
LIFT_COMMAND = "user.restriction.lift"

# Active points → the action they bring (held while the points stay at or above).
LADDER: tuple[tuple[int, str], ...] = ((1, "listing_hide"), (3, "pauses"),
                                       (6, "contact_block"), (9, SUSPENSION))
assert tuple(a for _, a in LADDER) == ACTIONS


Severity = Literal["critical", "high", "medium", "low"]


@dataclass(frozen=True)
class StrikePolicy:
    """One content policy: what a strike under it weighs and how long it counts, how urgent a
    report alleging it is (`severity`: the report case's priority and SLA), and the EU DSA
    Transparency Database category a statement of reasons under it carries."""

    name: str
    points: int  # a strike's default weight
    severity: Severity
    dsa_category: str  # dsa.Category
    decay_days: int = DEFAULT_DECAY_DAYS
    adult_content: bool = False  # feeds `adult_strike_active`
    zero_tolerance: bool = False  # straight to a suspension request


# The policies are also the allegation categories of safety reports (DESIGN 9.4): one list.
POLICIES: dict[str, StrikePolicy] = {p.name: p for p in (
    StrikePolicy("spam", 1, "low", "STATEMENT_CATEGORY_OTHER_VIOLATION_TC", decay_days=30),
    StrikePolicy("impersonation", 2, "medium", "STATEMENT_CATEGORY_SCAMS_AND_FRAUD"),
    StrikePolicy("adult_content", 2, "medium", "STATEMENT_CATEGORY_OTHER_VIOLATION_TC",
                 adult_content=True),
    StrikePolicy("harassment", 3, "high", "STATEMENT_CATEGORY_CYBER_VIOLENCE"),
    StrikePolicy("scam", 3, "medium", "STATEMENT_CATEGORY_SCAMS_AND_FRAUD", decay_days=180),
    StrikePolicy("hate", 3, "high", "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH",
                 decay_days=180),
    StrikePolicy("threats", 9, "critical", "STATEMENT_CATEGORY_VIOLENCE", decay_days=365,
                 zero_tolerance=True),
    StrikePolicy("child_safety", 9, "critical", "STATEMENT_CATEGORY_PROTECTION_OF_MINORS",
                 decay_days=3650, zero_tolerance=True),
)}
MAX_POINTS = 100


def policy_named(name: str) -> StrikePolicy | None:
    return POLICIES.get(name)


def actions_for(points: int, *, zero_tolerance: bool = False) -> set[str]:
    """The actions that hold at `points` active points (a zero-tolerance strike active: all)."""
    if zero_tolerance:
        return set(ACTIONS)
    return {action for threshold, action in LADDER if points >= threshold}


def _check_categories() -> None:
    from casefile.trust.dsa import Category

    unknown = {p.name for p in POLICIES.values() if p.dsa_category not in get_args(Category)}
    assert not unknown, f"policies with no DSA category: {unknown}"


_check_categories()
