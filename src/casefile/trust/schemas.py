"""Every input about trust, declared once: the API parses bodies and query strings with these and
the console validates its forms with the same classes (`core.validation`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from casefile.core.schemas import (
    Bounded,
    Column,
    IdOf,
    LongText,
    PlatformUserId,
    ReasonCode,
    Schema,
)
from casefile.trust.models import RiskScoreChange, VerificationCase
from casefile.trust.policy import (
    BgStatus,
    IdvStatus,
    SafeMode,
    VerificationState,
    VerificationType,
)

VerificationId = Annotated[str, IdOf("vrf")]
EvidenceId = Annotated[str, IdOf("evb")]
Vendor = Annotated[str, Column(VerificationCase, "vendor", min_length=1)]
SessionId = Annotated[str, Column(VerificationCase, "vendor_session_id", min_length=1)]
Count = Annotated[int, Field(ge=0, le=1_000_000)]
Score = Annotated[int, Field(ge=0, le=100)]
QueueName = Literal["idv", "trusted_pro", "finance"]


class Reasoned(Schema):
    reason_code: ReasonCode


class ProfilePatch(Reasoned):
    """The profile's inputs (`trust.policy.INPUTS`); only those given change, none may be null.
    The eligibility flags are derived and cannot be given (422: unknown field)."""

    is_18plus_attested: bool | None = None
    idv_status: IdvStatus | None = None
    idv_vendor: Annotated[str, Bounded(40)] | None = None
    bg_status: BgStatus | None = None
    bg_vendor: Annotated[str, Bounded(40)] | None = None
    social_ig_verified: bool | None = None
    social_yt_verified: bool | None = None
    social_tt_verified: bool | None = None
    studio_verified: bool | None = None
    safe_mode_preference: SafeMode | None = None
    strikes_active_count: Count | None = None
    strike_points_active: Count | None = None
    adult_strike_active: bool | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> ProfilePatch:
        nulls = sorted(name for name in self.model_fields_set if getattr(self, name) is None)
        if nulls:
            raise ValueError(f"cannot be null: {', '.join(nulls)}")
        return self

    def changes(self) -> dict[str, Any]:
        out = self.model_dump(exclude_unset=True, exclude={"reason_code"})
        return {k: (v.value if hasattr(v, "value") else v) for k, v in out.items()}


class RiskIn(Reasoned):
    score: Score
    source: Annotated[str, Column(RiskScoreChange, "source")] = "staff"
    reason: Annotated[str, Column(RiskScoreChange, "reason")] = ""


class HoldIn(Reasoned):
    hold_type: Literal["new_acct", "risk"]


class VerificationOpenIn(Schema):
    user_id: PlatformUserId
    type: VerificationType
    vendor: Vendor | None = None
    vendor_session_id: SessionId | None = None
    reason_code: ReasonCode | None = None  # staff must give one; the platform's is its own


class TransitionIn(Reasoned):
    to: VerificationState
    decision: Annotated[str, Column(VerificationCase, "decision", min_length=1)] | None = None
    evidence_ids: Annotated[list[EvidenceId], Field(max_length=50)] | None = None


class AppealIn(Reasoned):
    note: Annotated[LongText, Field(min_length=1)]


class VerificationFilterIn(Schema):
    user_id: PlatformUserId | None = None
    state: list[VerificationState] | None = None
    type: list[VerificationType] | None = None
