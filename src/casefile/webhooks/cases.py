"""The one place the webhook app meets verification cases (the trust app): finding the case a
vendor session belongs to, the route the transition table allows to the state a vendor asks
for, and each audited move. Everything else here is independent of the trust app.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from casefile.audit.actor import Actor

if TYPE_CHECKING:
    from casefile.trust.models import VerificationCase

# A webhook never walks a case through `appealed`: an appeal is a person's act (a case of kind
# `appeal`), so a vendor reopening a decided case is logged `rejected` for staff to weigh.
NEVER_THROUGH = frozenset({"appealed"})
# The states that take a decision (the vendor's word: `approved`, `clear`, `declined`…).
DECIDED = frozenset({"passed", "failed"})


def case_for(vendor: str, session_id: str) -> VerificationCase | None:
    """The case that holds this vendor session, locked for the rest of the transaction (two
    deliveries for one case are applied one after the other), or None if no case has it yet."""
    from casefile.trust.models import VerificationCase

    return (VerificationCase.objects.select_for_update()
            .filter(vendor=vendor, vendor_session_id=session_id).first())


def route(case: VerificationCase, target: str) -> list[str] | None:
    """The states to move through, in order, to reach `target` (`[]`: already there), or None
    when the table allows no way there without a person (an appeal)."""
    from casefile.trust.policy import path_to

    steps = path_to(case.state, target)
    if steps is None or NEVER_THROUGH.intersection(str(s) for s in steps):
        return None
    return [str(s) for s in steps]


def move(*, actor: Actor, case: VerificationCase, to: str, decision: str | None,
         evidence_ids: list[str] | None, vendor_event_at: datetime | None) -> VerificationCase:
    """One audited step, by the trust app's own verb (raises Conflict if the table refuses)."""
    from casefile.trust.services import verification_case_transition

    return verification_case_transition(actor=actor, case=case, to=to, decision=decision,
                                        evidence_ids=evidence_ids, reason_code=None,
                                        vendor_event_at=vendor_event_at)


def platform_user_id(case: VerificationCase | None) -> str:
    return getattr(case, "user_id", "") or "" if case is not None else ""


def describe(case: Any) -> str:
    return f"{case.pk} ({case.state})"
