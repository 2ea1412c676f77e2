"""Concurrent writers: every entry gets its own seq, with no gap, and the chain stays valid."""

import multiprocessing

import pytest
from django.db import connection, connections

from casefile.audit.models import AuditEntry
from casefile.audit.verify import audit_verify


def _writer(count: int) -> None:
    from tests.audit.helpers import record_entries

    connections.close_all()  # a fresh connection of this process's own
    record_entries(count)
    connections.close_all()


def _run_writers(processes: int, each: int) -> None:
    connections.close_all()  # never share a socket across fork
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_writer, args=(each,)) for _ in range(processes)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=600)
    assert [w.exitcode for w in workers] == [0] * processes


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_give_a_gapless_valid_chain():
    if connection.vendor == "postgresql":
        processes, each = 8, 500
    else:  # one writer at a time by design; a smaller run proves the same on SQLite
        processes, each = 8, 60
    _run_writers(processes, each)
    seqs = list(AuditEntry.objects.order_by("seq").values_list("seq", flat=True))
    assert seqs == list(range(1, processes * each + 1))
    report = audit_verify()
    assert report.ok and report.entries == processes * each
