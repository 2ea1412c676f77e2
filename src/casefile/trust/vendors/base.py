"""What every vendor webhook shares: the parsed `Delivery`, the two failures, the `Vendor`
interface, and the small checked readers each vendor's `parse` is built from.

This layer is pure: bytes and headers in, a `Delivery` or an exception out. No database, no
network, no settings. The caller (the webhook endpoint) picks the secrets, stores the raw body
as evidence, writes the webhook log and moves the verification case.

The order is fixed: `verify` first, on the raw bytes, and only then `parse`. `verify` never
decodes JSON, so an unsigned body is never interpreted at all.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, get_args

from casefile.core.errors import NotAuthenticated, ValidationFailed

# The verification case states a delivery can ask for (DESIGN 9.3). The vendor tables read them
# one way: `pending` waits on the applicant or on the vendor's own processing; `in_review` waits
# on a person's judgement (a vendor reviewer, ours, or a result nobody has looked at yet).
CaseState = Literal["pending", "in_review", "passed", "failed", "expired", "canceled"]
CASE_STATES: frozenset[str] = frozenset(get_args(CaseState))

# What a vendor status means for the case: the state it moves to and the vendor's decision
# word (None while nothing is decided). Every vendor's table maps to these pairs.
Outcome = tuple[CaseState | None, str | None]
UNKNOWN: Outcome = (None, None)

# Every signature these vendors send is a lowercase hex HMAC-SHA256: 64 characters.
_HEX_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


@dataclass(frozen=True)
class Delivery:
    """One verified, parsed webhook delivery.

    `session_id` is the id a verification case stores as `vendor_session_id` (Persona inquiry,
    Onfido check or workflow run, Veriff session, Checkr report). It is None when the delivery
    is about something else (a Persona account, an Onfido report, a Checkr candidate): such a
    delivery is logged and moves nothing. `case_state` is None when the event does not move the
    case, including a status this layer does not know (the caller logs it; it never crashes).
    """

    vendor: str
    event_id: str
    event_type: str
    occurred_at: datetime | None
    session_id: str | None
    vendor_status: str | None
    case_state: CaseState | None
    decision: str | None
    # The decoded body holds PII: kept out of repr so it never lands in a log line, and out of
    # equality/hash (a dict cannot be hashed; two deliveries are the same event by their fields).
    raw: dict[str, Any] = field(repr=False, compare=False)


class SignatureInvalid(NotAuthenticated):
    """The delivery is not proven to come from the vendor: missing or malformed signature
    header, no configured secret matched, or a signed timestamp outside the tolerance."""

    code = "signature_invalid"

    def __init__(self, reason: str):
        super().__init__(f"webhook signature invalid: {reason}", details={"reason": reason})
        self.reason = reason


class PayloadInvalid(ValidationFailed):
    """The signature is good but the body is not the vendor's documented shape. `path` names
    the JSON location of the problem (`$` is the whole body)."""

    code = "payload_invalid"

    def __init__(self, path: str, reason: str):
        super().__init__(
            f"webhook payload invalid at {path}: {reason}",
            details={"path": path, "reason": reason},
        )
        self.path = path
        self.reason = reason


class Vendor(ABC):
    """One vendor's webhook: how its signature is checked and how its body is read."""

    name: str

    @abstractmethod
    def verify(
        self,
        headers: Mapping[str, str],
        body: bytes,
        secrets: Sequence[str],
        *,
        now: datetime,
    ) -> None:
        """Return if any of `secrets` signed `body`; raise SignatureInvalid otherwise.
        Several secrets are accepted so a secret can be rotated without dropping deliveries."""

    @abstractmethod
    def parse(self, body: bytes) -> Delivery:
        """Read a verified body. Raises PayloadInvalid and nothing else."""


class BodyHmacVendor(Vendor):
    """A vendor whose one header holds the hex HMAC-SHA256 of the raw body (Onfido, Veriff,
    Checkr): only the header's name differs."""

    signature_header: str

    def verify(
        self,
        headers: Mapping[str, str],
        body: bytes,
        secrets: Sequence[str],
        *,
        now: datetime,
    ) -> None:
        verify_body_hmac(headers, body, secrets, self.signature_header)


# --- signatures --------------------------------------------------------------------------------


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value whatever its case: HTTP header names are case-insensitive, and proxies
    and frameworks disagree on how they spell them."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def usable_secrets(secrets: Sequence[str]) -> list[bytes]:
    """The configured secrets as keys. An empty secret is dropped: HMAC accepts an empty key, so
    a blank setting would otherwise let anyone sign. None left is a refusal, never a pass."""
    keys = [secret.encode() for secret in secrets if secret]
    if not keys:
        raise SignatureInvalid("no secret configured")
    return keys


def hex_signature(value: str, what: str) -> str:
    """A hex HMAC-SHA256 from a header, lowercased so `compare_digest` compares like with like."""
    value = value.strip()
    if not _HEX_SHA256.fullmatch(value):
        raise SignatureInvalid(f"malformed header: {what} is not a hex SHA-256 HMAC")
    return value.lower()


def hmac_hex(key: bytes, message: bytes) -> str:
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def any_match(candidates: Iterable[str], keys: Sequence[bytes], message: bytes) -> bool:
    """Whether any key's HMAC of `message` equals any candidate signature. Every comparison is
    constant-time, and every pair is compared (no early exit reveals which key matched)."""
    expected = [hmac_hex(key, message) for key in keys]
    matched = False
    for candidate in candidates:
        for digest in expected:
            matched |= hmac.compare_digest(candidate, digest)
    return matched


def verify_body_hmac(
    headers: Mapping[str, str], body: bytes, secrets: Sequence[str], header_name: str
) -> None:
    """The scheme Onfido, Veriff and Checkr share: one header holding the hex HMAC-SHA256 of the
    raw body, keyed with the shared secret. Nothing else (no timestamp) is signed."""
    keys = usable_secrets(secrets)
    value = header(headers, header_name)
    if value is None or not value.strip():
        raise SignatureInvalid(f"missing header {header_name}")
    candidate = hex_signature(value, header_name)
    if not any_match([candidate], keys, body):
        raise SignatureInvalid("no secret matched")


# --- reading a verified body -------------------------------------------------------------------


def load_json(body: bytes) -> dict[str, Any]:
    """The body as a JSON object. The vendors send UTF-8 JSON objects; anything else is refused
    here, named at `$`."""
    try:
        value = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise PayloadInvalid("$", "body is not UTF-8") from None
    except (ValueError, RecursionError):
        # json.JSONDecodeError is a ValueError; a deeply nested body exhausts the recursion limit.
        raise PayloadInvalid("$", "body is not JSON") from None
    return as_object(value, "$")


def join(path: str, key: str) -> str:
    return f"{path}.{key}"


def as_object(value: object, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PayloadInvalid(path, "expected an object")
    return value


def child_object(container: Mapping[str, Any], key: str, path: str) -> dict[str, Any]:
    if key not in container:
        raise PayloadInvalid(join(path, key), "missing")
    return as_object(container[key], join(path, key))


def required_str(container: Mapping[str, Any], key: str, path: str) -> str:
    value = container.get(key)
    if key not in container:
        raise PayloadInvalid(join(path, key), "missing")
    if not isinstance(value, str) or not value:
        raise PayloadInvalid(join(path, key), "expected a non-empty string")
    return value


def optional_str(container: Mapping[str, Any], key: str, path: str) -> str | None:
    """A string that the vendor may leave out or send as null."""
    value = container.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise PayloadInvalid(join(path, key), "expected a string or null")
    return value or None


def required_int(container: Mapping[str, Any], key: str, path: str) -> int:
    value = container.get(key)
    if key not in container:
        raise PayloadInvalid(join(path, key), "missing")
    # bool is an int in Python; `true` is not a status code.
    if not isinstance(value, int) or isinstance(value, bool):
        raise PayloadInvalid(join(path, key), "expected an integer")
    return value


def timestamp(text: str | None, path: str) -> datetime | None:
    """An ISO 8601 time as aware UTC. Every one of these vendors documents UTC; a time sent
    without an offset is read as UTC rather than refusing a genuine delivery over it."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        # Converting a time at the edge of the calendar (year 1 or 9999) can overflow.
        return value.astimezone(UTC)
    except (ValueError, OverflowError):
        raise PayloadInvalid(path, "expected an ISO 8601 time") from None


def required_time(container: Mapping[str, Any], key: str, path: str) -> datetime:
    value = timestamp(required_str(container, key, path), join(path, key))
    assert value is not None  # required_str never returns None
    return value


def optional_time(container: Mapping[str, Any], key: str, path: str) -> datetime | None:
    return timestamp(optional_str(container, key, path), join(path, key))
