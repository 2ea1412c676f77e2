"""Rollups: events counted ahead, so analytics over days read a few rows per hour or day, not
every event (events.selectors reads them). Four tables, kept together:

- `event_rollup`: per hour, fingerprint and severity (count, first and last seen);
- `event_rollup_day`: the same per UTC day (a week is six days' rows and its edge hours);
- `event_rollup_total`: per hour and severity alone (the severity chart of the whole stream);
- `event_rollup_unplaced`: fingerprints counted while they had no template row, whose source
  the rollups therefore cannot tell (analytics by source count their events from the events).

They are kept exact, never estimated:

- `rollups_add` is called by events.store with only the rows a batch actually stored (not the
  duplicates), in the transaction that stores them: a rolled-back batch adds nothing, and an
  event is counted once however often it is re-sent;
- the upserts add to a row (`count + excluded.count`, the earlier first_seen, the later
  last_seen), table after table and each in key order, so two ingesters touching the same rows
  lock them in the same order and cannot deadlock;
- `rollups_rebuild` recomputes hours from the events themselves (a bulk load that went around
  ingest), and `rollups_drop` forgets hours whose events retention removed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from django.db import connection, transaction
from django.db.backends.utils import CursorWrapper

from casefile.events.models import EventRollup
from casefile.events.normalise import EventRow

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def hour_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def day_of(moment: datetime) -> datetime:
    return hour_of(moment).replace(hour=0)


def ceil_hour(moment: datetime) -> datetime:
    hour = hour_of(moment)
    return hour if hour == moment else hour + HOUR


def ceil_day(moment: datetime) -> datetime:
    day = day_of(moment)
    return day if day == moment else day + DAY


def hour_sql(column: str) -> str:
    """SQL for the UTC hour of a time column, as the rollups store it (for a statement run
    with parameters: SQLite's `%` is doubled)."""
    if connection.vendor == "postgresql":
        return f"date_trunc('hour', {column} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
    return f"strftime('%%Y-%%m-%%d %%H:00:00', {column})"


# Per table: its key columns, and how each other column takes an added row.
_TABLES = {
    "event_rollup": (("hour", "fingerprint", "severity"), ("count", "first_seen", "last_seen")),
    "event_rollup_day": (("day", "fingerprint", "severity"), ("count", "first_seen", "last_seen")),
    "event_rollup_total": (("hour", "severity"), ("count",)),
    "event_rollup_unplaced": (("fingerprint",), ("first_hour", "last_hour")),
}
_MERGE = {"count": "{t}.count + excluded.count", "first_seen": "{least}({t}.first_seen, "
          "excluded.first_seen)", "last_seen": "{greatest}({t}.last_seen, excluded.last_seen)",
          "first_hour": "{least}({t}.first_hour, excluded.first_hour)",
          "last_hour": "{greatest}({t}.last_hour, excluded.last_hour)"}
_TYPES = {"hour": "timestamptz", "day": "timestamptz", "first_seen": "timestamptz",
          "last_seen": "timestamptz", "first_hour": "timestamptz", "last_hour": "timestamptz",
          "fingerprint": "varchar", "severity": "smallint", "count": "bigint"}


def _upsert(cursor: CursorWrapper, table: str, rows: dict[tuple, tuple]) -> None:
    """Add `rows` (key -> the other columns) to `table`, in key order."""
    if not rows:
        return
    keys, others = _TABLES[table]
    columns = (*keys, *others)
    postgresql = connection.vendor == "postgresql"
    merge = ", ".join(
        f"{c} = " + _MERGE[c].format(t="r" if postgresql else table,
                                     least="least" if postgresql else "min",
                                     greatest="greatest" if postgresql else "max")
        for c in others)
    ordered = [(*key, *rows[key]) for key in sorted(rows)]
    if postgresql:
        # One statement for the batch; unnest keeps the order, so rows are locked in order.
        arrays = ", ".join(f"%s::{_TYPES[c]}[]" for c in columns)
        cursor.execute(
            f"INSERT INTO {table} AS r ({', '.join(columns)}) "  # noqa: S608
            f"SELECT * FROM unnest({arrays}) "
            f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {merge}",
            [[row[i] for row in ordered] for i in range(len(columns))])
        return
    adapt = connection.ops.adapt_datetimefield_value
    cursor.executemany(
        f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(columns))}) "
        f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {merge}",
        [[adapt(v) if isinstance(v, datetime) else v for v in row] for row in ordered])


def rollups_add(rows: Iterable[EventRow]) -> int:
    """Count newly stored rows into their hours and days; returns how many hour rows were
    touched. The caller's transaction holds it with the rows (events.store)."""
    hours: dict[tuple, list] = {}
    for row in rows:
        moment = row.occurred_at
        key = (hour_of(moment), row.fingerprint, row.severity)
        entry = hours.get(key)
        if entry is None:
            hours[key] = [1, moment, moment]
        else:
            entry[0] += 1
            if moment < entry[1]:
                entry[1] = moment
            elif moment > entry[2]:
                entry[2] = moment
    if not hours:
        return 0
    days: dict[tuple, list] = {}
    totals: dict[tuple, list] = {}
    spans: dict[str, list] = {}
    for (hour, fingerprint, severity), (count, first, last) in hours.items():
        day = days.setdefault((hour.replace(hour=0), fingerprint, severity), [0, first, last])
        day[0] += count
        day[1], day[2] = min(day[1], first), max(day[2], last)
        totals.setdefault((hour, severity), [0])[0] += count
        span = spans.setdefault(fingerprint, [hour, hour])
        span[0], span[1] = min(span[0], hour), max(span[1], hour)
    with connection.cursor() as cursor:
        _upsert(cursor, "event_rollup", {k: tuple(v) for k, v in hours.items()})
        _upsert(cursor, "event_rollup_day", {k: tuple(v) for k, v in days.items()})
        _upsert(cursor, "event_rollup_total", {k: tuple(v) for k, v in totals.items()})
        placed = _with_template(cursor, list(spans))
        _upsert(cursor, "event_rollup_unplaced",
                {(fp,): tuple(span) for fp, span in spans.items() if fp not in placed})
    return len(hours)


def _with_template(cursor: CursorWrapper, fingerprints: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(fingerprints), 900):  # within SQLite's parameter limit
        chunk = fingerprints[start:start + 900]
        cursor.execute("SELECT fingerprint FROM event_template WHERE fingerprint IN "  # noqa: S608
                       f"({', '.join(['%s'] * len(chunk))})", chunk)
        found.update(fp for (fp,) in cursor.fetchall())
    return found


def rollups_rebuild(since: datetime | None = None, until: datetime | None = None) -> int:
    """Recompute the rollups of the hours that [since, until) touches from the events (all of
    them without bounds); returns how many events were counted.

    Each day is one transaction that first takes `event_rollup` for itself (PostgreSQL:
    EXCLUSIVE, which still lets readers read; SQLite: the one writer). Ingest writes that table
    first, so an ingest that stored events before either committed them (the recount sees
    them) or waits for the rebuild to commit and then adds its own counts: concurrent ingest is
    neither lost nor counted twice."""
    if since is None or until is None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT min(occurred_at), max(occurred_at) FROM event")
            first, last = cursor.fetchone()
        if first is None:
            return 0
        since = since or _as_datetime(first)
        until = until or _as_datetime(last) + HOUR
    start, end = hour_of(since), ceil_hour(until)
    counted = 0
    while start < end:
        step_end = min(day_of(start) + DAY, end)  # within one day
        counted += _rebuild_hours(start, step_end)
        start = step_end
    return counted


def _rebuild_hours(start: datetime, end: datetime) -> int:
    adapt = connection.ops.adapt_datetimefield_value
    bounds = [adapt(start), adapt(end)]
    with transaction.atomic(), connection.cursor() as cursor:
        _lock(cursor)
        cursor.execute("DELETE FROM event_rollup WHERE hour >= %s AND hour < %s", bounds)
        cursor.execute(
            "INSERT INTO event_rollup (hour, fingerprint, severity, count, first_seen, "  # noqa: S608
            f"last_seen) SELECT {hour_sql('occurred_at')}, fingerprint, severity, count(*), "
            "min(occurred_at), max(occurred_at) FROM event "
            "WHERE occurred_at >= %s AND occurred_at < %s GROUP BY 1, 2, 3", bounds)
        _derived(cursor, start, end)
        _unplaced(cursor, bounds)
        cursor.execute("SELECT coalesce(sum(count), 0) FROM event_rollup "
                       "WHERE hour >= %s AND hour < %s", bounds)
        return int(cursor.fetchone()[0])


def rollups_derive() -> None:
    """The days, totals and unplaced fingerprints again from every hour row: after hour rows
    were written some other way (a bulk load writing them in SQL)."""
    first = EventRollup.objects.order_by("hour").values_list("hour", flat=True).first()
    last = EventRollup.objects.order_by("-hour").values_list("hour", flat=True).first()
    if first is None or last is None:
        return
    adapt = connection.ops.adapt_datetimefield_value
    with transaction.atomic(), connection.cursor() as cursor:
        _lock(cursor)
        _derived(cursor, day_of(first), day_of(last) + DAY)
        _unplaced(cursor, [adapt(day_of(first)), adapt(day_of(last) + DAY)])


def rollups_drop(since: datetime | None, until: datetime) -> int:
    """Forget the hours in [since, until) (from the first without `since`): retention removed
    their events. The days they belong to keep what their other hours count. Returns how many
    hour rows went."""
    if since is None:
        first = EventRollup.objects.order_by("hour").values_list("hour", flat=True).first()
        if first is None:
            return 0
        since = first
    start, end = ceil_hour(since), hour_of(until)
    if start >= end:
        return 0
    adapt = connection.ops.adapt_datetimefield_value
    with transaction.atomic(), connection.cursor() as cursor:
        _lock(cursor)
        cursor.execute("DELETE FROM event_rollup WHERE hour >= %s AND hour < %s",
                       [adapt(start), adapt(end)])
        dropped = cursor.rowcount
        _derived(cursor, start, end)
    return max(dropped, 0)


def _derived(cursor: CursorWrapper, start: datetime, end: datetime) -> None:
    """Totals of [start, end) and the days it touches, from the hour rows."""
    adapt = connection.ops.adapt_datetimefield_value
    bounds = [adapt(start), adapt(end)]
    cursor.execute("DELETE FROM event_rollup_total WHERE hour >= %s AND hour < %s", bounds)
    cursor.execute("INSERT INTO event_rollup_total (hour, severity, count) "
                   "SELECT hour, severity, sum(count) FROM event_rollup "
                   "WHERE hour >= %s AND hour < %s GROUP BY hour, severity", bounds)
    if ceil_day(start) < day_of(end):  # days wholly inside: nothing of theirs is left outside
        whole = [adapt(ceil_day(start)), adapt(day_of(end))]
        cursor.execute("DELETE FROM event_rollup_day WHERE day >= %s AND day < %s", whole)
        cursor.execute(
            "INSERT INTO event_rollup_day (day, fingerprint, severity, count, first_seen, "  # noqa: S608
            f"last_seen) SELECT {day_sql('hour')}, fingerprint, severity, sum(count), "
            "min(first_seen), max(last_seen) FROM event_rollup "
            "WHERE hour >= %s AND hour < %s GROUP BY 1, 2, 3", whole)
    for day in sorted({day_of(start), day_of(end - HOUR)}):
        if ceil_day(start) <= day and day + DAY <= day_of(end):
            continue  # done above
        # A day partly in the range: again from all its hours.
        cursor.execute("DELETE FROM event_rollup_day WHERE day = %s", [adapt(day)])
        cursor.execute(
            "INSERT INTO event_rollup_day (day, fingerprint, severity, count, first_seen, "  # noqa: S608
            "last_seen) SELECT %s, fingerprint, severity, sum(count), min(first_seen), "
            "max(last_seen) FROM event_rollup WHERE hour >= %s AND hour < %s "
            "GROUP BY fingerprint, severity", [adapt(day), adapt(day), adapt(day + DAY)])


def _unplaced(cursor: CursorWrapper, bounds: list) -> None:
    """The fingerprints of the hours in `bounds` that have no template, remembered."""
    cursor.execute(
        "INSERT INTO event_rollup_unplaced (fingerprint, first_hour, last_hour) "  # noqa: S608
        "SELECT r.fingerprint, min(r.hour), max(r.hour) FROM event_rollup r "
        "WHERE r.hour >= %s AND r.hour < %s AND NOT EXISTS (SELECT 1 FROM event_template t "
        "WHERE t.fingerprint = r.fingerprint) GROUP BY r.fingerprint "
        "ON CONFLICT (fingerprint) DO UPDATE SET "
        f"first_hour = {_least()}(event_rollup_unplaced.first_hour, excluded.first_hour), "
        f"last_hour = {_greatest()}(event_rollup_unplaced.last_hour, excluded.last_hour)",
        bounds)
    # Those placed since they were counted are ordinary fingerprints now.
    cursor.execute("DELETE FROM event_rollup_unplaced WHERE fingerprint IN "
                   "(SELECT fingerprint FROM event_template)")


def _lock(cursor: CursorWrapper) -> None:
    if connection.vendor == "postgresql":
        cursor.execute("LOCK TABLE event_rollup IN EXCLUSIVE MODE")


def day_sql(column: str) -> str:
    """SQL for the UTC day of a time column (as hour_sql)."""
    if connection.vendor == "postgresql":
        return f"date_trunc('day', {column} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
    return f"strftime('%%Y-%%m-%%d 00:00:00', {column})"


def _least() -> str:
    return "least" if connection.vendor == "postgresql" else "min"


def _greatest() -> str:
    return "greatest" if connection.vendor == "postgresql" else "max"


def _as_datetime(value: datetime | str) -> datetime:
    if isinstance(value, str):  # SQLite hands back its text
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)
