"""Background tasks: each wraps the service of the same name (no logic here)."""

from django_tasks import task

from casefile.core import housekeeping


@task()
def task_results_prune() -> int:
    return housekeeping.task_results_prune()


@task()
def login_failures_prune() -> int:
    return housekeeping.login_failures_prune()


@task()
def sessions_prune() -> int:
    return housekeeping.sessions_prune()
