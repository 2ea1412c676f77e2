import hashlib

import pytest
from django.db import DatabaseError, connection, transaction

from casefile.audit import ledger
from casefile.audit.actor import Actor
from casefile.audit.models import AuditEntry
from casefile.core.canonical import canonical_json
from casefile.core.errors import ValidationFailed
from tests.audit.helpers import ACTOR, record_entries

pytestmark = pytest.mark.django_db


def test_entries_form_a_gapless_hash_chain_from_genesis():
    entries = record_entries(5)
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0].prev_hash == "0" * 64
    for prev, entry in zip(entries, entries[1:], strict=False):
        assert entry.prev_hash == prev.hash
    for entry in AuditEntry.objects.all():
        doc = ledger.entry_document(entry)
        stored = doc.pop("hash")
        assert stored == hashlib.sha256(canonical_json(doc)).hexdigest()


def test_details_hold_before_after_and_a_diff():
    with transaction.atomic():
        entry = ledger.record(
            actor=ACTOR, action="TENANT_POLICY_UPDATE", resource="tenant:ten_1",
            reason_code="CUSTOMER_REQUEST", target_tenant_id="ten_1",
            before={"plan": "basic", "features": {"sso": False, "seats": 5}, "gone": 1},
            after={"plan": "pro", "features": {"sso": True, "seats": 5}},
        )
    entry.refresh_from_db()
    assert entry.risk == "HIGH"
    assert entry.details["diff"] == {
        "features.sso": {"from": False, "to": True},
        "gone": {"from": 1, "to": None},
        "plan": {"from": "basic", "to": "pro"},
    }
    assert entry.details["before"]["plan"] == "basic"


def test_floats_and_decimals_are_recorded_as_text():
    from decimal import Decimal

    with transaction.atomic():
        entry = ledger.record(actor=ACTOR, action="BILLING_CREDIT_ADD", resource="tenant:ten_1",
                              reason_code="CUSTOMER_REQUEST",
                              before={"balance": Decimal("10.50")}, after={"score": 0.25})
    entry.refresh_from_db()
    assert entry.details["before"] == {"balance": "10.50"}
    assert entry.details["after"] == {"score": "0.25"}


def test_actor_is_snapshotted(staff_factory):
    from casefile.accounts.roles import Role

    user = staff_factory(Role.ANALYST, Role.ADMIN, email="snap@example.com")
    with transaction.atomic():
        entry = ledger.record(actor=Actor(user=user, ip_address="10.0.0.9", user_agent="ua"),
                              action="TENANT_VIEW_DETAILS", resource="tenant:ten_1",
                              reason_code="INVESTIGATION")
    assert (entry.actor_user_id, entry.actor_email, entry.actor_role) == (
        user.id, "snap@example.com", "admin,analyst")
    assert entry.ip_address == "10.0.0.9"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"action": "NOT_A_THING"}, "unknown audit action"),
        ({"reason_code": "BECAUSE"}, "unknown reason code"),
        ({"reason_code": ""}, "reason code is required"),
        ({"action": "IMPERSONATION_START", "resource": "user:usr_1"}, "ticket reference"),
    ],
)
def test_refusals(kwargs, message):
    args = {"actor": ACTOR, "action": "LIMIT_OVERRIDE", "resource": "tenant:ten_1",
            "reason_code": "CUSTOMER_REQUEST", **kwargs}
    with pytest.raises(ValidationFailed, match=message), transaction.atomic():
        ledger.record(**args)
    assert not AuditEntry.objects.exists()


def test_critical_action_with_ticket_is_recorded():
    with transaction.atomic():
        entry = ledger.record(actor=ACTOR, action="IMPERSONATION_START", resource="user:usr_1",
                              reason_code="SECURITY_INCIDENT", ticket_ref="SEC-42")
    assert entry.risk == "CRITICAL" and entry.ticket_ref == "SEC-42"


@pytest.mark.django_db(transaction=True)  # no test-wide transaction around it
def test_record_outside_a_transaction_is_a_bug():
    with pytest.raises(RuntimeError, match="inside the transaction"):
        ledger.record(actor=ACTOR, action="LIMIT_OVERRIDE", resource="tenant:ten_1",
                      reason_code="CUSTOMER_REQUEST")


def test_entry_rolls_back_with_its_change():
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        ledger.record(actor=ACTOR, action="LIMIT_OVERRIDE", resource="tenant:ten_1",
                      reason_code="CUSTOMER_REQUEST")
        1 / 0  # noqa: B018 - the change fails after its entry was written
    assert not AuditEntry.objects.exists()
    assert record_entries(1)[0].seq == 1


@pytest.mark.parametrize("statement", [
    "UPDATE audit_entry SET action = 'CASE_CREATED'",
    "DELETE FROM audit_entry",
    "UPDATE audit_checkpoint SET hash = 'x'",
    "DELETE FROM audit_segment",
])
def test_plain_sql_cannot_change_the_ledger(statement):
    from casefile.audit.shipping import audit_ship

    record_entries(2)
    audit_ship()  # a checkpoint and a segment row to aim at
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(statement)
    assert AuditEntry.objects.count() == 2


@pytest.mark.skipif("connection.vendor != 'postgresql'",
                    reason="TRUNCATE exists on PostgreSQL only")
def test_truncate_is_refused_on_postgresql():
    record_entries(1)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE audit_entry")
    assert AuditEntry.objects.count() == 1
