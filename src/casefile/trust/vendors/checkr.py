"""Checkr webhooks (background checks: reports).

Followed: https://docs.checkr.com/apis/webhooks ("Webhook payload structure", "Responding to
and securing webhooks"), https://docs.checkr.com/use-cases/check-status (report statuses) and
Checkr's own examples https://github.com/checkr/webhook-verification-examples.

Signature: `X-Checkr-Signature` is the hex HMAC-SHA256 of the request body, keyed with the
account's API key (Checkr has no separate webhook secret). No timestamp is signed, so there is
no tolerance to enforce. Rotating the API key is the rotation: accept both keys meanwhile.

Surprising:
- Checkr's examples parse the JSON and re-serialise it compactly before hashing, with the
  warning that pretty JSON will not match. The signature is over the compact body Checkr sends;
  we hash the raw bytes as received and never re-serialise (that would also mean decoding an
  unsigned body).
- With the account's `include_object` option OFF, `data.object` is only `id`, `object` and
  `uri`: no status. Such a delivery parses with `case_state=None`; the caller fetches the
  report from `uri`.
- The status page lists more statuses than the old API reference: `paused` (awaiting a Review
  Action decision) and `canceled` besides `pending`, `complete`, `suspended`, `dispute`.
- Only reports are verification sessions here; candidate, invitation and other events parse
  with no session and move nothing.
"""

from __future__ import annotations

from casefile.trust.vendors.base import (
    UNKNOWN,
    BodyHmacVendor,
    Delivery,
    Outcome,
    child_object,
    load_json,
    optional_str,
    required_str,
    required_time,
)

NAME = "checkr"
SIGNATURE_HEADER = "X-Checkr-Signature"

# A row whose result is ANY applies whatever the report's result (usually still null).
ANY = "*"

# (report status, result) → (case state, decision): the one place that decides what a Checkr
# report means for a verification case.
STATUSES: dict[tuple[str, str | None], Outcome] = {
    ("pending", ANY): ("pending", None),
    ("complete", "clear"): ("passed", "clear"),
    # Something was found: a person must adjudicate (and any adverse action is a process).
    ("complete", "consider"): ("in_review", "consider"),
    # The candidate must supply more; someone has to follow it up.
    ("suspended", ANY): ("in_review", None),
    # Waiting on a Review Action decision to continue or skip the remaining screenings.
    ("paused", ANY): ("in_review", None),
    # The candidate disputes a result: the earlier outcome is open again.
    ("dispute", ANY): ("in_review", None),
    ("canceled", ANY): ("canceled", None),
}


def outcome(status: str | None, result: str | None) -> Outcome:
    """What a report's status and result mean for the case."""
    if status is None:
        return UNKNOWN
    return STATUSES.get((status, result)) or STATUSES.get((status, ANY), UNKNOWN)


class Checkr(BodyHmacVendor):
    name = NAME
    signature_header = SIGNATURE_HEADER

    def parse(self, body: bytes) -> Delivery:
        event = load_json(body)
        event_type = required_str(event, "type", "$")
        data = child_object(event, "data", "$")
        obj = child_object(data, "object", "$.data")
        path = "$.data.object"
        object_id = required_str(obj, "id", path)
        # `object` names the resource; the event type's prefix says the same if it is absent.
        kind = optional_str(obj, "object", path) or event_type.partition(".")[0]
        status = optional_str(obj, "status", path)
        result = optional_str(obj, "result", path)

        is_report = kind == "report"
        state, decision = outcome(status, result) if is_report else UNKNOWN
        return Delivery(
            vendor=NAME,
            event_id=required_str(event, "id", "$"),
            event_type=event_type,
            occurred_at=required_time(event, "created_at", "$"),
            session_id=object_id if is_report else None,
            vendor_status=status,
            case_state=state,
            decision=decision,
            raw=event,
        )
