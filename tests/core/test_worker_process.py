"""A real `casefile worker` process and web requests writing to one database at the same time.

On SQLite the web and the worker share one file: WAL, a busy timeout and transactions that
take the write lock at BEGIN mean neither side ever sees "database is locked". The worker runs
every periodic job each second here, so it writes (task rows, SLA breaches, ledger segments)
all the while the web writes cases and notes.
"""

import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test import Client  # not the committing one: the worker's sequencer chains here
from django_tasks_db.models import DBTaskResult

from casefile.accounts.roles import Role
from casefile.audit import ledger
from casefile.audit.models import AuditEntry, AuditSegment
from casefile.audit.verify import audit_verify
from casefile.cases.models import Case
from casefile.core.schedule import PERIODIC
from casefile.core.timeutil import now
from tests.audit.helpers import ACTOR
from tests.conftest import make_staff, token_for

pytestmark = pytest.mark.django_db(transaction=True)


def database_url() -> str:
    """The test database, for a child process."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def worker_env(settings, seconds: int = 1) -> dict[str, str]:
    """The worker shares the web's database, object store and var directory (its keys)."""
    return {**os.environ, "DATABASE_URL": database_url(),
            "CASEFILE_VAR_DIR": str(settings.VAR_DIR),
            "OBJECT_STORE_URL": settings.OBJECT_STORE_URL,
            "PERIODIC_JOB_SECONDS": json.dumps({job.name: seconds for job in PERIODIC})}


def _web_writes(token: str, seconds: float, statuses: list[int], errors: list[str]) -> None:
    client = Client()
    headers = {"Authorization": f"Bearer {token}"}
    until = time.monotonic() + seconds
    try:
        for i in itertools.count():
            if time.monotonic() > until:
                return
            made = client.post("/api/v1/cases", {"kind": "incident", "title": f"spike {i}",
                                                 "priority": 2, "reason_code": "INVESTIGATION"},
                               content_type="application/json", headers=headers)
            statuses.append(made.status_code)
            if made.status_code != 201:
                errors.append(made.content.decode()[:500])
                continue
            noted = client.post(f"/api/v1/cases/{made.json()['id']}/notes",
                                {"content": "looking", "reason_code": "INVESTIGATION"},
                                content_type="application/json", headers=headers)
            statuses.append(noted.status_code)
            # Past due at once: the worker's sweep flags it while the web keeps writing.
            Case.objects.filter(pk=made.json()["id"]).update(
                sla_due_at=now() - timedelta(seconds=1))
    except Exception as exc:  # reported by the test, not lost in a thread
        errors.append(repr(exc))
    finally:
        connection.close()


def test_a_worker_process_and_web_writes_share_the_database_without_errors(settings):
    token = token_for(make_staff(Role.ANALYST))
    worker = subprocess.Popen([sys.executable, "-m", "casefile", "worker"],
                              env=worker_env(settings), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    statuses: list[int] = []
    errors: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while not DBTaskResult.objects.exists():  # the worker is up and writing
            if worker.poll() is not None:
                pytest.fail(f"the worker exited: {worker.communicate()[1].decode()[-3000:]}")
            assert time.monotonic() < deadline, "the worker never ran a task"
            time.sleep(0.2)
        threads = [threading.Thread(target=_web_writes, args=(token, 6, statuses, errors))
                   for _ in range(2)]
        web_started = now()
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        web_ended = now()
        created = Case.objects.count()
        # The worker flags every breach and ships every entry, while it keeps running.
        while (AuditEntry.objects.filter(action="CASE_SLA_BREACHED").count() < created
               or AuditSegment.objects.order_by("-last_seq").values_list(
                   "last_seq", flat=True).first() != AuditEntry.objects.count()):
            assert worker.poll() is None, "the worker died"
            assert time.monotonic() < deadline + 120, "the worker fell behind"
            time.sleep(0.5)
    finally:
        worker.send_signal(signal.SIGTERM)
        _, stderr = worker.communicate(timeout=60)
    log = stderr.decode()
    assert errors == []
    assert created >= 10 and statuses == [201] * (2 * created)
    assert worker.returncode == 0, log[-3000:]
    assert "locked" not in log and "Traceback" not in log, log[-3000:]
    assert not DBTaskResult.objects.filter(status="FAILED").exists()
    # The two really overlapped: the worker finished tasks while the web was writing (how
    # many depends on the machine's load, so only that it did).
    assert DBTaskResult.objects.filter(finished_at__gt=web_started,
                                       finished_at__lt=web_ended).exists()
    report = audit_verify(worm=True)
    assert report.ok, report.as_dict()


def test_the_workers_sequencer_chains_committed_entries_within_moments(settings):
    """With every periodic job (the ship job among them) an hour away, only the sequencer
    thread can chain what the web commits."""
    env = {**worker_env(settings, seconds=3600), "AUDIT_SEQUENCE_MS": "100"}
    worker = subprocess.Popen([sys.executable, "-m", "casefile", "worker"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while DBTaskResult.objects.filter(status="SUCCESSFUL").count() < len(PERIODIC):
            assert worker.poll() is None, worker.communicate()[1].decode()[-3000:]
            assert time.monotonic() < deadline, "the worker never ran its first jobs"
            time.sleep(0.1)
        shipped_before = AuditSegment.objects.count()
        for i in range(3):
            with transaction.atomic():
                ledger.record(actor=ACTOR, action="LIMIT_OVERRIDE", resource="tenant:ten_1",
                              reason_code="CUSTOMER_REQUEST", before={"seats": i},
                              after={"seats": i + 1})
        deadline = time.monotonic() + 30
        while ledger.pending_count():
            assert worker.poll() is None, worker.communicate()[1].decode()[-3000:]
            assert time.monotonic() < deadline, "the sequencer never chained the entries"
            time.sleep(0.1)
    finally:
        worker.send_signal(signal.SIGTERM)
        _, stderr = worker.communicate(timeout=60)
    assert list(AuditEntry.objects.order_by("seq").values_list("seq", flat=True))[-3:] == [
        *range(AuditEntry.objects.count() - 2, AuditEntry.objects.count() + 1)]
    assert AuditSegment.objects.count() == shipped_before  # no ship since: the thread did it
    assert audit_verify(record_run=False).ok
    assert worker.returncode == 0 and "Traceback" not in stderr.decode()
