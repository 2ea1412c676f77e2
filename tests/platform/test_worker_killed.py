"""A real worker process, killed (SIGKILL) while its POST to the platform is in flight: the
command is not lost. Its lease runs out, the next worker delivers it again, and the platform,
deduplicating on the Idempotency-Key, applies it once."""

import os
import subprocess
import sys
import threading
from datetime import timedelta

import pytest
from django.db import connection

from casefile.core.timeutil import now
from casefile.platform import delivery
from casefile.platform.models import DeliveryAttempt, OutboxCommand
from tests.platform.receiver import SECRET, PlatformReceiver
from tests.platform.test_delivery import command  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db(transaction=True)


class StallingPlatform(PlatformReceiver):
    """Holds the first request open (applied, not yet answered) until released."""

    def __init__(self):
        self.arrived, self.release = threading.Event(), threading.Event()
        super().__init__(SECRET)

    def answer(self, key, body, seen):
        if not self.requests:
            self.arrived.set()
            self.release.wait(30)
        return 200


def _database_url() -> str:
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


def test_worker_killed_mid_delivery_loses_nothing(command, settings, tmp_path,  # noqa: F811
                                                  monkeypatch):
    platform = StallingPlatform()
    settings.PLATFORM_WEBHOOK_URL, settings.PLATFORM_WEBHOOK_SECRET = platform.url, SECRET
    env = {**os.environ, "DATABASE_URL": _database_url(), "PLATFORM_WEBHOOK_URL": platform.url,
           "PLATFORM_WEBHOOK_SECRET": SECRET, "OBJECT_STORE_URL": f"file://{tmp_path}/objects",
           "CASEFILE_VAR_DIR": str(tmp_path)}
    worker = subprocess.Popen([sys.executable, "-m", "casefile", "worker", "--once"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert platform.arrived.wait(60), worker.stderr.read().decode()[-2000:] if (
            worker.poll() is not None) else "the worker never posted"
        worker.kill()  # SIGKILL: no cleanup, no `finally`, mid-request
        worker.wait(10)
    finally:
        platform.release.set()
        if worker.poll() is None:
            worker.kill()

    stranded = OutboxCommand.objects.get(pk=command.id)
    assert stranded.status == "pending" and stranded.leased_until is not None
    assert DeliveryAttempt.objects.get(command=stranded).error == "in flight"

    assert delivery.outbox_deliver().delivered == []  # still leased: nobody else takes it
    after_lease = stranded.leased_until + timedelta(seconds=1)
    monkeypatch.setattr("casefile.platform.delivery.now", lambda: max(after_lease, now()))
    assert delivery.outbox_deliver().delivered == [command.id]

    assert [r.key for r in platform.requests] == [command.id, command.id]  # delivered twice…
    assert all(r.valid for r in platform.requests)
    assert list(platform.applied) == [command.id]  # …applied once
    assert OutboxCommand.objects.get(pk=command.id).status == "delivered"
    platform.close()
