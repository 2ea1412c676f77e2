"""The audit ledger's cost, on PostgreSQL.

Prints audited actions per second with 1 and 8 concurrent writers beside a plain insert of the
same rows (no chain lock, no hash): the ratio is what the ledger costs. An audited action is
timed until its entry is chained: the worker's sequencer runs beside the writers, as in
production, and what it has not reached when they finish is chained before the clock stops,
so the chain's work is inside the figure. Then `audit verify` over 1,000,000 entries, in entries
per second, first with no checkpoint (the chain alone), then with a checkpoint every
--checkpoint-every entries (each signed tree checked against the rebuilt Merkle tree and by a
consistency proof against the one before): the ratio is what the proofs cost. Last, receipts
per second (entry, inclusion proof, signed note) against plain reads of the same entries.

    python bench/audit.py [--actions 8000] [--verify-entries 1000000] [--receipts 500]
"""

import argparse
import itertools
import multiprocessing
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from _setup import fresh_database  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--actions", type=int, default=8000, help="per measurement")
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--verify-entries", type=int, default=1_000_000)
    parser.add_argument("--checkpoint-every", type=int, default=50_000)
    parser.add_argument("--receipts", type=int, default=500)
    args = parser.parse_args()
    fresh_database("_audit")

    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE bench_plain_entry (LIKE audit_entry INCLUDING ALL)")
        cursor.execute("CREATE SEQUENCE bench_plain_seq")

    print(f"audit ledger on PostgreSQL ({connection.pg_version // 10000}), "
          f"{args.actions} actions per measurement")
    rows = []
    for writers in (1, args.writers):
        each = args.actions // writers
        audited = _rate(writers, each, "audited")
        plain = _rate(writers, each, "plain")
        rows.append((writers, audited, plain))
        print(f"  {writers} writer(s): audited {audited:8.0f} actions/s   plain insert "
              f"{plain:8.0f} rows/s   cost {plain / audited:4.2f}x")

    _fill_ledger(args.verify_entries)
    from casefile.audit.verify import audit_verify

    report = audit_verify(record_run=False)
    assert report.ok, report.as_dict()
    chain_rate = report.entries / report.elapsed_s
    print(f"  audit verify: {report.entries} entries in {report.elapsed_s:.1f} s = "
          f"{chain_rate:,.0f} entries/s (aim >= 50,000)")

    _checkpoint_every(args.checkpoint_every)
    report = audit_verify(record_run=False)
    assert report.ok and report.checkpoints, report.as_dict()
    proof_rate = report.entries / report.elapsed_s
    print(f"  audit verify with proofs ({report.checkpoints} signed trees): {report.entries} "
          f"entries in {report.elapsed_s:.1f} s = {proof_rate:,.0f} entries/s (aim >= 50,000)"
          f"   cost {chain_rate / proof_rate:4.2f}x the chain alone")

    receipts, reads = _receipt_rates(args.receipts, report.last_seq)
    print(f"  receipts: {receipts:8.0f} /s   plain entry reads {reads:8.0f} /s   "
          f"cost {reads / receipts:4.2f}x")


def _checkpoint_every(every: int) -> None:
    """Sign a tree head every `every` entries, as shipping would (filling the tree's chunks)."""
    from django.db import transaction

    from casefile.audit.checkpoints import checkpoint_for
    from casefile.audit.models import AuditEntry

    t0 = time.perf_counter()
    head = (AuditEntry.objects.filter(seq__isnull=False).order_by("-seq")
            .values_list("seq", flat=True).first() or 0)
    sizes = [*range(every, head + 1, every), head]
    for size in sorted(set(sizes)):
        with transaction.atomic():
            checkpoint_for(AuditEntry.objects.get(seq=size))
    print(f"  ({len(set(sizes))} checkpoints signed in {time.perf_counter() - t0:.1f} s)")


def _receipt_rates(count: int, head: int) -> tuple[float, float]:
    """Receipts for entries spread over the ledger, and plain reads of the same entries."""
    import random

    from casefile.audit.ledger import entry_document
    from casefile.audit.models import AuditEntry
    from casefile.audit.receipts import receipt_for

    seqs = random.Random(7).sample(range(1, head + 1), count)
    t0 = time.perf_counter()
    for seq in seqs:
        entry_document(AuditEntry.objects.get(seq=seq))
    reads = count / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for seq in seqs:
        receipt_for(AuditEntry.objects.get(seq=seq))
    return count / (time.perf_counter() - t0), reads


def _rate(writers: int, each: int, kind: str) -> float:
    from django.db import connections

    connections.close_all()
    context = multiprocessing.get_context("fork")
    start = context.Barrier(writers + 1)
    procs = [context.Process(target=_work, args=(kind, each, start)) for _ in range(writers)]
    stop = context.Event()
    if kind == "audited":  # as in production: the worker's sequencer runs beside the writers
        procs.append(context.Process(target=_sequencer, args=(stop,)))
    for p in procs:
        p.start()
    start.wait()
    t0 = time.perf_counter()
    for p in procs[:writers]:
        p.join()
    stop.set()
    for p in procs[writers:]:
        p.join()
    if kind == "audited":  # the clock stops when every entry is in the chain, not before
        from casefile.audit.ledger import chain_pending, pending_count

        chain_pending()
        assert pending_count() == 0
    elapsed = time.perf_counter() - t0
    assert all(p.exitcode == 0 for p in procs)
    return writers * each / elapsed


def _sequencer(stop) -> None:
    """The worker's sequencer thread, as a process: a pass every AUDIT_SEQUENCE_MS."""
    from django.conf import settings
    from django.db import connections

    from casefile.audit.ledger import chain_pending

    connections.close_all()
    while not stop.wait(settings.AUDIT_SEQUENCE_MS / 1000):
        chain_pending()
    connections.close_all()


def _work(kind: str, count: int, start) -> None:
    from django.db import connection, connections, transaction

    from casefile.audit import ledger
    from casefile.audit.actor import Actor
    from casefile.core.ids import new_id
    from casefile.core.timeutil import now

    connections.close_all()
    connection.ensure_connection()
    from casefile.accounts.models import StaffUser
    from casefile.accounts.roles import Role
    from casefile.core import ids

    # A member of staff (LIMIT_OVERRIDE is done by people, who name their reason), without an
    # account row: creating one would add entries to what is measured.
    user = StaffUser(id=ids.new_stf_id(), email="bench@example.com")
    user._roles_cache = frozenset({Role.OPS})
    actor = Actor(user=user)
    start.wait()
    for i in range(count):
        before, after = {"limits": {"seats": i}}, {"limits": {"seats": i + 1}}
        if kind == "audited":
            with transaction.atomic():
                ledger.record(actor=actor, action="LIMIT_OVERRIDE", resource="tenant:ten_1",
                              reason_code="CUSTOMER_REQUEST", target_tenant_id="ten_1",
                              before=before, after=after)
        else:
            # The same row through the same ORM layer, without lock, head read or hash.
            details = {"before": before, "after": after, "diff": ledger.diff(before, after)}
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    "INSERT INTO bench_plain_entry (id, seq, created_at, actor_role, user_agent, "
                    "action, risk, resource, target_tenant_id, reason_code, details, metadata, "
                    "prev_hash, hash) VALUES (%s, nextval('bench_plain_seq'), %s, 'system', '', "
                    "'LIMIT_OVERRIDE', 'MEDIUM', 'tenant:ten_1', 'ten_1', 'CUSTOMER_REQUEST', "
                    "%s::jsonb, %s::jsonb, %s, %s)",
                    [new_id("aud"), now(), _json(details), _json({"via": "bench"}), "0" * 64,
                     "0" * 64],
                )
    connections.close_all()


def _json(value) -> str:
    import orjson

    return orjson.dumps(value).decode()


def _fill_ledger(total: int) -> None:
    """Append `total` valid, chained entries with COPY (the writes are not what is measured)."""
    import orjson
    from django.db import connection

    from casefile.audit.ledger import document, entry_hash
    from casefile.core.ids import new_id
    from casefile.core.timeutil import now

    with connection.cursor() as cursor:
        cursor.execute("SELECT seq, hash FROM audit_entry WHERE seq IS NOT NULL "
                       "ORDER BY seq DESC LIMIT 1")
        seq, prev = cursor.fetchone() or (0, "0" * 64)
    need = total - seq
    t0 = time.perf_counter()
    columns = ("id", "seq", "created_at", "actor_user_id", "actor_email", "actor_role",
               "ip_address", "user_agent", "action", "risk", "resource", "target_tenant_id",
               "target_user_id", "reason_code", "ticket_ref", "details", "metadata",
               "prev_hash", "hash")
    actions = itertools.cycle([("LIMIT_OVERRIDE", "MEDIUM"), ("CASE_UPDATED", "LOW"),
                               ("TENANT_POLICY_UPDATE", "HIGH")])
    with connection.cursor() as cursor:
        raw = cursor.cursor
        with raw.copy(f"COPY audit_entry ({', '.join(columns)}) FROM STDIN") as copy:
            for i in range(need):
                seq += 1
                action, risk = next(actions)
                fields = {
                    "id": new_id("aud"), "seq": seq, "created_at": now(),
                    "actor_user_id": "stf_01BENCH", "actor_email": "bench@example.com",
                    "actor_role": "ops", "ip_address": "10.1.2.3", "user_agent": "bench/1.0",
                    "action": action, "risk": risk, "resource": f"tenant:ten_{i % 1000}",
                    "target_tenant_id": f"ten_{i % 1000}", "target_user_id": None,
                    "reason_code": "CUSTOMER_REQUEST", "ticket_ref": None,
                    "details": {"before": {"seats": i}, "after": {"seats": i + 1},
                                "diff": {"seats": {"from": i, "to": i + 1}}},
                    "metadata": {"via": "bench"}, "prev_hash": prev,
                }
                fields["hash"] = prev = entry_hash(document(fields))
                copy.write_row([orjson.dumps(fields[c]).decode()
                                if c in ("details", "metadata") else fields[c] for c in columns])
    print(f"  (filled the ledger to {total:,} entries in {time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
