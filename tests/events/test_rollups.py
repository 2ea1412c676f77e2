"""Hourly rollups: what ingest stores is counted once, in its hour, whatever the path (COPY,
the ON CONFLICT fallback, SQLite), however often it is re-sent, and a rebuild from the events
gives the same rows."""

import threading
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from django.db import connection, connections, transaction

from casefile.events.issues import templates_register
from casefile.events.models import (
    Event,
    EventRollup,
    EventRollupDay,
    EventRollupTotal,
    EventTemplate,
    UnplacedFingerprint,
)
from casefile.events.normalise import normalise
from casefile.events.rollups import rollups_add, rollups_drop, rollups_rebuild
from casefile.events.store import store_batch
from tests.events.helpers import ingest

pytestmark = pytest.mark.django_db
postgresql = pytest.mark.skipif(connection.vendor != "postgresql",
                                reason="concurrent writers: SQLite has one writer at a time")

BASE = datetime(2026, 11, 24, 20, 0, tzinfo=UTC)  # the events cross a midnight
LEVELS = ["error", "warning", "info", "debug"]


def records(count: int, *, first: int = 0, prefix: str = "r") -> list[dict]:
    """Ten an hour (one exactly on the hour), a few templates and levels."""
    return [{"event_id": f"{prefix}{i}", "level": LEVELS[i % 4],
             "timestamp": (BASE + timedelta(minutes=6 * i,
                                            microseconds=0 if i % 10 == 0 else i % 3)).isoformat(),
             "service": ["api", "worker"][i % 2],
             "message": [f"request {i} failed after {i * 3} ms", f"cache miss for key {i}",
                         "disk full"][i % 3]}
            for i in range(first, first + count)]


def counted_from_events() -> dict[tuple, tuple[int, datetime, datetime]]:
    """What the rollups must hold, counted from the events one by one."""
    out: dict[tuple, list] = {}
    for at, fp, severity in Event.objects.values_list("occurred_at", "fingerprint", "severity"):
        key = (at.replace(minute=0, second=0, microsecond=0), fp, severity)
        entry = out.setdefault(key, [0, at, at])
        entry[0] += 1
        entry[1], entry[2] = min(entry[1], at), max(entry[2], at)
    return {k: tuple(v) for k, v in out.items()}


def rollups() -> dict[tuple, tuple[int, datetime, datetime]]:
    """The hour rows, after checking that the days and totals agree with them."""
    hours = {(r.hour, r.fingerprint, r.severity): (r.count, r.first_seen, r.last_seen)
             for r in EventRollup.objects.all()}
    days: dict[tuple, list] = {}
    totals: dict[tuple, int] = {}
    for (hour, fp, severity), (count, first, last) in hours.items():
        day = days.setdefault((hour.replace(hour=0), fp, severity), [0, first, last])
        day[0] += count
        day[1], day[2] = min(day[1], first), max(day[2], last)
        totals[(hour, severity)] = totals.get((hour, severity), 0) + count
    assert {(r.day, r.fingerprint, r.severity): [r.count, r.first_seen, r.last_seen]
            for r in EventRollupDay.objects.all()} == days
    assert {(r.hour, r.severity): r.count for r in EventRollupTotal.objects.all()} == totals
    return hours


def test_ingest_counts_every_stored_event_in_its_hour():
    result = ingest(records(60))
    assert result.accepted == 60
    expected = counted_from_events()
    assert rollups() == expected
    assert sum(n for n, _, _ in expected.values()) == 60
    # The hour boundary belongs to the hour it starts: 11:00:00 exactly is in 11:00's row.
    on_the_hour = Event.objects.get(occurred_at=BASE + timedelta(hours=1))
    assert EventRollup.objects.filter(hour=BASE + timedelta(hours=1),
                                      fingerprint=on_the_hour.fingerprint).exists()


def test_re_ingest_and_repeats_within_a_batch_add_nothing():
    ingest(records(40))
    before = rollups()
    again = ingest(records(40))
    assert (again.accepted, again.duplicates) == (0, 40)
    assert rollups() == before
    # Half old, half new, and each new one twice in the batch: only the new, once.
    overlap = records(40, first=20)
    result = ingest(overlap + records(20, first=40))
    assert (result.accepted, result.duplicates) == (20, 40)
    assert rollups() == counted_from_events()
    assert sum(r.count for r in EventRollup.objects.all()) == 60


def test_a_batch_rolled_back_leaves_no_count():
    rows = [normalise(r, default_source="tests", received_at=BASE) for r in records(10)]
    with pytest.raises(RuntimeError), transaction.atomic():
        assert store_batch(rows) == 10
        assert EventRollup.objects.exists()
        raise RuntimeError("the caller fails after storing")
    assert not EventRollup.objects.exists() and not Event.objects.exists()


def test_rebuild_recomputes_hours_from_the_events():
    ingest(records(80))
    expected = rollups()
    # A bulk load around ingest: events without rollups, and a stray rollup of no event.
    for model in (EventRollup, EventRollupDay, EventRollupTotal):
        model.objects.all().delete()
    lost = stray(BASE - timedelta(days=3))
    rollups_add([lost])
    # Mid-hour bounds rebuild the whole hours they touch, and only those.
    counted = rollups_rebuild(BASE + timedelta(minutes=30), BASE + timedelta(hours=2, minutes=5))
    rebuilt = rollups()
    hours = {BASE, BASE + timedelta(hours=1), BASE + timedelta(hours=2)}
    assert {k[0] for k in rebuilt} == hours | {BASE - timedelta(days=3)}
    assert {k: v for k, v in rebuilt.items() if k[0] in hours} == {
        k: v for k, v in expected.items() if k[0] in hours}
    assert counted == sum(v[0] for k, v in expected.items() if k[0] in hours)
    # Over everything (no bounds: from the first event to the last), with the stray outside.
    assert rollups_rebuild() == 80
    assert {k: v for k, v in rollups().items() if k[1] != lost.fingerprint} == expected
    assert rollups_rebuild(BASE - timedelta(days=4), BASE + timedelta(days=1)) == 80
    assert rollups() == expected


def stray(at: datetime):
    return normalise({"message": "stray", "timestamp": at.isoformat()}, default_source="tests",
                     received_at=at)


def test_rebuild_of_nothing_is_nothing():
    assert rollups_rebuild() == 0
    assert rollups_rebuild(BASE, BASE + timedelta(days=2)) == 0
    assert not EventRollup.objects.exists()


@postgresql
@pytest.mark.django_db(transaction=True)
def test_concurrent_ingests_of_overlapping_events_count_each_once():
    start = threading.Barrier(3)
    results, errors = {}, []

    def run(name: str, first: int) -> None:
        try:
            data = b"".join(orjson.dumps(r) + b"\n" for r in records(1500, first=first))
            start.wait()
            results[name] = ingest(data)
        except Exception as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(name, first))
               for name, first in (("a", 0), ("b", 500), ("c", 1000))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors
    assert sum(r.accepted for r in results.values()) == Event.objects.count() == 2500
    assert rollups() == counted_from_events()


@postgresql
@pytest.mark.django_db(transaction=True)
def test_the_fallback_after_a_lost_race_counts_only_what_it_stored():
    """A stores some events and holds its transaction; B's batch has them and new ones: B's
    COPY stops on A's keys, its fallback stores only the new ones (RETURNING tells which) and
    counts only those."""
    rows = [normalise(r, default_source="tests", received_at=BASE) for r in records(30)]
    copied, released = threading.Event(), threading.Event()
    stored = {}

    def first() -> None:
        try:
            with transaction.atomic():
                stored["a"] = store_batch(rows[:20])
                copied.set()
                released.wait(30)
        finally:
            connections.close_all()

    thread = threading.Thread(target=first)
    thread.start()
    assert copied.wait(30)
    threading.Timer(0.5, released.set).start()  # A commits while B waits on its keys
    stored["b"] = store_batch(rows)
    thread.join(30)
    assert stored == {"a": 20, "b": 10}
    assert Event.objects.count() == 30
    assert rollups() == counted_from_events()


def test_migrations_0006_and_0008_count_the_events_stored_before_rollups():
    from importlib import import_module

    class Editor:  # what forward() uses of a schema editor (SQLite's refuses a test's atomic)
        def __init__(self):
            self.connection = connection

        def execute(self, sql, params=()):
            with connection.cursor() as cursor:
                cursor.execute(sql, params)

    ingest(records(70))
    loose = normalise({"message": "written around ingest", "timestamp": BASE.isoformat()},
                      default_source="tests", received_at=BASE)
    store_batch([loose])
    expected = rollups()
    for model in (EventRollup, EventRollupDay, EventRollupTotal, UnplacedFingerprint):
        model.objects.all().delete()
    EventRollup.objects.create(hour=BASE, fingerprint="stray", severity=3, count=5,
                               first_seen=BASE, last_seen=BASE)
    rollups_0006 = import_module("casefile.events.migrations.0006_rollups_from_events")
    rollups_0006.forward(None, Editor())
    import_module("casefile.events.migrations.0008_rollup_days_and_totals").forward(None, Editor())
    assert rollups() == expected == counted_from_events()
    assert list(UnplacedFingerprint.objects.values_list("fingerprint", flat=True)) == [
        loose.fingerprint]
    rollups_0006.backward(None, Editor())
    assert not EventRollup.objects.exists()


def test_fingerprints_counted_without_a_template_are_remembered_until_placed():
    rows = [normalise(r, default_source="tests", received_at=BASE) for r in records(30)]
    assert store_batch(rows) == 30  # around ingest: no template placed
    spans = {u.fingerprint: (u.first_hour, u.last_hour) for u in UnplacedFingerprint.objects.all()}
    assert set(spans) == {r.fingerprint for r in rows}
    for fp, (first, last) in spans.items():
        hours = [r.occurred_at.replace(minute=0, second=0, microsecond=0) for r in rows
                 if r.fingerprint == fp]
        assert (first, last) == (min(hours), max(hours))
    templates_register(rows)
    assert EventTemplate.objects.count() == len(spans)
    rollups_rebuild()
    assert not UnplacedFingerprint.objects.exists()
    ingest(records(10, first=30))  # placed first, as ingest does: nothing to remember
    assert not UnplacedFingerprint.objects.exists()


def test_drop_forgets_hours_and_keeps_the_rest_of_their_days():
    ingest(records(60))  # 20:00 to 01:54 the next day
    before = rollups()
    dropped = rollups_drop(BASE + timedelta(minutes=30), BASE + timedelta(hours=4, minutes=10))
    kept = {BASE, BASE + timedelta(hours=4), BASE + timedelta(hours=5)}  # whole hours only
    after = rollups()  # days and totals still agree with the hours left
    assert after == {k: v for k, v in before.items() if k[0] in kept}
    assert dropped == len(before) - len(after)
    assert rollups_drop(None, BASE + timedelta(days=2)) == len(after)
    assert not EventRollupDay.objects.exists() and not EventRollupTotal.objects.exists()
