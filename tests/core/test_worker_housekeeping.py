"""Housekeeping prunes what is only useful for a while, and nothing else."""

from datetime import timedelta

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django_tasks_db.models import DBTaskResult

from casefile.accounts.models import LoginFailure
from casefile.core import housekeeping
from casefile.core.errors import ValidationFailed
from casefile.core.tasks import sessions_prune
from casefile.core.timeutil import now

pytestmark = pytest.mark.django_db


def _result(status: str, finished_days_ago: float | None) -> DBTaskResult:
    result = sessions_prune.enqueue()
    finished = None if finished_days_ago is None else now() - timedelta(days=finished_days_ago)
    DBTaskResult.objects.filter(pk=result.id).update(status=status, finished_at=finished)
    return DBTaskResult.objects.get(pk=result.id)


def test_task_results_prune_deletes_only_finished_results_past_retention(settings):
    settings.TASK_RESULT_RETENTION_DAYS = 7
    old_ok, old_failed = _result("SUCCESSFUL", 8), _result("FAILED", 30)
    recent, ready, running = _result("SUCCESSFUL", 6), _result("READY", None), _result(
        "RUNNING", None)
    assert housekeeping.task_results_prune() == 2
    kept = set(DBTaskResult.objects.values_list("pk", flat=True))
    assert kept == {recent.pk, ready.pk, running.pk}
    assert old_ok.pk not in kept and old_failed.pk not in kept
    assert housekeeping.task_results_prune(older_than_days=5) == 1
    with pytest.raises(ValidationFailed):
        housekeeping.task_results_prune(older_than_days=0)


def test_login_failures_prune_keeps_the_throttling_window(settings):
    settings.LOGIN_FAILURE_WINDOW_SECONDS = 900
    rows = [LoginFailure.objects.create(email=f"x{i}@example.com") for i in range(3)]
    ages = [timedelta(seconds=901), timedelta(days=2), timedelta(seconds=899)]
    for row, age in zip(rows, ages, strict=True):
        LoginFailure.objects.filter(pk=row.pk).update(at=now() - age)
    assert housekeeping.login_failures_prune() == 2
    assert list(LoginFailure.objects.values_list("pk", flat=True)) == [rows[2].pk]


def test_sessions_prune_deletes_expired_sessions_only():
    live, dead = SessionStore(), SessionStore()
    live["k"], dead["k"] = 1, 2
    live.create()
    dead.create()
    Session.objects.filter(pk=dead.session_key).update(expire_date=now() - timedelta(seconds=1))
    assert housekeeping.sessions_prune() == 1
    assert list(Session.objects.values_list("pk", flat=True)) == [live.session_key]


def test_batches_cover_more_rows_than_one_batch(monkeypatch):
    monkeypatch.setattr(housekeeping, "BATCH", 2)
    LoginFailure.objects.bulk_create(LoginFailure(email="b@example.com") for _ in range(5))
    LoginFailure.objects.update(at=now() - timedelta(days=1))
    assert housekeeping.login_failures_prune() == 5
    assert not LoginFailure.objects.exists()
