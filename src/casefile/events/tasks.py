"""Background tasks: each wraps the service of the same name (no logic here)."""

from django_tasks import task

from casefile.events import services


@task()
def events_purge() -> dict:
    return services.events_purge().as_dict()


@task()
def events_partitions_ahead() -> list[str]:
    return services.events_partitions_ahead()
