from datetime import timedelta

import pytest
from django.core.management import call_command

from casefile.audit.models import AuditEntry, AuditSegment
from casefile.cases.models import Case
from casefile.core.schedule import PERIODIC
from casefile.core.timeutil import now
from tests.cases.helpers import open_case


@pytest.mark.django_db(transaction=True)
def test_worker_once_runs_every_periodic_job_through_the_task_queue():
    from django_tasks_db.models import DBTaskResult

    case = open_case(priority=1)
    Case.objects.filter(pk=case.pk).update(sla_due_at=now() - timedelta(minutes=1))
    call_command("worker", "--once")
    assert AuditEntry.objects.filter(action="CASE_SLA_BREACHED", resource=f"case:{case.id}",
                                     actor_role="system").count() == 1
    assert AuditSegment.objects.exists()  # the audit ledger was shipped
    finished = DBTaskResult.objects.values_list("task_path", "status")
    assert {path.rsplit(".", 1)[1] for path, _ in finished} == {job.name for job in PERIODIC}
    assert {"outbox_deliver", "cases_sla_sweep", "impersonations_expire", "approvals_expire",
            "suspensions_expire", "audit_ship", "events_purge"} <= {job.name for job in PERIODIC}
    assert {status for _, status in finished} == {"SUCCESSFUL"}
