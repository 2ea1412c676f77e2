"""Onfido (Entrust Identity Verification) webhooks: checks, and Studio workflow runs.

Followed: https://documentation.identity.entrust.com/api/manual-webhook-signature-verification/
(formerly developers.onfido.com/guide/manual-webhook-signature-verification), the webhook
section of https://documentation.identity.entrust.com/api/latest/#webhooks, and the official
client https://github.com/onfido/onfido-python (`onfido/webhook_event_verifier.py` and the
generated `webhook_event_*` models, which are the v3.6 OpenAPI schema).

Signature: `X-SHA2-Signature` is the hex HMAC-SHA256 of the raw request body, keyed with the
webhook's secret token (returned when the webhook is registered). No timestamp is signed, so
there is no tolerance to enforce. Onfido has one token per webhook; rotation here means
registering a new webhook and accepting both tokens until the old one is deleted.

Surprising:
- The body has no event id. `event_id` is derived from what the body does carry:
  `"{object.id}:{action}:{completed_at_iso8601 or started_at_iso8601 or ''}"`. A retry repeats
  the same body, so it gets the same id; a reopened-and-completed-again check gets a new one.
- A check's webhook carries `status` but not its `result` (`clear`/`consider`): the object is
  only `id`, `status`, `started_at_iso8601`, `completed_at_iso8601` and `href`. A `complete`
  check therefore moves the case to `in_review` with no decision; the caller fetches `href`
  and maps the result with `outcome("check", "complete", result)` from the same table.
- Studio workflow runs (`resource_type` `workflow_run`) do carry the decision in `status`
  (`approved`, `declined`, `review`, `abandoned`, `error`, …).
- Reports, workflow tasks, watchlist monitors and the rest parse with no session: they belong
  to a check or run and move nothing on their own.
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
    timestamp,
)

NAME = "onfido"
SIGNATURE_HEADER = "X-SHA2-Signature"

# The resources a verification case can be waiting on: a check (classic API) or a workflow run
# (Onfido Studio). Their ids are what the case stores as vendor_session_id.
SESSION_RESOURCES = frozenset({"check", "workflow_run"})

# (resource type, status, result) → (case state, decision): the one place that decides what an
# Onfido status means for a verification case. `result` is None for every row the webhook can
# produce; the two result rows serve a caller that fetched the check.
STATUSES: dict[tuple[str, str, str | None], Outcome] = {
    ("check", "awaiting_applicant", None): ("pending", None),
    ("check", "in_progress", None): ("pending", None),
    ("check", "reopened", None): ("pending", None),
    # Paused for a decision on our side (e.g. a report awaiting approval).
    ("check", "paused", None): ("in_review", None),
    ("check", "withdrawn", None): ("canceled", None),
    # Done, but the webhook does not say how: the result must be fetched before deciding.
    ("check", "complete", None): ("in_review", None),
    ("check", "complete", "clear"): ("passed", "clear"),
    # `consider` flags something for a person to adjudicate; it is not a failure by itself.
    ("check", "complete", "consider"): ("in_review", "consider"),
    ("workflow_run", "awaiting_input", None): ("pending", None),
    ("workflow_run", "processing", None): ("pending", None),
    # The run waits on a manual task for us (Studio's "awaiting client input").
    ("workflow_run", "awaiting_client_input", None): ("in_review", None),
    ("workflow_run", "approved", None): ("passed", "approved"),
    ("workflow_run", "declined", None): ("failed", "declined"),
    ("workflow_run", "review", None): ("in_review", None),
    ("workflow_run", "abandoned", None): ("expired", None),
    # The run broke on Onfido's side: nothing is decided and a person has to look.
    ("workflow_run", "error", None): ("in_review", None),
}


def outcome(resource_type: str, status: str | None, result: str | None = None) -> Outcome:
    """What a status (and, for a fetched check, its result) means for the case."""
    if status is None:
        return UNKNOWN
    return STATUSES.get((resource_type, status, result), UNKNOWN)


class Onfido(BodyHmacVendor):
    name = NAME
    signature_header = SIGNATURE_HEADER

    def parse(self, body: bytes) -> Delivery:
        event = load_json(body)
        payload = child_object(event, "payload", "$")
        resource_type = required_str(payload, "resource_type", "$.payload")
        action = required_str(payload, "action", "$.payload")
        obj = child_object(payload, "object", "$.payload")
        path = "$.payload.object"
        object_id = required_str(obj, "id", path)
        status = optional_str(obj, "status", path)
        completed = optional_str(obj, "completed_at_iso8601", path)
        started = optional_str(obj, "started_at_iso8601", path)
        occurred_at = timestamp(completed, path + ".completed_at_iso8601") or timestamp(
            started, path + ".started_at_iso8601"
        )
        optional_str(obj, "href", path)  # documented; checked for shape, used by the caller

        is_session = resource_type in SESSION_RESOURCES
        state, decision = outcome(resource_type, status) if is_session else UNKNOWN
        return Delivery(
            vendor=NAME,
            event_id=f"{object_id}:{action}:{completed or started or ''}",
            event_type=action,
            occurred_at=occurred_at,
            session_id=object_id if is_session else None,
            vendor_status=status,
            case_state=state,
            decision=decision,
            raw=event,
        )
