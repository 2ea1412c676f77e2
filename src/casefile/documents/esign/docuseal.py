"""DocuSeal API and webhooks (docuseal.com or a self-hosted DocuSeal).

Sources followed (github.com/docusealco/docuseal at commit a2d8b8554917, and its published docs,
https://www.docuseal.com/docs/api and https://www.docuseal.com/docs/webhooks):
  - Signature: lib/webhook_urls/signatures.rb and lib/send_webhook_request.rb — every webhook
    POST carries `X-Docuseal-Signature: {timestamp}.{hex}` where hex is the HMAC-SHA256, keyed
    with the webhook's HMAC secret (`whsec_…`, used as it is, as a string), of
    `"{timestamp}.{raw body}"`; the timestamp is Unix seconds taken when the request is sent (a
    retry is signed afresh). DocuSeal's own verifier refuses a timestamp more than 5 minutes old
    or ahead; so do we (`TIMESTAMP_TOLERANCE`). Several secrets are accepted for rotation.
    (DocuSeal can also send a static secret header instead; that is not accepted here: a static
    header proves nothing about the body.)
  - Body: `{"event_type", "timestamp", "data"}` (docs/webhooks/form-webhook.md and
    submission-webhook.md). `timestamp` is the webhook event's creation time, kept across
    retries. Form events (`form.viewed`, `form.started`, `form.completed`, `form.declined`) carry
    the submitter (`id`, `email`, `role`, `external_id`, `metadata`, `decline_reason`,
    `submission.id`); submission events (`submission.created`, `submission.completed`,
    `submission.expired`, `submission.archived`) carry the submission (`id`, `submitters`).
  - REST (header `X-Auth-Token`, docs/api/shell.md): `POST /submissions/pdf` (one base64 PDF with
    signature `fields` per role, `submitters` with `role`, `order` (0-based; equal orders sign
    in parallel), `external_id`, `metadata`; `order: "preserved"`), `DELETE /submissions/{id}`
    (archive: DocuSeal's way to withdraw a submission; it sends `submission.archived`),
    `GET /submissions/{id}/documents` (the signed documents' download URLs once completed).

Event ids: the body has no event id, so one is derived from `event_type`, `data.id` and
`timestamp` (the event's creation time, the same on every retry).

Configuration (ESIGN_PROVIDERS["docuseal"]): `base_url` (https://api.docuseal.com, or your
server's `/api`), `api_key`, `webhook_secrets` (the webhook's HMAC secrets), optional `timeout`.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

from casefile.core import timeutil
from casefile.documents.esign import http
from casefile.documents.esign.base import (
    TIMESTAMP_TOLERANCE,
    ConfigReader,
    EnvelopeCreated,
    EventName,
    PayloadInvalid,
    ProviderError,
    ProviderEvent,
    Signer,
    WebhookRefused,
    any_matches,
    header,
    hmac_sha256,
    keys,
    load_json_object,
    obj,
    parse_time,
    path_segment,
    pdf_page_count,
    require_signers,
    signature_box,
    stable_event_id,
    text_or_none,
)

SIGNATURE_HEADER = "X-Docuseal-Signature"
_SIGNATURE = re.compile(r"([0-9]{1,12})\.([0-9a-fA-F]{64})")

_EVENTS: dict[str, EventName] = {
    "submission.created": "envelope_sent",
    "form.viewed": "viewed",
    "form.completed": "signed",
    "form.declined": "declined",
    "submission.archived": "voided",
    "submission.expired": "expired",
    "submission.completed": "completed",
}


class DocuSeal:
    name: ClassVar[str] = "docuseal"

    def __init__(self, *, base_url: str, api_key: str, webhook_secrets: tuple[str, ...],
                 timeout: float = http.DEFAULT_TIMEOUT):
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.webhook_secrets = webhook_secrets
        self.timeout = timeout

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> DocuSeal:
        read = ConfigReader(cls.name, config)
        provider = cls(base_url=read.url("base_url"), api_key=read.text("api_key"),
                       webhook_secrets=read.secrets(),
                       timeout=read.number("timeout", default=http.DEFAULT_TIMEOUT))
        read.done()
        return provider

    # --- REST ------------------------------------------------------------------------------

    def _headers(self, **extra: str) -> dict[str, str]:
        return {"X-Auth-Token": self.api_key, "Accept": "application/json", **extra}

    def create_envelope(self, *, pdf: bytes, filename: str, title: str, signers: list[Signer],
                        metadata: dict[str, str]) -> EnvelopeCreated:
        ordered = require_signers(signers)
        last_page = pdf_page_count(pdf)
        orders = sorted({s.order for s in ordered})
        fields, submitters = [], []
        for index, signer in enumerate(ordered):
            x, y, w, h = signature_box(index)
            fields.append({"name": f"Signature ({signer.role})", "type": "signature",
                           "role": signer.role, "required": True,
                           "areas": [{"x": x, "y": y, "w": w, "h": h, "page": last_page}]})
            submitters.append({"role": signer.role, "name": signer.name, "email": signer.email,
                               "order": orders.index(signer.order),
                               "external_id": signer.role, "metadata": dict(metadata)})
        submission = {"name": title, "order": "preserved", "send_email": True,
                      "documents": [{"name": filename, "file": base64.b64encode(pdf).decode(),
                                     "fields": fields}],
                      "submitters": submitters}
        response = http.request(
            "POST", f"{self.base_url}/submissions/pdf", body=json.dumps(submission).encode(),
            headers=self._headers(**{"Content-Type": "application/json"}),
            timeout=self.timeout, ok=(200, 201), what="docuseal create submission")
        created = response.json()
        # The answer is the submission (`id`, `submitters`), or on some versions the list of
        # submitters, each with `submission_id`.
        rows = created if isinstance(created, list) else obj(created).get("submitters") or []
        submission_id = None if isinstance(created, list) else text_or_none(obj(created).get("id"))
        urls: dict[str, str] = {}
        for row in rows:
            row = obj(row)
            submission_id = submission_id or text_or_none(row.get("submission_id"))
            role, url = text_or_none(row.get("role")), text_or_none(row.get("embed_src"))
            if role and url:
                urls[role] = url
        if not submission_id:
            raise ProviderError("docuseal create submission: no submission id in the answer",
                                status=response.status)
        return EnvelopeCreated(envelope_id=submission_id, signing_urls=urls or None)

    def void(self, *, envelope_id: str, reason: str) -> None:
        http.request("DELETE", f"{self.base_url}/submissions/{path_segment(envelope_id)}",
                     headers=self._headers(), timeout=self.timeout, ok=(200,),
                     what="docuseal archive submission")

    def signed_pdf(self, *, envelope_id: str) -> bytes:
        response = http.request(
            "GET", f"{self.base_url}/submissions/{path_segment(envelope_id)}/documents",
            headers=self._headers(), timeout=self.timeout, ok=(200,),
            what="docuseal submission documents")
        documents = obj(response.json()).get("documents") or []
        url = text_or_none(obj(documents[0]).get("url")) if len(documents) == 1 else None
        if url is None:
            raise ProviderError("docuseal submission documents: expected one document URL",
                                status=response.status)
        # A signed, expiring download URL on DocuSeal's storage: the API token is not sent there.
        pdf = http.request("GET", url, headers={"Accept": "application/pdf"},
                           timeout=self.timeout, ok=(200,), what="docuseal download document")
        if not pdf.body.startswith(b"%PDF-"):
            raise ProviderError("docuseal download document: the answer is not a PDF",
                                status=pdf.status)
        return pdf.body

    # --- webhooks --------------------------------------------------------------------------

    def verify_webhook(self, *, body: bytes, headers: Mapping[str, str],
                       at: datetime | None = None) -> None:
        value = header(headers, SIGNATURE_HEADER)
        match = _SIGNATURE.fullmatch(value.strip()) if value else None
        if match is None:
            raise WebhookRefused(f"no well-formed {SIGNATURE_HEADER} header")
        timestamp = int(match.group(1))
        now = at or timeutil.now()
        signed_at = datetime.fromtimestamp(timestamp, UTC)
        if abs(now - signed_at) > TIMESTAMP_TOLERANCE:
            raise WebhookRefused("signature timestamp outside the 5-minute tolerance")
        message = match.group(1).encode() + b"." + body
        expected = [hmac_sha256(key, message).hex().encode()
                    for key in keys(self.webhook_secrets)]
        if not any_matches(expected, [match.group(2).lower().encode()]):
            raise WebhookRefused("no webhook secret signed this body")

    def parse_webhook(self, *, body: bytes, headers: Mapping[str, str]) -> list[ProviderEvent]:
        message = load_json_object(body)
        event_type = message.get("event_type")
        if not isinstance(event_type, str):
            raise PayloadInvalid("$.event_type: missing", details={"path": "$.event_type"})
        mapped = _EVENTS.get(event_type)
        if mapped is None:
            return []  # form.started, template.*: nothing to record
        timestamp = message.get("timestamp")
        occurred_at = parse_time(timestamp, where="$.timestamp")
        data = obj(message.get("data"))
        is_form = event_type.startswith("form.")
        envelope_id = text_or_none(obj(data.get("submission")).get("id") if is_form
                                   else data.get("id"))
        if envelope_id is None:
            where = "$.data.submission.id" if is_form else "$.data.id"
            raise PayloadInvalid(f"{where}: missing", details={"path": where})
        return [ProviderEvent(
            event_id=stable_event_id(self.name, event_type, text_or_none(data.get("id")),
                                     timestamp),
            envelope_id=envelope_id, event=mapped, occurred_at=occurred_at,
            signer_email=text_or_none(data.get("email")) if is_form else None,
            signer_role=(text_or_none(data.get("external_id")) or text_or_none(data.get("role"))
                         if is_form else None),
            reason=str(data.get("decline_reason") or "") if mapped == "declined" else "")]

    def webhook_response(self) -> tuple[int, str, bytes]:
        return 200, "application/json", b'{"ok":true}'

    def kept_headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        value = header(headers, SIGNATURE_HEADER)
        return {SIGNATURE_HEADER: value} if value else {}
