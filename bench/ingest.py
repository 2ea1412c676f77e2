"""Event ingestion rate on PostgreSQL, every index in place, against raw COPY in the same run.

1. raw COPY: the same events, already normalised, COPYed into the same (empty) table — the
   ceiling for any ingest path.
2. CLI: `casefile ingest events.ndjson` (parse, normalise, fingerprint, dedupe, COPY).
3. HTTP: gunicorn as `casefile serve` runs it (bench/_setup.py), with concurrent clients
   POSTing NDJSON batches.

    python bench/ingest.py [--events 1000000] [--clients 4] [--batch 5000]
"""

import argparse
import http.client
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
from _setup import ROOT, fresh_database, gunicorn  # noqa: E402
from eventgen import write_ndjson  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--batch", type=int, default=5000, help="events per HTTP request")
    args = parser.parse_args()
    url = fresh_database("_ingest")
    data = ROOT / "var" / "bench" / f"events-{args.events}.ndjson"
    if not data.exists():
        print(f"  generating {args.events:,} events into {data} …")
        write_ndjson(data, args.events)

    copy_rate = _raw_copy(data)
    cli_rate = _cli(data, url)
    http_rate = _http(data, url, args.clients, args.batch)
    print(f"event ingestion on PostgreSQL, {args.events:,} events, all indexes in place")
    print(f"  raw COPY of normalised rows  {copy_rate:10,.0f} events/s   1.00")
    print(f"  casefile ingest (CLI)        {cli_rate:10,.0f} events/s   {cli_rate / copy_rate:4.2f}"
          "  (aim >= 0.5)")
    print(f"  HTTP, {args.clients} clients              {http_rate:10,.0f} events/s   "
          f"{http_rate / copy_rate:4.2f}  (aim >= 0.3)")


def _truncate() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE event, case_event")
        cursor.execute("VACUUM ANALYZE event")


def _raw_copy(data: Path) -> float:
    import orjson
    from django.db import connection

    from casefile.core.timeutil import now
    from casefile.events.normalise import COLUMNS, normalise
    from casefile.events.partitions import partitions_ensure

    received = now()
    rows = []
    with data.open("rb") as f:
        for line in f:
            rows.append(normalise(orjson.loads(line), default_source="bench",
                                  received_at=received).values(received))
    _truncate()
    partitions_ensure(row[1] for row in rows)  # occurred_at
    t0 = time.perf_counter()
    with connection.cursor() as cursor, cursor.cursor.copy(
            f"COPY event ({', '.join(COLUMNS)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    elapsed = time.perf_counter() - t0
    del rows
    return _count() / elapsed


def _count() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM event")
        return cursor.fetchone()[0]


def _cli(data: Path, url: str) -> float:
    _truncate()
    env = {**os.environ, "DATABASE_URL": url}
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "casefile", "ingest", str(data)], env=env,
                         capture_output=True, check=True).stdout
    elapsed = time.perf_counter() - t0
    print(f"  CLI said: {out.decode().strip()[:120]}")
    return _count() / elapsed


def _http(data: Path, url: str, clients: int, batch: int) -> float:
    from casefile.accounts import services
    from casefile.accounts.roles import Role
    from casefile.audit.actor import Actor

    _truncate()
    system = Actor.system("bench")
    user = services.staff_user_create(actor=system, email=f"ingest{time.time_ns()}@bench.local",
                                      roles=[Role.INGEST])
    _, token = services.api_token_create(actor=system, owner=user, name="bench")
    bodies = []
    with data.open("rb") as f:
        chunk: list[bytes] = []
        for line in f:
            chunk.append(line)
            if len(chunk) == batch:
                bodies.append(b"".join(chunk))
                chunk = []
        if chunk:
            bodies.append(b"".join(chunk))
    with gunicorn(url, workers=clients, env={"MAX_REQUEST_BYTES": str(64 * 1024 * 1024)}
                  ) as port:
        queue = list(reversed(bodies))
        lock = threading.Lock()
        failures = []

        def client() -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
            while True:
                with lock:
                    if not queue:
                        return
                    body = queue.pop()
                conn.request("POST", "/api/v1/events", body,
                             {"Authorization": f"Bearer {token}",
                              "Content-Type": "application/x-ndjson"})
                response = conn.getresponse()
                response.read()
                if response.status != 200:
                    failures.append(response.status)

        threads = [threading.Thread(target=client) for _ in range(clients)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t0
        assert not failures, failures[:5]
    return _count() / elapsed


if __name__ == "__main__":
    main()
