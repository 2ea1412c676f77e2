"""The moderation decision path, on PostgreSQL, through HTTP.

200 published rules and 100,000 hashes in lists (50,000 SHA-256, 50,000 PDQ); 4 clients post
items as the platform would (`POST /api/v1/moderation/items`, a machine token of the `platform`
role) over HTTP to gunicorn serving Casefile as `casefile serve` does, each decided by the rules
with the user's trust profile, written with its ledger entry, and enforced through the outbox;
the worker's audit sequencer runs beside them. Prints decisions per second and p50/p95 latency
(aim: p95 under 30 ms) beside /api/v1/health with the same 4 clients and server (what the machine
allows any request), and the audited-decision rate against plain inserts of ledger rows by 4
writers (bench/audit.py's baseline), since every decision writes a ledger entry.

`--via client` runs the same requests through Django's test client in the 4 client processes
instead (no server, no sockets): the figures the first version of this bench printed.

    python bench/moderation.py [--decisions 2000] [--rules 200] [--hashes 100000]
                               [--via http|client] [--workers 4] [--threads 1]
"""

import argparse
import hashlib
import http.client
import json
import multiprocessing
import os
import random
import sys
import time
from contextlib import contextmanager

sys.path.insert(0, os.path.dirname(__file__))
from _setup import fresh_database, gunicorn  # noqa: E402

CLIENTS = 4
WARM_UP = 10  # decisions per client before the clock starts: each worker parses the rules
# and indexes the PDQ list the first time it decides, as a server does once after it starts
USERS = 500
LABELS = ["nudity", "violence", "spam", "hate", "self_harm", "weapons", "drugs", "scam"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--decisions", type=int, default=2000)
    parser.add_argument("--rules", type=int, default=200)
    parser.add_argument("--hashes", type=int, default=100_000)
    parser.add_argument("--via", choices=("http", "client"), default="http")
    # One single-threaded worker per client: on a 2-core machine, threads in one worker only
    # queue behind its GIL (measured: 2 workers x 2 threads gave a worse p95 than 4 x 1).
    parser.add_argument("--workers", type=int, default=CLIENTS)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    url = fresh_database("_moderation")
    from django.db import connection

    token, known = _set_up(args.rules, args.hashes)
    items = _items(args.decisions + WARM_UP * CLIENTS, known)
    warm, items = items[:WARM_UP * CLIENTS], items[WARM_UP * CLIENTS:]
    how = ("Django's test client in each client" if args.via == "client" else
           f"HTTP to gunicorn, {args.workers} workers x {args.threads} threads")
    print(f"moderation on PostgreSQL ({connection.pg_version // 10000}), {CLIENTS} clients, "
          f"{args.rules} rules, {args.hashes:,} hashes, {how}")
    with _server(url, args) as port:
        decide, d50, d95 = _rate("decide", token, items, warm, port)
        health, h50, h95 = _rate("health", token, [None] * args.decisions, [None] * CLIENTS,
                                 port)
    print(f"  decisions:      {decide:7.0f} /s   p50 {d50:5.1f} ms  p95 {d95:5.1f} ms "
          f"(aim p95 < 30 ms)")
    print(f"  /api/v1/health: {health:7.0f} /s   p50 {h50:5.1f} ms  p95 {h95:5.1f} ms "
          f"(the floor: any request, same clients and server)")
    print(f"  a decision costs {health / decide:5.1f}x a health check in rate, "
          f"{d95 / h95:5.1f}x in p95")
    plain = _plain_inserts(args.decisions)
    print(f"  audited decisions {decide:7.0f} /s   plain ledger-row inserts ({CLIENTS} writers) "
          f"{plain:7.0f} /s   cost {plain / decide:5.1f}x")


@contextmanager
def _server(url: str, args):
    """gunicorn (bench/_setup.py) for HTTP; None for `--via client`."""
    if args.via == "client":
        yield None
        return
    with gunicorn(url, workers=args.workers, threads=args.threads) as port:
        yield port


def _set_up(rules: int, hashes: int) -> tuple[str, dict[str, list[str]]]:
    from casefile.accounts import services as accounts
    from casefile.accounts.roles import Role
    from casefile.audit.actor import Actor
    from casefile.platform.services import platform_user_upsert
    from casefile.trust import moderation

    cli = Actor.system("bench")
    for i in range(USERS):
        platform_user_upsert(actor=cli, user_id=f"usr_mod{i:05d}", email=f"m{i}@example.com")
    staff = accounts.staff_user_create(actor=cli, email="rules@bench.example.com",
                                       roles=[Role.OPS])
    ops = Actor.staff(staff)
    rng = random.Random(5)
    known: dict[str, list[str]] = {}
    for name, kind in (("known_sha256", "sha256"), ("known_pdq", "pdq")):
        values = [f"{rng.getrandbits(256):064x}" for _ in range(hashes // 2)]
        known[kind] = values[:100]
        hash_list = moderation.hash_list_create(actor=ops, name=name, kind=kind,
                                                reason_code="POLICY_VIOLATION")
        for start in range(0, len(values), 5000):
            moderation.hash_list_add(actor=ops, hash_list=hash_list,
                                     values=values[start:start + 5000],
                                     reason_code="POLICY_VIOLATION")
    draft = moderation.rule_set_draft_save(actor=ops, rules_json=_rules(rules),
                                           reason_code="POLICY_VIOLATION")
    moderation.rule_set_publish(actor=ops, version=draft.version, reason_code="POLICY_VIOLATION")
    machine = accounts.staff_user_create(actor=cli, email="platform@bench.example.com",
                                         roles=[Role.PLATFORM])
    return accounts.api_token_create(actor=cli, owner=machine, name="bench")[1], known


def _rules(count: int) -> dict:
    """Hash-list rules, profile rules, and signal thresholds for the rest."""
    rules = [
        {"id": "known-file", "description": "a known file",
         "condition": {"sha256_list": "known_sha256"},
         "outcome": {"decision": "remove", "needs_review": True, "reason": "known file"}},
        {"id": "near-known-image", "description": "near a known image",
         "condition": {"all": [{"kind": "media"},
                               {"pdq_list": "known_pdq", "max_distance": 31}]},
         "outcome": {"decision": "remove", "reason": "known image"}},
        {"id": "new-unverified-spam", "description": "spam by a new unverified account",
         "condition": {"all": [{"kind": "message"}, {"new_account_days": 7},
                               {"unverified": True}, {"signal": "spam", "gte": 0.5}]},
         "outcome": {"decision": "block", "reason": "spam by a new account"}},
    ]
    decisions = ["blur", "block", "remove", "allow"]
    for i in range(count - len(rules)):
        label = LABELS[i % len(LABELS)]
        rules.append({
            "id": f"{label}-{i}", "description": f"{label} over a threshold",
            "condition": {"any": [
                {"signal": label, "gte": round(0.80 + (i % 19) / 100, 2)},
                {"all": [{"signal": label, "gte": 0.6}, {"risk_score_gte": 80}]}]},
            "outcome": {"decision": decisions[i % len(decisions)],
                        "safe_mode_required": label == "nudity", "reason": f"{label} rule {i}"}})
    return {"rules": rules, "review_band": {"low": 0.45, "high": 0.55}}


def _items(count: int, known: dict[str, list[str]]) -> list[dict]:
    rng = random.Random(9)
    items = []
    for i in range(count):
        kind = "media" if i % 3 else "message"
        item = {"kind": kind, "item_id": f"itm_{i:07d}",
                "subject_user_id": f"usr_mod{rng.randrange(USERS):05d}",
                "signals": [{"source": "classifier", "label": label,
                             "score": round(rng.random(), 3), "model": "v1"}
                            for label in rng.sample(LABELS, 3)],
                "sha256": (rng.choice(known["sha256"]) if rng.random() < 0.01 else
                           hashlib.sha256(f"item {i}".encode()).hexdigest())}
        if kind == "media":
            item["pdq"] = (rng.choice(known["pdq"]) if rng.random() < 0.01
                           else f"{rng.getrandbits(256):064x}")
        items.append(item)
    return items


def _rate(kind: str, token: str, items: list, warm: list,
          port: int | None) -> tuple[float, float, float]:
    from django.db import connections

    connections.close_all()
    context = multiprocessing.get_context("fork")
    start = context.Barrier(CLIENTS + 1)
    stop = context.Event()
    timings = context.Queue()
    procs = [context.Process(target=_client, args=(kind, token, items[i::CLIENTS],
                                                   warm[i::CLIENTS], port, start, timings))
             for i in range(CLIENTS)]
    sequencer = context.Process(target=_sequencer, args=(stop,))
    for p in [*procs, sequencer]:
        p.start()
    start.wait()
    t0 = time.perf_counter()
    collected: list[float] = []
    for _ in procs:
        collected += timings.get()
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - t0
    stop.set()
    sequencer.join()
    assert all(p.exitcode == 0 for p in [*procs, sequencer])
    collected.sort()
    return (len(items) / elapsed, collected[len(collected) // 2],
            collected[int(0.95 * len(collected))])


def _client(kind: str, token: str, share: list, warm: list, port: int | None, start,
            timings) -> None:
    from django.db import connections

    connections.close_all()
    send = _http_sender(token, port) if port else _test_client_sender(token)
    send("health", None)  # warm-up: URL resolver, views imported, first connection
    for item in warm:
        send(kind, item)
    start.wait()
    spent = []
    for item in share:
        t0 = time.perf_counter()
        send(kind, item)
        spent.append((time.perf_counter() - t0) * 1000)
    timings.put(spent)
    connections.close_all()


def _http_sender(token: str, port: int):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def send(kind: str, item: dict | None) -> None:
        if kind == "health":
            conn.request("GET", "/api/v1/health", headers=headers)
        else:
            conn.request("POST", "/api/v1/moderation/items", json.dumps(item), headers)
        response = conn.getresponse()
        body = response.read()
        assert response.status in (200, 201), (response.status, body[:300])

    return send


def _test_client_sender(token: str):
    from django.test import Client

    client = Client(headers={"Authorization": f"Bearer {token}"})

    def send(kind: str, item: dict | None) -> None:
        if kind == "health":
            response = client.get("/api/v1/health")
        else:
            response = client.post("/api/v1/moderation/items", item,
                                   content_type="application/json")
        assert response.status_code in (200, 201), (response.status_code,
                                                    response.content[:300])

    return send


def _sequencer(stop) -> None:
    from django.conf import settings
    from django.db import connections

    from casefile.audit.ledger import chain_pending

    connections.close_all()
    while not stop.wait(settings.AUDIT_SEQUENCE_MS / 1000):
        chain_pending()
    connections.close_all()


def _plain_inserts(total: int) -> float:
    """bench/audit.py's baseline: the same ledger row inserted plainly, by 4 writers."""
    from django.db import connection

    import audit

    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE bench_plain_entry (LIKE audit_entry INCLUDING ALL)")
        cursor.execute("CREATE SEQUENCE bench_plain_seq")
    return audit._rate(CLIENTS, total // CLIENTS, "plain")


if __name__ == "__main__":
    main()
