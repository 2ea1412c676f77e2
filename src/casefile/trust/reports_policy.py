"""Safety reports in one place (DESIGN 9.4): how urgent a report is, when a report joins an
open case, and what a resolution may say and set off.

The allegation categories are the content policies (`strikes_policy.POLICIES`): one list for
reports, strikes and statements of reasons. A policy's `severity` gives the report case's
priority, and the priority its SLA (`cases.policy.DEFAULT_SLA_HOURS[Kind.REPORT]`: 1 h, 4 h,
24 h, 72 h), so the SLA is the case's, set once, where every case's is.
"""

from __future__ import annotations

from datetime import timedelta

from casefile.trust.strikes_policy import POLICIES, Severity

SEVERITY_PRIORITY: dict[Severity, int] = {"critical": 1, "high": 2, "medium": 3, "low": 4}

# Reports of the same accused and category within this window of the open case's opening join
# that case (one piece of work, one SLA) instead of opening another.
JOIN_WINDOW = timedelta(hours=24)

OUTCOMES = ("no_violation", "warning", "content_removed", "strike", "suspension", "ban",
            "referred")
# Outcomes that issue a strike (under the report's category unless another policy is named).
STRIKING = frozenset({"strike", "suspension", "ban"})
# Outcomes that also ask for a suspension (four-eyes, `platform.user_suspend`); a ban has no
# end date, a suspension this many days unless the resolver says otherwise.
SUSPENDING = frozenset({"suspension", "ban"})
DEFAULT_SUSPENSION_DAYS = 30

# What a report may link to, as the platform names it: `moderation` is a Casefile item
# (`mod_…`), `media`/`message` the platform's own ids of moderated items (a `content_removed`
# resolution removes both kinds, when Casefile has decided them), the rest are references.
LINKED_KINDS = ("moderation", "media", "message", "listing", "order", "thread", "user")
MAX_LINKED_ITEMS = 50
MAX_TEXT = 10_000

HIDDEN = "hidden"  # what is shown for the accuser to roles without `trust.report_accuser`


def categories() -> list[str]:
    return sorted(POLICIES)


def priority_of(category: str) -> int:
    return SEVERITY_PRIORITY[POLICIES[category].severity]


assert {p.severity for p in POLICIES.values()} <= set(SEVERITY_PRIORITY), \
    "every severity a policy names needs a priority"
