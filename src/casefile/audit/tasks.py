"""Background tasks: each wraps the service of the same name (no logic here)."""

from django_tasks import task

from casefile.audit import shipping


@task()
def audit_ship() -> dict:
    return shipping.audit_ship().as_dict()


@task()
def audit_heartbeat() -> str | None:
    return shipping.audit_heartbeat()
