"""The strike ledger and its enforcement ladder (DESIGN 9.4; issue 12 item 5): the verbs.

`strike_issue` appends a strike, `strike_reverse` appends the strike that cancels one (an
appeal that succeeded), and `strikes_decay` (the periodic job) notices strikes that reached
their `decay_at`. Each then brings the user in line with the ladder (`_sync`), in the same
transaction as its audit entry:

- the profile's strike inputs (`strikes_active_count`, `strike_points_active`,
  `adult_strike_active`) are recomputed from the ledger and saved through the trust services'
  `_change` (so the eligibility flags follow, and the platform is told when one moves);
- the actions the active points call for (`strikes_policy.actions_for`) are compared with the
  ones that hold, and each difference is one outbox command: `user.restriction.apply` or
  `user.restriction.lift`, with its `RestrictionChange` row.

What holds is each action's latest `RestrictionChange` (an append-only table, not a mutable
field: the history of what was applied, why and when is kept, and the current set is derived
from it). So an apply is never sent while it holds, and a lift only for what was applied.

The top of the ladder is a suspension *request*: `platform.services.operation_request(
operation="user_suspend", params={"strike_id": …})`, which always waits for a second person's
approval (four-eyes). It is recorded as the `suspension_request` action; when the points fall
below it again the action is marked lifted (no command: an approved suspension is lifted by
staff, `user_unsuspend`), so a later climb asks again.

Transactions follow the trust services: each verb joins its caller's transaction in a
savepoint of its own; the decay job runs one user per transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db import transaction

from casefile.accounts.permissions import Perm
from casefile.audit import ledger
from casefile.audit.actor import Actor
from casefile.audit.snapshot import snapshot
from casefile.cases.models import Case
from casefile.core import ids
from casefile.core.errors import Conflict, NotFound, ValidationFailed
from casefile.core.timeutil import isoformat
from casefile.core.timeutil import now as _now
from casefile.platform.models import OutboxCommand
from casefile.trust import statements, strikes_policy
from casefile.trust.models import RestrictionChange, Strike, TrustProfile
from casefile.trust.services import _actor_id, _change, _locked_profile, _reason, _text
from casefile.trust.strikes_policy import (
    APPLY_COMMAND,
    LIFT_COMMAND,
    MAX_POINTS,
    SUSPENSION,
)

DECAY_ACTOR = Actor.system("strike-decay")


def _resource(strike: Strike) -> str:
    return f"strike:{strike.id}"


@dataclass(frozen=True)
class Standing:
    """A user's strikes as they count at a moment."""

    points: int
    count: int  # strikes active and not reversed
    adult: bool  # one of them under an adult-content policy
    zero_tolerance: bool  # one of them under a zero-tolerance policy
    active_ids: frozenset[str]

    @property
    def actions(self) -> set[str]:
        return strikes_policy.actions_for(self.points, zero_tolerance=self.zero_tolerance)

    def profile_inputs(self) -> dict[str, Any]:
        return {"strikes_active_count": self.count, "strike_points_active": self.points,
                "adult_strike_active": self.adult}


def standing(user_id: str, moment: dt.datetime, extra: list[Strike] | None = None) -> Standing:
    """Active points (never below 0), count and kinds of the user's strikes at `moment`;
    `extra`: strikes about to be added."""
    rows = [*Strike.objects.filter(user_id=user_id, decay_at__gt=moment), *(extra or [])]
    reversed_ids = {r.reverses_id for r in rows if r.reverses_id}
    live = [r for r in rows if r.reverses_id is None and r.id not in reversed_ids]
    kinds = [strikes_policy.policy_named(r.policy) for r in live]
    return Standing(points=max(0, sum(r.points for r in rows)), count=len(live),
                    adult=any(k is not None and k.adult_content for k in kinds),
                    zero_tolerance=any(k is not None and k.zero_tolerance for k in kinds),
                    active_ids=frozenset(r.id for r in live))


def applied_actions(user_id: str) -> set[str]:
    """The ladder's actions that hold for the user: each action's latest change is an apply."""
    latest: dict[str, bool] = {}
    for action, applied in (RestrictionChange.objects.filter(user_id=user_id)
                            .order_by("at", "id").values_list("action", "applied")):
        latest[action] = applied
    return {action for action, applied in latest.items() if applied}


def _command(kind: str, user_id: str, action: str, entry, points: int,
             strike: Strike | None) -> OutboxCommand:
    moment = _now()
    payload = {"user_id": user_id, "action": action, "points_active": points,
               "strike_id": strike.id if strike else None, "audit_entry_id": entry.id,
               "reason_code": entry.reason_code}
    return OutboxCommand.objects.create(type=kind, payload=payload, audit_entry_id=entry.id,
                                        created_at=moment, next_attempt_at=moment)


def _plan(user_id: str, now_standing: Standing) -> tuple[list[str], list[str]]:
    """(to apply, to lift), each in ladder order."""
    held, wanted = applied_actions(user_id), now_standing.actions
    order = list(strikes_policy.ACTIONS)
    return ([a for a in order if a in wanted - held], [a for a in order if a in held - wanted])


def _sync(actor: Actor, profile: TrustProfile, now_standing: Standing, entry, *,
          strike: Strike | None, reason_code: str | None, case_id: str | None = None,
          plan: tuple[list[str], list[str]] | None = None) -> dict[str, list[str]]:
    """Send the applies and lifts `plan` says, record them, request a suspension when the top
    is newly reached, and save the profile's strike inputs (flags recomputed)."""
    from casefile.platform.services import (  # trust builds on platform
        approvals_withdraw,
        operation_request,
    )

    user_id = profile.user_id
    to_apply, to_lift = plan or _plan(user_id, now_standing)
    moment = _now()
    done: dict[str, list[str]] = {"applied": [], "lifted": [], "approval_ids": [],
                                  "withdrawn": []}
    for action in to_apply:
        command_id = ""
        if action == SUSPENSION and actor.user is None:
            # Casefile itself (a rule's strike) cannot be the first of four eyes: the step is
            # recorded as reached, and the caller puts the user before a person (a report case)
            # who may then ask for the suspension.
            pass
        elif action == SUSPENSION:
            params: dict[str, Any] = {"user_id": user_id,
                                      "strike_id": strike.id if strike else None}
            if case_id:
                params["case_id"] = case_id
            outcome = operation_request(actor=actor, operation="user_suspend", params=params,
                                        reason_code=reason_code or "POLICY_VIOLATION")
            if outcome.approval is not None:
                done["approval_ids"].append(outcome.approval.id)
        else:
            command_id = _command(APPLY_COMMAND, user_id, action, entry, now_standing.points,
                                  strike).id
        change = RestrictionChange.objects.create(
            user_id=user_id, action=action, applied=True, strike=strike,
            points_active=now_standing.points, command_id=command_id,
            actor_id=_actor_id(actor), audit_entry_id=entry.id, at=moment)
        statements.restriction_statement_record(change, strike=strike)  # not for suspensions
        done["applied"].append(action)
    for action in to_lift:
        command_id = "" if action == SUSPENSION else _command(
            LIFT_COMMAND, user_id, action, entry, now_standing.points, strike).id
        if action == SUSPENSION:
            done["withdrawn"] = approvals_withdraw(
                actor=actor, operation="user_suspend", user_id=user_id, reason_code=reason_code,
                why=f"active points fell to {now_standing.points}")
        RestrictionChange.objects.create(
            user_id=user_id, action=action, applied=False, strike=strike,
            points_active=now_standing.points, command_id=command_id,
            actor_id=_actor_id(actor), audit_entry_id=entry.id, at=moment)
        done["lifted"].append(action)
    _change(actor, profile, now_standing.profile_inputs(), action="TRUST_PROFILE_UPDATED",
            reason_code=reason_code, metadata={"strike_entry_id": entry.id,
                                               **({"strike_id": strike.id} if strike else {})})
    return done


def _entry_strike(strike: Strike) -> dict[str, Any]:
    return {"id": strike.id, "user_id": strike.user_id, "policy": strike.policy,
            "points": strike.points, "reason": strike.reason, "case_id": strike.case_id,
            "issued_at": strike.issued_at, "decay_at": strike.decay_at,
            "actions_applied": strike.actions_applied, "reverses_id": strike.reverses_id,
            "issued_by": strike.issued_by}


def _case(case_id: str | None) -> str | None:
    if not case_id:
        return None
    if not Case.objects.filter(pk=case_id).exists():
        raise NotFound(f"no case {case_id}")
    return case_id


def strike_issue(*, actor: Actor, user_id: str, policy: str, points: int | None = None,
                 reason: str = "", case_id: str | None = None,
                 reason_code: str | None = None) -> Strike:
    """Issue a strike under `policy` (`strikes_policy.POLICIES`; `points` defaults to the
    policy's weight). In one transaction: the strike, `STRIKE_ISSUED`, one outbox command per
    ladder action newly reached (a suspension request for the top, or at once for a
    zero-tolerance policy), and the profile's strike inputs and flags."""
    actor.require(Perm.TRUST_STRIKE)
    reason_code = _reason(actor, reason_code)
    kind = strikes_policy.policy_named(policy)
    if kind is None:
        raise ValidationFailed(f"unknown strike policy {policy!r}",
                               details={"policies": sorted(strikes_policy.POLICIES)})
    points = kind.points if points is None else points
    if isinstance(points, bool) or not isinstance(points, int) or not 1 <= points <= MAX_POINTS:
        raise ValidationFailed(f"a strike's points are a whole number from 1 to {MAX_POINTS}")
    reason = _text(reason, 500, "reason")
    case_id = _case(case_id)
    with transaction.atomic():
        profile = _locked_profile(user_id)
        moment = _now()
        strike = Strike(id=ids.new_stk_id(), user_id=user_id, policy=kind.name, points=points,
                        reason=reason, reason_code=reason_code or "", case_id=case_id,
                        issued_at=moment, decay_at=moment + timedelta(days=kind.decay_days),
                        issued_by=_actor_id(actor))
        after = standing(user_id, moment, extra=[strike])
        plan = _plan(user_id, after)
        strike.actions_applied = plan[0] + [f"lift:{a}" for a in plan[1]]
        entry = ledger.record(actor=actor, action="STRIKE_ISSUED", resource=_resource(strike),
                              reason_code=reason_code, after=_entry_strike(strike),
                              target_user_id=user_id,
                              metadata={"points_active": after.points,
                                        "zero_tolerance": kind.zero_tolerance,
                                        "actions": strike.actions_applied,
                                        **({"case_id": case_id} if case_id else {})})
        strike.audit_entry_id = entry.id
        strike.save(force_insert=True)
        _sync(actor, profile, after, entry, strike=strike, reason_code=reason_code,
              case_id=case_id, plan=plan)
    return strike


def strike_reverse(*, actor: Actor, strike: Strike, reason_code: str,
                   appeal_case_id: str | None = None, reason: str = "") -> Strike:
    """Reverse a strike (an appeal that succeeded): a reversing strike (negative points, the
    same decay) is added, `STRIKE_REVERSED`, and the actions no longer met are lifted through
    the outbox; the profile follows. 409 when it is already reversed or is itself a reversal."""
    actor.require(Perm.TRUST_STRIKE)
    reason_code = actor.reason(reason_code)  # type: ignore[assignment]
    reason = _text(reason, 500, "reason")
    appeal_case_id = _case(appeal_case_id)
    with transaction.atomic():
        profile = _locked_profile(strike.user_id)
        original = Strike.objects.filter(pk=strike.pk).first()
        if original is None:
            raise NotFound(f"no strike {strike.pk}")
        if original.reverses_id is not None:
            raise Conflict(f"{original.id} is itself a reversal")
        existing = Strike.objects.filter(reverses=original).first()
        if existing is not None:
            raise Conflict(f"{original.id} is already reversed by {existing.id}",
                           details={"reversed_by": existing.id})
        moment = _now()
        reversal = Strike(id=ids.new_stk_id(), user_id=original.user_id,
                          policy=original.policy, points=-original.points,
                          reason=reason or f"reverses {original.id}",
                          reason_code=reason_code or "", case_id=appeal_case_id,
                          issued_at=moment, decay_at=original.decay_at, reverses=original,
                          issued_by=_actor_id(actor))
        after = standing(original.user_id, moment, extra=[reversal])
        plan = _plan(original.user_id, after)
        reversal.actions_applied = plan[0] + [f"lift:{a}" for a in plan[1]]
        entry = ledger.record(actor=actor, action="STRIKE_REVERSED",
                              resource=_resource(original), reason_code=reason_code,
                              before=_entry_strike(original), after=_entry_strike(reversal),
                              target_user_id=original.user_id,
                              metadata={"reversal_id": reversal.id,
                                        "points_active": after.points,
                                        "actions": reversal.actions_applied,
                                        **({"appeal_case_id": appeal_case_id}
                                           if appeal_case_id else {})})
        reversal.audit_entry_id = entry.id
        reversal.save(force_insert=True)
        _sync(actor, profile, after, entry, strike=reversal, reason_code=reason_code,
              plan=plan)
    return reversal


@dataclass
class DecayReport:
    changed: list[dict[str, Any]] = field(default_factory=list)  # {user_id, lifted, points}
    failed: list[dict[str, Any]] = field(default_factory=list)  # {user_id, error}

    def as_dict(self) -> dict[str, Any]:
        return {"changed": self.changed, "failed": self.failed}


def _decay_candidates() -> list[str]:
    """Users with restrictions held or strike inputs set: the only ones decay can change."""
    restricted = set(RestrictionChange.objects.values_list("user_id", flat=True).distinct())
    counted = set(TrustProfile.objects.filter(strike_points_active__gt=0)
                  .values_list("user_id", flat=True))
    counted |= set(TrustProfile.objects.filter(strikes_active_count__gt=0)
                   .values_list("user_id", flat=True))
    counted |= set(TrustProfile.objects.filter(adult_strike_active=True)
                   .values_list("user_id", flat=True))
    return sorted(restricted | counted)


def strikes_decay(*, now: dt.datetime | None = None) -> DecayReport:
    """The periodic job: for each user whose strikes decayed since the last run (their active
    points fell below a threshold, or their counts changed), lift the actions no longer met
    (`user.restriction.lift` through the outbox) and recompute the profile;
    `STRIKE_DECAYED` as `system`, one per user changed, one user per transaction."""
    moment = now or _now()
    report = DecayReport()
    for user_id in _decay_candidates():
        try:
            with transaction.atomic():
                profile = _locked_profile(user_id)
                after = standing(user_id, moment)
                plan = _plan(user_id, after)
                if not plan[0] and not plan[1] and all(
                        getattr(profile, k) == v for k, v in after.profile_inputs().items()):
                    continue
                if plan[0]:  # decay only lowers points; an apply is issue's business
                    plan = ([], plan[1])
                before = snapshot(profile)
                entry = ledger.record(
                    actor=DECAY_ACTOR, action="STRIKE_DECAYED", resource=f"user:{user_id}",
                    before={k: before.get(k) for k in after.profile_inputs()},
                    after=after.profile_inputs(), target_user_id=user_id,
                    metadata={"lifted": plan[1], "points_active": after.points,
                              "as_of": isoformat(moment)})
                done = _sync(DECAY_ACTOR, profile, after, entry, strike=None,
                             reason_code=None, plan=plan)
            report.changed.append({"user_id": user_id, "lifted": done["lifted"],
                                   "points_active": after.points})
        except Exception as exc:  # noqa: BLE001 - one user's failure must not stop the rest
            report.failed.append({"user_id": user_id, "error": str(exc)[:500]})
    return report


# --- reads ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StrikeRow:
    strike: Strike
    active: bool  # counts now: not decayed, not reversed (a reversal: its strike counts no more)
    reversed_by: str | None  # the reversing strike's id


def strike_history(user_id: str, *, at: dt.datetime | None = None) -> list[StrikeRow]:
    """A user's strikes, newest first, each with whether it counts now and what reversed it.
    404 for an unknown user."""
    from casefile.platform.models import PlatformUser

    if not PlatformUser.objects.filter(pk=user_id).exists():
        raise NotFound(f"no platform user {user_id}")
    moment = at or _now()
    rows = list(Strike.objects.filter(user_id=user_id).order_by("-issued_at", "-id"))
    reversed_by = {r.reverses_id: r.id for r in rows if r.reverses_id}
    return [StrikeRow(r, r.reverses_id is None and r.id not in reversed_by
                      and r.decay_at > moment, reversed_by.get(r.id)) for r in rows]


def strike_get(strike_id: str) -> Strike:
    found = Strike.objects.filter(pk=strike_id).first()
    if found is None:
        raise NotFound(f"no strike {strike_id}")
    return found
