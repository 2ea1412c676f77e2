"""Delivering outbox commands to the platform: signed POSTs, at least once.

Each command is POSTed as JSON to PLATFORM_WEBHOOK_URL with

    Casefile-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>
    Idempotency-Key: <command id>

The platform verifies the signature (and that t is recent), and applies each Idempotency-Key
once. A worker claims a command by leasing it (in its own short transaction), posts outside any
transaction, then records the attempt. If the worker dies in between, the lease runs out and
another worker delivers the command again — which is why the platform must dedupe.
Failures retry with exponential backoff and jitter; after OUTBOX_MAX_ATTEMPTS the command is
dead-lettered, listed by the API and retried by hand.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import timedelta

import orjson
from django.conf import settings
from django.db import connection, transaction

from casefile import __version__
from casefile.core.timeutil import isoformat, now
from casefile.platform.models import DeliveryAttempt, OutboxCommand

RETRY_BASE_SECONDS = 10
RETRY_CAP_SECONDS = 3600


def signature_header(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def verify_signature(secret: str, body: bytes, header: str, *, tolerance: int = 300) -> bool:
    """What the platform runs on receipt (also used by the tests)."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > tolerance:
        return False
    expected = signature_header(secret, body, timestamp).split("v1=")[1]
    return hmac.compare_digest(expected, fields.get("v1", ""))


def backoff(attempt: int) -> timedelta:
    """Exponential, capped, with jitter (half fixed, half random) so retries spread out."""
    ceiling = min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2 ** (attempt - 1))
    return timedelta(seconds=ceiling / 2 + random.uniform(0, ceiling / 2))  # noqa: S311


@dataclass
class DeliveryReport:
    delivered: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    dead: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"delivered": len(self.delivered), "failed": len(self.failed),
                "dead": len(self.dead)}


def outbox_deliver(*, limit: int = 100) -> DeliveryReport:
    report = DeliveryReport()
    if not settings.PLATFORM_WEBHOOK_URL:
        return report  # nowhere to deliver: commands wait, nothing is lost
    for _ in range(limit):
        claimed = claim()
        if claimed is None:
            break
        command, attempt = claimed
        status, error, elapsed = _post(command)
        _record(command, attempt, status, error, elapsed, report)
    return report


def claim() -> tuple[OutboxCommand, DeliveryAttempt] | None:
    """Lease the next due command and open its attempt record (committed before posting)."""
    moment = now()
    lease = timedelta(seconds=settings.OUTBOX_TIMEOUT_SECONDS + 30)
    with transaction.atomic():
        due = OutboxCommand.objects.filter(status="pending", next_attempt_at__lte=moment)
        due = due.exclude(leased_until__gt=moment).order_by("next_attempt_at", "id")
        if connection.vendor == "postgresql":
            due = due.select_for_update(skip_locked=True)
        command = due.first()
        if command is None:
            return None
        command.attempts += 1
        command.leased_until = moment + lease
        command.save(update_fields=["attempts", "leased_until"])
        attempt = DeliveryAttempt.objects.create(command=command, number=command.attempts,
                                                 at=moment, error="in flight")
    return command, attempt


def _post(command: OutboxCommand) -> tuple[int | None, str, int]:
    body = orjson.dumps({"id": command.id, "type": command.type,
                         "created_at": isoformat(command.created_at), "data": command.payload},
                        option=orjson.OPT_SORT_KEYS)
    request = urllib.request.Request(  # noqa: S310 - the operator's configured https/http URL
        settings.PLATFORM_WEBHOOK_URL, data=body, method="POST",
        headers={"Content-Type": "application/json", "Idempotency-Key": command.id,
                 "Casefile-Signature": signature_header(settings.PLATFORM_WEBHOOK_SECRET, body,
                                                        int(time.time())),
                 "User-Agent": f"Casefile/{__version__}"})
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=settings.OUTBOX_TIMEOUT_SECONDS) as r:  # noqa: S310
            status, error = r.status, ""
    except urllib.error.HTTPError as exc:
        status, error = exc.code, f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        status, error = None, str(getattr(exc, "reason", exc))[:500]
    return status, error, int((time.monotonic() - started) * 1000)


def _record(command: OutboxCommand, attempt: DeliveryAttempt, status: int | None, error: str,
            elapsed_ms: int, report: DeliveryReport) -> None:
    moment = now()
    with transaction.atomic():
        attempt.status_code, attempt.error, attempt.duration_ms = status, error, elapsed_ms
        attempt.save(update_fields=["status_code", "error", "duration_ms"])
        command.leased_until = None
        if status is not None and 200 <= status < 300:
            command.status, command.delivered_at, command.last_error = "delivered", moment, ""
            report.delivered.append(command.id)
        elif command.attempts >= settings.OUTBOX_MAX_ATTEMPTS:
            command.status, command.last_error = "dead", error
            report.dead.append(command.id)
        else:
            command.next_attempt_at = moment + backoff(command.attempts)
            command.last_error = error
            report.failed.append(command.id)
        command.save(update_fields=["status", "delivered_at", "last_error", "leased_until",
                                    "next_attempt_at"])
