"""Signing under /api/v1/documents (docs/documents.md, "Signing"): sending an issued pack for
signature, and a document's sign events. Mounted on the documents router (documents.api)."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Router

from casefile.accounts.access import require
from casefile.accounts.permissions import Perm
from casefile.core.schemas import Schema
from casefile.documents import selectors, signing
from casefile.documents.models import SignEvent
from casefile.documents.schemas import DocumentId, PackId

router = Router(tags=["documents"])


class SendIn(Schema):
    provider: str = "local"
    reason_code: str | None = None


class EnvelopeOut(Schema):
    envelope_id: str
    signers: list[str]
    # The `local` provider's links: each token appears here once and is never shown again.
    signing_urls: dict[str, str] | None = None


class SentOut(Schema):
    pack_id: str
    provider: str
    envelopes: dict[str, EnvelopeOut]


class SignEventOut(Schema):
    id: str
    event: str
    provider: str
    provider_event_id: str
    signer_role: str
    signer_email: str
    signer_name: str
    ip_address: str
    user_agent: str
    occurred_at: datetime
    received_at: datetime
    payload_sha256: str
    audit_entry_id: str

    @staticmethod
    def of(e: SignEvent) -> SignEventOut:
        return SignEventOut(
            id=e.id, event=e.event, provider=e.provider, provider_event_id=e.provider_event_id,
            signer_role=e.actor_role, signer_email=e.actor_email, signer_name=e.actor_name,
            ip_address=e.ip_address, user_agent=e.user_agent, occurred_at=e.occurred_at,
            received_at=e.received_at,
            payload_sha256=hashlib.sha256(e.provider_payload.encode()).hexdigest(),
            audit_entry_id=e.audit_entry_id)


class SignEventListOut(Schema):
    doc_id: str
    envelope_provider: str
    envelope_id: str
    envelope_status: str
    items: list[SignEventOut]


@router.post("/packs/{pack_id}/send", response=SentOut,
             summary="Send an issued pack for signature: one envelope per document")
def pack_send(request: HttpRequest, pack_id: PackId, body: SendIn) -> Any:
    actor = require(request, Perm.DOCUMENTS_ISSUE)
    sent = signing.doc_pack_send(actor=actor, pack=selectors.pack_get(pack_id),
                                 provider=body.provider, reason_code=body.reason_code)
    return sent.as_dict()


@router.get("/documents/{doc_id}/sign-events", response=SignEventListOut,
            summary="A document's sign events, oldest first (the signature timeline)")
def document_sign_events(request: HttpRequest, doc_id: DocumentId) -> Any:
    require(request, Perm.DOCUMENTS_VIEW)
    document = selectors.document_get(doc_id)
    events = SignEvent.objects.filter(document=document).order_by("occurred_at", "received_at",
                                                                  "id")
    return SignEventListOut(doc_id=document.id, envelope_provider=document.envelope_provider,
                            envelope_id=document.envelope_id,
                            envelope_status=document.envelope_status,
                            items=[SignEventOut.of(e) for e in events])
