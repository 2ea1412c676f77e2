"""The periodic jobs and how often they run (seconds): the one place to read it."""

from django_tasks.base import Task

from casefile.audit.tasks import audit_ship
from casefile.cases.tasks import cases_sla_sweep
from casefile.platform.tasks import approvals_expire, impersonations_expire, outbox_deliver

PERIODIC: list[tuple[Task, int]] = [
    (outbox_deliver, 5),
    (cases_sla_sweep, 60),
    (impersonations_expire, 60),
    (approvals_expire, 300),
    (audit_ship, 300),
]
