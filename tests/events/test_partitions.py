"""Events in monthly partitions (PostgreSQL) and retention by month; SQLite's row retention."""

import threading
from datetime import UTC, datetime, timedelta
from unittest import mock

import orjson
import pytest
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from casefile.accounts.roles import Role
from casefile.audit.actor import Actor
from casefile.cases import services as cases
from casefile.events import partitions, store
from casefile.events.models import Event, EventRollup
from casefile.events.normalise import normalise
from casefile.events.services import events_partitions_ahead, events_purge
from tests.events.helpers import ingest

pytestmark = pytest.mark.django_db
postgresql = pytest.mark.skipif(connection.vendor != "postgresql",
                                reason="partitions are PostgreSQL's; SQLite has one table")
sqlite = pytest.mark.skipif(connection.vendor != "sqlite",
                            reason="SQLite's retention deletes rows; PostgreSQL's drops months")


def at(year: int, month: int, day: int = 1, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def where() -> dict[str, int]:
    """Rows per partition, as PostgreSQL placed them."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text, count(*) FROM event GROUP BY 1")
        return dict(cursor.fetchall())


def partition_names() -> set[str]:
    with connection.cursor() as cursor:
        return set(partitions.partitions_list(cursor).values())


def rollup(hour: datetime, fingerprint: str = "fp", count: int = 1) -> None:
    EventRollup.objects.create(hour=hour, fingerprint=fingerprint, severity=6, count=count,
                               first_seen=hour, last_seen=hour)


def link(staff_factory, event: Event):
    analyst = Actor.staff(staff_factory(Role.ANALYST))
    case = cases.case_create(actor=analyst, kind="incident", title="outage",
                             reason_code="INVESTIGATION")
    cases.case_event_link(actor=analyst, case=case, event_id=event.id,
                          reason_code="INVESTIGATION")
    return analyst, case


@postgresql
def test_rows_land_in_their_months_partition_and_a_batch_creates_its_months():
    assert not {"event_y2019m01", "event_y2019m02", "event_y2019m03"} & partition_names()
    result = ingest([{"message": "january", "timestamp": "2019-01-31T23:59:59.999Z"},
                     {"message": "february", "timestamp": "2019-02-01T00:00:00Z"},
                     {"message": "february too", "timestamp": "2019-02-28T12:00:00+05:00"},
                     {"message": "march", "timestamp": "2019-03-01T00:00:00Z"}])
    assert result.accepted == 4
    assert where() == {"event_y2019m01": 1, "event_y2019m02": 2, "event_y2019m03": 1}
    month = {e.message: e.occurred_at.month
             for e in Event.objects.filter(occurred_at__lt=at(2019, 4))}
    assert month == {"january": 1, "february": 2, "february too": 2, "march": 3}


@postgresql
def test_known_months_cost_no_query():
    partitions.forget()
    may = at(2019, 5).date()
    with CaptureQueriesContext(connection) as queries:
        assert partitions.partitions_ensure([at(2019, 5, 3)]) == ["event_y2019m05"]
    assert queries
    # Created inside the test's transaction, which never commits: not remembered.
    assert may not in partitions._known
    partitions._known.add(may)
    try:
        with CaptureQueriesContext(connection) as queries:
            assert partitions.partitions_ensure([at(2019, 5, 20), at(2019, 5, 31, 23)]) == []
        assert len(queries) == 0
    finally:
        partitions.forget()


@postgresql
def test_reingesting_stores_nothing_new_across_partitions():
    batch = [{"event_id": f"e{i}", "message": f"m{i}",
              "timestamp": (at(2019, 6, 20) + timedelta(days=7 * i)).isoformat()}
             for i in range(10)]
    assert ingest(batch).accepted == 10
    assert len([name for name in where() if name >= "event_y2019m06"
                and name <= "event_y2019m08"]) == 3
    again = ingest(batch)
    assert (again.accepted, again.duplicates) == (0, 10)
    # The same event sent again with another time (another month): still the same event.
    moved = [{**record, "timestamp": "2019-12-01T00:00:00Z"} for record in batch]
    assert ingest(moved).duplicates == 10
    assert Event.objects.filter(dedupe_key__isnull=False, source="tests").count() == 10


@postgresql
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_ingests_into_a_new_month_both_succeed():
    assert "event_y2031m03" not in partition_names()
    start = threading.Barrier(2)
    results, errors = {}, []

    def run(name: str, first: int) -> None:
        try:
            records = [{"event_id": f"c{i}", "message": f"concurrent {i}",
                        "timestamp": (at(2031, 3, 1) + timedelta(minutes=i)).isoformat()}
                       for i in range(first, first + 3000)]
            data = b"".join(orjson.dumps(r) + b"\n" for r in records)
            start.wait()
            results[name] = ingest(data)
        except Exception as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)
        finally:
            connections.close_all()

    # Half the events are in both: the dedupe holds under the race too.
    threads = [threading.Thread(target=run, args=("a", 0)),
               threading.Thread(target=run, args=("b", 1500))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors
    assert results["a"].accepted + results["b"].accepted == 4500
    assert results["a"].duplicates + results["b"].duplicates == 1500
    assert where() == {"event_y2031m03": 4500}


@postgresql
@pytest.mark.django_db(transaction=True)
def test_a_batch_that_loses_the_race_for_its_keys_falls_back_and_stores_nothing_twice():
    """B looks its keys up while A's COPY of the same events is not committed: B's COPY stops
    on A's keys once A commits, and B's fallback must find them in whatever partition."""
    received = datetime.now(UTC)
    rows = [normalise({"event_id": f"r{i}", "message": f"race {i}",
                       "timestamp": (at(2019, 9, 25) + timedelta(days=i)).isoformat()},
                      default_source="tests", received_at=received) for i in range(10)]
    assert {r.occurred_at.month for r in rows} == {9, 10}
    partitions.partitions_ensure(r.occurred_at for r in rows)  # committed: B will not wait
    copied, released = threading.Event(), threading.Event()
    stored = {}

    def first() -> None:
        try:
            with transaction.atomic():
                stored["a"] = store.store_batch(rows)
                copied.set()
                released.wait(30)
        finally:
            connections.close_all()

    with mock.patch.object(store, "_not_stored", wraps=store._not_stored) as look_up:
        thread = threading.Thread(target=first)
        thread.start()
        assert copied.wait(30)
        threading.Timer(0.5, released.set).start()  # A commits while B waits on its keys
        stored["b"] = store.store_batch(rows)
        thread.join(30)
    assert stored == {"a": 10, "b": 0}
    assert look_up.call_count == 3  # A's look-up, B's, and B's again after its COPY failed
    assert Event.objects.filter(message__startswith="race ").count() == 10


@postgresql
def test_purge_drops_old_months_and_keeps_the_rows_linked_to_cases(staff_factory, client):
    ingest([{"event_id": f"old{i}", "message": f"old {i}",
             "timestamp": (at(2025, 1, 1) + timedelta(days=3 * i)).isoformat()}
            for i in range(10)]
           + [{"event_id": "recent", "message": "recent", "timestamp": at(2025, 3, 2).isoformat()}])
    evidence = Event.objects.get(message="old 4")
    analyst, case = link(staff_factory, evidence)
    rollup(at(2025, 1, 10, 7), "dropped")
    rollup(at(2025, 3, 5, 7), "kept")
    with connection.cursor() as cursor:  # left by a run that stopped between swap and drop
        cursor.execute("CREATE TABLE event_purged_y2024m12 (LIKE event)")

    # The cutoff (2025-02-15) is inside February: January ended before it, February did not.
    days = (datetime.now(UTC) - at(2025, 2, 15)).days
    result = events_purge(older_than_days=days)
    dropped = {d.partition: d.kept for d in result.dropped}
    assert dropped["event_y2025m01"] == 1
    assert "event_y2025m02" not in dropped and "event_y2025m03" not in dropped
    assert not result.busy and result.deleted == 0
    # The old partition, detached by the swap, was dropped after it (and the one left over).
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_class WHERE relname LIKE 'event_purged_%%'")
        assert cursor.fetchone()[0] == 0
    assert sorted(Event.objects.filter(occurred_at__lt=at(2025, 4))
                  .values_list("message", flat=True)) == ["old 4", "recent"]
    # The linked event is still a whole event, in its month's (new) partition, and readable
    # everywhere it is shown.
    assert where()["event_y2025m01"] == 1
    kept = Event.objects.get(pk=evidence.pk)
    assert (kept.message, kept.occurred_at, kept.dedupe_key) == (
        "old 4", evidence.occurred_at, evidence.dedupe_key)
    client.force_login(analyst.user)
    page = client.get(f"/cases/{case.id}/")
    assert page.status_code == 200 and b"old 4" in page.content
    assert client.get(f"/events/{evidence.id}/").status_code == 200
    assert not EventRollup.objects.filter(hour__gte=at(2025, 1), hour__lt=at(2025, 2)).exists()
    assert EventRollup.objects.filter(fingerprint="kept").exists()

    # Nothing more to drop: a second run leaves the month alone.
    assert events_purge(older_than_days=days).dropped == []
    assert Event.objects.filter(pk=evidence.pk).exists()
    # Once unlinked, the next run drops it too.
    cases.case_event_unlink(actor=analyst, case=case, event_id=evidence.id,
                            reason_code="INVESTIGATION")
    again = events_purge(older_than_days=days)
    assert [(d.partition, d.kept) for d in again.dropped] == [("event_y2025m01", 0)]
    assert "event_y2025m01" not in where() and "event_y2025m01" in partition_names()
    # The month keeps a partition: a late event for it is still stored.
    assert ingest([{"message": "late", "timestamp": at(2025, 1, 20).isoformat()}]).accepted == 1


@postgresql
@pytest.mark.django_db(transaction=True)
def test_a_month_is_not_dropped_while_the_table_is_busy():
    ingest([{"message": "old", "timestamp": at(2024, 5, 5).isoformat()}])
    holder_ready, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM event")  # as a long export would
                holder_ready.set()
                release.wait(30)
        finally:
            connections.close_all()

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        assert holder_ready.wait(30)
        partition = partitions.Partition(at(2024, 5).date())
        with pytest.raises(partitions.Busy):
            partitions.partition_drop_keeping_linked(partition, lock_timeout_ms=200)
    finally:
        release.set()
        thread.join(30)
    assert Event.objects.filter(message="old").exists()


@postgresql
def test_the_ahead_job_creates_this_month_and_the_next_two():
    this_month = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    months = [partitions.Partition(partitions.month_add(this_month, n).date())
              for n in range(3)]
    with connection.cursor() as cursor:
        for partition in months[1:]:
            if partition.name in partition_names():
                cursor.execute(f"ALTER TABLE event DETACH PARTITION {partition.name}")
                cursor.execute(f"DROP TABLE {partition.name}")
    partitions.forget()
    assert events_partitions_ahead() == [p.name for p in months[1:]]
    assert {p.name for p in months} <= partition_names()
    assert events_partitions_ahead() == []
    # And rows for the furthest month go to its partition.
    ingest([{"message": "ahead", "timestamp": months[2].since.isoformat()}])
    assert where()[months[2].name] == 1


@sqlite
def test_sqlite_purge_deletes_old_rows_and_their_hours_but_not_evidence(staff_factory):
    old = datetime.now(UTC) - timedelta(days=100)
    ingest([{"message": "old", "timestamp": old.isoformat()},
            {"message": "old evidence", "timestamp": old.isoformat()},
            {"message": "new"}])
    link(staff_factory, Event.objects.get(message="old evidence"))
    rollup(old.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1), "gone")
    rollup(datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=1),
           "kept")
    result = events_purge(older_than_days=90)
    assert result.deleted == 1 and result.dropped == [] and result.rollups_deleted >= 1
    assert sorted(Event.objects.values_list("message", flat=True)) == ["new", "old evidence"]
    assert not EventRollup.objects.filter(fingerprint="gone").exists()
    assert EventRollup.objects.filter(fingerprint="kept").exists()


def test_the_purge_command_prints_what_it_removed(capsys):
    ingest([{"message": "old", "timestamp": "2020-01-05T00:00:00Z"}])
    capsys.readouterr()
    call_command("events", "purge", "--older-than", "90")
    printed = orjson.loads(capsys.readouterr().out)
    if connection.vendor == "postgresql":
        assert [(d["partition"], d["kept"]) for d in printed["dropped"]] == [
            ("event_y2020m01", 0)]
    else:
        assert printed["deleted"] >= 1 and printed["dropped"] == []
    assert set(printed) == {"deleted", "dropped", "busy", "rollups_deleted"}
    assert not Event.objects.filter(message="old").exists()
