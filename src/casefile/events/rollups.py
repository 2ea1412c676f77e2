"""Hourly rollups: events counted per hour, fingerprint and severity (`event_rollup`), so that
"top recurring" and the severity chart over days read a few thousand hours, not millions of
events (events.selectors reads them).

They are kept exact, never estimated:

- `rollups_add` is called by events.store with only the rows a batch actually stored (not the
  duplicates), in the transaction that stores them: a rolled-back batch adds nothing, and an
  event is counted once however often it is re-sent;
- the upsert adds to an hour's row (`count + excluded.count`, the earlier first_seen, the
  later last_seen), its keys sorted, so two ingesters touching the same hours lock their rows
  in the same order and cannot deadlock;
- `rollups_rebuild` recomputes hours from the events themselves (after a bulk load that went
  around ingest, or for events stored before rollups existed).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction

from casefile.events.normalise import EventRow

HOUR = timedelta(hours=1)
# Rebuilding holds the rollup table for ingest (see rollups_rebuild); a day at a time keeps
# each hold short on a large table.
REBUILD_STEP = timedelta(days=1)

_UPSERT_POSTGRESQL = """
INSERT INTO event_rollup AS r (hour, fingerprint, severity, count, first_seen, last_seen)
SELECT * FROM unnest(%s::timestamptz[], %s::varchar[], %s::smallint[], %s::bigint[],
                     %s::timestamptz[], %s::timestamptz[])
ON CONFLICT (hour, fingerprint, severity) DO UPDATE
SET count = r.count + excluded.count,
    first_seen = least(r.first_seen, excluded.first_seen),
    last_seen = greatest(r.last_seen, excluded.last_seen)
"""
_UPSERT_SQLITE = """
INSERT INTO event_rollup (hour, fingerprint, severity, count, first_seen, last_seen)
VALUES (%s, %s, %s, %s, %s, %s)
ON CONFLICT (hour, fingerprint, severity) DO UPDATE
SET count = count + excluded.count,
    first_seen = min(first_seen, excluded.first_seen),
    last_seen = max(last_seen, excluded.last_seen)
"""


def hour_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def hour_sql(column: str) -> str:
    """SQL for the UTC hour of a time column, as the rollups store it (for a statement run
    with parameters: SQLite's `%` is doubled)."""
    if connection.vendor == "postgresql":
        return f"date_trunc('hour', {column} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
    return f"strftime('%%Y-%%m-%%d %%H:00:00', {column})"


def rollups_add(rows: Iterable[EventRow]) -> int:
    """Count newly stored rows into their hours; returns how many hour rows were touched. The
    caller's transaction holds it with the rows (events.store)."""
    tally: dict[tuple[datetime, str, int], list] = {}
    for row in rows:
        moment = row.occurred_at
        key = (hour_of(moment), row.fingerprint, row.severity)
        entry = tally.get(key)
        if entry is None:
            tally[key] = [1, moment, moment]
        else:
            entry[0] += 1
            if moment < entry[1]:
                entry[1] = moment
            elif moment > entry[2]:
                entry[2] = moment
    if not tally:
        return 0
    keys = sorted(tally)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One statement for the batch; unnest keeps the sorted order, so the rows are
            # locked in key order.
            cursor.execute(_UPSERT_POSTGRESQL, [
                [k[0] for k in keys], [k[1] for k in keys], [k[2] for k in keys],
                [tally[k][0] for k in keys], [tally[k][1] for k in keys],
                [tally[k][2] for k in keys]])
        else:
            adapt = connection.ops.adapt_datetimefield_value
            cursor.executemany(_UPSERT_SQLITE, [
                (adapt(k[0]), k[1], k[2], tally[k][0], adapt(tally[k][1]), adapt(tally[k][2]))
                for k in keys])
    return len(keys)


def rollups_rebuild(since: datetime | None = None, until: datetime | None = None) -> int:
    """Recompute the rollups of the hours that [since, until) touches from the events (all of
    them without bounds); returns how many events were counted.

    Each day is one transaction that first takes the rollup table for itself (PostgreSQL:
    EXCLUSIVE, which still lets readers read; SQLite: the one writer). An ingest that stored
    events before it either committed them (the recount sees them) or waits for the rebuild
    to commit and then adds its own counts; so concurrent ingest is neither lost nor counted
    twice."""
    if since is None or until is None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT min(occurred_at), max(occurred_at) FROM event")
            first, last = cursor.fetchone()
        if first is None:
            return 0
        since = since or _as_datetime(first)
        until = until or _as_datetime(last) + HOUR
    start = hour_of(since)
    end = hour_of(until)
    if end < until:
        end += HOUR
    counted = 0
    while start < end:
        step_end = min(start + REBUILD_STEP, end)
        counted += _rebuild_hours(start, step_end)
        start = step_end
    return counted


def _rebuild_hours(start: datetime, end: datetime) -> int:
    adapt = connection.ops.adapt_datetimefield_value
    bounds = [adapt(start), adapt(end)]
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("LOCK TABLE event_rollup IN EXCLUSIVE MODE")
        cursor.execute("DELETE FROM event_rollup WHERE hour >= %s AND hour < %s", bounds)
        cursor.execute(
            "INSERT INTO event_rollup (hour, fingerprint, severity, count, first_seen, "  # noqa: S608
            f"last_seen) SELECT {hour_sql('occurred_at')}, fingerprint, severity, count(*), "
            "min(occurred_at), max(occurred_at) FROM event "
            "WHERE occurred_at >= %s AND occurred_at < %s "
            "GROUP BY 1, 2, 3", bounds)
        cursor.execute("SELECT coalesce(sum(count), 0) FROM event_rollup "
                       "WHERE hour >= %s AND hour < %s", bounds)
        return int(cursor.fetchone()[0])


def _as_datetime(value: datetime | str) -> datetime:
    if isinstance(value, str):  # SQLite hands back its text
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)
