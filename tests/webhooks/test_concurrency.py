"""The same event delivered twice at once (vendors retry on a timeout while the first request
is still running): one is applied, the other is a duplicate, and the case moves once."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from casefile.audit import ledger
from casefile.audit.models import AuditEntry
from casefile.trust.models import VerificationCase
from casefile.webhooks import services
from casefile.webhooks.models import Outcome, WebhookDelivery
from tests.trust import helpers as trust
from tests.webhooks.helpers import SAMPLES, SECRET, VENDORS, sample, signed

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.postgres_only
def test_two_concurrent_deliveries_of_one_event_apply_once(settings):
    if connection.vendor != "postgresql":
        pytest.skip("concurrent writers need PostgreSQL (SQLite serialises them)")
    settings.WEBHOOK_SECRETS = {name: [SECRET] for name in VENDORS}
    case = trust.verification("background", vendor="checkr",
                              vendor_session_id=SAMPLES["checkr"][1])
    body = sample("checkr")
    headers = signed("checkr", body)
    start = threading.Barrier(2)
    outcomes: list[str] = []
    errors: list[BaseException] = []

    def deliver():
        try:
            start.wait()
            outcomes.append(services.webhook_receive(vendor="checkr", body=body,
                                                     headers=headers).outcome)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert sorted(outcomes) == [Outcome.APPLIED, Outcome.DUPLICATE]
    assert VerificationCase.objects.get(pk=case.pk).state == "passed"
    assert WebhookDelivery.objects.filter(first_receipt=True).count() == 1
    ledger.chain_pending()
    assert AuditEntry.objects.filter(resource=f"verification:{case.pk}",
                                     action="VERIFICATION_CASE_TRANSITIONED").count() == 3
