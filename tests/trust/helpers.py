"""Set-up for the trust tests, through the real services."""

from __future__ import annotations

import itertools

from casefile.accounts.roles import Role
from casefile.audit.actor import Actor
from casefile.platform import services as platform
from casefile.trust import services
from casefile.trust.models import VerificationCase
from tests.conftest import make_staff

SYNC = Actor.system("platform-sync")
WEBHOOK = Actor.system("webhook:persona")
_users = itertools.count(1)


def platform_user(user_id: str | None = None) -> str:
    user_id = user_id or f"usr_t{next(_users)}"
    platform.platform_user_upsert(actor=SYNC, user_id=user_id, email=f"{user_id}@tenant.test")
    return user_id


def analyst() -> Actor:
    return Actor.staff(make_staff(Role.ANALYST))


def profile(**inputs):
    """A user with a profile whose inputs are `inputs` (set by an analyst)."""
    user_id = platform_user()
    services.trust_profile_get_or_create(user_id=user_id)
    if inputs:
        services.trust_profile_update(actor=analyst(), user_id=user_id, changes=inputs,
                                      reason_code="INVESTIGATION")
    return services.trust_profile_get_or_create(user_id=user_id)


# A path from `created` to each state, through allowed transitions.
PATHS = {
    "created": [],
    "pending": ["pending"],
    "in_review": ["pending", "in_review"],
    "passed": ["pending", "in_review", "passed"],
    "failed": ["pending", "in_review", "failed"],
    "appealed": ["pending", "in_review", "failed", "appealed"],
    "expired": ["pending", "expired"],
    "canceled": ["canceled"],
}


def verification(type: str = "idv", state: str = "created", *, user_id: str | None = None,  # noqa: A002
                 actor: Actor | None = None, **open_kwargs) -> VerificationCase:
    user_id = user_id or platform_user()
    services.trust_profile_get_or_create(user_id=user_id)
    actor = actor or analyst()
    case = services.verification_case_open(actor=actor, user_id=user_id, type=type,
                                           reason_code="INVESTIGATION", **open_kwargs)
    return move(case, *PATHS[state], actor=actor)


def move(case: VerificationCase, *states: str, actor: Actor | None = None) -> VerificationCase:
    actor = actor or analyst()
    for state in states:
        if state == "appealed":
            case, _ = services.verification_case_appeal(actor=actor, case=case,
                                                        reason_code="CUSTOMER_REQUEST",
                                                        note="the user disputes it")
        else:
            case = services.verification_case_transition(actor=actor, case=case, to=state,
                                                         reason_code="INVESTIGATION")
    return case
