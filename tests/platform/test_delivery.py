"""Delivery to a real HTTP receiver on 127.0.0.1 that fails the first attempts."""

from datetime import timedelta

import pytest

from casefile.accounts.roles import Role
from casefile.audit.actor import Actor
from casefile.core.timeutil import now
from casefile.platform import delivery, services
from casefile.platform.models import OutboxCommand
from tests.conftest import make_staff
from tests.platform.receiver import SECRET, PlatformReceiver, due_now

pytestmark = pytest.mark.django_db


class Receiver(PlatformReceiver):
    """Answers 500 to the first `fail_first` requests (after applying them)."""

    def __init__(self, fail_first: int = 0):
        self.fail_first = fail_first
        super().__init__(SECRET)

    def answer(self, key, body, seen):
        return 500 if len(self.requests) < self.fail_first else 200


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


def test_retries_until_delivered_signed_and_applied_once(receiver, command):
    platform = receiver(fail_first=2)
    assert delivery.outbox_deliver().failed == [command.id]
    due_now()
    assert delivery.outbox_deliver().failed == [command.id]
    due_now()
    assert delivery.outbox_deliver().delivered == [command.id]
    assert [r.valid for r in platform.requests] == [True, True, True]
    assert {r.key for r in platform.requests} == {command.id}  # one key, three deliveries
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
