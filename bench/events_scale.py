"""Events at scale on PostgreSQL: N events (default 20,000,000) over the last 90 days in monthly
partitions, with their hourly rollups and issues; the analytics and the explorer's queries over
1 and 7 days, and the purge of a month, beside /api/v1/health through gunicorn in the same run.

Loading: the issues come from the real code (one template per Loghub template and component,
registered as ingest would); the events are generated in SQL (generate_series, the same skewed
mix of templates, severities, environments and hosts as bench/eventgen.py) with the keys and
indexes dropped meanwhile and built once afterwards, as a bulk restore would; the rollups are
computed from the events in SQL; then VACUUM ANALYZE, as autovacuum would after a load.

Measured: the selectors of events/selectors.py called in-process (server time without HTTP)
and the same queries through the API served by gunicorn, p50/p95 over --repeat runs; then the
purge of the oldest whole month (some of its events linked to a case): the partition swap,
the deletion of its rollup hours, and `events_purge` as the worker runs it.

    python bench/events_scale.py [--events 20000000] [--repeat 30] [--reuse]

`--reuse` measures the database an earlier run loaded (migrated to the latest first) instead of
loading again; the purge at the end has removed one month of it.
"""

import argparse
import http.client
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta

sys.path.insert(0, os.path.dirname(__file__))
from _setup import fresh_database, gunicorn  # noqa: E402
from eventgen import ENVIRONMENTS, LEVELS, templates  # noqa: E402

DAYS = 90
COMPONENTS = 8  # per service, as eventgen
CHUNK = 1_000_000  # events per INSERT (one transaction each)
AIM_MS = 100
PURGE_AIM_S = 1.0
LINKED = 200  # events of the purged month linked to a case: kept by the purge
WARM_UP = 6  # requests to gunicorn before timing (each worker warms up on its own)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20_000_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--reuse", action="store_true",
                        help="measure the database an earlier run loaded")
    args = parser.parse_args()
    if args.reuse:
        url, end = _loaded_database("_scale")
    else:
        url = fresh_database("_scale")
        end = datetime.now(UTC).replace(microsecond=0)
        timings = _load(args.events, end - timedelta(days=DAYS), end)
    print(f"events at scale on PostgreSQL: {_count('event'):,} events over {DAYS} days in "
          f"{_partition_count()} monthly partitions, {_count('event_rollup'):,} hourly rollups, "
          f"{_count('event_template'):,} templates in {_count('event_issue'):,} issues")
    if not args.reuse:
        print("  loaded in " + ", ".join(f"{name} {seconds:.0f} s" for name, seconds in timings)
              + f" (total {sum(s for _, s in timings):.0f} s)")
    print(f"  on disk: {_size()}")

    analyst, token = _analyst()
    queries = _queries(end)
    with gunicorn(url, workers=2) as port:
        health = _http_latency(port, "/api/v1/health", None, args.repeat * 3)
        api = {name: _http_latency(port, path, token, args.repeat)
               for name, (_, path) in queries.items()}
    in_process = {name: _latency(call, args.repeat) for name, (call, _) in queries.items()}

    print(f"  latency, ms, {args.repeat} runs (aim: p95 under {AIM_MS} ms over 7 days)")
    print(f"    {'':<34} {'selector, in-process':>22}   {'API via gunicorn':>22}")
    print(f"    {'/api/v1/health (baseline)':<34} {'':>22}   "
          f"p50 {health[0]:6.1f}  p95 {health[1]:6.1f}")
    for name in queries:
        (s50, s95), (a50, a95) = in_process[name], api[name]
        print(f"    {name:<34} p50 {s50:6.1f}  p95 {s95:6.1f}   p50 {a50:6.1f}  p95 {a95:6.1f}")

    _purge(end, analyst)


# --- loading ----------------------------------------------------------------------------------
def _load(count: int, start: datetime, end: datetime) -> list[tuple[str, float]]:
    from django.db import connection

    from casefile.events.partitions import partitions_ensure
    from casefile.events.rollups import rollups_derive

    timings = []
    t0 = time.perf_counter()
    pool_size = _pool(start)
    timings.append(("issues", time.perf_counter() - t0))

    t0 = time.perf_counter()
    partitions_ensure(start + timedelta(days=d) for d in range(DAYS + 1))
    partitions_ensure([end])
    with connection.cursor() as cursor:
        keys, indexes = _drop_keys_and_indexes(cursor)
        cursor.execute("SELECT setseed(0.14)")
        step = (end - start) / count
        for first in range(1, count + 1, CHUNK):
            last = min(first + CHUNK - 1, count)
            cursor.execute(_EVENTS, {"start": start, "step": step, "first": first,
                                     "last": last, "templates": pool_size // COMPONENTS,
                                     "components": COMPONENTS})
            print(f"  … {last:,} events ({time.perf_counter() - t0:.0f} s)", flush=True)
    timings.append(("events", time.perf_counter() - t0))

    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '512MB'")
        for statement in keys + indexes:
            cursor.execute(statement)
    timings.append(("keys and indexes", time.perf_counter() - t0))

    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SELECT c.relname FROM pg_inherits i JOIN pg_class c "
                       "ON c.oid = i.inhrelid WHERE i.inhparent = 'event'::regclass")
        for (partition,) in cursor.fetchall():
            cursor.execute(_ROLLUPS.format(partition=partition))
    rollups_derive()  # the days and totals from the hours
    timings.append(("rollups", time.perf_counter() - t0))

    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    timings.append(("vacuum analyze", time.perf_counter() - t0))
    return timings


def _loaded_database(name_suffix: str) -> tuple[str, datetime]:
    """An earlier run's database, migrated to the latest, and the end of its events."""
    from _setup import DEFAULT_URL, ROOT

    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL) + name_suffix
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("CASEFILE_VAR_DIR", str(ROOT / "var" / "bench"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "casefile.settings")
    sys.path.insert(0, str(ROOT / "src"))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("SELECT max(occurred_at) FROM event")
        last = cursor.fetchone()[0]
    return url, (last + timedelta(seconds=1)).replace(microsecond=0)


def _pool(start: datetime) -> int:
    """One message per Loghub template and component, normalised and registered (its issue
    placed) by the real code; kept in a table the SQL generator picks from. Returns its size."""
    from django.db import connection

    from casefile.events.issues import templates_register
    from casefile.events.normalise import normalise

    rows, pool = [], []
    for i, (service, template) in enumerate(templates()):
        for c in range(COMPONENTS):
            component = f"{service}-{c + 1}"
            message = template.replace("<*>", "4711")
            row = normalise({"message": message, "service": service, "component": component,
                             "timestamp": start.isoformat()},
                            default_source="bench", received_at=start)
            rows.append(row)
            pool.append((i * COMPONENTS + c, service, component, template, row.fingerprint))
    for first in range(0, len(rows), 5000):
        templates_register(rows[first:first + 5000])
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE bench_pool (k int PRIMARY KEY, service text, "
                       "component text, template text, fingerprint text)")
        with cursor.cursor.copy("COPY bench_pool FROM STDIN") as copy:
            for item in pool:
                copy.write_row(item)
        cursor.execute("ANALYZE bench_pool")
    return len(pool)


_SEVERITIES = "ARRAY[" + ", ".join(
    str({"info": 6, "debug": 7, "warning": 4, "error": 3, "critical": 2}[level])
    for level in LEVELS) + "]::smallint[]"
_ENVIRONMENTS = "ARRAY[" + ", ".join(f"'{e}'" for e in ENVIRONMENTS) + "]"
# The template: eventgen's Pareto(1.2) pick; each slot filled with one number per event.
_EVENTS = f"""
INSERT INTO event (id, occurred_at, ingested_at, severity, component, service, environment,
                   system_id, event_type, message, raw_payload, fingerprint, source, dedupe_key)
SELECT 'evt_' || lpad(to_hex(s.g), 26, '0'), s.t, s.t + interval '2 seconds', s.severity,
       p.component, p.service, s.environment, s.host, '', m.message,
       jsonb_build_object('message', m.message, 'severity', s.severity, 'service', p.service,
                          'host', s.host, 'timestamp', s.t),
       p.fingerprint, 'bench', md5('bench-' || s.g)
FROM (
    SELECT g, %(start)s::timestamptz + (g - 1) * %(step)s::interval AS t,
           (floor(1.0 / power(1.0 - random(), 1.0 / 1.2))::bigint %% %(templates)s)::int
               * %(components)s + floor(random() * %(components)s)::int AS k,
           ({_SEVERITIES})[1 + floor(random() * {len(LEVELS)})::int] AS severity,
           ({_ENVIRONMENTS})[1 + floor(random() * {len(ENVIRONMENTS)})::int] AS environment,
           'node-' || lpad((1 + floor(random() * 200))::int::text, 3, '0') AS host,
           floor(random() * 100000)::int AS v
    FROM generate_series(%(first)s::bigint, %(last)s::bigint) g
) s
JOIN bench_pool p ON p.k = s.k
CROSS JOIN LATERAL (SELECT regexp_replace(p.template, '<\\*>', s.v::text, 'g') AS message) m
"""
# As events.rollups keeps them: per UTC hour, fingerprint and severity.
_ROLLUPS = """
INSERT INTO event_rollup (hour, fingerprint, severity, count, first_seen, last_seen)
SELECT date_trunc('hour', occurred_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', fingerprint,
       severity, count(*), min(occurred_at), max(occurred_at)
FROM {partition} GROUP BY 1, 2, 3
"""


def _drop_keys_and_indexes(cursor) -> tuple[list[str], list[str]]:
    """Drop event's keys and indexes (all partitions'), returning the statements that build
    them again as the migration made them."""
    cursor.execute("SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                   "WHERE conrelid = 'event'::regclass AND contype IN ('p', 'u')")
    constraints = cursor.fetchall()
    for name, _ in constraints:
        cursor.execute(f'ALTER TABLE event DROP CONSTRAINT "{name}"')
    cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'event'")
    indexes = cursor.fetchall()
    for name, _ in indexes:
        cursor.execute(f'DROP INDEX "{name}"')
    return ([f'ALTER TABLE event ADD CONSTRAINT "{name}" {definition}'
             for name, definition in constraints],
            # A partitioned table lists its index as ON ONLY event, which would build none.
            [definition.replace(" ON ONLY ", " ON ") for _, definition in indexes])


def _count(table: str) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {table}")
        return cursor.fetchone()[0]


def _partition_count() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_inherits WHERE inhparent = 'event'::regclass")
        return cursor.fetchone()[0]


def _size() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT sum(pg_table_size(inhrelid)), sum(pg_indexes_size(inhrelid)) "
            "FROM pg_inherits WHERE inhparent = 'event'::regclass")
        table, indexes = cursor.fetchone()
        cursor.execute("SELECT sum(pg_total_relation_size(oid)) FROM pg_class "
                       "WHERE relname LIKE 'event_rollup%%' AND relkind = 'r'")
        rollups = cursor.fetchone()[0]
    gib = 1024 ** 3
    return (f"events {table / gib:.1f} GiB + indexes {indexes / gib:.1f} GiB, "
            f"rollups {rollups / gib:.2f} GiB")


# --- measuring --------------------------------------------------------------------------------
def _analyst():
    from casefile.accounts import services
    from casefile.accounts.roles import Role
    from casefile.audit.actor import Actor

    system = Actor.system("bench")
    user = services.staff_user_create(actor=system, email=f"scale{time.time_ns()}@bench.local",
                                      roles=[Role.ANALYST])
    return user, services.api_token_create(actor=system, owner=user, name="bench")[1]


def _queries(end: datetime) -> dict:
    """name -> (the selector call, the API path), each over a window ending at the load's end
    (the last minutes of the window are part-hours, read from the events)."""
    from urllib.parse import urlencode

    from casefile.events import selectors
    from casefile.events.selectors import EventFilter

    def window(days: int, **filters) -> tuple[EventFilter, dict]:
        since = end - timedelta(days=days)
        params = {"since": since.isoformat(), "until": end.isoformat(), **filters}
        return EventFilter(since=since, until=end, **{
            k: [v] if k in selectors.FILTER_FIELDS else v for k, v in filters.items()}), params

    def top(days: int):
        f, params = window(days)
        return (lambda: selectors.top_issues(f, limit=10),
                f"/api/v1/events/analytics/issues?{urlencode({**params, 'limit': 10})}")

    def histogram(days: int):
        f, params = window(days)
        return (lambda: selectors.severity_histogram(f, bucket="hour"),
                f"/api/v1/events/analytics/severity?{urlencode({**params, 'bucket': 'hour'})}")

    def explorer(days: int, **filters):
        f, params = window(days, **filters)
        return (lambda: list(selectors.events(f).order_by("-occurred_at", "-id")[:50]),
                f"/api/v1/events?{urlencode({**params, 'limit': 50})}")

    return {
        "top issues, 1 day": top(1),
        "top issues, 7 days": top(7),
        "severity by hour, 7 days": histogram(7),
        "explorer: error and worse, 7 days": explorer(7, severity="error"),
        "explorer: service, 7 days": explorer(7, service="openssh"),
        "explorer: text, 7 days": explorer(7, q="session"),
        "explorer: rare text, 7 days": explorer(7, q="scoreboard slot 77"),
    }


def _percentiles(timings: list[float]) -> tuple[float, float]:
    timings.sort()
    return statistics.median(timings), timings[min(len(timings) - 1, int(0.95 * len(timings)))]


def _latency(call, repeat: int) -> tuple[float, float]:
    call()  # warm-up: plan caches, first connection
    timings = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        call()
        timings.append((time.perf_counter() - t0) * 1000)
    return _percentiles(timings)


def _http_latency(port: int, path: str, token: str | None, repeat: int) -> tuple[float, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    timings = []
    for i in range(repeat + WARM_UP):
        t0 = time.perf_counter()
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read()
        assert response.status == 200, (path, response.status, body[:300])
        if i >= WARM_UP:  # each of the workers' first requests: imports, plans, connection
            timings.append((time.perf_counter() - t0) * 1000)
    conn.close()
    return _percentiles(timings)


def _purge(end: datetime, analyst) -> None:
    """Link some events of the oldest whole month still held to a case, then drop that month
    as events_purge does (timing the swap and the rollup hours apart), then run events_purge
    for the months before it."""
    from django.db import connection

    from casefile.audit.actor import Actor
    from casefile.cases import services as cases
    from casefile.events import partitions
    from casefile.events.rollups import rollups_drop
    from casefile.events.services import events_purge

    rows = 0
    with connection.cursor() as cursor:
        for month in partitions.partitions_before(end):
            if month.since >= end - timedelta(days=DAYS):
                cursor.execute(f"SELECT count(*) FROM {month.name}")
                rows = cursor.fetchone()[0]
                if rows > LINKED:
                    break
    case = cases.case_create(actor=Actor.staff(analyst), kind="incident",
                             title="outage, last quarter",
                             reason_code="INVESTIGATION")
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO case_event (case_id, event_id, linked_at) "
                       f"SELECT %s, id, now() FROM {month.name} TABLESAMPLE SYSTEM (1) "
                       f"LIMIT {LINKED}", [case.id])

    t0 = time.perf_counter()
    dropped = partitions.partition_drop_keeping_linked(month)
    swap = time.perf_counter() - t0
    t0 = time.perf_counter()
    rollups = rollups_drop(month.since, month.until)
    rollup_time = time.perf_counter() - t0
    assert dropped is not None
    print(f"  purge of {month.name} ({rows:,} events, {dropped.kept} linked to a case and kept): "
          f"event locked for the swap {dropped.locked_ms / 1000:.3f} s "
          f"(aim under {PURGE_AIM_S:.0f} s); swap and drop of the old partition {swap:.2f} s; "
          f"its {rollups:,} hourly rollups (and days, totals) {rollup_time:.2f} s")

    days = (end - month.until).days
    t0 = time.perf_counter()
    result = events_purge(older_than_days=days)
    print(f"  events_purge(older_than_days={days}) as the worker runs it, "
          f"{time.perf_counter() - t0:.2f} s: {result.as_dict()}")


if __name__ == "__main__":
    main()
