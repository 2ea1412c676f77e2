"""Writes for trust profiles and verification cases (DESIGN 9.3).

Every verb authorises, changes, and records its audit entries (before/after/diff) in one
transaction. A change to a profile's inputs recomputes its eligibility flags (`_recompute`,
the one function every verb goes through) before it is saved, and when a flag or a status
changes, the platform is told by an outbox command (`trust.profile.changed`) in that same
transaction: there is no flag the platform could read that its command does not follow.

Transactions follow `cases.services`: every verb joins its caller's transaction when there is
one (a webhook handler applies a vendor's result with the delivery it logs), in a savepoint of
its own, so a refusal undoes that verb alone. PII expiry runs one case per transaction.

Who acts: staff and the platform's machine identity with their permission; Casefile itself
(`Actor.system("webhook:persona")`, `Actor.system("pii-expiry")`) with the host's authority,
recording the registry's system reason. A machine does not choose a reason code.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction

from casefile.accounts.permissions import Perm
from casefile.audit import ledger
from casefile.audit.actor import Actor
from casefile.audit.snapshot import snapshot
from casefile.cases.models import Case
from casefile.core.errors import Conflict, InvalidTransition, NotFound, ValidationFailed
from casefile.core.timeutil import isoformat, now
from casefile.evidence import holds
from casefile.evidence.models import EvidenceBlob
from casefile.platform.models import OutboxCommand, PlatformUser
from casefile.trust import policy
from casefile.trust.models import (
    RiskScoreChange,
    TrustProfile,
    VerificationCase,
    VerificationStateChange,
)
from casefile.trust.policy import (
    DECIDED_STATES,
    FLAGS,
    INPUTS,
    OWN_VERBS,
    TRANSITIONS,
    BgStatus,
    HoldType,
    IdvStatus,
    SafeMode,
    VerificationState,
    VerificationType,
)

SYSTEM = Actor.system("trust")
PROFILE_COMMAND = "trust.profile.changed"
# What, when it changes, the platform is told about.
_TOLD = (*FLAGS, "idv_status", "bg_status", "hold_type")
_DERIVED = {*FLAGS, *(policy.reasons_field(f) for f in FLAGS)}
_CHOICES = {"idv_status": IdvStatus.values, "bg_status": BgStatus.values,
            "safe_mode_preference": SafeMode.values}
_BOOLEANS = {"is_18plus_attested", "social_ig_verified", "social_yt_verified",
             "social_tt_verified", "studio_verified", "adult_strike_active"}
_COUNTS = {"strikes_active_count", "strike_points_active"}
_VENDOR_TEXT = {"idv_vendor", "bg_vendor"}
MAX_COUNT = 1_000_000
_now = now  # `verification_pii_expire` takes a `now` of its own


def _resource(user_id: str) -> str:
    return f"user:{user_id}"


def _case_resource(case: VerificationCase) -> str:
    return f"verification:{case.id}"


def _actor_id(actor: Actor) -> str:
    return actor.user.id if actor.user else "system"


def _reason(actor: Actor, reason_code: str | None) -> str | None:
    """A person's reason (required, known: 422 before anything changes); a machine's is the
    registry's, so whatever it sent is not recorded as its reason."""
    return None if actor.is_machine else actor.reason(reason_code)


# --- the profile ------------------------------------------------------------------------------


def _recompute(profile: TrustProfile) -> None:
    """Derive the three eligibility flags and their reasons from the profile's inputs
    (`trust.policy.RULES`). Every write of a profile goes through here before it is saved."""
    for flag, (eligible, reasons) in policy.evaluate(profile).items():
        setattr(profile, flag, eligible)
        setattr(profile, policy.reasons_field(flag), reasons)


def _new_profile(user_id: str, moment: dt.datetime) -> TrustProfile:
    profile = TrustProfile(user_id=user_id, created_at=moment, updated_at=moment)
    _recompute(profile)
    return profile


def trust_profile_get_or_create(*, user_id: str) -> TrustProfile:
    """The user's profile; created with its defaults (and `TRUST_PROFILE_CREATED`, recorded by
    Casefile itself) the first time anything needs it. Reading an existing one records
    nothing. 404 if the platform has not told Casefile about the user."""
    found = TrustProfile.objects.filter(pk=user_id).first()
    if found is not None:
        return found
    with transaction.atomic():
        if not PlatformUser.objects.filter(pk=user_id).exists():
            raise NotFound(f"no platform user {user_id}")
        profile = _new_profile(user_id, now())
        try:
            with transaction.atomic():
                profile.save(force_insert=True)
        except IntegrityError:  # created meanwhile by someone else: theirs stands
            return TrustProfile.objects.get(pk=user_id)
        ledger.record(actor=SYSTEM, action="TRUST_PROFILE_CREATED", resource=_resource(user_id),
                      after=snapshot(profile), target_user_id=user_id)
    return profile


def _locked_profile(user_id: str) -> TrustProfile:
    trust_profile_get_or_create(user_id=user_id)
    return TrustProfile.objects.select_for_update().get(pk=user_id)


def _change(actor: Actor, profile: TrustProfile, changes: dict[str, Any], *, action: str,
            reason_code: str | None, metadata: dict[str, Any] | None = None,
            allow_same: bool = False):
    """Apply `changes` to a locked profile, recompute its flags, save, record `action`, and
    tell the platform when a flag or status moved. Returns the entry, or None when nothing
    changed (nothing is recorded then, unless `allow_same`)."""
    before = snapshot(profile)
    for name, value in changes.items():
        setattr(profile, name, value)
    _recompute(profile)
    after = snapshot(profile)
    if after == before and not allow_same:
        return None
    profile.updated_at = now()
    profile.save()
    entry = ledger.record(actor=actor, action=action, resource=_resource(profile.user_id),
                          reason_code=reason_code, before=before, after=after,
                          target_user_id=profile.user_id, metadata=metadata)
    moved = sorted(name for name in _TOLD if before.get(name) != after.get(name))
    if moved:
        _tell_platform(profile, entry, moved)
    return entry


def _tell_platform(profile: TrustProfile, entry, moved: list[str]) -> OutboxCommand:
    moment = now()
    payload = {
        "user_id": profile.user_id,
        "flags": {flag: getattr(profile, flag) for flag in FLAGS},
        "reasons": {flag: [r["code"] for r in getattr(profile, policy.reasons_field(flag))]
                    for flag in FLAGS},
        "idv_status": profile.idv_status, "bg_status": profile.bg_status,
        "hold_type": profile.hold_type, "changed": moved,
        "audit_entry_id": entry.id, "reason_code": entry.reason_code,
    }
    return OutboxCommand.objects.create(type=PROFILE_COMMAND, payload=payload,
                                        audit_entry_id=entry.id, created_at=moment,
                                        next_attempt_at=moment)


def _checked_inputs(changes: dict[str, Any]) -> dict[str, Any]:
    if not changes:
        raise ValidationFailed("nothing to change")
    derived = sorted(set(changes) & _DERIVED)
    if derived:
        raise ValidationFailed(f"derived, never set by hand: {', '.join(derived)} (trust.policy "
                               "computes them from the inputs)", details={"derived": derived})
    own = sorted(set(changes) & set(OWN_VERBS))
    if own:
        raise ValidationFailed(f"{', '.join(own)} have verbs of their own: "
                               f"{', '.join(OWN_VERBS[n] for n in own)}")
    unknown = sorted(set(changes) - set(INPUTS))
    if unknown:
        raise ValidationFailed(f"not a profile input: {', '.join(unknown)}",
                               details={"inputs": list(INPUTS)})
    for name, value in changes.items():
        if name in _BOOLEANS and not isinstance(value, bool):
            raise ValidationFailed(f"{name} must be true or false")
        if name in _COUNTS and (isinstance(value, bool) or not isinstance(value, int)
                                or not 0 <= value <= MAX_COUNT):
            raise ValidationFailed(f"{name} must be a whole number from 0 to {MAX_COUNT}")
        if name in _CHOICES and value not in _CHOICES[name]:
            raise ValidationFailed(f"{name} must be one of {', '.join(_CHOICES[name])}")
        if name in _VENDOR_TEXT and (not isinstance(value, str) or len(value) > 40
                                     or "\x00" in value):
            raise ValidationFailed(f"{name}: at most 40 characters")
    return changes


def trust_profile_update(*, actor: Actor, user_id: str, changes: dict[str, Any],
                         reason_code: str | None = None) -> TrustProfile:
    """Change a profile's inputs (`trust.policy.INPUTS`); its flags are recomputed in the same
    transaction. Derived fields are refused (422), so are the risk score and the hold (their
    own verbs keep their history). 409 when nothing would change."""
    actor.require(Perm.TRUST_EDIT)
    reason_code = _reason(actor, reason_code)
    changes = _checked_inputs(dict(changes))
    with transaction.atomic():
        profile = _locked_profile(user_id)
        if _change(actor, profile, changes, action="TRUST_PROFILE_UPDATED",
                   reason_code=reason_code) is None:
            raise Conflict("nothing to change: the profile already says that")
    return profile


def trust_risk_score_set(*, actor: Actor, user_id: str, score: int, source: str = "staff",
                         reason: str = "", reason_code: str | None = None) -> TrustProfile:
    """Set the risk score (0–100), keeping the history (`RiskScoreChange`, append-only)."""
    actor.require(Perm.TRUST_EDIT)
    reason_code = _reason(actor, reason_code)
    if isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= 100:
        raise ValidationFailed("the risk score is a whole number from 0 to 100")
    source, reason = (source or "").strip()[:60] or "staff", (reason or "").strip()[:500]
    with transaction.atomic():
        profile = _locked_profile(user_id)
        previous = profile.risk_score
        if previous == score:
            raise Conflict(f"the risk score is already {score}")
        entry = _change(actor, profile, {"risk_score": score}, action="TRUST_RISK_SCORE_SET",
                        reason_code=reason_code,
                        metadata={"source": source, **({"reason": reason} if reason else {})})
        RiskScoreChange.objects.create(profile=profile, score=score, previous=previous,
                                       source=source, reason=reason, actor_id=_actor_id(actor),
                                       audit_entry_id=entry.id, at=entry.created_at)
    return profile


def trust_hold_set(*, actor: Actor, user_id: str, hold_type: str,
                   reason_code: str | None = None) -> TrustProfile:
    """Put a new-account or risk hold on the user (one at a time: a risk hold replaces a
    new-account one). Payouts and instant booking stop while it stands."""
    actor.require(Perm.TRUST_EDIT)
    reason_code = _reason(actor, reason_code)
    if hold_type not in (HoldType.NEW_ACCT, HoldType.RISK):
        raise ValidationFailed("a hold is new_acct or risk")
    with transaction.atomic():
        profile = _locked_profile(user_id)
        if profile.hold_type == hold_type:
            raise Conflict(f"the user is already on a {hold_type} hold")
        _change(actor, profile, {"hold_type": hold_type, "hold_since": now()},
                action="TRUST_HOLD_SET", reason_code=reason_code,
                metadata={"hold_type": hold_type, "replaced": profile.hold_type})
    return profile


def trust_hold_clear(*, actor: Actor, user_id: str, reason_code: str | None = None
                     ) -> TrustProfile:
    actor.require(Perm.TRUST_EDIT)
    reason_code = _reason(actor, reason_code)
    with transaction.atomic():
        profile = _locked_profile(user_id)
        if profile.hold_type == HoldType.NONE:
            raise Conflict("the user is not on hold")
        _change(actor, profile, {"hold_type": HoldType.NONE, "hold_since": None},
                action="TRUST_HOLD_CLEARED", reason_code=reason_code,
                metadata={"hold_type": profile.hold_type})
    return profile


# --- verification cases -----------------------------------------------------------------------


def _locked_case(case: VerificationCase) -> VerificationCase:
    found = VerificationCase.objects.select_for_update().filter(pk=case.pk).first()
    if found is None:
        raise NotFound(f"no verification case {case.pk}")
    return found


def _follow(actor: Actor, case: VerificationCase, reason_code: str | None, entry) -> None:
    """Move the user's profile as the case's new state says (`policy.profile_changes_for`),
    recording it as the case's consequence."""
    profile = _locked_profile(case.user_id)
    changes = policy.profile_changes_for(case.type, case.state, case.decision or None,
                                         current=profile, prior=case.prior_status)
    vendor_field = policy.vendor_field(case.type)
    if vendor_field and case.vendor and getattr(profile, vendor_field) != case.vendor:
        changes[vendor_field] = case.vendor
    if changes:
        _change(actor, profile, changes, action="TRUST_PROFILE_UPDATED",
                reason_code=reason_code,
                metadata={"verification_case_id": case.id, "state": case.state,
                          "verification_entry_id": entry.id})


def _log_change(case: VerificationCase, actor: Actor, from_state: str, reason_code: str | None,
                entry, vendor_event_at: dt.datetime | None = None) -> None:
    VerificationStateChange.objects.create(
        case=case, from_state=from_state, to_state=case.state, decision=case.decision,
        actor_id=_actor_id(actor), reason_code=entry.reason_code or reason_code or "",
        vendor_event_at=vendor_event_at, audit_entry_id=entry.id, at=entry.created_at)


def _text(value: str | None, limit: int, what: str) -> str:
    value = (value or "").strip()
    if len(value) > limit or "\x00" in value:
        raise ValidationFailed(f"{what}: at most {limit} characters, without NUL")
    return value


def verification_case_open(*, actor: Actor, user_id: str, type: str,  # noqa: A002 - the seed's
                           vendor: str | None = None, vendor_session_id: str | None = None,
                           reason_code: str | None = None) -> VerificationCase:
    """Open a verification case (by the platform's machine identity or by staff). A vendor
    session id is unique per vendor: opening the same one twice is a 409 naming the case."""
    actor.require(Perm.TRUST_VERIFY_OPEN)
    reason_code = _reason(actor, reason_code)
    if type not in VerificationType.values:
        raise ValidationFailed(f"unknown verification type {type!r}",
                               details={"types": VerificationType.values})
    vendor = _text(vendor, 40, "vendor").lower()
    session = _text(vendor_session_id, 200, "vendor_session_id") or None
    if session and not vendor:
        raise ValidationFailed("a vendor session id needs its vendor")
    with transaction.atomic():
        profile = _locked_profile(user_id)
        if session:
            existing = VerificationCase.objects.filter(vendor=vendor,
                                                       vendor_session_id=session).first()
            if existing is not None:
                raise Conflict(f"{vendor} session {session} is already case {existing.id}",
                               details={"case_id": existing.id})
        status_field = {"idv": "idv_status", "background": "bg_status"}.get(type)
        moment = now()
        try:
            with transaction.atomic():
                case = VerificationCase.objects.create(
                    user_id=user_id, type=type, vendor=vendor, vendor_session_id=session,
                    prior_status=getattr(profile, status_field) if status_field else "",
                    opened_by=_actor_id(actor), created_at=moment, updated_at=moment)
        except IntegrityError:
            raise Conflict(f"{vendor} session {session} is already a case") from None
        entry = ledger.record(actor=actor, action="VERIFICATION_CASE_OPENED",
                              resource=_case_resource(case), reason_code=reason_code,
                              after=snapshot(case), target_user_id=user_id)
        _log_change(case, actor, "", reason_code, entry)
        _follow(actor, case, reason_code, entry)
        if session:  # deliveries its vendor sent before the case existed (docs/webhooks.md)
            from casefile.webhooks.services import webhook_deliveries_apply_held

            webhook_deliveries_apply_held(case=case)
    return case


def _evidence(ids: list[str] | None) -> list[str]:
    wanted = list(dict.fromkeys(ids or []))
    if not wanted:
        return []
    found = set(EvidenceBlob.objects.filter(pk__in=wanted).values_list("id", flat=True))
    missing = [i for i in wanted if i not in found]
    if missing:
        raise NotFound(f"no evidence {', '.join(missing)}", details={"missing": missing})
    return wanted


class StaleVendorEvent(Conflict):
    code = "stale_vendor_event"


def verification_case_transition(*, actor: Actor, case: VerificationCase, to: str,
                                 decision: str | None = None,
                                 evidence_ids: list[str] | None = None,
                                 reason_code: str | None = None,
                                 vendor_event_at: dt.datetime | None = None
                                 ) -> VerificationCase:
    """Move a case along `policy.TRANSITIONS` (409 `invalid_transition` naming the allowed
    moves). Reaching passed or failed records the decision (the vendor's word, or the state)
    and sets `expires_at` (decision + VERIFICATION_PII_DAYS); so does expiring or canceling
    (their PII is kept no longer). The user's profile follows in the same transaction
    (`policy.profile_changes_for`), its flags recomputed and the platform told.

    `vendor_event_at`: when the vendor says the event happened. An event older than the last
    one applied to this case is refused (409 `stale_vendor_event`): deliveries arrive out of
    order, and an old one must not undo a newer one."""
    actor.require(Perm.TRUST_VERIFY)
    reason_code = _reason(actor, reason_code)
    if to not in VerificationState.values:
        raise ValidationFailed(f"unknown state {to!r}",
                               details={"states": VerificationState.values})
    target = VerificationState(to)
    decision = _text(decision, 60, "decision") or None
    if decision and target not in DECIDED_STATES:
        raise ValidationFailed("a decision is given only when the case is passed or failed")
    evidence = _evidence(evidence_ids)
    with transaction.atomic():
        case = _locked_case(case)
        current = VerificationState(case.state)
        if target not in TRANSITIONS[current]:
            raise InvalidTransition(
                f"a {current} verification case cannot move to {target}",
                details={"from": current, "to": target,
                         "allowed": sorted(TRANSITIONS[current])})
        last = case.last_vendor_event_at
        if vendor_event_at is not None and last is not None and vendor_event_at < last:
            raise StaleVendorEvent(
                f"the vendor's event at {isoformat(vendor_event_at)} is older than the last "
                f"one applied ({isoformat(last)})",
                details={"vendor_event_at": vendor_event_at, "last_vendor_event_at": last})
        before = snapshot(case)
        moment = now()
        case.state = target
        if target in DECIDED_STATES:
            case.decision, case.decided_at = decision or target.value, moment
        if target in DECIDED_STATES or target in (VerificationState.EXPIRED,
                                                   VerificationState.CANCELED):
            case.expires_at = moment + timedelta(days=settings.VERIFICATION_PII_DAYS)
        case.evidence_refs = list(dict.fromkeys([*case.evidence_refs, *evidence]))
        if vendor_event_at is not None:
            case.last_vendor_event_at = vendor_event_at
        case.updated_at = moment
        case.save()
        entry = ledger.record(actor=actor, action="VERIFICATION_CASE_TRANSITIONED",
                              resource=_case_resource(case), reason_code=reason_code,
                              before=before, after=snapshot(case),
                              target_user_id=case.user_id,
                              metadata={"from": current, "to": target,
                                        **({"evidence_added": evidence} if evidence else {})})
        _log_change(case, actor, current, reason_code, entry, vendor_event_at)
        _follow(actor, case, reason_code, entry)
    return case


def verification_case_appeal(*, actor: Actor, case: VerificationCase, reason_code: str,
                             note: str) -> tuple[VerificationCase, Case]:
    """Appeal a decided case: open a case of kind `appeal` about the user (cases.services),
    and move the verification to `appealed` with the case as its `appeal_ref`. Its PII is kept
    while the appeal runs (`expires_at` is cleared; the next decision sets it again)."""
    from casefile.cases.services import case_create  # cases do not depend on trust

    actor.require(Perm.TRUST_VERIFY)
    reason_code = actor.reason(reason_code)  # type: ignore[assignment]
    note = _text(note, 10_000, "note")
    if not note:
        raise ValidationFailed("an appeal needs a note saying why")
    with transaction.atomic():
        case = _locked_case(case)
        current = VerificationState(case.state)
        if VerificationState.APPEALED not in TRANSITIONS[current]:
            raise InvalidTransition(
                f"only a passed or failed verification can be appealed; this one is {current}",
                details={"from": current, "to": VerificationState.APPEALED,
                         "allowed": sorted(TRANSITIONS[current])})
        appeal = case_create(actor=actor, kind="appeal", reason_code=reason_code,
                             title=f"Appeal: {case.type} verification {case.id}",
                             summary=note[:1000], description=note, subject_user=case.user_id)
        before = snapshot(case)
        case.state, case.appeal_ref, case.expires_at = (VerificationState.APPEALED, appeal.id,
                                                        None)
        case.updated_at = now()
        case.save()
        entry = ledger.record(actor=actor, action="VERIFICATION_CASE_APPEALED",
                              resource=_case_resource(case), reason_code=reason_code,
                              before=before, after=snapshot(case), target_user_id=case.user_id,
                              metadata={"from": current, "to": VerificationState.APPEALED,
                                        "appeal_case_id": appeal.id})
        _log_change(case, actor, current, reason_code, entry)
        _follow(actor, case, reason_code, entry)
    return case, appeal


# --- PII expiry -------------------------------------------------------------------------------


@dataclass
class ExpiryReport:
    expired: list[str] = field(default_factory=list)  # cases shredded and blanked
    held: list[dict[str, Any]] = field(default_factory=list)  # skipped: {case_id, holds}
    failed: list[dict[str, Any]] = field(default_factory=list)  # {case_id, error}

    def as_dict(self) -> dict[str, Any]:
        return {"expired": self.expired, "held": self.held, "failed": self.failed}


EXPIRY_BATCH = 500


def _case_holds(case: VerificationCase) -> list[str]:
    """Legal holds over the case itself (its evidence's own holds are asked blob by blob)."""
    from casefile.holds.selectors import active_holds_over

    return [h.id for h in active_holds_over("verification_case", case.id)]


def verification_pii_expire(*, now: dt.datetime | None = None) -> ExpiryReport:
    """Past its `expires_at`, crypto-shred a verification case's evidence
    (`evidence_shred`, as Casefile itself) and blank its PII fields, keeping its decision, the
    evidence hashes and redacted copies, and its timeline. Its evidence is what it references
    and the raw bodies of every vendor delivery about it, applied or not;
    `VERIFICATION_PII_EXPIRED` as `system`. A case under a legal hold — on the case or on any of
    its evidence — is skipped whole and reported, and tried again on the next run. One case per
    transaction."""
    from casefile.evidence.services import evidence_shred
    from casefile.webhooks.selectors import evidence_ids_for_case as delivery_bodies

    moment = now or _now()
    system = Actor.system("pii-expiry")
    report = ExpiryReport()
    due = list(VerificationCase.objects.filter(expires_at__lte=moment,
                                               pii_expired_at__isnull=True)
               .order_by("expires_at", "id").values_list("id", flat=True)[:EXPIRY_BATCH])
    for case_id in due:
        try:
            with transaction.atomic():
                case = VerificationCase.objects.select_for_update().get(pk=case_id)
                if (case.pii_expired_at is not None or case.expires_at is None
                        or case.expires_at > moment):
                    continue
                blobs = list(EvidenceBlob.objects.filter(
                    pk__in=[*case.evidence_refs, *delivery_bodies(case.id)]).order_by("id"))
                held = _case_holds(case) + [b.id for b in blobs if holds.held(b)]
                if held:
                    report.held.append({"case_id": case.id, "held": held})
                    continue
                shredded, already = [], []
                for blob in blobs:
                    if blob.shredded_at is not None:
                        already.append(blob.id)
                        continue
                    evidence_shred(actor=system, blob=blob)
                    shredded.append(blob.id)
                before = snapshot(case)
                case.subject_name, case.subject_dob = "", None
                case.document_country, case.document_last4 = "", ""
                case.pii_expired_at = case.updated_at = _now()
                case.save()
                ledger.record(actor=system, action="VERIFICATION_PII_EXPIRED",
                              resource=_case_resource(case), before=before,
                              after=snapshot(case), target_user_id=case.user_id,
                              metadata={"shredded": shredded, "already_shredded": already,
                                        "kept": ["decision", "evidence hashes",
                                                 "redacted copies", "timeline"]})
            report.expired.append(case_id)
        except Exception as exc:  # noqa: BLE001 - one case's failure must not stop the rest
            report.failed.append({"case_id": case_id, "error": str(exc)[:500]})
    return report

