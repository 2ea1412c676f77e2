"""Verified deliveries applied to verification cases through the trust app's own verbs: each
vendor's sample moves its case step by step, a bad signature or a replay changes nothing, an
out-of-order event is logged and not applied, an early delivery waits for its case."""

from __future__ import annotations

import pytest
from django.db.models import Max

from casefile.audit import ledger
from casefile.audit.models import AuditEntry
from casefile.evidence.models import EvidenceBlob
from casefile.trust.models import VerificationCase
from casefile.webhooks import services
from casefile.webhooks.models import Outcome, WebhookDelivery, WebhookResolution
from tests.trust import helpers as trust
from tests.webhooks.helpers import (
    SAMPLES,
    SECRET,
    STATUS,
    VENDORS,
    body_for,
    deliver,
    post,
    sample,
    signed,
)

pytestmark = pytest.mark.django_db

T1, T2, T3 = "2026-03-02T09:00:00Z", "2026-03-02T10:00:00Z", "2026-03-02T11:00:00Z"


@pytest.fixture(autouse=True)
def secrets(settings):
    settings.WEBHOOK_SECRETS = {name: [SECRET] for name in VENDORS}


def case_for(vendor: str, session: str | None = None, state: str = "created",
             type: str = "idv") -> VerificationCase:  # noqa: A002
    return trust.verification(type, state, vendor=vendor,
                              vendor_session_id=session or SAMPLES[vendor][1])


def fresh(case: VerificationCase) -> VerificationCase:
    return VerificationCase.objects.get(pk=case.pk)


def moves(case: VerificationCase) -> list[AuditEntry]:
    ledger.chain_pending()
    return list(AuditEntry.objects.filter(resource=f"verification:{case.pk}",
                                          action="VERIFICATION_CASE_TRANSITIONED")
                .order_by("seq"))


def last_seq() -> int:
    ledger.chain_pending()
    return AuditEntry.objects.aggregate(last=Max("seq"))["last"] or 0


def event(vendor: str, session: str, state: str, at: str, n: int) -> bytes:
    return body_for(vendor, session=session, status=STATUS[vendor][state], at=at,
                    event=f"evt_{vendor}_{n}")


# --- a good delivery applies ---------------------------------------------------------------------
DECISIONS = {"persona": "approved", "onfido": "approved", "veriff": "approved",
             "checkr": "clear"}


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_good_delivery_moves_its_case_step_by_step(vendor):
    case = case_for(vendor, type="background" if vendor == "checkr" else "idv")
    response = deliver(vendor)
    assert response.status_code == 200, response.content
    assert response.json()["outcome"] == Outcome.APPLIED
    row = WebhookDelivery.objects.get()
    case = fresh(case)
    assert (case.state, case.decision) == ("passed", DECISIONS[vendor])
    assert case.last_vendor_event_at == row.vendor_time
    assert case.evidence_refs == [row.evidence_id]
    assert (row.verification_case_id, row.detail) == (case.pk, "pending → in_review → passed")
    entries = moves(case)
    assert [(e.metadata["from"], e.metadata["to"]) for e in entries] == [
        ("created", "pending"), ("pending", "in_review"), ("in_review", "passed")]
    for entry in entries:  # Casefile itself, on the vendor's word
        assert (entry.actor_role, entry.reason_code) == ("system", "TRUST_SIGNAL")
        assert entry.metadata["via"] == f"webhook:{vendor}"
    assert EvidenceBlob.objects.get(pk=row.evidence_id).platform_user_id == case.user_id


def test_the_profile_follows_the_vendors_decision():
    case = case_for("persona")
    deliver("persona")
    from casefile.trust.models import TrustProfile

    assert TrustProfile.objects.get(pk=case.user_id).idv_status == "passed"


def test_a_status_that_asks_for_review_with_a_word_keeps_the_word_in_the_log():
    case = case_for("checkr", "rpt_consider", type="background")
    body = body_for("checkr", session="rpt_consider", status="complete:consider", at=T1,
                    event="evt_consider")
    assert deliver("checkr", body).json()["outcome"] == Outcome.APPLIED
    assert (fresh(case).state, fresh(case).decision) == ("in_review", "")
    assert WebhookDelivery.objects.get().decision == "consider"


# --- nothing applied -----------------------------------------------------------------------------
@pytest.mark.parametrize("vendor", VENDORS)
def test_a_bad_signature_applies_nothing(vendor):
    case = case_for(vendor)
    before = last_seq()
    body = sample(vendor)
    response = post(vendor, body, signed(vendor, body, "an-attackers-guess"))
    assert response.status_code == 401
    assert fresh(case).state == "created"
    assert last_seq() == before  # no audit entry of any kind
    assert WebhookDelivery.objects.get().outcome == Outcome.SIGNATURE_INVALID


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_replay_changes_nothing(vendor):
    case = case_for(vendor)
    deliver(vendor)
    applied = fresh(case)
    before = last_seq()
    response = deliver(vendor)
    assert (response.status_code, response.json()["outcome"]) == (200, Outcome.DUPLICATE)
    again = fresh(case)
    assert (again.state, again.updated_at, again.evidence_refs) == (
        applied.state, applied.updated_at, applied.evidence_refs)
    assert last_seq() == before
    assert EvidenceBlob.objects.count() == 1
    assert WebhookDelivery.objects.get(outcome=Outcome.DUPLICATE).verification_case_id == case.pk


@pytest.mark.parametrize("vendor", VENDORS)
def test_an_out_of_order_pair_logs_the_older_one_without_applying_it(vendor):
    session = f"sess_{vendor}_ooo"
    case = case_for(vendor, session)
    newer = deliver(vendor, event(vendor, session, "in_review", T2, 1))
    assert newer.json()["outcome"] == Outcome.APPLIED
    state = fresh(case).state
    before = last_seq()
    older = deliver(vendor, event(vendor, session, "pending", T1, 2))
    assert (older.status_code, older.json()["outcome"]) == (200, Outcome.OUT_OF_ORDER)
    assert fresh(case).state == state == "in_review"
    assert last_seq() == before + 1  # its body's upload only: kept as evidence, not applied
    row = WebhookDelivery.objects.get(outcome=Outcome.OUT_OF_ORDER)
    assert row.verification_case_id == case.pk and row.evidence_id
    assert "before the last event" in row.detail
    # A newer one still applies.
    assert deliver(vendor, event(vendor, session, "passed", T3, 3)).json()["outcome"] == (
        Outcome.APPLIED)
    assert fresh(case).state == "passed"


def test_a_move_the_table_forbids_is_logged_rejected_and_answered_200():
    case = case_for("checkr", "rpt_dispute", "passed", type="background")
    body = body_for("checkr", session="rpt_dispute", status="dispute", at=T3, event="evt_d")
    response = deliver("checkr", body)
    assert (response.status_code, response.json()["outcome"]) == (200, Outcome.REJECTED)
    assert fresh(case).state == "passed"  # reopening a decision is an appeal, a person's act
    assert "without a person" in WebhookDelivery.objects.get().detail


def test_a_status_that_is_already_the_cases_has_no_effect():
    case = case_for("persona", "inq_same", "pending")
    body = body_for("persona", session="inq_same", status="pending", at=T1, event="evt_same")
    assert deliver("persona", body).json()["outcome"] == Outcome.NO_EFFECT
    assert fresh(case).state == "pending"


def test_an_event_about_no_session_has_no_effect():
    body = body_for("checkr", session="cand_1", status="pending", at=T1, event="evt_cand")
    import json

    doc = json.loads(body)
    doc["type"], doc["data"]["object"]["object"] = "candidate.created", "candidate"
    response = deliver("checkr", json.dumps(doc).encode())
    assert response.json()["outcome"] == Outcome.NO_EFFECT
    assert WebhookDelivery.objects.get().evidence_id  # kept all the same


# --- early deliveries ----------------------------------------------------------------------------
@pytest.mark.parametrize("vendor", VENDORS)
def test_an_early_delivery_is_held_then_applied_when_its_case_is_opened(vendor):
    assert deliver(vendor).json()["outcome"] == Outcome.HELD_FOR_CASE
    held = WebhookDelivery.objects.get()
    case = case_for(vendor)  # the trust app opens it, and applies what was held
    assert (case.state, case.decision) == ("passed", DECISIONS[vendor])
    assert case.evidence_refs == [held.evidence_id]
    resolution = WebhookResolution.objects.get()
    assert (resolution.delivery_id, resolution.outcome, resolution.verification_case_id) == (
        held.id, Outcome.APPLIED, case.pk)
    assert WebhookDelivery.objects.get().outcome == Outcome.HELD_FOR_CASE  # never rewritten
    assert len(moves(case)) == 3
    # A replay now is a duplicate: nothing is applied twice.
    assert deliver(vendor).json()["outcome"] == Outcome.DUPLICATE
    assert WebhookResolution.objects.count() == 1 and len(moves(case)) == 3


def test_held_deliveries_apply_in_the_vendors_order():
    session = "inq_early_pair"
    deliver("persona", event("persona", session, "in_review", T2, 1))
    deliver("persona", event("persona", session, "pending", T1, 2))
    case = case_for("persona", session)
    assert case.state == "in_review"
    resolutions = list(WebhookResolution.objects.order_by("id"))
    assert [r.delivery.vendor_time.hour for r in resolutions] == [9, 10]
    assert [r.outcome for r in resolutions] == [Outcome.APPLIED, Outcome.APPLIED]


def test_held_deliveries_out_of_order_with_the_case_are_resolved_out_of_order():
    session = "inq_early_old"
    deliver("persona", event("persona", session, "pending", T1, 1))
    case = case_for("persona", session)
    assert case.state == "pending"
    deliver("persona", event("persona", session, "in_review", T3, 2))
    deliver("persona", event("persona", session, "pending", T2, 3))
    assert list(WebhookDelivery.objects.order_by("received_at", "id")
                .values_list("outcome", flat=True)) == [
        Outcome.HELD_FOR_CASE, Outcome.APPLIED, Outcome.OUT_OF_ORDER]


def test_a_case_opened_while_a_delivery_was_in_flight_is_caught_by_the_sweep(monkeypatch):
    deliver("veriff")
    # The case opens without seeing the delivery (their transactions overlapped).
    monkeypatch.setattr(services, "webhook_deliveries_apply_held", lambda *, case: [])
    case = case_for("veriff")
    monkeypatch.undo()
    assert fresh(case).state == "created"
    assert services.webhook_deliveries_sweep_held() == 1
    assert fresh(case).state == "passed"
    assert services.webhook_deliveries_sweep_held() == 0  # resolved once


def test_a_case_opened_without_a_session_applies_nothing():
    deliver("persona")
    case = trust.verification("idv")
    assert case.state == "created"
    assert not WebhookResolution.objects.exists()
