"""Background tasks: each wraps the service of the same name (no logic here)."""

from django_tasks import task

from casefile.platform import delivery, services


@task()
def outbox_deliver() -> dict:
    return delivery.outbox_deliver().as_dict()


@task()
def impersonations_expire() -> int:
    return services.impersonations_expire()


@task()
def approvals_expire() -> int:
    return services.approvals_expire()


@task()
def suspensions_expire() -> int:
    return services.suspensions_expire()
