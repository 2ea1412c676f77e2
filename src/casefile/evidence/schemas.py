"""Every input about evidence, declared once: the API parses its forms, bodies and query strings
with these, and the console validates its forms with the same classes."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from pydantic import Field

from casefile.core.errors import ValidationFailed
from casefile.core.schemas import (
    Bounded,
    CaseId,
    Column,
    IdOf,
    PlatformUserId,
    ReasonCode,
    Schema,
    TicketRef,
)
from casefile.evidence.models import EvidenceBlob

EvidenceId = Annotated[str, IdOf("evb")]
Source = Annotated[str, Column(EvidenceBlob, "source")]
ContentType = Annotated[str, Column(EvidenceBlob, "content_type", min_length=1)]
Sha256 = Annotated[str, Bounded(64, min_length=64, pattern=r"^[0-9a-f]{64}$")]
MAX_PII_MAP_TEXT = 256 * 1024

PII_MAP_HELP = (
    "JSON list of {kind, locator}: kind is name|email|phone|address|dob|id_number|face|other; "
    "locator is a text span [start, end) in characters (text/*), an RFC 6901 JSON pointer "
    "(application/json) or an image box [x, y, w, h] in pixels (image/png, image/jpeg)")


class UploadIn(Schema):
    """The multipart form beside the file (the API's and the console's)."""

    pii_map: Annotated[str, Bounded(MAX_PII_MAP_TEXT)] = Field("[]", description=PII_MAP_HELP)
    reason_code: ReasonCode
    ticket_ref: TicketRef | None = None
    content_type: ContentType | None = Field(
        None, description="the original's media type, if not the file part's own")
    case_id: CaseId | None = None
    platform_user_id: PlatformUserId | None = None
    source: Source | None = None


def parse_pii_map(text: str) -> list[dict[str, Any]]:
    """The form's `pii_map` field: JSON text (the service checks each entry)."""
    try:
        value = orjson.loads(text or "[]")
    except orjson.JSONDecodeError as exc:
        raise ValidationFailed(f"pii_map is not JSON: {exc}") from None
    if not isinstance(value, list):
        raise ValidationFailed("pii_map must be a JSON list of {kind, locator}")
    return value


class ReasonIn(Schema):
    reason_code: ReasonCode
    ticket_ref: TicketRef | None = None


class EvidenceFilter(Schema):
    case_id: CaseId | None = None
    platform_user_id: PlatformUserId | None = None
    source: Source | None = None
    sha256: Sha256 | None = None

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump(exclude_defaults=True)
