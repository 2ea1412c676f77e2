"""Persona webhooks (identity verification: inquiries).

Followed: https://docs.withpersona.com/docs/webhooks-best-practices ("Checking signatures"),
https://docs.withpersona.com/docs/webhooks (event shape) and
https://docs.withpersona.com/docs/model-lifecycle (inquiry statuses).

Signature: `Persona-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>`, the HMAC keyed with the
webhook secret (`wbhsec_…`) over `"{t}.{raw body}"`. While a secret is rotating the header holds
two such sets separated by a space (`t=…,v1=… t=…,v1=…`), one per secret; any match passes.

Surprising:
- Persona documents no timestamp tolerance; the 5 minutes both ways is Casefile's (DESIGN 9.3).
  The signed `t` is when the request was sent, so a retry carries a fresh one.
- The docs spell the review status two ways: `needs_review` in the webhook samples and API,
  `needs-review` in prose. Both are rows of the table below.
- The event's own time is `data.attributes.created-at`; Persona says to order by it because
  deliveries arrive out of order.
- Every Persona resource can send events (accounts, verifications, reports, cases). Only an
  inquiry is a verification session here; the others parse with no session and no state.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from casefile.trust.vendors.base import (
    UNKNOWN,
    Delivery,
    Outcome,
    SignatureInvalid,
    Vendor,
    any_match,
    child_object,
    header,
    hex_signature,
    load_json,
    optional_str,
    required_str,
    required_time,
    usable_secrets,
)

NAME = "persona"
SIGNATURE_HEADER = "Persona-Signature"
TOLERANCE = timedelta(minutes=5)

# Inquiry status → (case state, decision). The one place that decides what a Persona status
# means for a verification case. `completed`/`failed` are "the user is done"; the post-inquiry
# statuses (`approved`, `declined`, `needs_review`) are the decisions, made by a workflow or a
# reviewer, and may follow a `completed`.
STATUSES: dict[str, Outcome] = {
    "created": ("pending", None),
    "pending": ("pending", None),
    # Done from the user's side, nothing decided yet: a workflow or a person decides next.
    "completed": ("in_review", None),
    # The user exhausted the allowed attempts: Persona's own terminal failure.
    "failed": ("failed", "failed"),
    "expired": ("expired", None),
    "needs_review": ("in_review", None),
    "needs-review": ("in_review", None),
    "approved": ("passed", "approved"),
    "declined": ("failed", "declined"),
}

_TOKEN_SPLIT = re.compile(r"[,\s]+")
_UNIX_SECONDS = re.compile(r"[0-9]{1,15}")


@dataclass(frozen=True)
class _SignatureSet:
    timestamp: str
    signatures: tuple[str, ...]


def _signature_sets(value: str) -> list[_SignatureSet]:
    """Every `t=…,v1=…` set in the header. Each `t=` starts a set; its `v1=` values follow.
    Space- or comma-separated sets both read the same way. Keys other than `t` and `v1` are
    skipped, as a later signature version would be."""
    sets: list[tuple[str, list[str]]] = []
    for token in _TOKEN_SPLIT.split(value.strip()):
        if not token:
            continue
        key, sep, item = token.partition("=")
        if not sep:
            raise SignatureInvalid(f"malformed header: {SIGNATURE_HEADER} has {token!r}")
        if key == "t":
            if not _UNIX_SECONDS.fullmatch(item):
                raise SignatureInvalid(f"malformed header: t={item!r} is not a unix time")
            sets.append((item, []))
        elif key == "v1":
            if not sets:
                raise SignatureInvalid("malformed header: v1 before any t")
            sets[-1][1].append(hex_signature(item, "v1"))
    if not sets:
        raise SignatureInvalid(f"malformed header: {SIGNATURE_HEADER} has no t=")
    if any(not signatures for _, signatures in sets):
        raise SignatureInvalid(f"malformed header: {SIGNATURE_HEADER} has a t= without v1=")
    return [_SignatureSet(t, tuple(signatures)) for t, signatures in sets]


def _signed_message(signature_set: _SignatureSet, body: bytes) -> bytes:
    """`"{t}.{body}"` with `t` exactly as the header spelled it."""
    return f"{signature_set.timestamp}.".encode() + body


class Persona(Vendor):
    name = NAME

    def __init__(self, tolerance: timedelta = TOLERANCE):
        self.tolerance = tolerance

    def verify(
        self,
        headers: Mapping[str, str],
        body: bytes,
        secrets: Sequence[str],
        *,
        now: datetime,
    ) -> None:
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        value = header(headers, SIGNATURE_HEADER)
        if value is None or not value.strip():
            raise SignatureInvalid(f"missing header {SIGNATURE_HEADER}")
        sets = _signature_sets(value)
        keys = usable_secrets(secrets)
        signed = [s for s in sets if any_match(s.signatures, keys, _signed_message(s, body))]
        if not signed:
            raise SignatureInvalid("no secret matched")
        # Checked after the HMAC so the reason is only "too old/new" for a genuine signature.
        limit = self.tolerance.total_seconds()
        if all(abs(now.timestamp() - int(s.timestamp)) > limit for s in signed):
            raise SignatureInvalid("timestamp outside tolerance")

    def parse(self, body: bytes) -> Delivery:
        event = load_json(body)
        data = child_object(event, "data", "$")
        attributes = child_object(data, "attributes", "$.data")
        path = "$.data.attributes"
        payload = child_object(child_object(attributes, "payload", path), "data", path + ".payload")
        payload_path = path + ".payload.data"
        kind = required_str(payload, "type", payload_path)
        object_id = required_str(payload, "id", payload_path)

        session_id: str | None = None
        status: str | None = None
        outcome = UNKNOWN
        if kind == "inquiry":
            inquiry = child_object(payload, "attributes", payload_path)
            session_id = object_id
            status = required_str(inquiry, "status", payload_path + ".attributes")
            outcome = STATUSES.get(status, UNKNOWN)
        elif isinstance(payload.get("attributes"), dict):
            # Kept for the webhook log only: it is not an inquiry, so it moves nothing.
            status = optional_str(payload["attributes"], "status", payload_path + ".attributes")

        return Delivery(
            vendor=NAME,
            event_id=required_str(data, "id", "$.data"),
            event_type=required_str(attributes, "name", path),
            occurred_at=required_time(attributes, "created-at", path),
            session_id=session_id,
            vendor_status=status,
            case_state=outcome[0],
            decision=outcome[1],
            raw=event,
        )
