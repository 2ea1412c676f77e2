"""Background tasks: each wraps the service of the same name (no logic here)."""

from django_tasks import task

from casefile.cases import services


@task()
def cases_sla_sweep() -> list[str]:
    return services.cases_sla_sweep()
