"""Trust services: transitions, derived flags recomputed with their inputs, the outbox, appeal,
holds and risk history, and PII expiry."""

from datetime import timedelta

import pytest
from django.db import transaction

from casefile.accounts.roles import Role
from casefile.audit.actor import Actor
from casefile.audit.models import AuditEntry
from casefile.cases.models import Case
from casefile.core.errors import (
    Conflict,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from casefile.core.timeutil import now
from casefile.evidence.models import EvidenceBlob
from casefile.platform.models import OutboxCommand
from casefile.trust import services
from casefile.trust.models import RiskScoreChange, TrustProfile, VerificationCase
from casefile.trust.policy import TRANSITIONS, VerificationState
from tests.conftest import make_staff
from tests.evidence.helpers import upload
from tests.trust.helpers import (
    PATHS,
    WEBHOOK,
    analyst,
    move,
    platform_user,
    profile,
    verification,
)

pytestmark = pytest.mark.django_db
S = VerificationState
ALL_MOVES = [(a, b) for a in S for b in S if a != b]


def entries(resource, action=None):
    query = AuditEntry.objects.filter(resource=resource)
    return query.filter(action=action) if action else query


def commands(user_id):
    return OutboxCommand.objects.filter(type="trust.profile.changed",
                                        payload__user_id=user_id).order_by("created_at", "id")


def fresh(user_id) -> TrustProfile:
    return TrustProfile.objects.get(pk=user_id)


# --- transitions --------------------------------------------------------------------------------
@pytest.mark.parametrize(("start", "to"), ALL_MOVES, ids=str)
def test_every_transition_is_allowed_or_refused_by_the_table(start, to):
    case = verification("idv", start)
    resource = f"verification:{case.id}"
    before = entries(resource).count()
    if to == S.APPEALED and to in TRANSITIONS[start]:
        case, appeal = services.verification_case_appeal(
            actor=analyst(), case=case, reason_code="CUSTOMER_REQUEST", note="disputed")
        assert case.state == S.APPEALED and case.appeal_ref == appeal.id
        return
    if to in TRANSITIONS[start]:
        moved = services.verification_case_transition(actor=analyst(), case=case, to=to,
                                                      reason_code="INVESTIGATION")
        assert moved.state == to
        assert entries(resource, "VERIFICATION_CASE_TRANSITIONED").count() == (
            len(PATHS[start]) - PATHS[start].count("appealed") + 1)
        assert moved.changes.order_by("-at", "-id").first().to_state == to
        return
    with pytest.raises(InvalidTransition) as refused:
        if to == S.APPEALED:
            services.verification_case_appeal(actor=analyst(), case=case,
                                              reason_code="CUSTOMER_REQUEST", note="disputed")
        else:
            services.verification_case_transition(actor=analyst(), case=case, to=to,
                                                  reason_code="INVESTIGATION")
    assert refused.value.status == 409
    assert refused.value.details["allowed"] == sorted(TRANSITIONS[start])
    assert VerificationCase.objects.get(pk=case.pk).state == start
    assert entries(resource).count() == before


def test_an_unknown_state_is_422():
    with pytest.raises(ValidationFailed):
        services.verification_case_transition(actor=analyst(), case=verification(),
                                              to="approved", reason_code="INVESTIGATION")


def test_a_decision_is_recorded_and_sets_the_pii_expiry(settings):
    settings.VERIFICATION_PII_DAYS = 7
    case = verification("idv", "in_review")
    case = services.verification_case_transition(actor=WEBHOOK, case=case, to="passed",
                                                 decision="approved")
    assert case.decision == "approved" and case.decided_at is not None
    assert case.expires_at == case.decided_at + timedelta(days=7)
    entry = entries(f"verification:{case.id}", "VERIFICATION_CASE_TRANSITIONED").latest(
        "created_at")
    assert entry.actor_role == "system" and entry.reason_code == "TRUST_SIGNAL"
    assert entry.details["diff"]["state"] == {"from": "in_review", "to": "passed"}


def test_a_decision_word_only_with_passed_or_failed():
    with pytest.raises(ValidationFailed):
        services.verification_case_transition(actor=analyst(), case=verification(),
                                              to="pending", decision="approved",
                                              reason_code="INVESTIGATION")


def test_an_older_vendor_event_is_refused_and_changes_nothing():
    case = verification("idv", "pending")
    later = now()
    case = services.verification_case_transition(actor=WEBHOOK, case=case, to="in_review",
                                                 vendor_event_at=later)
    with pytest.raises(services.StaleVendorEvent):
        services.verification_case_transition(actor=WEBHOOK, case=case, to="failed",
                                              vendor_event_at=later - timedelta(seconds=5))
    assert VerificationCase.objects.get(pk=case.pk).state == "in_review"
    assert VerificationCase.objects.get(pk=case.pk).last_vendor_event_at == later


def test_evidence_is_referenced_once_and_must_exist():
    case = verification("idv", "pending")
    blob = upload()
    case = services.verification_case_transition(actor=analyst(), case=case, to="in_review",
                                                 evidence_ids=[blob.id, blob.id],
                                                 reason_code="INVESTIGATION")
    assert case.evidence_refs == [blob.id]
    with pytest.raises(NotFound):
        services.verification_case_transition(actor=analyst(), case=case, to="passed",
                                              evidence_ids=["evb_nope"],
                                              reason_code="INVESTIGATION")


# --- opening --------------------------------------------------------------------------------------
def test_the_platform_and_staff_open_cases_and_a_vendor_session_is_unique():
    platform_identity = Actor.staff(make_staff(Role.PLATFORM))
    user_id = platform_user()
    case = services.verification_case_open(actor=platform_identity, user_id=user_id,
                                           type="idv", vendor="Persona",
                                           vendor_session_id="inq_1")
    assert case.vendor == "persona" and case.opened_by == platform_identity.user.id
    assert fresh(user_id).idv_status == "pending" and fresh(user_id).idv_vendor == "persona"
    opened = entries(f"verification:{case.id}", "VERIFICATION_CASE_OPENED").get()
    assert opened.reason_code == "TRUST_SIGNAL"
    with pytest.raises(Conflict) as dup:
        services.verification_case_open(actor=analyst(), user_id=platform_user(), type="idv",
                                        vendor="persona", vendor_session_id="inq_1",
                                        reason_code="INVESTIGATION")
    assert dup.value.details == {"case_id": case.id}
    # another vendor may use the same session id; no session id is never a clash
    services.verification_case_open(actor=analyst(), user_id=user_id, type="background",
                                    vendor="checkr", vendor_session_id="inq_1",
                                    reason_code="INVESTIGATION")
    for _ in range(2):
        services.verification_case_open(actor=analyst(), user_id=user_id, type="studio",
                                        reason_code="INVESTIGATION")


def test_opening_refuses_bad_input_and_unknown_users():
    with pytest.raises(ValidationFailed):
        services.verification_case_open(actor=analyst(), user_id=platform_user(), type="dna",
                                        reason_code="INVESTIGATION")
    with pytest.raises(ValidationFailed):
        services.verification_case_open(actor=analyst(), user_id=platform_user(), type="idv",
                                        vendor_session_id="s", reason_code="INVESTIGATION")
    with pytest.raises(NotFound):
        services.verification_case_open(actor=analyst(), user_id="usr_unknown", type="idv",
                                        reason_code="INVESTIGATION")
    with pytest.raises(ValidationFailed):  # a person gives a reason
        services.verification_case_open(actor=analyst(), user_id=platform_user(), type="idv")


@pytest.mark.parametrize("role", [Role.VIEWER, Role.LEGAL, Role.INGEST])
def test_roles_that_may_not_open_or_decide(role):
    actor = Actor.staff(make_staff(role))
    with pytest.raises(PermissionDenied):
        services.verification_case_open(actor=actor, user_id=platform_user(), type="idv",
                                        reason_code="INVESTIGATION")
    with pytest.raises(PermissionDenied):
        services.verification_case_transition(actor=actor, case=verification(), to="pending",
                                              reason_code="INVESTIGATION")


def test_the_platform_may_open_but_not_decide():
    platform_identity = Actor.staff(make_staff(Role.PLATFORM))
    case = verification("idv", "in_review")
    with pytest.raises(PermissionDenied):
        services.verification_case_transition(actor=platform_identity, case=case, to="passed")


# --- the profile follows, in the same transaction ----------------------------------------------
def test_a_pass_moves_the_profile_and_its_flags_and_tells_the_platform():
    user_id = profile(is_18plus_attested=True).user_id
    case = verification("idv", "in_review", user_id=user_id)
    assert not fresh(user_id).payouts_eligible
    sent = commands(user_id).count()
    services.verification_case_transition(actor=WEBHOOK, case=case, to="passed",
                                          decision="approved")
    p = fresh(user_id)
    assert p.idv_status == "passed" and p.payouts_eligible and p.nsfw_toggle_eligible
    assert not p.instant_book_eligible
    assert [r["code"] for r in p.instant_book_reasons] == ["background_not_clear"]
    command = commands(user_id).last()
    assert commands(user_id).count() == sent + 1
    assert command.payload["flags"] == {"instant_book_eligible": False,
                                        "nsfw_toggle_eligible": True, "payouts_eligible": True}
    assert command.payload["reasons"]["instant_book_eligible"] == ["background_not_clear"]
    assert command.payload["idv_status"] == "passed"
    entry = AuditEntry.objects.get(pk=command.audit_entry_id)
    assert entry.action == "TRUST_PROFILE_UPDATED"
    assert entry.metadata["verification_case_id"] == case.id
    assert entry.details["diff"]["payouts_eligible"] == {"from": False, "to": True}


def test_a_failure_while_applying_undoes_the_case_the_profile_and_the_command(monkeypatch):
    user_id = profile(is_18plus_attested=True).user_id
    case = verification("idv", "in_review", user_id=user_id)
    sent = commands(user_id).count()

    def broken(*args, **kwargs):
        raise RuntimeError("the outbox is down")

    monkeypatch.setattr(services, "_tell_platform", broken)
    with pytest.raises(RuntimeError), transaction.atomic():
        services.verification_case_transition(actor=WEBHOOK, case=case, to="passed")
    assert VerificationCase.objects.get(pk=case.pk).state == "in_review"
    assert fresh(user_id).idv_status == "pending" and not fresh(user_id).payouts_eligible
    assert commands(user_id).count() == sent


def test_the_flags_are_recomputed_in_the_transaction_of_the_input():
    user_id = profile(is_18plus_attested=True, idv_status="passed").user_id
    assert fresh(user_id).payouts_eligible
    actor = analyst()
    with transaction.atomic():
        services.trust_risk_score_set(actor=actor, user_id=user_id, score=85,
                                      reason_code="FRAUD_SIGNAL")
        inside = fresh(user_id)  # the same transaction sees both, never one without the other
        assert inside.risk_score == 85 and not inside.payouts_eligible
        assert commands(user_id).last().payload["flags"]["payouts_eligible"] is False


def test_derived_fields_and_unknown_inputs_are_refused():
    user_id = profile().user_id
    for changes in ({"payouts_eligible": True}, {"payouts_reasons": []}, {"risk_score": 5},
                    {"hold_type": "risk"}, {"colour": "blue"}, {"idv_status": "maybe"},
                    {"strike_points_active": -1}, {"is_18plus_attested": "yes"}, {}):
        with pytest.raises(ValidationFailed):
            services.trust_profile_update(actor=analyst(), user_id=user_id, changes=changes,
                                          reason_code="INVESTIGATION")


def test_an_update_that_changes_nothing_is_409_and_records_nothing():
    user_id = profile(is_18plus_attested=True).user_id
    before = entries(f"user:{user_id}").count()
    with pytest.raises(Conflict):
        services.trust_profile_update(actor=analyst(), user_id=user_id,
                                      changes={"is_18plus_attested": True},
                                      reason_code="INVESTIGATION")
    assert entries(f"user:{user_id}").count() == before


def test_a_change_that_moves_no_flag_or_status_sends_no_command():
    user_id = profile().user_id
    sent = commands(user_id).count()
    services.trust_profile_update(actor=analyst(), user_id=user_id,
                                  changes={"safe_mode_preference": "off"},
                                  reason_code="CUSTOMER_REQUEST")
    assert commands(user_id).count() == sent
    assert entries(f"user:{user_id}", "TRUST_PROFILE_UPDATED").count() == 1


def test_creating_a_profile_is_recorded_by_casefile_once():
    user_id = platform_user()
    first = services.trust_profile_get_or_create(user_id=user_id)
    again = services.trust_profile_get_or_create(user_id=user_id)
    assert first.pk == again.pk
    created = entries(f"user:{user_id}", "TRUST_PROFILE_CREATED").get()
    assert created.actor_role == "system" and created.reason_code == "TRUST_PROFILE_DEFAULTS"
    assert not first.payouts_eligible and first.payouts_reasons
    with pytest.raises(NotFound):
        services.trust_profile_get_or_create(user_id="usr_nobody")


# --- risk and holds -------------------------------------------------------------------------------
def test_risk_history_is_kept_and_audited():
    user_id = profile().user_id
    services.trust_risk_score_set(actor=analyst(), user_id=user_id, score=40,
                                  source="model:v3", reason="chargebacks",
                                  reason_code="FRAUD_SIGNAL")
    services.trust_risk_score_set(actor=WEBHOOK, user_id=user_id, score=75)
    history = list(RiskScoreChange.objects.filter(profile_id=user_id).order_by("at", "id"))
    assert [(h.previous, h.score, h.source) for h in history] == [(0, 40, "model:v3"),
                                                                  (40, 75, "staff")]
    assert history[1].actor_id == "system"
    assert AuditEntry.objects.get(pk=history[0].audit_entry_id).action == "TRUST_RISK_SCORE_SET"
    with pytest.raises(Conflict):
        services.trust_risk_score_set(actor=WEBHOOK, user_id=user_id, score=75)
    for bad in (-1, 101, True):
        with pytest.raises(ValidationFailed):
            services.trust_risk_score_set(actor=WEBHOOK, user_id=user_id, score=bad)


def test_holds_stop_payouts_and_instant_booking_until_cleared():
    user_id = profile(is_18plus_attested=True, idv_status="passed", bg_status="clear").user_id
    assert fresh(user_id).payouts_eligible and fresh(user_id).instant_book_eligible
    services.trust_hold_set(actor=analyst(), user_id=user_id, hold_type="new_acct",
                            reason_code="FRAUD_SIGNAL")
    p = fresh(user_id)
    assert p.hold_type == "new_acct" and p.hold_since is not None
    assert not p.payouts_eligible and not p.instant_book_eligible and p.nsfw_toggle_eligible
    with pytest.raises(Conflict):
        services.trust_hold_set(actor=analyst(), user_id=user_id, hold_type="new_acct",
                                reason_code="FRAUD_SIGNAL")
    services.trust_hold_set(actor=analyst(), user_id=user_id, hold_type="risk",
                            reason_code="FRAUD_SIGNAL")
    services.trust_hold_clear(actor=analyst(), user_id=user_id, reason_code="FRAUD_SIGNAL")
    assert fresh(user_id).payouts_eligible and fresh(user_id).hold_since is None
    with pytest.raises(Conflict):
        services.trust_hold_clear(actor=analyst(), user_id=user_id, reason_code="FRAUD_SIGNAL")
    actions = list(entries(f"user:{user_id}").order_by("created_at", "id")
                   .values_list("action", flat=True))
    assert actions[-3:] == ["TRUST_HOLD_SET", "TRUST_HOLD_SET", "TRUST_HOLD_CLEARED"]
    assert [c.payload["hold_type"] for c in commands(user_id)][-3:] == ["new_acct", "risk",
                                                                       "none"]


# --- appeal -----------------------------------------------------------------------------------
def test_an_appeal_opens_a_case_of_kind_appeal_and_keeps_the_pii():
    case = verification("idv", "failed")
    assert case.expires_at is not None
    case, appeal = services.verification_case_appeal(
        actor=analyst(), case=case, reason_code="CUSTOMER_REQUEST", note="my passport is valid")
    assert case.state == "appealed" and case.appeal_ref == appeal.id and case.expires_at is None
    assert Case.objects.get(pk=appeal.id).kind == "appeal"
    assert appeal.subject_user == case.user_id and "passport" in appeal.description
    assert fresh(case.user_id).idv_status == "pending"
    case = move(case, "in_review", "passed")
    assert fresh(case.user_id).idv_status == "passed" and case.expires_at is not None


def test_an_appeal_needs_a_note_and_a_decided_case():
    with pytest.raises(ValidationFailed):
        services.verification_case_appeal(actor=analyst(), case=verification("idv", "passed"),
                                          reason_code="CUSTOMER_REQUEST", note="  ")
    with pytest.raises(InvalidTransition):
        services.verification_case_appeal(actor=analyst(), case=verification("idv", "pending"),
                                          reason_code="CUSTOMER_REQUEST", note="why")
    assert not Case.objects.filter(kind="appeal").exists()


# --- PII expiry -------------------------------------------------------------------------------
def _decided_with_evidence(**pii):
    blob = upload()
    case = verification("idv", "in_review")
    VerificationCase.objects.filter(pk=case.pk).update(
        subject_name="Alice Example", document_country="GB", document_last4="1234", **pii)
    case = services.verification_case_transition(actor=WEBHOOK, case=case, to="passed",
                                                 evidence_ids=[blob.id])
    return case, blob


def _hold(blob):
    from tests.evidence.helpers import place_hold

    place_hold(blob)


def test_expiry_shreds_the_evidence_and_blanks_the_pii_keeping_the_rest(settings):
    case, blob = _decided_with_evidence()
    report = services.verification_pii_expire()
    assert report.expired == []  # not yet due
    later = now() + timedelta(days=settings.VERIFICATION_PII_DAYS, seconds=1)
    report = services.verification_pii_expire(now=later)
    assert report.expired == [case.id] and report.held == []
    case = VerificationCase.objects.get(pk=case.pk)
    assert case.subject_name == "" and case.document_last4 == "" and case.subject_dob is None
    assert case.pii_expired_at is not None
    assert case.decision == "passed" and case.state == "passed"
    assert case.evidence_refs == [blob.id]
    assert case.changes.count() == 4  # the timeline is kept
    shredded = EvidenceBlob.objects.get(pk=blob.pk)
    assert shredded.is_shredded and shredded.sha256 == blob.sha256
    assert shredded.redacted_key == blob.redacted_key
    from casefile.evidence.services import evidence_redacted_read

    assert evidence_redacted_read(actor=analyst(), blob=shredded)  # the redacted copy remains
    entry = entries(f"verification:{case.id}", "VERIFICATION_PII_EXPIRED").get()
    assert entry.actor_role == "system" and entry.reason_code == "PII_EXPIRY"
    assert entry.metadata["shredded"] == [blob.id]
    assert "Alice" not in str(entry.details)  # the ledger keeps digests of PII, not PII
    shred_entry = entries(f"evidence:{blob.id}", "EVIDENCE_SHREDDED").get()
    assert shred_entry.actor_role == "system"
    # a second run finds nothing
    assert services.verification_pii_expire(now=later).expired == []


def test_expiry_skips_and_reports_a_case_whose_evidence_is_held(settings):
    case, blob = _decided_with_evidence()
    _hold(blob)
    later = now() + timedelta(days=settings.VERIFICATION_PII_DAYS, seconds=1)
    report = services.verification_pii_expire(now=later)
    assert report.expired == [] and report.held == [{"case_id": case.id, "held": [blob.id]}]
    case = VerificationCase.objects.get(pk=case.pk)
    assert case.subject_name == "Alice Example" and case.pii_expired_at is None
    assert not EvidenceBlob.objects.get(pk=blob.pk).is_shredded
    assert not entries(f"verification:{case.id}", "VERIFICATION_PII_EXPIRED").exists()


def test_expiry_skips_a_case_held_as_a_whole(settings):
    from casefile.evidence.services import evidence_shred
    from casefile.storage import get_store
    from tests.evidence.helpers import place_hold

    case, blob = _decided_with_evidence()
    hold = place_hold(blob, kind="verification_case", object_id=case.id)
    assert get_store().head(blob.original_key).legal_hold  # the case's evidence is locked
    later = now() + timedelta(days=settings.VERIFICATION_PII_DAYS, seconds=1)
    report = services.verification_pii_expire(now=later)
    # Held through the case, and through its evidence (a hold on the case covers what it names).
    assert report.held == [{"case_id": case.id, "held": [hold.id, blob.id]}]
    assert not EvidenceBlob.objects.get(pk=blob.pk).is_shredded
    with pytest.raises(Conflict):
        evidence_shred(actor=Actor.system("test"), blob=blob)


def test_the_periodic_job_is_scheduled():
    from casefile.core.schedule import PERIODIC

    assert "casefile.trust.tasks.verification_pii_expire" in {j.task.module_path
                                                              for j in PERIODIC}


@pytest.mark.parametrize("statement", [
    "UPDATE trust_risk_score_change SET score = 1",
    "DELETE FROM trust_risk_score_change",
    "UPDATE trust_verification_change SET to_state = 'passed'",
    "DELETE FROM trust_verification_change",
])
def test_the_histories_are_append_only(statement):
    from django.db import DatabaseError, connection

    user_id = profile().user_id
    services.trust_risk_score_set(actor=analyst(), user_id=user_id, score=40,
                                  reason="signals", reason_code="FRAUD_SIGNAL")
    move(verification("idv", "created", user_id=user_id), "pending")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), \
            connection.cursor() as cursor:
        cursor.execute(statement)
