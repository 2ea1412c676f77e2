"""The one interface every e-signature provider implements (DESIGN 9.5), and what they share.

A provider creates an envelope (the PDF as the one document, signers in routing order with their
roles, our ids in the provider's metadata so its webhooks map back), voids it, downloads the
completed PDF, and turns its webhook deliveries into `ProviderEvent`s.

Webhooks are handled in a fixed order by the caller (the webhook endpoint):
  1. `verify_webhook(body=raw bytes, headers=…)` — before anything is parsed; raises
     `WebhookRefused` unless one of the configured secrets signed the delivery. A delivery whose
     signature covers a timestamp is refused outside `TIMESTAMP_TOLERANCE` of `at` (now by
     default; `casefile documents verify` passes the time the delivery was received, so a stored
     delivery can be re-verified years later).
  2. `parse_webhook(body=…, headers=…)` — the events. A provider whose signature does not cover
     the body (Dropbox Sign) confirms what the body says against its API here, so an event is
     never trusted on the body's word alone.
  3. answer with `webhook_response()` (Dropbox Sign needs its literal acknowledgement).
  To keep what re-verification needs, store the raw body and `kept_headers(headers)`.

Event ids are stable: the same delivery, or the provider's retry of it, gives the same ids, so the
caller deduplicates on `(provider, event_id)`. Events carry the provider's time (`occurred_at`),
so deliveries arriving out of order can be ordered; the caller only moves a status forward.

HTTP: the adapters use `urllib.request` (see `esign/http.py`), as `casefile.trust.dsa` does, not
the vendors' SDKs: the DocuSign (docusign-esign), Dropbox Sign (dropbox-sign) and DocuSeal SDKs
are generated clients that each bring their own HTTP stack and dependencies (urllib3,
python-dateutil, pydantic pins) for the handful of calls used here; a plain client gives one
place for timeouts, refused redirects (a redirect would replay the credentials elsewhere),
bounded responses and a base URL the tests point at 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, Protocol, get_args, runtime_checkable

from casefile.core.errors import NotAuthenticated, ServiceUnavailable, ValidationFailed

EventName = Literal["envelope_sent", "viewed", "signed", "declined", "voided", "expired",
                    "completed"]
EVENT_NAMES: frozenset[str] = frozenset(get_args(EventName))

# How far a signed timestamp may be from now: wide enough for clock skew and the vendor's own
# queueing, narrow enough that a captured delivery cannot be replayed later.
TIMESTAMP_TOLERANCE = timedelta(minutes=5)


@dataclass(frozen=True)
class Signer:
    """One signer: `role` is the template's signer role (buyer, talent, studio_owner, witness);
    `order` is the routing order (1 signs first; equal orders sign in parallel)."""

    role: str
    name: str
    email: str
    order: int


@dataclass(frozen=True)
class EnvelopeCreated:
    """The provider's envelope id, and signing URLs per role where the provider hands them out
    at creation (otherwise None: the provider e-mails the signers)."""

    envelope_id: str
    signing_urls: dict[str, str] | None = None


@dataclass(frozen=True)
class ProviderEvent:
    """One thing that happened to an envelope. `signed` is one recipient finishing;
    `completed` is the whole envelope. `signer_email`/`signer_role` name the recipient for
    recipient events (role as we gave it at creation, when the provider echoes it)."""

    event_id: str
    envelope_id: str
    event: EventName
    occurred_at: datetime
    signer_email: str | None = None
    signer_role: str | None = None
    reason: str = ""


class WebhookRefused(NotAuthenticated):
    """The delivery is not proven to come from the provider (missing or malformed signature, no
    configured secret matched, a signed timestamp out of tolerance, or the provider's API does
    not confirm what the body claims). Answer 401 and act on nothing."""

    code = "webhook_refused"

    def __init__(self, reason: str):
        super().__init__(f"webhook refused: {reason}", details={"reason": reason})
        self.reason = reason


class ProviderError(ServiceUnavailable):
    """The provider's API failed or answered something unusable. `retryable` is true for
    network failures, timeouts, 429 and 5xx: the same call may succeed later."""

    code = "esign_provider_error"

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = False):
        super().__init__(message, details={"status": status, "retryable": retryable})
        self.http_status = status
        self.retryable = retryable


class PayloadInvalid(ValidationFailed):
    """A verified webhook body that is not the provider's documented shape."""

    code = "esign_payload_invalid"


@runtime_checkable
class Provider(Protocol):
    name: str

    def create_envelope(self, *, pdf: bytes, filename: str, title: str, signers: list[Signer],
                        metadata: dict[str, str]) -> EnvelopeCreated: ...

    def void(self, *, envelope_id: str, reason: str) -> None: ...

    def signed_pdf(self, *, envelope_id: str) -> bytes: ...

    def verify_webhook(self, *, body: bytes, headers: Mapping[str, str],
                       at: datetime | None = None) -> None: ...

    def parse_webhook(self, *, body: bytes, headers: Mapping[str, str]) -> list[ProviderEvent]: ...

    def webhook_response(self) -> tuple[int, str, bytes]: ...

    def kept_headers(self, headers: Mapping[str, str]) -> dict[str, str]: ...


# --- helpers the adapters share ----------------------------------------------------------------


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value whatever its case (HTTP names are case-insensitive; Django's META and
    proxies spell them differently)."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def keys(secrets: Iterable[str]) -> list[bytes]:
    """The configured secrets as HMAC keys. An empty secret is dropped: HMAC accepts an empty
    key, so a blank setting would let anyone sign. None left is a refusal, never a pass."""
    usable = [secret.encode() for secret in secrets if secret]
    if not usable:
        raise WebhookRefused("no webhook secret configured")
    return usable


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def any_matches(expected: Iterable[bytes], given: Iterable[bytes]) -> bool:
    """True if any given signature equals any expected one; every pair is compared in constant
    time and all pairs are compared, so timing tells nothing about which key or header matched."""
    found = False
    expected = list(expected)
    for candidate in given:
        for wanted in expected:
            found |= hmac.compare_digest(candidate, wanted)
    return found


def envelope_config_error(provider: str, problems: dict[str, str]) -> ValidationFailed:
    return ValidationFailed(
        f"e-sign provider {provider!r} is misconfigured: "
        + "; ".join(f"{k}: {v}" for k, v in problems.items()),
        details={"provider": provider, "fields": problems})
