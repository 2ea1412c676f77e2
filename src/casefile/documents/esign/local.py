"""The built-in `local` provider: documents are signed in Casefile itself, with no vendor account
(DESIGN 9.5; docs/documents.md, "Signing").

An envelope is one document's set of signing links, one per signer: a random token that appears
only in the link handed out at creation (`/sign/<token>/`); only its SHA-256 is stored
(`SigningLink.token_digest`), so the database alone cannot open a link. A link is single-use
(`used_at`), expires after `DOCUMENT_SIGNING_LINK_HOURS` (72 by default; `link_hours` in
`ESIGN_PROVIDERS["local"]` overrides it) and opens only in its turn: the signers of an earlier
signing order who are required must have signed first (`documents.signing`).

The events a vendor would send by webhook are recorded by the signing page instead (the signer's
typed name, consent, IP, user agent and time), through the same `signing.sign_event_record`; so
there is no webhook to verify here, and `verify_webhook` refuses every delivery. The signed copy
(`signed_pdf`) is the v1 PDF rendered again with a certificate page built from those events.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.urls import reverse
from ulid import ULID

from casefile.core.errors import NotFound, ValidationFailed
from casefile.core.timeutil import now
from casefile.documents.esign.base import EnvelopeCreated, ProviderEvent, Signer, WebhookRefused
from casefile.documents.esign.registry import register

NAME = "local"
# The header a local event's signature is kept under (`SignEvent.signature_header`, as JSON).
SIGNATURE_HEADER = "X-Casefile-Link-Signature"
# How a local signature was given, as the certificate page names it.
METHOD = "typed name and consent on a single-use Casefile signing link"


def token_digest(token: str) -> str:
    """What is stored of a link's token: its SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def event_signature(digest: str, body: bytes) -> str:
    """A local event's signature: HMAC-SHA256 of the stored evidence under the link's digest,
    which ties the evidence to the one link it was given through (`documents verify`)."""
    return hmac.new(bytes.fromhex(digest), body, hashlib.sha256).hexdigest()


def link_hours(config: Mapping[str, Any] | None = None) -> int:
    hours = (config or {}).get("link_hours") or settings.DOCUMENT_SIGNING_LINK_HOURS
    if not isinstance(hours, int) or isinstance(hours, bool) or hours < 1:
        raise ValidationFailed("the local provider's link_hours is a whole number of hours, "
                               "1 or more", details={"link_hours": hours})
    return hours


def signing_path(token: str) -> str:
    """The link a signer opens: relative to the site unless DOCUMENT_SIGNING_BASE_URL is set."""
    path = reverse("signing:page", args=[token])
    base = (getattr(settings, "DOCUMENT_SIGNING_BASE_URL", "") or "").rstrip("/")
    return f"{base}{path}"


class LocalProvider:
    name = NAME

    def __init__(self, config: Mapping[str, Any] | None = None):
        self.hours = link_hours(config)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> LocalProvider:
        return cls(config)

    def create_envelope(self, *, pdf: bytes, filename: str, title: str, signers: list[Signer],
                        metadata: dict[str, str], at: datetime | None = None) -> EnvelopeCreated:
        """One link per signer for the document named by `metadata["doc_id"]`. Runs inside the
        sender's transaction: the links exist exactly when the envelope does. The tokens are in
        the returned URLs only."""
        from casefile.documents.models import Document, SigningLink

        doc_id = metadata.get("doc_id", "")
        document = Document.objects.filter(pk=doc_id).first()
        if document is None:
            raise NotFound(f"no document {doc_id!r} to make signing links for",
                           details={"doc_id": doc_id})
        if not signers:
            raise ValidationFailed("an envelope needs at least one signer")
        moment = at or now()
        expires = moment + timedelta(hours=self.hours)
        urls: dict[str, str] = {}
        for signer in signers:
            token = secrets.token_urlsafe(32)
            SigningLink.objects.create(document=document, role=signer.role,
                                       token_digest=token_digest(token), created_at=moment,
                                       expires_at=expires)
            urls[signer.role] = signing_path(token)
        return EnvelopeCreated(envelope_id=f"local-{ULID()}", signing_urls=urls)

    def void(self, *, envelope_id: str, reason: str) -> None:
        # A link opens only while its document's envelope is `sent`, so voiding the envelope
        # (its status, set by the caller) is what closes every link.
        return None

    def signed_pdf(self, *, envelope_id: str) -> bytes:
        """The v1 PDF rendered again with the certificate page of the envelope's signers."""
        from casefile.documents.models import Document
        from casefile.documents.signing import render_signed_copy

        document = (Document.objects.filter(envelope_provider=NAME, envelope_id=envelope_id)
                    .select_related("template", "pack").first())
        if document is None:
            raise NotFound(f"no local envelope {envelope_id!r}")
        return render_signed_copy(document)

    def verify_webhook(self, *, body: bytes, headers: Mapping[str, str],
                       at: datetime | None = None) -> None:
        raise WebhookRefused("the local provider receives no webhooks: its events come from "
                             "Casefile's own signing page")

    def parse_webhook(self, *, body: bytes, headers: Mapping[str, str]) -> list[ProviderEvent]:
        return []

    def webhook_response(self) -> tuple[int, str, bytes]:
        return 200, "application/json", b'{"received": true}'

    def kept_headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        return {k: v for k, v in headers.items() if k.lower() == SIGNATURE_HEADER.lower()}


register(NAME, LocalProvider.from_config)
