"""Concurrent writers and sequencers: every entry gets its own seq, with no gap, and the chain
stays valid."""

import multiprocessing

import pytest
from django.db import connection, connections, transaction

from casefile.audit import ledger
from casefile.audit.models import AuditEntry
from casefile.audit.verify import audit_verify
from tests.audit.helpers import ACTOR


def _writer(count: int) -> None:
    connections.close_all()  # a fresh connection of this process's own
    for i in range(count):
        with transaction.atomic():
            ledger.record(actor=ACTOR, action="LIMIT_OVERRIDE", resource=f"tenant:ten_{i % 7}",
                          reason_code="CUSTOMER_REQUEST", before={"seats": i},
                          after={"seats": i + 1})
    connections.close_all()


def _sequencer(stop) -> None:
    connections.close_all()
    while not stop.wait(0.01):  # far more often than the worker does, to meet the writers
        ledger.chain_pending(batch=50)
    connections.close_all()


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_and_sequencers_give_a_gapless_valid_chain():
    if connection.vendor == "postgresql":
        processes, each = 8, 300
    else:  # one writer at a time by design; a smaller run proves the same on SQLite
        processes, each = 6, 40
    connections.close_all()  # never share a socket across fork
    context = multiprocessing.get_context("fork")
    stop = context.Event()
    sequencers = [context.Process(target=_sequencer, args=(stop,)) for _ in range(3)]
    writers = [context.Process(target=_writer, args=(each,)) for _ in range(processes)]
    for p in sequencers + writers:
        p.start()
    for p in writers:
        p.join(timeout=600)
    stop.set()
    for p in sequencers:
        p.join(timeout=600)
    assert [p.exitcode for p in sequencers + writers] == [0] * (processes + 3)
    ledger.chain_pending()
    seqs = list(AuditEntry.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, processes * each + 1))
    report = audit_verify()
    assert report.ok and report.entries == processes * each
