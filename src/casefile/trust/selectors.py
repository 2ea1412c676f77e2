"""Reads of trust profiles, risk history, verification cases and the three queues."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, QuerySet

from casefile.core.errors import NotFound, ValidationFailed
from casefile.core.timeutil import now
from casefile.platform.models import PlatformUser
from casefile.trust import policy
from casefile.trust.models import (
    RiskScoreChange,
    TrustProfile,
    VerificationCase,
    VerificationStateChange,
)
from casefile.trust.policy import BgStatus, HoldType, IdvStatus


def profile_read(user_id: str) -> TrustProfile:
    """A user's profile in one query (the user joined to their profile). A user the platform
    has told Casefile about but who has no profile yet reads as the defaults, with their flags
    derived — nothing is written by a read. 404 for an unknown user."""
    user = PlatformUser.objects.select_related("trust_profile").filter(pk=user_id).first()
    if user is None:
        raise NotFound(f"no platform user {user_id}")
    try:
        return user.trust_profile
    except TrustProfile.DoesNotExist:
        moment = now()
        profile = TrustProfile(user_id=user_id, created_at=moment, updated_at=moment)
        for flag, (eligible, reasons) in policy.evaluate(profile).items():
            setattr(profile, flag, eligible)
            setattr(profile, policy.reasons_field(flag), reasons)
        return profile


def risk_history(user_id: str) -> QuerySet[RiskScoreChange]:
    return RiskScoreChange.objects.filter(profile_id=user_id).order_by("-at", "-id")


@dataclass(frozen=True)
class VerificationFilter:
    user_id: str | None = None
    state: list[str] | None = None
    type: list[str] | None = None


def verification_cases(f: VerificationFilter | None = None) -> QuerySet[VerificationCase]:
    query = VerificationCase.objects.all()
    if f is None:
        return query
    if f.user_id:
        query = query.filter(user_id=f.user_id)
    if f.state:
        query = query.filter(state__in=f.state)
    if f.type:
        query = query.filter(type__in=f.type)
    return query


def verification_case_get(case_id: str) -> VerificationCase:
    found = VerificationCase.objects.filter(pk=case_id).first()
    if found is None:
        raise NotFound(f"no verification case {case_id}")
    return found


def verification_case_by_session(vendor: str, session_id: str) -> VerificationCase | None:
    """The case a vendor's session belongs to, if it has been opened (webhooks)."""
    return VerificationCase.objects.filter(vendor=vendor.lower(),
                                           vendor_session_id=session_id).first()


def verification_timeline(case: VerificationCase) -> QuerySet[VerificationStateChange]:
    return case.changes.order_by("at", "id")


# Each queue in its working order (all one direction; the last key unique), also its keyset.
IDV_WORK = (IdvStatus.PENDING, IdvStatus.FAILED, IdvStatus.EXPIRED)
QUEUES: dict[str, tuple[list[str], bool]] = {
    # Users whose identity verification needs work: waiting longest first.
    "idv": (["updated_at", "user_id"], False),
    # Background clear: Trusted Pro targeting, most recently cleared first.
    "trusted_pro": (["updated_at", "user_id"], True),
    # Finance holds: risk at or over the threshold, or a risk hold; riskiest first.
    "finance": (["risk_score", "user_id"], True),
}


def queue(name: str, *, idv_status: list[str] | None = None) -> QuerySet[TrustProfile]:
    if name not in QUEUES:
        raise ValidationFailed(f"queue must be one of {', '.join(QUEUES)}")
    profiles = TrustProfile.objects.select_related("user")
    if name == "idv":
        wanted = idv_status or list(IDV_WORK)
        return profiles.filter(idv_status__in=wanted)
    if name == "trusted_pro":
        return profiles.filter(bg_status=BgStatus.CLEAR)
    return profiles.filter(Q(risk_score__gte=policy.finance_risk_threshold())
                           | Q(hold_type=HoldType.RISK))
