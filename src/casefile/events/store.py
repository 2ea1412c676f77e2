"""Writing batches of event rows: PostgreSQL COPY, SQLite one transaction per batch.

Both skip rows whose dedupe key is already stored, so re-ingesting adds nothing. On PostgreSQL
the batch's keys are looked up first and only new rows are COPYed; if another ingest stores one
of them in between, the unique constraint stops the COPY and the batch's keys are looked up
again and the rest written with `ON CONFLICT DO NOTHING` (slower, and only on that rare race).

`event` is partitioned by month there (events.partitions), and its unique key is (dedupe_key,
occurred_at): the look-up finds a key in any month, the constraint only in the same instant.
So two ingests racing with one key under two different times (an event sent without its time,
stored at its arrival, or a client reusing an id) can both store it: the one gap in the dedupe.

Either way the rows actually stored (not the duplicates) are counted into the hourly rollups
(events.rollups) in the same transaction, so a rollup never counts an event twice or one that
was rolled back.
"""

from __future__ import annotations

import psycopg
from django.db import IntegrityError, connection, transaction
from django.db.backends.utils import CursorWrapper

from casefile.core.timeutil import now
from casefile.events.normalise import COLUMNS, EventRow
from casefile.events.partitions import partitions_ensure
from casefile.events.rollups import rollups_add

_COLUMN_LIST = ", ".join(COLUMNS)
# Host parameters per look-up: well under SQLite's limit (32,766 since 3.32, 999 before).
_SQLITE_KEYS = 900


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
    partitions_ensure(r.occurred_at for r in rows)
    ingested_at = now()
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            fresh = _not_stored(cursor, rows)
            with cursor.cursor.copy(f"COPY event ({_COLUMN_LIST}) FROM STDIN") as copy:
                for row in fresh:
                    copy.write_row(row.values(ingested_at))
            rollups_add(fresh)
            return len(fresh)
    except (IntegrityError, psycopg.IntegrityError):  # COPY's own error is psycopg's
        # Another ingest's COPY of some of these events went first and ours stopped on its
        # keys once it committed. Look again, now that they are visible: ON CONFLICT only sees
        # a key stored with the same occurred_at (in the same partition). (Or a month's
        # partition this process remembered is gone: a constraint error too, and ensured again.)
        partitions_ensure((r.occurred_at for r in rows), recheck=True)
        placeholders = ", ".join(["%s"] * len(COLUMNS))
        with transaction.atomic(), connection.cursor() as cursor:
            rows = _not_stored(cursor, rows)
            if not rows:
                return 0
            # RETURNING names the rows this statement stored, not those another ingest did.
            raw = cursor.cursor
            raw.executemany(
                f"INSERT INTO event ({_COLUMN_LIST}) VALUES ({placeholders}) "  # noqa: S608
                "ON CONFLICT DO NOTHING RETURNING dedupe_key",
                [r.values(ingested_at) for r in rows], returning=True,
            )
            stored: set[str] = set()
            while True:
                stored.update(key for (key,) in raw.fetchall())
                if not raw.nextset():
                    break
            rollups_add(r for r in rows if r.dedupe_key in stored)
            return len(stored)


def _not_stored(cursor: CursorWrapper, rows: list[EventRow]) -> list[EventRow]:
    """The rows whose dedupe key is in no partition yet."""
    cursor.execute("SELECT dedupe_key FROM event WHERE dedupe_key = ANY(%s)",
                   [[r.dedupe_key for r in rows]])
    existing = {key for (key,) in cursor.fetchall()}
    return [r for r in rows if r.dedupe_key not in existing]


def _store_sqlite(rows: list[EventRow]) -> int:
    adapt = connection.ops.adapt_datetimefield_value
    ingested_at = now()
    placeholders = ", ".join(["%s"] * len(COLUMNS))
    values = []
    for row in rows:
        item = list(row.values(ingested_at))
        item[1], item[2] = adapt(row.occurred_at), adapt(ingested_at)
        values.append(item)
    # The transaction begins IMMEDIATE (settings): no other writer between the look-up of the
    # keys already stored and the insert, so the rows not found are the rows stored.
    with transaction.atomic(), connection.cursor() as cursor:
        existing: set[str] = set()
        keys = [r.dedupe_key for r in rows]
        for start in range(0, len(keys), _SQLITE_KEYS):
            chunk = keys[start:start + _SQLITE_KEYS]
            cursor.execute(
                "SELECT dedupe_key FROM event WHERE dedupe_key IN "  # noqa: S608
                f"({', '.join(['%s'] * len(chunk))})", chunk)
            existing.update(key for (key,) in cursor.fetchall())
        fresh = [i for i, r in enumerate(rows) if r.dedupe_key not in existing]
        cursor.executemany(
            f"INSERT INTO event ({_COLUMN_LIST}) VALUES ({placeholders})",  # noqa: S608
            [values[i] for i in fresh],
        )
        rollups_add(rows[i] for i in fresh)
        return len(fresh)
