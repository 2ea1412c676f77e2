"""Writing batches of event rows: PostgreSQL COPY, SQLite one transaction per batch.

Both skip rows whose dedupe key is already stored, so re-ingesting adds nothing. On PostgreSQL
the batch's keys are looked up first and only new rows are COPYed; if another ingest stores one
of them in between, the unique constraint stops the COPY and the batch is written again with
`ON CONFLICT DO NOTHING` (slower, and only on that rare race).
"""

from __future__ import annotations

from django.db import IntegrityError, connection, transaction

from casefile.core.timeutil import now
from casefile.events.normalise import COLUMNS, EventRow

_COLUMN_LIST = ", ".join(COLUMNS)


def store_batch(rows: list[EventRow]) -> int:
    """Store the rows not stored yet; returns how many were new (in-batch repeats excluded)."""
    unique: dict[str, EventRow] = {}
    for row in rows:
        unique.setdefault(row.dedupe_key, row)
    if not unique:
        return 0
    if connection.vendor == "postgresql":
        return _store_postgresql(list(unique.values()))
    return _store_sqlite(list(unique.values()))


def _store_postgresql(rows: list[EventRow]) -> int:
    ingested_at = now()
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT dedupe_key FROM event WHERE dedupe_key = ANY(%s)",
                           [[r.dedupe_key for r in rows]])
            existing = {key for (key,) in cursor.fetchall()}
            fresh = [r for r in rows if r.dedupe_key not in existing]
            with cursor.cursor.copy(f"COPY event ({_COLUMN_LIST}) FROM STDIN") as copy:
                for row in fresh:
                    copy.write_row(row.values(ingested_at))
            return len(fresh)
    except IntegrityError:
        placeholders = ", ".join(["%s"] * len(COLUMNS))
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO event ({_COLUMN_LIST}) VALUES ({placeholders}) "  # noqa: S608
                "ON CONFLICT (dedupe_key) DO NOTHING",
                [r.values(ingested_at) for r in rows],
            )
            return max(cursor.rowcount, 0)


def _store_sqlite(rows: list[EventRow]) -> int:
    adapt = connection.ops.adapt_datetimefield_value
    ingested_at = now()
    placeholders = ", ".join(["%s"] * len(COLUMNS))
    values = []
    for row in rows:
        item = list(row.values(ingested_at))
        item[1], item[2] = adapt(row.occurred_at), adapt(ingested_at)
        values.append(item)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT OR IGNORE INTO event ({_COLUMN_LIST}) VALUES ({placeholders})",  # noqa: S608
            values,
        )
        return cursor.rowcount
