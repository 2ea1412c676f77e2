"""Trust profiles and verification cases under /api/v1/trust (docs/trust.md)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Status

from casefile.accounts.access import require
from casefile.accounts.permissions import Perm
from casefile.core.pagination import keyset_page
from casefile.core.schemas import Limit, PlatformUserId, ReasonCode, Schema
from casefile.trust import policy, selectors, services
from casefile.trust.models import RiskScoreChange, TrustProfile, VerificationCase
from casefile.trust.schemas import (
    AppealIn,
    HoldIn,
    ProfilePatch,
    QueueName,
    RiskIn,
    TransitionIn,
    VerificationFilterIn,
    VerificationId,
    VerificationOpenIn,
)

router = Router(tags=["trust"])


class ReasonOut(Schema):
    code: str
    message: str


class FlagOut(Schema):
    eligible: bool
    reasons: list[ReasonOut]  # why it is false; empty when true


class ProfileOut(Schema):
    user_id: str
    is_18plus_attested: bool
    idv_status: str
    idv_vendor: str
    bg_status: str
    bg_vendor: str
    social_verified: dict[str, bool]
    studio_verified: bool
    safe_mode_preference: str
    risk_score: int
    strikes_active_count: int
    strike_points_active: int
    adult_strike_active: bool
    hold_type: str
    hold_since: datetime | None
    instant_book_eligible: FlagOut
    nsfw_toggle_eligible: FlagOut
    payouts_eligible: FlagOut
    updated_at: datetime

    @staticmethod
    def of(p: TrustProfile) -> ProfileOut:
        flags = {flag: FlagOut(eligible=getattr(p, flag),
                               reasons=getattr(p, policy.reasons_field(flag)))
                 for flag in policy.FLAGS}
        return ProfileOut(
            user_id=p.user_id, is_18plus_attested=p.is_18plus_attested,
            idv_status=p.idv_status, idv_vendor=p.idv_vendor, bg_status=p.bg_status,
            bg_vendor=p.bg_vendor, social_verified=p.social_verified,
            studio_verified=p.studio_verified, safe_mode_preference=p.safe_mode_preference,
            risk_score=p.risk_score, strikes_active_count=p.strikes_active_count,
            strike_points_active=p.strike_points_active,
            adult_strike_active=p.adult_strike_active, hold_type=p.hold_type,
            hold_since=p.hold_since, updated_at=p.updated_at, **flags)


class ProfilePageOut(Schema):
    items: list[ProfileOut]
    next_cursor: str | None


class RiskChangeOut(Schema):
    score: int
    previous: int
    source: str
    reason: str
    actor_id: str
    audit_entry_id: str
    at: datetime

    @staticmethod
    def of(r: RiskScoreChange) -> RiskChangeOut:
        return RiskChangeOut(score=r.score, previous=r.previous, source=r.source,
                             reason=r.reason, actor_id=r.actor_id,
                             audit_entry_id=r.audit_entry_id, at=r.at)


class RiskPageOut(Schema):
    items: list[RiskChangeOut]
    next_cursor: str | None


class VerificationOut(Schema):
    id: str
    user_id: str
    type: str
    state: str
    allowed: list[str]  # the states it may move to next
    vendor: str
    vendor_session_id: str | None
    decision: str
    decided_at: datetime | None
    evidence_refs: list[str]
    expires_at: datetime | None
    appeal_ref: str | None
    last_vendor_event_at: datetime | None
    subject_name: str
    subject_dob: date | None
    pii_expired_at: datetime | None
    opened_by: str
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def of(c: VerificationCase) -> VerificationOut:
        return VerificationOut(
            id=c.id, user_id=c.user_id, type=c.type, state=c.state,
            allowed=sorted(policy.TRANSITIONS[policy.VerificationState(c.state)]),
            vendor=c.vendor, vendor_session_id=c.vendor_session_id, decision=c.decision,
            decided_at=c.decided_at, evidence_refs=c.evidence_refs, expires_at=c.expires_at,
            appeal_ref=c.appeal_ref or None, last_vendor_event_at=c.last_vendor_event_at,
            subject_name=c.subject_name, subject_dob=c.subject_dob,
            pii_expired_at=c.pii_expired_at, opened_by=c.opened_by, created_at=c.created_at,
            updated_at=c.updated_at)


class VerificationPageOut(Schema):
    items: list[VerificationOut]
    next_cursor: str | None


class AppealOut(Schema):
    verification: VerificationOut
    appeal_case_id: str


@router.get("/profiles/{user_id}", response=ProfileOut,
            summary="A user's flags with the reasons each is false (the platform's one call)")
def profile_get(request: HttpRequest, user_id: PlatformUserId):
    require(request, Perm.TRUST_PROFILE_READ)
    return ProfileOut.of(selectors.profile_read(user_id))


@router.patch("/profiles/{user_id}", response=ProfileOut,
              summary="Change a profile's inputs (its flags are recomputed)")
def profile_update(request: HttpRequest, user_id: PlatformUserId, body: ProfilePatch):
    actor = require(request, Perm.TRUST_EDIT)
    return ProfileOut.of(services.trust_profile_update(
        actor=actor, user_id=user_id, changes=body.changes(), reason_code=body.reason_code))


@router.get("/profiles/{user_id}/risk", response=RiskPageOut,
            summary="A user's risk score history, newest first")
def risk_history(request: HttpRequest, user_id: PlatformUserId, cursor: str | None = None,
                 limit: Limit = 100):
    require(request, Perm.TRUST_VIEW)
    page = keyset_page(selectors.risk_history(user_id), keys=["at", "id"], cursor=cursor,
                       limit=limit)
    return {"items": [RiskChangeOut.of(r) for r in page.items], "next_cursor": page.next_cursor}


@router.post("/profiles/{user_id}/risk", response=ProfileOut, summary="Set the risk score")
def risk_set(request: HttpRequest, user_id: PlatformUserId, body: RiskIn):
    actor = require(request, Perm.TRUST_EDIT)
    return ProfileOut.of(services.trust_risk_score_set(
        actor=actor, user_id=user_id, score=body.score, source=body.source, reason=body.reason,
        reason_code=body.reason_code))


@router.post("/profiles/{user_id}/hold", response=ProfileOut,
             summary="Put a new-account or risk hold on the user")
def hold_set(request: HttpRequest, user_id: PlatformUserId, body: HoldIn):
    actor = require(request, Perm.TRUST_EDIT)
    return ProfileOut.of(services.trust_hold_set(actor=actor, user_id=user_id,
                                                 hold_type=body.hold_type,
                                                 reason_code=body.reason_code))


@router.delete("/profiles/{user_id}/hold", response=ProfileOut, summary="Clear the user's hold")
def hold_clear(request: HttpRequest, user_id: PlatformUserId, reason_code: ReasonCode):
    actor = require(request, Perm.TRUST_EDIT)
    return ProfileOut.of(services.trust_hold_clear(actor=actor, user_id=user_id,
                                                   reason_code=reason_code))


@router.get("/queues/{name}", response=ProfilePageOut,
            summary="Work queues: idv (pending, failed, expired), trusted_pro (background "
                    "clear), finance (risk at or over the threshold, or a risk hold)")
def queue(request: HttpRequest, name: QueueName, cursor: str | None = None,
          limit: Limit = 50):
    require(request, Perm.TRUST_VIEW)
    keys, descending = selectors.QUEUES[name]
    page = keyset_page(selectors.queue(name), keys=keys, descending=descending, cursor=cursor,
                       limit=limit)
    return {"items": [ProfileOut.of(p) for p in page.items], "next_cursor": page.next_cursor}


@router.get("/verifications", response=VerificationPageOut,
            summary="Verification cases, newest first")
def verification_list(request: HttpRequest, filters: Query[VerificationFilterIn],
                      cursor: str | None = None, limit: Limit = 50):
    require(request, Perm.TRUST_VIEW)
    f = selectors.VerificationFilter(
        user_id=filters.user_id, state=[str(s) for s in filters.state or []] or None,
        type=[str(t) for t in filters.type or []] or None)
    page = keyset_page(selectors.verification_cases(f), keys=["created_at", "id"],
                       cursor=cursor, limit=limit)
    return {"items": [VerificationOut.of(c) for c in page.items],
            "next_cursor": page.next_cursor}


@router.post("/verifications", response={201: VerificationOut},
             summary="Open a verification case (the platform or staff)")
def verification_open(request: HttpRequest, body: VerificationOpenIn):
    actor = require(request, Perm.TRUST_VERIFY_OPEN)
    case = services.verification_case_open(
        actor=actor, user_id=body.user_id, type=body.type, vendor=body.vendor,
        vendor_session_id=body.vendor_session_id, reason_code=body.reason_code)
    return Status(201, VerificationOut.of(case))


@router.get("/verifications/{case_id}", response=VerificationOut, summary="A verification case")
def verification_get(request: HttpRequest, case_id: VerificationId):
    require(request, Perm.TRUST_VIEW)
    return VerificationOut.of(selectors.verification_case_get(case_id))


@router.get("/verifications/{case_id}/timeline", summary="A verification case's moves, in order")
def verification_timeline(request: HttpRequest, case_id: VerificationId) -> dict[str, Any]:
    require(request, Perm.TRUST_VIEW)
    case = selectors.verification_case_get(case_id)
    return {"items": [{"at": c.at, "from": c.from_state or None, "to": c.to_state,
                       "decision": c.decision or None, "actor": c.actor_id,
                       "reason_code": c.reason_code, "vendor_event_at": c.vendor_event_at,
                       "audit_entry_id": c.audit_entry_id}
                      for c in selectors.verification_timeline(case)]}


@router.post("/verifications/{case_id}/transition", response=VerificationOut,
             summary="Move a verification case (409 if the table does not allow it)")
def verification_transition(request: HttpRequest, case_id: VerificationId, body: TransitionIn):
    actor = require(request, Perm.TRUST_VERIFY)
    case = services.verification_case_transition(
        actor=actor, case=selectors.verification_case_get(case_id), to=body.to,
        decision=body.decision, evidence_ids=body.evidence_ids, reason_code=body.reason_code)
    return VerificationOut.of(case)


@router.post("/verifications/{case_id}/appeal", response={201: AppealOut},
             summary="Appeal a decision: opens a case of kind appeal")
def verification_appeal(request: HttpRequest, case_id: VerificationId, body: AppealIn):
    actor = require(request, Perm.TRUST_VERIFY)
    case, appeal = services.verification_case_appeal(
        actor=actor, case=selectors.verification_case_get(case_id),
        reason_code=body.reason_code, note=body.note)
    return Status(201, {"verification": VerificationOut.of(case), "appeal_case_id": appeal.id})


# Strikes (trust.strikes_api): a user's history, issue, reverse — under the same prefix.
from casefile.trust.strikes_api import router as _strikes_router  # noqa: E402

router.add_router("", _strikes_router)

# Safety reports (trust.reports_api): file, read, resolve — under the same prefix.
from casefile.trust.reports_api import router as _reports_router  # noqa: E402

router.add_router("", _reports_router)

# Statements of reasons (trust.statements_api): list, NDJSON export, retry — same prefix.
from casefile.trust.statements_api import router as _statements_router  # noqa: E402

router.add_router("", _statements_router)
