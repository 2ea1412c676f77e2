"""Background tasks: each wraps the service of the same name (no logic here)."""

from django_tasks import task

from casefile.events import services


@task()
def events_purge() -> int:
    return services.events_purge()


@task()
def events_partitions_ahead() -> list[str]:
    return services.events_partitions_ahead()
