"""Housekeeping: rows that are only useful for a while, pruned by the worker's periodic jobs.

None of these is a privileged action or evidence, so none is audited: task results are the
worker's own bookkeeping, login failures only count inside the throttling window, and an expired
session can never be used again. Deletes go in small batches so that on SQLite a web request
never waits long behind them for the write lock.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import models, transaction
from django_tasks_db.models import DBTaskResult

from casefile.accounts.models import LoginFailure
from casefile.core.errors import ValidationFailed
from casefile.core.timeutil import now

BATCH = 2000


def _delete_in_batches(rows: models.QuerySet) -> int:
    deleted = 0
    while True:
        with transaction.atomic():
            keys = list(rows.values_list("pk", flat=True)[:BATCH])
            if not keys:
                return deleted
            deleted += rows.model.objects.filter(pk__in=keys).delete()[0]


def task_results_prune(*, older_than_days: int | None = None) -> int:
    """Delete finished (successful or failed) task results older than the retention period.
    Queued and running tasks are never touched. Returns how many were deleted."""
    days = (settings.TASK_RESULT_RETENTION_DAYS if older_than_days is None
            else older_than_days)
    if days < 1:
        raise ValidationFailed("task results must be kept at least one day")
    return _delete_in_batches(
        DBTaskResult.objects.finished().filter(finished_at__lt=now() - timedelta(days=days)))


def login_failures_prune() -> int:
    """Delete failed sign-ins older than the throttling window: they no longer count."""
    window = timedelta(seconds=settings.LOGIN_FAILURE_WINDOW_SECONDS)
    return _delete_in_batches(LoginFailure.objects.filter(at__lt=now() - window))


def sessions_prune() -> int:
    """Delete expired console sessions (Django keeps them until someone clears them)."""
    return _delete_in_batches(Session.objects.filter(expire_date__lt=now()))
