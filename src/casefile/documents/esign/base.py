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
import json
import re
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol, get_args, runtime_checkable

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


class ConfigReader:
    """Reads one provider's ESIGN_PROVIDERS entry, collecting every problem so the error names
    all of them at once."""

    def __init__(self, provider: str, config: Mapping[str, Any]):
        self.provider = provider
        self.config = config
        self.problems: dict[str, str] = {}

    def text(self, key: str, *, default: str | None = None) -> str:
        value = self.config.get(key, default)
        if not isinstance(value, str) or not value.strip():
            self.problems[key] = "required (a non-empty string)"
            return ""
        return value.strip()

    def url(self, key: str, *, default: str | None = None) -> str:
        value = self.text(key, default=default)
        parts = urllib.parse.urlsplit(value)
        if value and (parts.scheme not in ("http", "https") or not parts.netloc):
            self.problems[key] = "must be an http(s) URL"
        return value.rstrip("/")

    def secrets(self, key: str = "webhook_secrets", *, default: list[str] | None = None
                ) -> tuple[str, ...]:
        value = self.config.get(key, default)
        if (not isinstance(value, list) or not value
                or not all(isinstance(v, str) and v for v in value)):
            self.problems[key] = "required (a list of one or more non-empty strings)"
            return ()
        return tuple(value)

    def number(self, key: str, *, default: float) -> float:
        value = self.config.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            self.problems[key] = "must be a positive number"
            return default
        return float(value)

    def flag(self, key: str, *, default: bool) -> bool:
        value = self.config.get(key, default)
        if not isinstance(value, bool):
            self.problems[key] = "must be true or false"
            return default
        return value

    def done(self) -> None:
        if self.problems:
            raise envelope_config_error(self.provider, self.problems)


def pdf_page_count(pdf: bytes) -> int:
    """Pages in a PDF, counted from its page objects (`/Type /Page`, not `/Pages`). Good for the
    uncompressed object dictionaries fpdf2 writes; at least 1, so a field always has a page."""
    return max(1, len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf)))


def require_signers(signers: list[Signer]) -> list[Signer]:
    """The signers in routing order; refuses none, duplicate roles, or orders below 1."""
    if not signers:
        raise ValidationFailed("an envelope needs at least one signer")
    roles = [s.role for s in signers]
    if len(set(roles)) != len(roles):
        raise ValidationFailed("each signer role may appear once", details={"roles": roles})
    if any(s.order < 1 for s in signers):
        raise ValidationFailed("signing order starts at 1")
    return sorted(signers, key=lambda s: (s.order, roles.index(s.role)))


def signature_box(index: int) -> tuple[int, int, int, int]:
    """Where the `index`-th signer's (0-based, in routing order) signature field goes on the last
    page: x, y from the top-left, width, height, in points (72 per inch, which is what all three
    vendors call pixels). Stacked in the lower part of the page, inside both A4 and Letter."""
    return 72, 560 + 56 * (index % 4), 200, 40


def stable_event_id(provider: str, *parts: object) -> str:
    """An event id derived from fields the provider keeps the same when it retries a delivery:
    `{provider}:` and the SHA-256 of their JSON. Used where the provider sends no id of its own."""
    digest = hashlib.sha256(json.dumps(parts, separators=(",", ":"), default=str).encode())
    return f"{provider}:{digest.hexdigest()}"


_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_time(value: object, *, where: str) -> datetime:
    """A vendor timestamp as an aware UTC datetime: ISO 8601 (DocuSign writes 7 fractional
    digits, more than Python reads, so the extra ones are dropped) or Unix seconds."""
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, UTC)
        if isinstance(value, str) and value.strip():
            text = value.strip()
            if text.isdigit():
                return datetime.fromtimestamp(int(text), UTC)
            parsed = datetime.fromisoformat(_FRACTION.sub(r"\1", text.replace("Z", "+00:00")))
            if parsed.tzinfo is not None:
                return parsed.astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        pass
    raise PayloadInvalid(f"{where}: not a timestamp", details={"path": where})


def load_json_object(body: bytes, *, where: str = "$") -> dict[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise PayloadInvalid(f"{where}: not JSON", details={"path": where}) from exc
    if not isinstance(data, dict):
        raise PayloadInvalid(f"{where}: not a JSON object", details={"path": where})
    return data


def obj(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def text_or_none(value: object) -> str | None:
    if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
        return str(value)
    return None


def path_segment(value: str) -> str:
    """An id that goes into a URL path: anything but a plain id is refused rather than escaped,
    so a stored id can never reach another endpoint."""
    if not value or len(value) > 200 or not all(c.isalnum() or c in "-_" for c in value):
        raise ValidationFailed("not a provider id", details={"id": value[:200]})
    return value
