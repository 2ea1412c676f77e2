"""The evidence vault's API, under /api/v1/evidence (docs/evidence.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from ninja import File, Form, Query, Router, Status, UploadedFile

from casefile.accounts.access import require
from casefile.accounts.permissions import Perm
from casefile.core.errors import PayloadTooLarge
from casefile.core.pagination import MAX_CURSOR_LENGTH, keyset_page
from casefile.core.schemas import Bounded, Limit, Schema
from casefile.evidence import selectors, services
from casefile.evidence.models import EvidenceBlob
from casefile.evidence.redaction import IMAGE_FORMATS, family, media_type
from casefile.evidence.schemas import (
    EvidenceFilter,
    EvidenceId,
    ReasonIn,
    UploadIn,
    parse_pii_map,
)

router = Router(tags=["evidence"])
Cursor = Annotated[str, Bounded(MAX_CURSOR_LENGTH)]
_BINARY = {"200": {"description": "the bytes", "content": {
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}}


class PiiEntryOut(Schema):
    kind: str
    locator: str | list[int]


class EvidenceOut(Schema):
    id: str
    sha256: str  # of the plaintext original
    size: int
    content_type: str
    filename: str
    pii_map: list[PiiEntryOut]
    pii_kinds: list[str]
    redacted_sha256: str
    redacted_size: int
    key_id: str
    algorithm: str
    readable: bool  # false once crypto-shredded
    shredded_at: datetime | None
    legal_hold: bool
    case_id: str | None
    platform_user_id: str
    source: str
    created_by: str | None
    created_at: datetime

    @staticmethod
    def of(blob: EvidenceBlob) -> EvidenceOut:
        return EvidenceOut(
            id=blob.id, sha256=blob.sha256, size=blob.size, content_type=blob.content_type,
            filename=blob.filename, pii_map=[PiiEntryOut(**e) for e in blob.pii_map],
            pii_kinds=blob.pii_kinds, redacted_sha256=blob.redacted_sha256,
            redacted_size=blob.redacted_size, key_id=blob.key_id, algorithm=blob.algorithm,
            readable=blob.wrapped_key is not None, shredded_at=blob.shredded_at,
            legal_hold=blob.legal_hold, case_id=blob.case_id,
            platform_user_id=blob.platform_user_id, source=blob.source,
            created_by=blob.created_by_id, created_at=blob.created_at)


class EvidencePageOut(Schema):
    items: list[EvidenceOut]
    next_cursor: str | None


def served_type(blob: EvidenceBlob) -> str:
    """What a response says it holds: images and JSON as themselves, every other text as plain
    text, so an uploaded page or script is never rendered or run by a browser."""
    base, params = media_type(blob.content_type)
    if base in IMAGE_FORMATS:
        return base
    if family(blob.content_type) == "json":
        return "application/json"
    return f"text/plain; charset={params.get('charset') or 'utf-8'}"


def bytes_response(blob: EvidenceBlob, data: bytes, *, copy: str, inline: bool = False
                   ) -> HttpResponse:
    response = HttpResponse(data, content_type=served_type(blob))
    disposition = "inline" if inline else "attachment"
    response["Content-Disposition"] = f'{disposition}; filename="{blob.id}-{copy}"'
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "no-store" if copy == "original" else "private, max-age=300"
    return response


@router.post("", response={201: EvidenceOut},
             summary="Upload evidence: the original is encrypted and written once, the redacted "
                     "copy made from the PII map (audited as EVIDENCE_UPLOADED)")
def evidence_upload(request: HttpRequest, file: File[UploadedFile], form: Form[UploadIn]):
    actor = require(request, Perm.EVIDENCE_UPLOAD)
    if (file.size or 0) > settings.EVIDENCE_MAX_BYTES:
        raise PayloadTooLarge(f"evidence is limited to {settings.EVIDENCE_MAX_BYTES} bytes",
                              details={"limit_bytes": settings.EVIDENCE_MAX_BYTES})
    blob = services.evidence_upload(
        actor=actor, data=file.read(), filename=file.name or "",
        content_type=form.content_type or file.content_type or "application/octet-stream",
        pii_map=parse_pii_map(form.pii_map), case_id=form.case_id,
        platform_user_id=form.platform_user_id, source=form.source,
        reason_code=form.reason_code, ticket_ref=form.ticket_ref)
    return Status(201, EvidenceOut.of(blob))


@router.get("", response=EvidencePageOut, summary="Evidence, newest first")
def evidence_list(request: HttpRequest, filters: Query[EvidenceFilter],
                  cursor: Cursor | None = None, limit: Limit = 50):
    require(request, Perm.EVIDENCE_VIEW)
    page = keyset_page(selectors.blobs(filters), keys=["created_at", "id"], cursor=cursor,
                       limit=limit)
    return {"items": [EvidenceOut.of(b) for b in page.items], "next_cursor": page.next_cursor}


@router.get("/{blob_id}", response=EvidenceOut, summary="One blob's metadata")
def evidence_get(request: HttpRequest, blob_id: EvidenceId):
    require(request, Perm.EVIDENCE_VIEW)
    return EvidenceOut.of(selectors.blob_get(blob_id))


@router.get("/{blob_id}/redacted", response={200: None}, openapi_extra={"responses": _BINARY},
            summary="The redacted copy (the default view of evidence; not audited)")
def evidence_redacted(request: HttpRequest, blob_id: EvidenceId) -> Any:
    actor = require(request, Perm.EVIDENCE_VIEW)
    blob = selectors.blob_get(blob_id)
    return bytes_response(blob, services.evidence_redacted_read(actor=actor, blob=blob),
                          copy="redacted")


@router.post("/{blob_id}/original", response={200: None}, openapi_extra={"responses": _BINARY},
             summary="The decrypted original, hash-checked, with a reason code (audited as "
                     "EVIDENCE_ORIGINAL_VIEWED)")
def evidence_original(request: HttpRequest, blob_id: EvidenceId, body: ReasonIn) -> Any:
    actor = require(request, Perm.EVIDENCE_ORIGINAL)
    blob = selectors.blob_get(blob_id)
    data = services.evidence_original_read(actor=actor, blob=blob, reason_code=body.reason_code,
                                           ticket_ref=body.ticket_ref)
    return bytes_response(blob, data, copy="original")


@router.post("/{blob_id}/shred", response=EvidenceOut,
             summary="Crypto-shred: destroy the data key (refused under legal hold; audited as "
                     "EVIDENCE_SHREDDED)")
def evidence_shred(request: HttpRequest, blob_id: EvidenceId, body: ReasonIn):
    actor = require(request, Perm.EVIDENCE_SHRED)
    blob = services.evidence_shred(actor=actor, blob=selectors.blob_get(blob_id),
                                   reason_code=body.reason_code, ticket_ref=body.ticket_ref)
    return EvidenceOut.of(blob)
