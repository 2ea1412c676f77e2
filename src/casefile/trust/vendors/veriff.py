"""Veriff webhooks: the decision webhook and the (optional) event webhook.

Followed: https://devdocs.veriff.com/docs/hmac-authentication-and-endpoint-security,
https://devdocs.veriff.com/docs/webhooks-guide, https://devdocs.veriff.com/docs/decision-webhook,
https://devdocs.veriff.com/docs/event-webhook and
https://devdocs.veriff.com/v1/docs/verification-session-status-codes-table.

Signature: `X-HMAC-SIGNATURE` is the hex HMAC-SHA256 of the raw request body, keyed with the
integration's shared secret key. No timestamp is signed, so there is no tolerance to enforce.

Surprising:
- Veriff also sends `X-AUTH-CLIENT`: the integration's API key (its public key), not a secret
  and not covered by the signature, so it proves nothing and `verify` ignores it. A caller
  with several integrations may use it to choose which integration's secrets to try.
- The same key signs API requests, where GET/DELETE requests sign the session id instead of a
  body; webhooks are POSTs and always sign the body.
- Two webhook kinds arrive, told apart by shape: a decision has a `verification` object
  (`id`, `status`, `code`, `decisionTime`, …); an event has top-level `id` (the session),
  `action` (`started` 7001, `submitted` 7002), `code` and `attemptId`.
- Neither kind has an event id. It is derived: a decision is
  `"{verification.id}:decision:{verification.status}:{decisionTime or ''}"`, an event is
  `"{id}:{action}:{attemptId or ''}"` (a resubmission is a new attempt, so a new id).
- An event carries no time; `occurred_at` is None for it.
- `resubmission_requested` is sent 5 minutes late for SDK sessions and is not final: the
  user goes through the same session again.
"""

from __future__ import annotations

from typing import Any

from casefile.trust.vendors.base import (
    UNKNOWN,
    BodyHmacVendor,
    Delivery,
    Outcome,
    PayloadInvalid,
    child_object,
    load_json,
    optional_str,
    optional_time,
    required_int,
    required_str,
)

NAME = "veriff"
SIGNATURE_HEADER = "X-HMAC-SIGNATURE"

# Decision `verification.status`, or event `action` → (case state, decision): the one place
# that decides what a Veriff status means for a verification case. The two vocabularies do
# not overlap, so one table holds both.
STATUSES: dict[str, Outcome] = {
    # Event webhook actions: the user is in the flow, then Veriff is processing.
    "started": ("pending", None),
    "submitted": ("pending", None),
    # Decision webhook statuses.
    "approved": ("passed", "approved"),
    "declined": ("failed", "declined"),
    # Not a decision: the user must go through the same session again.
    "resubmission_requested": ("pending", None),
    "expired": ("expired", None),
    # Started but never finished: for the case, the same end as never starting.
    "abandoned": ("expired", None),
    "review": ("in_review", None),
}


class Veriff(BodyHmacVendor):
    name = NAME
    signature_header = SIGNATURE_HEADER

    def parse(self, body: bytes) -> Delivery:
        event = load_json(body)
        if "verification" in event:
            return _decision(event)
        if "action" in event:
            return _event(event)
        raise PayloadInvalid("$", "neither a decision (verification) nor an event (action)")


def _decision(event: dict[str, Any]) -> Delivery:
    verification = child_object(event, "verification", "$")
    path = "$.verification"
    session_id = required_str(verification, "id", path)
    status = required_str(verification, "status", path)
    required_int(verification, "code", path)  # documented; checked for shape, kept in raw
    decision_time = optional_str(verification, "decisionTime", path)
    state, decision = STATUSES.get(status, UNKNOWN)
    return Delivery(
        vendor=NAME,
        event_id=f"{session_id}:decision:{status}:{decision_time or ''}",
        event_type="decision",
        occurred_at=optional_time(verification, "decisionTime", path),
        session_id=session_id,
        vendor_status=status,
        case_state=state,
        decision=decision,
        raw=event,
    )


def _event(event: dict[str, Any]) -> Delivery:
    session_id = required_str(event, "id", "$")
    action = required_str(event, "action", "$")
    required_int(event, "code", "$")  # documented; checked for shape, kept in raw
    attempt_id = optional_str(event, "attemptId", "$")
    state, decision = STATUSES.get(action, UNKNOWN)
    return Delivery(
        vendor=NAME,
        event_id=f"{session_id}:{action}:{attempt_id or ''}",
        event_type=action,
        occurred_at=None,
        session_id=session_id,
        vendor_status=action,
        case_state=state,
        decision=decision,
        raw=event,
    )
