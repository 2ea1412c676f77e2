"""Appending: entries are inserted in their change's transaction and chained after commit by the
sequencer, which hashes exactly what verify recomputes from the stored rows."""

import pytest
from django.db import DatabaseError, connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from casefile.audit import ledger
from casefile.audit.ledger import GENESIS_HASH
from casefile.audit.models import AuditEntry
from casefile.audit.triggers import CHAIN_COLUMNS, CONTENT_COLUMNS
from casefile.audit.verify import audit_verify
from tests.audit.helpers import ACTOR, record_entries

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.text(max_size=20) | st.floats(allow_nan=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=12)


def _record(**changes):
    fields = {"actor": ACTOR, "action": "LIMIT_OVERRIDE", "resource": "tenant:ten_1",
              "reason_code": "CUSTOMER_REQUEST", "target_tenant_id": "ten_1",
              "before": {"seats": 1}, "after": {"seats": 2}} | changes
    with transaction.atomic():
        return ledger.record(**fields)


@pytest.mark.django_db
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(before=st.dictionaries(st.text(max_size=10), json_values, max_size=4),
       after=st.dictionaries(st.text(max_size=10), json_values, max_size=4),
       metadata=st.dictionaries(st.text(max_size=10), json_values, max_size=4))
def test_whatever_is_recorded_chains_into_what_verify_recomputes(before, after, metadata):
    """Text with NULs, surrogates' neighbours, big integers, floats as text, nested objects: the
    row goes through the database's JSON type and back before the sequencer hashes it."""
    try:
        _record(before=before, after=after, metadata=metadata)
    except Exception as exc:  # noqa: BLE001 - only the ledger's own refusal is acceptable
        assert type(exc).__name__ == "ValidationFailed", exc  # noqa: PT017
        return
    ledger.chain_pending()
    assert audit_verify(record_run=False).ok


@pytest.mark.django_db
def test_entries_wait_unchained_until_the_sequencer_places_them_in_record_order():
    with transaction.atomic():
        first = ledger.record(actor=ACTOR, action="LIMIT_OVERRIDE", resource="tenant:ten_1",
                              reason_code="CUSTOMER_REQUEST", before={"a": 1}, after={"a": 2})
        second = ledger.record(actor=ACTOR, action="LIMIT_OVERRIDE", resource="tenant:ten_2",
                               reason_code="CUSTOMER_REQUEST", before={"a": 1}, after={"a": 2})
    assert (first.seq, first.prev_hash, first.hash) == (None, None, None)
    assert ledger.pending_count() == 2
    report = audit_verify(record_run=False)
    assert report.ok and report.entries == 0 and report.unchained == 2

    assert ledger.chain_pending() == 2
    assert ledger.pending_count() == 0 and ledger.chain_pending() == 0
    stored = list(AuditEntry.objects.order_by("seq"))
    assert [(e.id, e.seq) for e in stored] == [(first.id, 1), (second.id, 2)]
    assert stored[0].prev_hash == GENESIS_HASH and stored[1].prev_hash == stored[0].hash
    assert audit_verify(record_run=False).ok


@pytest.mark.django_db
def test_a_later_pass_extends_the_chain_and_small_batches_loop():
    record_entries(3)
    for _ in range(5):
        _record()
    assert ledger.chain_pending(batch=2) == 5
    assert list(AuditEntry.objects.order_by("seq").values_list("seq", flat=True)) == [
        1, 2, 3, 4, 5, 6, 7, 8]
    assert audit_verify(record_run=False).ok


@pytest.mark.django_db
def test_a_rolled_back_change_leaves_no_entry():
    with pytest.raises(RuntimeError), transaction.atomic():
        _record()
        raise RuntimeError("the change failed")
    assert not AuditEntry.objects.exists() and ledger.chain_pending() == 0


@pytest.mark.django_db(transaction=True)
def test_a_pass_that_finds_the_lock_taken_leaves_the_entries_to_the_holder():
    """PostgreSQL: the lock is tried; the holder looks again after letting go, so nothing
    committed before a failed try is left behind."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite's chain lock is the write lock, which passes wait for")
    import psycopg

    _record()
    holder = psycopg.connect(_dsn(), autocommit=True)
    try:
        holder.execute("SELECT pg_advisory_lock(%s)", [ledger._CHAIN_LOCK_KEY])
        assert ledger.chain_pending() == 0 and ledger.pending_count() == 1
        # Let go explicitly: a closed connection's locks are released by the server a moment
        # later, and a loaded machine showed the next pass still finding it taken.
        holder.execute("SELECT pg_advisory_unlock(%s)", [ledger._CHAIN_LOCK_KEY])
    finally:
        holder.close()
    assert ledger.chain_pending() == 1 and ledger.pending_count() == 0
    assert audit_verify(record_run=False).ok


def _dsn() -> str:
    params = connection.get_connection_params()
    return " ".join(f"{k}={params[k]}" for k in ("host", "port", "user", "dbname")
                    if params.get(k))


def test_the_triggers_name_every_column():
    columns = {f.column for f in AuditEntry._meta.concrete_fields}
    assert columns == set(CHAIN_COLUMNS) | set(CONTENT_COLUMNS)


def _update(sql: str, params: list) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.mark.django_db
def test_the_triggers_let_only_the_sequencers_one_update_through():
    entry = _record()
    # Content cannot change, before or while being chained.
    with pytest.raises(DatabaseError):
        _update("UPDATE audit_entry SET reason_code = 'OTHER' WHERE id = %s", [entry.id])
    with pytest.raises(DatabaseError):
        _update("UPDATE audit_entry SET seq = 1, prev_hash = %s, hash = %s, resource = "
                "'tenant:ten_9' WHERE id = %s", [GENESIS_HASH, "a" * 64, entry.id])
    with pytest.raises(DatabaseError):  # not part of it: all three at once
        _update("UPDATE audit_entry SET seq = 1 WHERE id = %s", [entry.id])
    with pytest.raises(DatabaseError):
        _update("DELETE FROM audit_entry WHERE id = %s", [entry.id])
    ledger.chain_pending()
    # Once chained, never again: neither re-chained nor taken out of the chain.
    with pytest.raises(DatabaseError):
        _update("UPDATE audit_entry SET seq = 7, prev_hash = %s, hash = %s WHERE id = %s",
                [GENESIS_HASH, "b" * 64, entry.id])
    with pytest.raises(DatabaseError):
        _update("UPDATE audit_entry SET seq = NULL, prev_hash = NULL, hash = NULL WHERE id = %s",
                [entry.id])
    assert audit_verify(record_run=False).ok
