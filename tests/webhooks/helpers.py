"""Signed vendor deliveries for the webhook tests. Signatures are computed here with plain
`hmac`, independently of `casefile.trust.vendors`, as each vendor documents them."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

from django.test import Client

PAYLOADS = Path(__file__).parent.parent / "trust" / "payloads"
SECRET = "whsec_test_current_0123456789"
OLD_SECRET = "whsec_test_previous_9876543210"

# vendor → (its sample, the session id in it, the state that sample asks for)
SAMPLES = {
    "persona": ("persona_inquiry_approved.json", "inq_9fT2mQwLx4VbN8cRz6YhKd3s", "passed"),
    "onfido": ("onfido_workflow_run_completed.json", "0b8f3e6d-27a4-4c19-9e52-7d1a4f6c3b90",
               "passed"),
    "veriff": ("veriff_decision.json", "8a3c6f1e-4b2d-4e7a-9c15-3f6b2d8e1a74", "passed"),
    "checkr": ("checkr_report_completed.json", "9e1c4a7b2f5d8e3a6c0b4d29", "passed"),
}
VENDORS = list(SAMPLES)
HEADERS = {"onfido": "X-SHA2-Signature", "veriff": "X-HMAC-SIGNATURE",
           "checkr": "X-Checkr-Signature", "persona": "Persona-Signature"}


def sample(vendor: str) -> bytes:
    return (PAYLOADS / SAMPLES[vendor][0]).read_bytes()


def sample_json(vendor: str) -> dict[str, Any]:
    return json.loads(sample(vendor))


def encode(value: Any) -> bytes:
    return json.dumps(value).encode()


def hex_hmac(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed(vendor: str, body: bytes, secret: str = SECRET, *, at: float | None = None
           ) -> dict[str, str]:
    """The headers `vendor` sends with `body`, signed with `secret`."""
    if vendor == "persona":
        t = str(int(time.time() if at is None else at))
        return {HEADERS[vendor]: f"t={t},v1={hex_hmac(secret, t.encode() + b'.' + body)}"}
    return {HEADERS[vendor]: hex_hmac(secret, body)}


def post(vendor: str, body: bytes, headers: dict[str, str] | None = None,
         client: Client | None = None, content_type: str = "application/json"):
    client = client or Client()
    return client.post(f"/api/v1/webhooks/{vendor}", data=body, content_type=content_type,
                       headers=headers or {})


def deliver(vendor: str, body: bytes | None = None, secret: str = SECRET, **kwargs):
    body = sample(vendor) if body is None else body
    return post(vendor, body, signed(vendor, body, secret), **kwargs)


# --- one delivery per vendor, with chosen session, status and time ------------------------------
def body_for(vendor: str, *, session: str, status: str, at: str, event: str) -> bytes:
    """A sample of `vendor` about `session`, reporting `status` at vendor time `at` (ISO 8601)
    as event `event` (vendors without event ids derive theirs from these fields)."""
    doc = sample_json(vendor)
    if vendor == "persona":
        doc["data"]["id"] = event
        doc["data"]["attributes"]["created-at"] = at
        doc["data"]["attributes"]["payload"]["data"]["id"] = session
        doc["data"]["attributes"]["payload"]["data"]["attributes"]["status"] = status
    elif vendor == "onfido":
        obj = doc["payload"]["object"]
        obj.update(id=session, status=status, completed_at_iso8601=at)
        doc["payload"]["action"] = event
    elif vendor == "veriff":
        doc["verification"].update(id=session, status=status, decisionTime=at)
    elif vendor == "checkr":
        doc["id"] = event
        doc["created_at"] = at
        doc["data"]["object"]["id"] = session
        status, _, result = status.partition(":")
        doc["data"]["object"].update(status=status, result=result or None)
    return encode(doc)


# A status per vendor for each state the tests need.
STATUS = {
    "persona": {"pending": "pending", "in_review": "needs_review", "passed": "approved",
                "failed": "declined"},
    "onfido": {"pending": "processing", "in_review": "review", "passed": "approved",
               "failed": "declined"},
    "veriff": {"pending": "resubmission_requested", "in_review": "review",
               "passed": "approved", "failed": "declined"},
    "checkr": {"pending": "pending", "in_review": "suspended", "passed": "complete:clear",
               "failed": None},
}
