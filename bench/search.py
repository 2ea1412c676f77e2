"""Explorer and analytics latency on PostgreSQL over 1,000,000 and 5,000,000 events.

Loads generated events (indexes built after the load, as a bulk restore would), then times
typical explorer queries and the analytics through the API (in-process: server time without the
network), printing p50/p95 per query.

    python bench/search.py [--sizes 1000000,5000000] [--repeat 30]
"""

import argparse
import os
import sys
import time
from datetime import UTC, datetime, timedelta

sys.path.insert(0, os.path.dirname(__file__))
from _setup import fresh_database, latency  # noqa: E402
from eventgen import records  # noqa: E402

START = datetime(2026, 11, 1, tzinfo=UTC)
END = START + timedelta(days=20)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="1000000,5000000")
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    fresh_database("_search")
    client = _client()
    loaded = 0
    for size in (int(s) for s in args.sizes.split(",")):
        t0 = time.perf_counter()
        _load(loaded, size)
        loaded = size
        print(f"events on PostgreSQL: {size:,} (loaded in {time.perf_counter() - t0:.0f} s); "
              f"latency over {args.repeat} runs, API in-process")
        _measure(client, args.repeat)


def _client():
    from django.test import Client

    from casefile.accounts import services
    from casefile.accounts.roles import Role
    from casefile.audit.actor import Actor

    system = Actor.system("bench")
    user = services.staff_user_create(actor=system, email="search@bench.local",
                                      roles=[Role.ANALYST])
    _, token = services.api_token_create(actor=system, owner=user)
    client = Client(headers={"Authorization": f"Bearer {token}"})
    return client


def _load(have: int, want: int, start: datetime | None = None) -> None:
    """COPY events have..want (normalised with the real code), indexes dropped meanwhile."""
    from django.db import connection

    from casefile.core.timeutil import now
    from casefile.events.normalise import COLUMNS, normalise
    from casefile.events.partitions import partitions_ensure

    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'event' "
                       "AND indexname NOT LIKE '%pkey' AND indexdef NOT LIKE '%UNIQUE%'")
        indexes = cursor.fetchall()
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
        received = now()
        first = start or START
        partitions_ensure(first + timedelta(days=d) for d in range(21))
        # One stream spread over the same 20 days whatever the size: the size is the density.
        with cursor.cursor.copy(f"COPY event ({', '.join(COLUMNS)}) FROM STDIN") as copy:
            for i, record in enumerate(records(want, seed=11, start=start)):
                if i < have:
                    continue
                copy.write_row(normalise(record, default_source="bench",
                                         received_at=received).values(received))
        for _, definition in indexes:
            # A partitioned table's index reads `ON ONLY event`, which would build none.
            cursor.execute(definition.replace(" ON ONLY ", " ON "))
        cursor.execute("VACUUM ANALYZE event")


def _queries():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT fingerprint FROM event GROUP BY fingerprint "
                       "ORDER BY count(*) DESC LIMIT 1")
        top = cursor.fetchone()[0]
    day = f"since={(END - timedelta(days=1)).isoformat()}&until={END.isoformat()}".replace(
        "+", "%2B")
    return {
        "newest page": "/api/v1/events?limit=50",
        "service": "/api/v1/events?service=openssh&limit=50",
        "env + min severity": "/api/v1/events?environment=prod&severity=error&limit=50",
        "component + last day": f"/api/v1/events?component=hdfs-3&{day}&limit=50",
        "fingerprint": f"/api/v1/events?fingerprint={top}&limit=50",
        "text, common": "/api/v1/events?q=session&limit=50",
        "text, rare": "/api/v1/events?q=svc-batch%20port&limit=50",
        "page 20 (cursor)": None,
        "top recurring, 1 day": f"/api/v1/events/analytics/top?{day}",
        "severity by hour, 1 day": f"/api/v1/events/analytics/severity?bucket=hour&{day}",
        "breakdown by service, 1 day": f"/api/v1/events/analytics/breakdown?by=service&{day}",
    }


def _measure(client, repeat: int) -> None:
    for name, url in _queries().items():
        if url is None:
            url = _deep_cursor(client, 20)
        p50, p95 = latency(client, url, repeat)
        print(f"  {name:<30} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms")


def _deep_cursor(client, pages: int) -> str:
    url = "/api/v1/events?limit=50"
    for _ in range(pages):
        cursor = client.get(url).json()["next_cursor"]
        url = f"/api/v1/events?limit=50&cursor={cursor}"
    return url


if __name__ == "__main__":
    main()
