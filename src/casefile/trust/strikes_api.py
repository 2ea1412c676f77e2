"""Strikes under /api/v1/trust (docs/trust.md, "Strikes"): a user's history, issue, reverse.
Mounted by `trust.api` on its router."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from django.http import HttpRequest
from ninja import Router, Status
from pydantic import Field

from casefile.accounts.access import require
from casefile.accounts.permissions import Perm
from casefile.core.schemas import CaseId, IdOf, PlatformUserId, ReasonCode, Schema
from casefile.trust import strikes
from casefile.trust.models import Strike

router = Router(tags=["trust"])
StrikeId = Annotated[str, IdOf("stk")]


class StrikeOut(Schema):
    id: str
    user_id: str
    policy: str
    points: int
    reason: str
    case_id: str | None
    issued_at: datetime
    decay_at: datetime
    actions_applied: list[str]
    reverses_id: str | None
    reversed_by: str | None
    issued_by: str
    active: bool

    @staticmethod
    def of(s: Strike, *, active: bool, reversed_by: str | None = None) -> StrikeOut:
        return StrikeOut(id=s.id, user_id=s.user_id, policy=s.policy, points=s.points,
                         reason=s.reason, case_id=s.case_id, issued_at=s.issued_at,
                         decay_at=s.decay_at, actions_applied=s.actions_applied,
                         reverses_id=s.reverses_id, reversed_by=reversed_by,
                         issued_by=s.issued_by, active=active)


class StrikeListOut(Schema):
    items: list[StrikeOut]
    points_active: int
    actions_held: list[str]


class StrikeIn(Schema):
    policy: Annotated[str, Field(min_length=1, max_length=40)]
    points: Annotated[int, Field(ge=1, le=100)] | None = None  # None: the policy's weight
    reason: Annotated[str, Field(max_length=500)] = ""
    case_id: CaseId | None = None
    reason_code: ReasonCode


class ReverseIn(Schema):
    reason_code: ReasonCode
    appeal_case_id: CaseId | None = None
    reason: Annotated[str, Field(max_length=500)] = ""


@router.get("/profiles/{user_id}/strikes", response=StrikeListOut,
            summary="A user's strikes, newest first (active, decay, what each set off)")
def strike_list(request: HttpRequest, user_id: PlatformUserId):
    require(request, Perm.TRUST_VIEW)
    rows = strikes.strike_history(user_id)
    return {"items": [StrikeOut.of(r.strike, active=r.active, reversed_by=r.reversed_by)
                      for r in rows],
            "points_active": strikes.standing(user_id, strikes._now()).points,
            "actions_held": [a for a in strikes.strikes_policy.ACTIONS
                             if a in strikes.applied_actions(user_id)]}


@router.post("/profiles/{user_id}/strikes", response={201: StrikeOut},
             summary="Issue a strike (the ladder's actions follow through the outbox)")
def strike_issue(request: HttpRequest, user_id: PlatformUserId, body: StrikeIn):
    actor = require(request, Perm.TRUST_STRIKE)
    strike = strikes.strike_issue(actor=actor, user_id=user_id, policy=body.policy,
                                  points=body.points, reason=body.reason, case_id=body.case_id,
                                  reason_code=body.reason_code)
    return Status(201, StrikeOut.of(strike, active=True))


@router.post("/strikes/{strike_id}/reverse", response={201: StrikeOut},
             summary="Reverse a strike (an appeal succeeded): adds the reversing strike")
def strike_reverse(request: HttpRequest, strike_id: StrikeId, body: ReverseIn):
    actor = require(request, Perm.TRUST_STRIKE)
    reversal = strikes.strike_reverse(actor=actor, strike=strikes.strike_get(strike_id),
                                      reason_code=body.reason_code,
                                      appeal_case_id=body.appeal_case_id, reason=body.reason)
    return Status(201, StrikeOut.of(reversal, active=False))
