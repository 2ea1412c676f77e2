"""Delivery to a real HTTP receiver on 127.0.0.1 that fails the first attempts."""

import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
import pytest

from casefile.accounts.roles import Role
from casefile.audit.actor import Actor
from casefile.core.timeutil import now
from casefile.platform import delivery, services
from casefile.platform.models import OutboxCommand
from tests.conftest import make_staff

pytestmark = pytest.mark.django_db
SECRET = "whsec_test"


class Receiver:
    """A platform that verifies signatures, applies each Idempotency-Key once, and answers
    500 to the first `fail_first` requests (after applying, so a retry is a re-delivery)."""

    def __init__(self, fail_first: int = 0):
        self.fail_first, self.requests, self.applied = fail_first, [], {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                valid = delivery.verify_signature(SECRET, body,
                                                  self.headers["Casefile-Signature"])
                key = self.headers["Idempotency-Key"]
                receiver.requests.append((key, valid))
                if not valid:
                    self.send_response(401)
                else:
                    receiver.applied.setdefault(key, orjson.loads(body))
                    failing = len(receiver.requests) <= receiver.fail_first
                    self.send_response(500 if failing else 200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/casefile/commands"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


@pytest.fixture
def receiver(settings):
    made = []

    def build(fail_first=0):
        r = Receiver(fail_first)
        settings.PLATFORM_WEBHOOK_URL, settings.PLATFORM_WEBHOOK_SECRET = r.url, SECRET
        made.append(r)
        return r

    yield build
    for r in made:
        r.close()


@pytest.fixture
def command():
    services.tenant_upsert(actor=Actor.system("sync"), tenant_id="ten_x", name="X")
    outcome = services.operation_request(
        actor=Actor.staff(make_staff(Role.OPS)), operation="tenant_limit_override",
        params={"tenant_id": "ten_x", "limits": {"seats": 10}}, reason_code="CUSTOMER_REQUEST")
    return outcome.command


def due_now():
    OutboxCommand.objects.update(next_attempt_at=now() - timedelta(seconds=1))


def test_retries_until_delivered_signed_and_applied_once(receiver, command):
    platform = receiver(fail_first=2)
    assert delivery.outbox_deliver().failed == [command.id]
    due_now()
    assert delivery.outbox_deliver().failed == [command.id]
    due_now()
    assert delivery.outbox_deliver().delivered == [command.id]
    assert [valid for _, valid in platform.requests] == [True, True, True]
    assert {key for key, _ in platform.requests} == {command.id}  # one key, three deliveries
    assert list(platform.applied) == [command.id]  # applied once
    applied = platform.applied[command.id]
    assert applied["type"] == "tenant.limits.override"
    assert applied["data"]["limits"] == {"seats": 10}
    saved = OutboxCommand.objects.get()
    assert (saved.status, saved.attempts) == ("delivered", 3)
    assert [a.status_code for a in saved.log.order_by("number")] == [500, 500, 200]


def test_backoff_grows_with_jitter():
    first = [delivery.backoff(1).total_seconds() for _ in range(50)]
    fifth = [delivery.backoff(5).total_seconds() for _ in range(50)]
    assert all(5 <= s <= 10 for s in first) and len(set(first)) > 1
    assert all(80 <= s <= 160 for s in fifth)
    assert delivery.backoff(30).total_seconds() <= delivery.RETRY_CAP_SECONDS


def test_dead_letter_after_the_last_attempt_then_retry_by_hand(receiver, command, settings):
    settings.OUTBOX_MAX_ATTEMPTS = 2
    receiver(fail_first=99)
    delivery.outbox_deliver()
    due_now()
    assert delivery.outbox_deliver().dead == [command.id]
    assert OutboxCommand.objects.get().status == "dead"
    due_now()
    assert delivery.outbox_deliver().as_dict() == {"delivered": 0, "failed": 0, "dead": 0}
    services.outbox_retry(actor=Actor.staff(make_staff(Role.OPS)), command=command,
                          reason_code="OPERATIONS")
    receiver(fail_first=0)
    assert delivery.outbox_deliver().delivered == [command.id]


def test_a_worker_that_dies_mid_delivery_loses_nothing(receiver, command, monkeypatch):
    platform = receiver()
    claimed, attempt = delivery.claim()  # a worker leases the command… and dies before posting
    assert claimed.id == command.id and attempt.error == "in flight"
    assert delivery.outbox_deliver().as_dict()["delivered"] == 0  # leased: nobody else takes it
    later = now() + timedelta(minutes=5)
    monkeypatch.setattr("casefile.platform.delivery.now", lambda: later)
    assert delivery.outbox_deliver().delivered == [command.id]  # the lease ran out
    assert list(platform.applied) == [command.id]
    assert OutboxCommand.objects.get().attempts == 2


def test_without_a_platform_url_commands_wait(command, settings):
    settings.PLATFORM_WEBHOOK_URL = ""
    assert delivery.outbox_deliver().as_dict() == {"delivered": 0, "failed": 0, "dead": 0}
    assert OutboxCommand.objects.get().status == "pending"


def test_signature_verification_rejects_tampering():
    body = b'{"id":"cmd_1"}'
    header = delivery.signature_header(SECRET, body, int(now().timestamp()))
    assert delivery.verify_signature(SECRET, body, header)
    assert not delivery.verify_signature(SECRET, body + b" ", header)
    assert not delivery.verify_signature("other", body, header)
    old = delivery.signature_header(SECRET, body, int(now().timestamp()) - 3600)
    assert not delivery.verify_signature(SECRET, body, old)
