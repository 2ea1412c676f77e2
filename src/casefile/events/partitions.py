"""Monthly partitions of `event` on PostgreSQL (migration 0005): `event_y2026m11` holds
[2026-11-01, 2026-12-01) UTC of occurred_at. There is no DEFAULT partition, so a month's
partition must exist before its first row is written: the store ensures the months of each
batch, and the worker creates this month and the next two ahead every hour. SQLite has one
table; everything here does nothing there.

A partition is created as a plain table and then attached: attaching takes a lock on `event`
that readers and writers pass (SHARE UPDATE EXCLUSIVE), where `CREATE TABLE … PARTITION OF`
would wait for every running query on `event` and stop every new one behind it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from django.db import OperationalError, connection, transaction
from django.db.backends.utils import CursorWrapper

# Creating and replacing (retention) partitions take this transaction-level lock, so two
# ingesters meeting a new month create it once and the other one then finds it.
LOCK = 0x6576_7074  # "evpt"
NAME = re.compile(r"^event_y(\d{4})m(\d{2})$")
PURGED = "event_purged_"  # + y2026m09: a month's old partition, detached by retention

# Months whose partition this process saw committed. Retention attaches a month's new
# partition in the transaction that detaches the old one, so a month never stops having one;
# a batch whose months are all here costs no query.
_known: set[date] = set()


@dataclass(frozen=True)
class Partition:
    month: date  # its first day

    @property
    def name(self) -> str:
        return f"event_y{self.month.year:04d}m{self.month.month:02d}"

    @property
    def since(self) -> datetime:
        return datetime(self.month.year, self.month.month, 1, tzinfo=UTC)

    @property
    def until(self) -> datetime:
        return month_add(self.since, 1)

    def bounds_sql(self) -> str:
        return f"FROM ('{self.since.isoformat()}') TO ('{self.until.isoformat()}')"


def month_of(moment: datetime | date) -> date:
    """The first day of the UTC month holding `moment`."""
    if isinstance(moment, datetime):
        moment = moment.astimezone(UTC)
    return date(moment.year, moment.month, 1)


def month_add(moment: datetime, months: int) -> datetime:
    index = moment.year * 12 + moment.month - 1 + months
    return moment.replace(year=index // 12, month=index % 12 + 1)


def partitions_ensure(moments: Iterable[datetime | date], *, recheck: bool = False) -> list[str]:
    """Make sure a partition exists for the month of every moment given (the occurred_at of
    the rows about to be written); returns the names of those created. Inside a transaction
    the new partitions are remembered only once it commits: a rollback takes them away.
    `recheck` asks the database even about months remembered."""
    if connection.vendor != "postgresql":
        return []
    wanted = {month_of(m) for m in moments}
    if recheck:
        _known.difference_update(wanted)
    wanted -= _known
    if not wanted:
        return []
    created = []
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK])
        existing = set(partitions_list(cursor))
        for month in sorted(wanted - existing):
            partition = Partition(month)
            _create(cursor, partition)
            created.append(partition.name)
        present = wanted | existing
        transaction.on_commit(lambda: _known.update(present))
    return created


def partitions_list(cursor: CursorWrapper) -> dict[date, str]:
    """The partitions of `event` that follow the naming, by month."""
    cursor.execute("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                   "WHERE i.inhparent = 'event'::regclass")
    found = {}
    for (name,) in cursor.fetchall():
        match = NAME.match(name)
        if match:
            found[date(int(match[1]), int(match[2]), 1)] = name
    return found


def _create(cursor: CursorWrapper, partition: Partition, table: str | None = None) -> None:
    """Create `table` (default: the partition's name) like `event` and attach it for the
    partition's month; attaching builds its indexes and keys, which is instant while empty."""
    table = table or partition.name
    cursor.execute(f"CREATE TABLE {table} (LIKE event INCLUDING DEFAULTS INCLUDING STORAGE "
                   "INCLUDING COMPRESSION)")
    cursor.execute(f"ALTER TABLE event ATTACH PARTITION {table} FOR VALUES "
                   f"{partition.bounds_sql()}")


def partitions_ahead(months: int = 3) -> list[str]:
    """Create this month's partition and the next ones (`months` in all) if missing."""
    this_month = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return partitions_ensure(month_add(this_month, n) for n in range(months))


def partitions_before(cutoff: datetime) -> list[Partition]:
    """The months that end at or before `cutoff`, oldest first."""
    with connection.cursor() as cursor:
        months = partitions_list(cursor)
    return [p for p in map(Partition, sorted(months)) if p.until <= cutoff]


@dataclass(frozen=True)
class Dropped:
    partition: str
    kept: int  # rows linked to a case, kept in the month's new partition
    dropped_about: int | None  # the planner's count of the old partition's rows, less `kept`
    locked_ms: int  # how long `event` was held for the swap


class Busy(Exception):
    """`event` stayed locked by others beyond the lock timeout: try again later."""


def partition_drop_keeping_linked(partition: Partition, *,
                                  lock_timeout_ms: int = 2000) -> Dropped | None:
    """Replace a month's partition by one holding only its rows linked to a case, in one
    transaction: create the new table, copy the linked rows into it, detach the old partition
    (renamed `event_purged_…`), attach the new table for the same range. The old partition
    is dropped once that has committed: a drop removes the table's files at commit, which for
    a month of events (gigabytes) can take seconds on some file systems (2 s for 6 GB here),
    and `event` would stay locked meanwhile; detached, it holds up nobody. None when every row
    the month holds is linked already (an earlier run dropped the rest); Busy when `event`
    stayed locked.

    The whole table is locked (ACCESS EXCLUSIVE) for the transaction, which lasts as long as
    copying the month's linked rows takes. It is taken first and with a timeout: a query on
    `event` that links an event to a case then waits for it, instead of the two deadlocking
    (it holds `event`, wanting case_event; we hold case_event, wanting `event`), and a long
    export makes the purge give up and retry rather than stall every reader queued behind
    it."""
    name = partition.name
    keep = f"{name}_keep"
    # Asked first, without locking anything: once a month is dropped this is every run's
    # answer for it, and it costs a look at the few rows kept.
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {name} e WHERE NOT EXISTS "  # noqa: S608
                       "(SELECT 1 FROM case_event l WHERE l.event_id = e.id))")
        if not cursor.fetchone()[0]:
            return None
    partitions_drop_purged()  # a run that stopped between its swap and its drop
    started = time.perf_counter()
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL lock_timeout = {int(lock_timeout_ms)}")
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK])
            cursor.execute("LOCK TABLE event IN ACCESS EXCLUSIVE MODE")
            # No link may appear while the linked rows are copied and the rest dropped.
            cursor.execute("LOCK TABLE case_event IN SHARE MODE")
            cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                           [name])
            estimate = cursor.fetchone()[0]
            cursor.execute(f"CREATE TABLE {keep} (LIKE event INCLUDING DEFAULTS "
                           "INCLUDING STORAGE INCLUDING COMPRESSION)")
            # Looked up by id in the partition's primary key: the links are few, the month's
            # rows are millions (a join could choose to read them all).
            cursor.execute(f"INSERT INTO {keep} SELECT e.* FROM {name} e "  # noqa: S608
                           "WHERE e.id = ANY(ARRAY(SELECT DISTINCT event_id FROM case_event))")
            kept = cursor.rowcount
            cursor.execute(f"ALTER TABLE event DETACH PARTITION {name}")
            cursor.execute(f"ALTER TABLE {name} RENAME TO {PURGED}{name.removeprefix('event_')}")
            cursor.execute(f"ALTER TABLE {keep} RENAME TO {name}")
            cursor.execute(f"ALTER TABLE event ATTACH PARTITION {name} FOR VALUES "
                           f"{partition.bounds_sql()}")
    except OperationalError as exc:
        if getattr(exc.__cause__, "sqlstate", None) == "55P03":  # lock_not_available
            raise Busy(name) from exc
        raise
    locked_ms = round((time.perf_counter() - started) * 1000)
    partitions_drop_purged()
    return Dropped(partition=name, kept=kept,
                   dropped_about=max(estimate - kept, 0) if estimate >= 0 else None,
                   locked_ms=locked_ms)


def partitions_drop_purged() -> list[str]:
    """Drop the old partitions retention detached (`event_purged_y2026m09`), each in its own
    transaction; returns their names."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname FROM pg_class WHERE relkind = 'r' "
                       "AND relnamespace = current_schema()::regnamespace AND relname ~ %s",
                       [f"^{PURGED}y[0-9]{{4}}m[0-9]{{2}}$"])
        names = [name for (name,) in cursor.fetchall()]
    for name in names:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {name}")
    return names


def forget() -> None:
    """Forget what this process knows (tests that drop partitions behind its back)."""
    _known.clear()
