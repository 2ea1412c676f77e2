"""Delivery bodies expire with the verification's PII: those the case's own expiry does not
reach (never applied, or never claimed by a case) are crypto-shredded by
`webhook_bodies_expire`; a legal hold keeps them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from casefile.core.timeutil import now
from casefile.evidence.models import EvidenceBlob
from casefile.trust import services as trust_services
from casefile.webhooks import holds, selectors
from casefile.webhooks.models import Outcome, WebhookDelivery
from casefile.webhooks.services import webhook_bodies_expire
from tests.evidence.helpers import place_hold
from tests.trust import helpers as trust
from tests.webhooks.helpers import SECRET, STATUS, VENDORS, body_for, deliver

pytestmark = pytest.mark.django_db
T1, T2, T3 = "2026-03-02T09:00:00Z", "2026-03-02T10:00:00Z", "2026-03-02T11:00:00Z"


@pytest.fixture(autouse=True)
def secrets(settings):
    settings.WEBHOOK_SECRETS = {name: [SECRET] for name in VENDORS}


def event(session: str, state: str, at: str, n: int) -> bytes:
    return body_for("persona", session=session, status=STATUS["persona"][state], at=at,
                    event=f"evt_x_{n}")


def shredded(blob_id: str) -> bool:
    return EvidenceBlob.objects.get(pk=blob_id).shredded_at is not None


def test_a_body_no_case_claimed_is_shredded_after_the_pii_period(settings):
    deliver("persona", event("inq_never", "passed", T1, 1))
    blob_id = WebhookDelivery.objects.get().evidence_id
    assert webhook_bodies_expire().shredded == []
    later = now() + timedelta(days=settings.VERIFICATION_PII_DAYS, minutes=1)
    assert webhook_bodies_expire(at=later).shredded == [blob_id]
    blob = EvidenceBlob.objects.get(pk=blob_id)
    assert blob.shredded_at is not None and blob.sha256  # the hash and redacted copy remain
    assert webhook_bodies_expire(at=later).shredded == []  # once


def test_bodies_never_applied_expire_with_their_cases_pii(settings):
    session = "inq_expiring"
    case = trust.verification("idv", vendor="persona", vendor_session_id=session)
    deliver("persona", event(session, "in_review", T2, 1))
    deliver("persona", event(session, "pending", T1, 2))  # out of order: not in evidence_refs
    deliver("persona", event(session, "passed", T3, 3))
    out_of_order = WebhookDelivery.objects.get(outcome=Outcome.OUT_OF_ORDER).evidence_id
    assert out_of_order not in trust.VerificationCase.objects.get(pk=case.pk).evidence_refs
    later = now() + timedelta(days=settings.VERIFICATION_PII_DAYS + 1)
    assert webhook_bodies_expire(at=later).shredded == []  # the case's PII has not expired
    trust_services.verification_pii_expire(now=later)
    # The case's expiry may take its deliveries' bodies itself (`evidence_ids_for_case`); what
    # it leaves, this job takes. Either way none is left readable.
    assert webhook_bodies_expire(at=later).shredded in ([], [out_of_order])
    assert all(shredded(d.evidence_id) for d in WebhookDelivery.objects.all())
    assert webhook_bodies_expire(at=later).shredded == []


def test_a_body_under_a_legal_hold_is_kept_and_reported(settings):
    deliver("persona", event("inq_held", "passed", T1, 1))
    blob = EvidenceBlob.objects.get(pk=WebhookDelivery.objects.get().evidence_id)
    place_hold(blob)
    later = now() + timedelta(days=settings.VERIFICATION_PII_DAYS + 1)
    report = webhook_bodies_expire(at=later)
    assert (report.shredded, report.held) == ([], [blob.id])
    assert not shredded(blob.id)


def test_a_hold_on_a_verification_case_covers_its_deliveries_bodies():
    session = "inq_covered"
    case = trust.verification("idv", vendor="persona", vendor_session_id=session)
    deliver("persona", event(session, "in_review", T2, 1))
    deliver("persona", event(session, "pending", T1, 2))
    ids = sorted(WebhookDelivery.objects.values_list("evidence_id", flat=True))
    assert selectors.evidence_ids_for_case(case.pk) == ids
    for blob_id in ids:
        assert holds.verification_cases_of_blob(blob_id) == [("verification_case", case.pk)]
    keys = holds.verification_object_keys(case.pk)
    assert sorted(keys) == sorted(f"evidence/{i}/{copy}" for i in ids
                                  for copy in ("original", "redacted"))
    from casefile.holds import scopes

    assert ("verification_case", case.pk) in scopes.enclosing("evidence", ids[0])
