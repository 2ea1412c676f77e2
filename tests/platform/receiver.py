"""A platform on 127.0.0.1 receiving Casefile's outbox commands, shared by the delivery tests.

It does what docs/platform.md asks of the real one: verify each request's `Casefile-Signature`
(401 when it does not hold: nothing applied), and apply each `Idempotency-Key` once, however often
it arrives. Subclasses say what to answer (`answer`), which is decided *after* applying, so a
failed answer makes the retry a re-delivery — the case the dedupe exists for.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

from casefile.core.timeutil import now
from casefile.platform import delivery
from casefile.platform.models import OutboxCommand

SECRET = "whsec_test"


@dataclass(frozen=True)
class Wire:
    """One request as it arrived: its key, whether its signature held, its body, the answer."""

    key: str
    valid: bool
    body: dict[str, Any]
    status: int


class PlatformReceiver:
    """`requests`: every request on the wire, in order; `applied`: key → the body applied, in
    the order first applied."""

    def __init__(self, secret: str = SECRET):
        self.secret = secret
        self.requests: list[Wire] = []
        self.applied: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = receiver._receive(self.headers.get("Idempotency-Key", ""), body,
                                           self.headers.get("Casefile-Signature", ""))
                try:
                    self.send_response(status)
                    self.end_headers()
                except OSError:
                    pass  # the worker that asked is gone

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/casefile/commands"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _receive(self, key: str, raw: bytes, signature: str) -> int:
        valid = delivery.verify_signature(self.secret, raw, signature)
        body = orjson.loads(raw) if valid else {}
        with self._lock:
            if valid:
                self.applied.setdefault(key, body)
            seen = sum(1 for r in self.requests if r.key == key and r.valid) + valid
        status = self.answer(key, body, seen) if valid else 401
        with self._lock:
            self.requests.append(Wire(key, valid, body, status))
        return status

    def answer(self, key: str, body: dict[str, Any], seen: int) -> int:
        """The status for a validly signed request, after it was applied; `seen`: how many
        valid requests with this key have arrived, this one included."""
        return 200

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def due_now() -> None:
    """Make every waiting command due (instead of waiting out its backoff)."""
    OutboxCommand.objects.update(next_attempt_at=now() - timedelta(seconds=1))
