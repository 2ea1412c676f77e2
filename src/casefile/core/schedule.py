"""The periodic jobs and how often they run: the one place to read it.

`casefile worker` calls `periodic_jobs_enqueue` about once a second. Each job has a row in
`core_periodic_job`; a worker claims a job's period with one conditional UPDATE (its
`next_run_at` is due and no earlier run holds the lease), and only the worker whose UPDATE
matched enqueues the run. So any number of workers, on SQLite or PostgreSQL, enqueue each job
once per period, and whichever worker is free runs it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django_tasks.base import Task, TaskResultStatus
from django_tasks.signals import task_finished

from casefile.accounts.tasks import known_sign_in_sources_prune
from casefile.audit.tasks import audit_heartbeat, audit_ship
from casefile.cases.tasks import cases_sla_sweep
from casefile.core.models import PeriodicJob
from casefile.core.tasks import login_failures_prune, sessions_prune, task_results_prune
from casefile.core.timeutil import now
from casefile.documents.tasks import signing_links_expire
from casefile.events.tasks import events_partitions_ahead, events_purge
from casefile.platform.tasks import (
    approvals_expire,
    impersonations_expire,
    outbox_deliver,
    suspensions_expire,
)
from casefile.trust.tasks import statements_submit, strikes_decay, verification_pii_expire
from casefile.webhooks.tasks import webhook_bodies_expire, webhook_deliveries_sweep_held

logger = logging.getLogger("casefile.worker")


@dataclass(frozen=True)
class Periodic:
    task: Task
    seconds: int  # the period; PERIODIC_JOB_SECONDS may override it by name

    @property
    def name(self) -> str:
        return self.task.name

    @property
    def every(self) -> timedelta:
        return timedelta(seconds=int(settings.PERIODIC_JOB_SECONDS.get(self.name, self.seconds)))


PERIODIC: list[Periodic] = [
    Periodic(outbox_deliver, 5),
    Periodic(cases_sla_sweep, 60),
    Periodic(impersonations_expire, 60),
    Periodic(approvals_expire, 60),
    Periodic(suspensions_expire, 60),
    # The write-once copy of the ledger trails the database by AUDIT_SHIP_SECONDS (5); a run
    # with nothing new to ship writes nothing.
    Periodic(audit_ship, settings.AUDIT_SHIP_SECONDS),
    Periodic(audit_heartbeat, settings.AUDIT_CHECKPOINT_SECONDS),
    Periodic(events_purge, 3600),
    # PostgreSQL: this month's partition of `event` and the next two exist before they are due.
    Periodic(events_partitions_ahead, 3600),
    # Verification PII past VERIFICATION_PII_DAYS: shredded and blanked (skipped under hold).
    Periodic(verification_pii_expire, 3600),
    # Strikes past their decay_at: the ladder's actions no longer met are lifted (outbox).
    Periodic(strikes_decay, 600),
    # DSA statements of reasons to the Transparency Database (nothing without DSA_TDB_URL).
    Periodic(statements_submit, 60),
    # A local envelope whose signing link ran out unused ends as expired (and its pack void).
    Periodic(signing_links_expire, 300),
    # A delivery held while its case was being opened (neither saw the other) is applied here.
    Periodic(webhook_deliveries_sweep_held, 60),
    # Delivery bodies the cases' own PII expiry does not reach (never applied, never claimed).
    Periodic(webhook_bodies_expire, 3600),
    Periodic(task_results_prune, 3600),
    Periodic(login_failures_prune, 900),
    Periodic(sessions_prune, 3600),
    Periodic(known_sign_in_sources_prune, 24 * 3600),
]
assert len({job.name for job in PERIODIC}) == len(PERIODIC), "job names must be unique"

# How long one run may hold its job before the next may be enqueued anyway: longer than any
# job should take, so that only a run whose worker died is ever overtaken.
LEASE = timedelta(minutes=10)

_BY_PATH = {job.task.module_path: job for job in PERIODIC}


def periodic_jobs_enqueue(*, holder: str, force: bool = False) -> list[str]:
    """Enqueue every job whose period is due and that no earlier run still holds, claiming
    each with a conditional UPDATE so that no other worker enqueues it for the same period.
    `force` (`worker --once`) enqueues every job now. Returns the names enqueued."""
    moment = now()
    due = _due(moment, force)
    enqueued = []
    for job in PERIODIC:
        if job.name not in due:
            continue
        with transaction.atomic():
            claim = PeriodicJob.objects.filter(name=job.name)
            if not force:
                claim = claim.filter(_claimable(moment))
            if not claim.update(next_run_at=moment + job.every, leased_until=moment + LEASE,
                                holder=holder[:100]):
                continue  # another worker claimed this period first
            result = job.task.enqueue()
            PeriodicJob.objects.filter(name=job.name).update(last_task_id=str(result.id))
        enqueued.append(job.name)
        logger.debug("enqueued %s (task %s)", job.name, result.id)
    return enqueued


def _claimable(moment: datetime) -> Q:
    return Q(next_run_at__lte=moment) & (Q(leased_until__isnull=True)
                                         | Q(leased_until__lte=moment))


def _due(moment: datetime, force: bool) -> set[str]:
    """One read decides which claims to try, so a tick with nothing due takes no write lock
    (on SQLite, every write transaction holds the one write lock)."""
    names = {job.name for job in PERIODIC}
    known = PeriodicJob.objects.filter(name__in=names)
    missing = names - set(known.values_list("name", flat=True))
    if missing:  # a new job (or a new database) is due at once
        PeriodicJob.objects.bulk_create(
            [PeriodicJob(name=name, next_run_at=moment) for name in sorted(missing)],
            ignore_conflicts=True)
    if force:
        return names
    return set(known.filter(_claimable(moment)).values_list("name", flat=True))


def _run_finished(sender: Any, task_result: Any, **kwargs: Any) -> None:
    """A periodic run finished (whichever worker ran it): release its job's lease, and say
    what it did — a run that did nothing is only worth a debug line."""
    job = _BY_PATH.get(task_result.task.module_path)
    if job is None:
        return
    PeriodicJob.objects.filter(name=job.name, last_task_id=str(task_result.id)).update(
        leased_until=None)
    if task_result.status != TaskResultStatus.SUCCESSFUL:
        return  # django-tasks logs the failure with its traceback
    value = task_result.return_value
    if _did_something(value):
        logger.info("%s: %s", job.name, value)
    else:
        logger.debug("%s: nothing to do", job.name)


def _did_something(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_did_something(v) for v in value.values())
    return bool(value)


task_finished.connect(_run_finished, dispatch_uid="casefile.core.schedule.run_finished")
