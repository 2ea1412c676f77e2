"""A real worker process, killed (SIGKILL) while its POST to the platform is in flight: the
command is not lost. Its lease runs out, the next worker delivers it again, and the platform,
deduplicating on the Idempotency-Key, applies it once."""

import os
import subprocess
import sys
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import connection

from casefile.core.timeutil import now
from casefile.platform import delivery
from casefile.platform.models import DeliveryAttempt, OutboxCommand
from tests.platform.test_delivery import SECRET, command  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db(transaction=True)


class StallingPlatform:
    """Applies each Idempotency-Key once; holds the first request open until released."""

    def __init__(self):
        self.arrived, self.release = threading.Event(), threading.Event()
        self.requests: list[str] = []
        self.applied: set[str] = set()
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                assert delivery.verify_signature(SECRET, body, self.headers["Casefile-Signature"])
                key = self.headers["Idempotency-Key"]
                platform.requests.append(key)
                platform.applied.add(key)
                if len(platform.requests) == 1:
                    platform.arrived.set()
                    platform.release.wait(30)
                try:
                    self.send_response(200)
                    self.end_headers()
                except OSError:
                    pass  # the worker that asked is gone

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/commands"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


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

    assert platform.requests == [command.id, command.id]  # delivered twice…
    assert platform.applied == {command.id}  # …applied once
    assert OutboxCommand.objects.get(pk=command.id).status == "delivered"
    platform.server.shutdown()
