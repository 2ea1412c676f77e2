"""Trust & Safety intake and reads, on PostgreSQL, through the full Django stack.

1. Webhook intake: verified Persona deliveries per second with 4 clients. Each delivery is an
   `inquiry.approved` event for its own verification case, signed with a test secret: the
   signature is checked on the raw body, the delivery logged, its body sealed into the evidence
   vault, and the case moved created → pending → in_review → passed (each move audited, the
   profile's flags recomputed, the platform told through the outbox). The worker's audit
   sequencer runs beside the clients, as in production. Baseline in the same run: GET
   /api/v1/health per second with the same 4 clients.
2. The platform's read of one user's flags (`GET /api/v1/trust/profiles/{user_id}`, a machine
   token of the `platform` role) at 1,000,000 profiles: p50 and p95 over random users (aim: p95
   under 20 ms), beside /api/v1/health's.

    python bench/trust.py [--profiles 1000000] [--deliveries 1000] [--reads 1000]
"""

import argparse
import hashlib
import hmac
import json
import multiprocessing
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
from _setup import ROOT, fresh_database, latency  # noqa: E402

SECRET = "bench-webhook-secret"  # noqa: S105 - a test secret for a benchmark's own database
CLIENTS = 4
SAMPLE = ROOT / "tests" / "trust" / "payloads" / "persona_inquiry_approved.json"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profiles", type=int, default=1_000_000)
    parser.add_argument("--deliveries", type=int, default=1000)
    parser.add_argument("--reads", type=int, default=1000)
    args = parser.parse_args()
    os.environ["WEBHOOK_SECRETS"] = json.dumps({"persona": [SECRET]})
    os.environ.setdefault("OBJECT_STORE_URL",
                          f"file://{ROOT / 'var' / 'bench' / 'objects-trust'}")
    fresh_database("_trust")
    from django.db import connection

    print(f"trust on PostgreSQL ({connection.pg_version // 10000}), {CLIENTS} clients")
    sessions = _open_cases(args.deliveries)
    intake = _rate(CLIENTS, "webhook", sessions)
    health = _rate(CLIENTS, "health", [""] * args.deliveries)
    print(f"  webhook intake: {intake:8.0f} verified deliveries/s   /api/v1/health "
          f"{health:8.0f} requests/s   cost {health / intake:5.1f}x")

    t0 = time.perf_counter()
    users = _fill_profiles(args.profiles)
    print(f"  ({args.profiles:,} users with trust profiles in {time.perf_counter() - t0:.0f} s)")
    _profile_reads(users, args.reads)


def _open_cases(count: int) -> list[str]:
    """One IDV case per delivery, opened by the platform as it would, each with its session."""
    from casefile.audit.actor import Actor
    from casefile.platform.services import platform_user_upsert
    from casefile.trust.services import verification_case_open

    platform = Actor.system("bench")
    sessions = []
    for i in range(count):
        user_id = f"usr_bench{i:07d}"
        platform_user_upsert(actor=platform, user_id=user_id, email=f"u{i}@example.com")
        session = f"inq_bench{i:07d}"
        verification_case_open(actor=platform, user_id=user_id, type="idv", vendor="persona",
                               vendor_session_id=session)
        sessions.append(session)
    return sessions


def _rate(clients: int, kind: str, items: list[str]) -> float:
    from django.db import connections

    connections.close_all()
    context = multiprocessing.get_context("fork")
    start = context.Barrier(clients + 1)
    stop = context.Event()
    shares = [items[i::clients] for i in range(clients)]
    procs = [context.Process(target=_client, args=(kind, share, start)) for share in shares]
    sequencer = context.Process(target=_sequencer, args=(stop,))
    for p in [*procs, sequencer]:
        p.start()
    start.wait()
    t0 = time.perf_counter()
    for p in procs:
        p.join()
    elapsed = time.perf_counter() - t0
    stop.set()
    sequencer.join()
    assert all(p.exitcode == 0 for p in [*procs, sequencer])
    if kind == "webhook":
        from casefile.trust.models import VerificationCase

        assert VerificationCase.objects.filter(state="passed").count() == len(items)
    return len(items) / elapsed


def _client(kind: str, share: list[str], start) -> None:
    from django.db import connections
    from django.test import Client

    connections.close_all()
    client = Client()
    template = json.loads(SAMPLE.read_bytes())
    client.get("/api/v1/health")  # warm-up: URL resolver, views imported, first connection
    start.wait()
    for session in share:
        if kind == "health":
            response = client.get("/api/v1/health")
        else:
            body = _delivery(template, session)
            t = str(int(time.time()))
            signature = hmac.new(SECRET.encode(), t.encode() + b"." + body,
                                 hashlib.sha256).hexdigest()
            response = client.post("/api/v1/webhooks/persona", data=body,
                                   content_type="application/json",
                                   headers={"Persona-Signature": f"t={t},v1={signature}"})
        assert response.status_code == 200, (response.status_code, response.content[:300])
    connections.close_all()


def _delivery(template: dict, session: str) -> bytes:
    template["data"]["id"] = "evt_" + session
    template["data"]["attributes"]["payload"]["data"]["id"] = session
    return json.dumps(template).encode()


def _sequencer(stop) -> None:
    from django.conf import settings
    from django.db import connections

    from casefile.audit.ledger import chain_pending

    connections.close_all()
    while not stop.wait(settings.AUDIT_SEQUENCE_MS / 1000):
        chain_pending()
    connections.close_all()


def _fill_profiles(total: int) -> list[str]:
    """`total` platform users with trust profiles, by COPY (the writes are not what is
    measured): flags derived by the rules table from varied inputs, as the services store them."""
    import random

    from django.db import connection

    from casefile.core.timeutil import now
    from casefile.platform.models import PlatformUser
    from casefile.trust import policy
    from casefile.trust.models import TrustProfile

    rng = random.Random(7)
    moment = now()
    users = [f"usr_fill{i:08d}" for i in range(total)]
    fields = [f for f in TrustProfile._meta.concrete_fields]
    columns = [f.column for f in fields]
    connection.ensure_connection()
    raw = connection.connection
    with raw.cursor() as cursor:
        with cursor.copy("COPY platform_user (id, email, name, status, created_at, updated_at) "
                         "FROM STDIN") as copy:
            for i, user_id in enumerate(users):
                copy.write_row((user_id, f"fill{i}@example.com", "", "active", moment, moment))
        with cursor.copy(f"COPY trust_profile ({', '.join(columns)}) FROM STDIN") as copy:
            for user_id in users:
                profile = TrustProfile(
                    user=PlatformUser(id=user_id), created_at=moment, updated_at=moment,
                    is_18plus_attested=rng.random() < 0.8,
                    idv_status=rng.choice(["none", "pending", "passed", "passed", "failed"]),
                    bg_status=rng.choice(["none", "clear", "consider"]),
                    risk_score=rng.randrange(101))
                for flag, (ok, reasons) in policy.evaluate(profile).items():
                    setattr(profile, flag, ok)
                    setattr(profile, policy.reasons_field(flag), reasons)
                copy.write_row([_copy_value(f, profile) for f in fields])
    raw.commit()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE platform_user; ANALYZE trust_profile")
    return users


def _copy_value(field, profile):
    """A column's value as COPY takes it: JSON as its text, the rest as psycopg adapts it."""
    value = getattr(profile, field.attname)
    return json.dumps(value) if field.get_internal_type() == "JSONField" else value


def _profile_reads(users: list[str], reads: int) -> None:
    import random

    from django.test import Client

    from casefile.accounts import services as accounts
    from casefile.accounts.roles import Role
    from casefile.audit.actor import Actor

    cli = Actor.system("bench")
    machine = accounts.staff_user_create(actor=cli, email="platform@bench.example.com",
                                         roles=[Role.PLATFORM])
    token = accounts.api_token_create(actor=cli, owner=machine, name="bench")[1]
    client = Client(headers={"Authorization": f"Bearer {token}"})
    sample = random.Random(11).sample(users, reads)
    timings = []
    client.get(f"/api/v1/trust/profiles/{sample[0]}")
    for user_id in sample:
        t0 = time.perf_counter()
        response = client.get(f"/api/v1/trust/profiles/{user_id}")
        timings.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200, response.content[:300]
    timings.sort()
    p50, p95 = timings[len(timings) // 2], timings[int(0.95 * len(timings))]
    h50, h95 = latency(client, "/api/v1/health", reads)
    print(f"  profile read at {len(users):,} profiles: p50 {p50:5.1f} ms  p95 {p95:5.1f} ms "
          f"(aim p95 < 20 ms)   /api/v1/health p50 {h50:5.1f} ms  p95 {h95:5.1f} ms")


if __name__ == "__main__":
    Path(ROOT / "var" / "bench").mkdir(parents=True, exist_ok=True)
    main()
