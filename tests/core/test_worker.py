"""The worker's periodic jobs: one enqueue per job and period however many workers run, the
whole schedule (retention and housekeeping included) runs through the task queue, and the
ledger reaches write-once storage without another command."""

import multiprocessing
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import connections
from django_tasks_db.models import DBTaskResult

from casefile.audit.models import AuditEntry, AuditSegment
from casefile.audit.verify import audit_verify
from casefile.cases.models import Case
from casefile.core import schedule
from casefile.core.models import PeriodicJob
from casefile.core.schedule import PERIODIC, periodic_jobs_enqueue
from casefile.core.timeutil import now
from casefile.events.models import Event
from casefile.storage import get_store
from tests.cases.helpers import open_case
from tests.events.helpers import ingest

NAMES = {job.name for job in PERIODIC}


def _enqueued() -> list[str]:
    return sorted(path.rsplit(".", 1)[1]
                  for path in DBTaskResult.objects.values_list("task_path", flat=True))


def _drain() -> None:
    from django_tasks_db.management.commands.db_worker import Worker

    Worker(queue_names=["*"], interval=0, batch=True, backend_name="default",
           startup_delay=False, max_tasks=None, worker_id="tests",
           excluded_queue_names=[]).run()


def _at(monkeypatch, moment: datetime) -> None:
    monkeypatch.setattr(schedule, "now", lambda: moment)


@pytest.mark.django_db
def test_the_second_worker_finds_every_job_claimed():
    assert sorted(periodic_jobs_enqueue(holder="a")) == sorted(NAMES)
    assert periodic_jobs_enqueue(holder="b") == []
    assert _enqueued() == sorted(NAMES)
    assert set(PeriodicJob.objects.values_list("holder", flat=True)) == {"a"}


@pytest.mark.django_db(transaction=True)
def test_each_job_comes_round_once_per_period(monkeypatch):
    start = now()
    _at(monkeypatch, start)
    periodic_jobs_enqueue(holder="a")
    _drain()  # the runs finish: their leases are released
    assert set(PeriodicJob.objects.values_list("leased_until", flat=True)) == {None}
    DBTaskResult.objects.all().delete()

    fast = min(PERIODIC, key=lambda job: job.every)
    _at(monkeypatch, start + fast.every - timedelta(milliseconds=1))
    assert periodic_jobs_enqueue(holder="a") == []
    _at(monkeypatch, start + fast.every)
    due = {job.name for job in PERIODIC if job.every == fast.every}
    assert set(periodic_jobs_enqueue(holder="b")) == due
    assert periodic_jobs_enqueue(holder="a") == []
    assert _enqueued() == sorted(due)


@pytest.mark.django_db
def test_a_run_still_in_progress_is_not_joined_by_a_copy_until_its_lease_ends(monkeypatch):
    start = now()
    _at(monkeypatch, start)
    periodic_jobs_enqueue(holder="a")  # nothing runs the queue: every run is still pending
    DBTaskResult.objects.all().delete()
    later = start + schedule.LEASE - timedelta(seconds=1)
    _at(monkeypatch, later)
    assert periodic_jobs_enqueue(holder="b") == []  # due by period, but the lease holds
    _at(monkeypatch, start + schedule.LEASE)
    assert set(periodic_jobs_enqueue(holder="b")) == {
        job.name for job in PERIODIC if job.every <= schedule.LEASE}


def _claim(holder: str, barrier) -> None:
    connections.close_all()
    barrier.wait(30)
    periodic_jobs_enqueue(holder=holder)
    connections.close_all()


@pytest.mark.django_db(transaction=True)
def test_workers_racing_for_the_same_period_enqueue_each_job_once():
    processes = 4
    connections.close_all()  # never share a connection across fork
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(processes)
    workers = [context.Process(target=_claim, args=(f"w{i}", barrier))
               for i in range(processes)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert [w.exitcode for w in workers] == [0] * processes
    assert _enqueued() == sorted(NAMES)  # each job once, not once per worker
    holders = dict(PeriodicJob.objects.values_list("name", "holder"))
    assert set(holders) == NAMES and set(holders.values()) <= {f"w{i}" for i in range(4)}


def test_the_ledger_reaches_write_once_storage_within_a_minute_and_retention_is_scheduled():
    periods = {job.name: job.every for job in PERIODIC}
    assert periods["audit_ship"] <= timedelta(seconds=60)
    assert "events_purge" in periods
    assert {"task_results_prune", "login_failures_prune", "sessions_prune"} <= set(periods)


@pytest.mark.django_db(transaction=True)
def test_worker_once_runs_the_whole_schedule_through_the_queue_and_ships_the_ledger():
    case = open_case(priority=1)
    Case.objects.filter(pk=case.pk).update(sla_due_at=now() - timedelta(minutes=1))
    old = (datetime.now(UTC) - timedelta(days=400)).isoformat()
    ingest([{"message": "long gone", "timestamp": old}, {"message": "recent"}])

    call_command("worker", "--once")

    finished = dict(DBTaskResult.objects.values_list("task_path", "status"))
    assert {path.rsplit(".", 1)[1] for path in finished} == NAMES
    assert set(finished.values()) == {"SUCCESSFUL"}
    assert AuditEntry.objects.filter(action="CASE_SLA_BREACHED",
                                     resource=f"case:{case.id}").count() == 1
    assert list(Event.objects.values_list("message", flat=True)) == ["recent"]
    last = AuditEntry.objects.order_by("-seq").first()
    assert last is not None
    shipped = AuditSegment.objects.order_by("-last_seq").first()
    assert shipped is not None and shipped.last_seq == last.seq
    assert get_store().get(shipped.object_key)  # the segment is in the object store
    assert audit_verify(worm=True).ok


@pytest.mark.django_db(transaction=True)
def test_a_failing_job_is_released_and_does_not_stop_the_others(monkeypatch):
    def broken() -> list[str]:
        raise RuntimeError("the sweep broke")

    monkeypatch.setattr("casefile.cases.services.cases_sla_sweep", broken)
    open_case()  # an entry to ship
    call_command("worker", "--once")
    statuses = {path.rsplit(".", 1)[1]: status for path, status in
                DBTaskResult.objects.values_list("task_path", "status")}
    assert statuses.pop("cases_sla_sweep") == "FAILED"
    assert set(statuses.values()) == {"SUCCESSFUL"}
    assert AuditSegment.objects.exists()
    assert PeriodicJob.objects.get(name="cases_sla_sweep").leased_until is None
