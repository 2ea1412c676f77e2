"""DocuSign eSignature REST API v2.1 and DocuSign Connect (JSON SIM) webhooks.

Sources followed:
  - Connect HMAC: https://developers.docusign.com/platform/webhooks/connect/hmac and
    https://developers.docusign.com/platform/webhooks/connect/validate — the HMAC-SHA256 of the
    entire raw request body, keyed with a Connect HMAC key, base64-encoded, in
    `X-DocuSign-Signature-1`; with several active keys (up to 100, for rotation) one header per key,
    `X-DocuSign-Signature-2`, …; any one matching is enough. Compared in constant time.
  - Message format: https://developers.docusign.com/platform/webhooks/connect/json-sim-event-model
    (`event`, `apiVersion`, `uri`, `retryCount`, `configurationId`, `generatedDateTime`,
    `data.accountId`, `data.envelopeId`, `data.recipientId` for recipient events, and
    `data.envelopeSummary` when the Connect configuration includes it) and
    https://developers.docusign.com/platform/webhooks/connect/event-triggers (event names).
  - An expired envelope is reported as `envelope-voided` with `voidedReason` "Envelope has
    expired." (DESIGN 10): mapped to `expired`, every other void to `voided`.
  - REST: `POST /v2.1/accounts/{accountId}/envelopes` (documents as base64, `recipients.signers`
    with `routingOrder`, `roleName` and `signHereTabs`, `customFields.textCustomFields`,
    `status: "sent"`), `PUT …/envelopes/{envelopeId}` with `status: "voided"` and
    `voidedReason`, `GET …/envelopes/{envelopeId}/documents/1` for the signed document.
    https://developers.docusign.com/docs/esign-rest-api/reference/envelopes/

Configuration (ESIGN_PROVIDERS["docusign"]): `base_url` (e.g. https://demo.docusign.net/restapi or
https://{server}.docusign.net/restapi), `account_id`, `access_token` (an OAuth access token;
obtaining or refreshing one with the JWT grant is out of scope here: an operator or a job puts a
current token in the setting), `webhook_secrets` (the Connect HMAC keys), optional `timeout`.

The Connect configuration must use the JSON SIM format with HMAC signing on, and should include
the envelope summary with recipients and custom fields (`includeData`): without it a recipient
event carries no e-mail or role, and a void cannot be told from an expiry (it is then `voided`).

Event ids: JSON SIM carries no event id, so one is derived from `event`, `data.envelopeId`,
`data.recipientId` and `generatedDateTime` (`stable_event_id`). Connect's retries resend the same
message with a higher `retryCount`, which is left out, so a retry gives the same id.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

from casefile.documents.esign import http
from casefile.documents.esign.base import (
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

EXPIRED_REASON = "Envelope has expired."
SIGNATURE_HEADER = "X-DocuSign-Signature-"
MAX_SIGNATURE_HEADERS = 100  # Connect allows up to 100 HMAC keys

_EVENTS: dict[str, EventName] = {
    "envelope-sent": "envelope_sent",
    "recipient-delivered": "viewed",
    "recipient-completed": "signed",
    "recipient-declined": "declined",
    "envelope-declined": "declined",
    "envelope-voided": "voided",
    "envelope-completed": "completed",
}


class DocuSign:
    name: ClassVar[str] = "docusign"

    def __init__(self, *, base_url: str, account_id: str, access_token: str,
                 webhook_secrets: tuple[str, ...], timeout: float = http.DEFAULT_TIMEOUT):
        self.base_url = base_url.rstrip("/")
        self.account_id = account_id
        self.access_token = access_token
        self.webhook_secrets = webhook_secrets
        self.timeout = timeout

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> DocuSign:
        read = ConfigReader(cls.name, config)
        provider = cls(base_url=read.url("base_url"), account_id=read.text("account_id"),
                       access_token=read.text("access_token"),
                       webhook_secrets=read.secrets(),
                       timeout=read.number("timeout", default=http.DEFAULT_TIMEOUT))
        read.done()
        return provider

    # --- REST ------------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return f"{self.base_url}/v2.1/accounts/{self.account_id}{path}"

    def _headers(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}", "Accept": "application/json",
                **extra}

    def create_envelope(self, *, pdf: bytes, filename: str, title: str, signers: list[Signer],
                        metadata: dict[str, str]) -> EnvelopeCreated:
        ordered = require_signers(signers)
        last_page = pdf_page_count(pdf)
        recipients = []
        for index, signer in enumerate(ordered):
            x, y, _w, _h = signature_box(index)
            recipients.append({
                "recipientId": str(index + 1),
                "routingOrder": str(signer.order),
                "roleName": signer.role,
                "name": signer.name,
                "email": signer.email,
                "tabs": {"signHereTabs": [{
                    "documentId": "1", "pageNumber": str(last_page),
                    "xPosition": str(x), "yPosition": str(y),
                    "tabLabel": f"sign_{signer.role}"}]},
            })
        envelope = {
            "emailSubject": title[:100],  # DocuSign's limit for emailSubject
            "documents": [{"documentId": "1", "name": filename, "fileExtension": "pdf",
                           "documentBase64": base64.b64encode(pdf).decode()}],
            "recipients": {"signers": recipients},
            "customFields": {"textCustomFields": [
                {"name": key, "value": value, "show": "false", "required": "false"}
                for key, value in sorted(metadata.items())]},
            "status": "sent",
        }
        response = http.request(
            "POST", self._url("/envelopes"), body=json.dumps(envelope).encode(),
            headers=self._headers(**{"Content-Type": "application/json"}),
            timeout=self.timeout, ok=(201,), what="docusign create envelope")
        envelope_id = text_or_none(obj(response.json()).get("envelopeId"))
        if not envelope_id:
            raise ProviderError("docusign create envelope: no envelopeId in the answer",
                                status=response.status)
        return EnvelopeCreated(envelope_id=envelope_id, signing_urls=None)

    def void(self, *, envelope_id: str, reason: str) -> None:
        http.request(
            "PUT", self._url(f"/envelopes/{path_segment(envelope_id)}"),
            body=json.dumps({"status": "voided", "voidedReason": reason or "voided"}).encode(),
            headers=self._headers(**{"Content-Type": "application/json"}),
            timeout=self.timeout, ok=(200,), what="docusign void envelope")

    def signed_pdf(self, *, envelope_id: str) -> bytes:
        response = http.request(
            "GET", self._url(f"/envelopes/{path_segment(envelope_id)}/documents/1"),
            headers=self._headers(Accept="application/pdf"), timeout=self.timeout, ok=(200,),
            what="docusign download document")
        if not response.body.startswith(b"%PDF-"):
            raise ProviderError("docusign download document: the answer is not a PDF",
                                status=response.status)
        return response.body

    # --- Connect ---------------------------------------------------------------------------

    def verify_webhook(self, *, body: bytes, headers: Mapping[str, str],
                       at: datetime | None = None) -> None:
        # Connect signs no timestamp: `at` has nothing to bound. Replays are absorbed by the
        # stable event ids and the forward-only status.
        given = []
        for n in range(1, MAX_SIGNATURE_HEADERS + 1):
            value = header(headers, f"{SIGNATURE_HEADER}{n}")
            if value is None:
                break
            try:
                given.append(base64.b64decode(value.strip(), validate=True))
            except ValueError:
                continue  # a malformed header cannot match; another one still may
        if not given:
            raise WebhookRefused("no X-DocuSign-Signature-1 header")
        expected = [hmac_sha256(key, body) for key in keys(self.webhook_secrets)]
        if not any_matches(expected, given):
            raise WebhookRefused("no Connect HMAC key signed this body")

    def parse_webhook(self, *, body: bytes, headers: Mapping[str, str]) -> list[ProviderEvent]:
        message = load_json_object(body)
        event = message.get("event")
        if not isinstance(event, str):
            raise PayloadInvalid("$.event: missing (is the Connect configuration JSON SIM?)",
                                 details={"path": "$.event"})
        mapped = _EVENTS.get(event)
        if mapped is None:
            return []
        data = obj(message.get("data"))
        account = text_or_none(data.get("accountId"))
        if account is not None and account != self.account_id:
            raise PayloadInvalid("$.data.accountId: another account's envelope",
                                 details={"path": "$.data.accountId"})
        envelope_id = text_or_none(data.get("envelopeId"))
        if envelope_id is None:
            raise PayloadInvalid("$.data.envelopeId: missing",
                                 details={"path": "$.data.envelopeId"})
        generated = message.get("generatedDateTime")
        occurred_at = parse_time(generated, where="$.generatedDateTime")
        summary = obj(data.get("envelopeSummary"))
        recipient_id = text_or_none(data.get("recipientId"))
        recipient = _recipient(summary, recipient_id) if recipient_id else {}
        reason = ""
        if mapped == "voided":
            reason = str(summary.get("voidedReason") or "")
            if reason.strip() == EXPIRED_REASON:
                mapped = "expired"
        elif mapped == "declined":
            reason = str(recipient.get("declinedReason") or _declined_reason(summary) or "")
        return [ProviderEvent(
            event_id=stable_event_id(self.name, event, envelope_id, recipient_id, generated),
            envelope_id=envelope_id, event=mapped, occurred_at=occurred_at,
            signer_email=text_or_none(recipient.get("email")) if recipient_id else None,
            signer_role=text_or_none(recipient.get("roleName")) if recipient_id else None,
            reason=reason)]

    def webhook_response(self) -> tuple[int, str, bytes]:
        return 200, "text/plain", b"OK"

    def kept_headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        kept = {}
        for n in range(1, MAX_SIGNATURE_HEADERS + 1):
            value = header(headers, f"{SIGNATURE_HEADER}{n}")
            if value is None:
                break
            kept[f"{SIGNATURE_HEADER}{n}"] = value
        return kept


def _recipient(summary: dict[str, Any], recipient_id: str) -> dict[str, Any]:
    for signer in obj(summary.get("recipients")).get("signers") or []:
        if isinstance(signer, dict) and text_or_none(signer.get("recipientId")) == recipient_id:
            return signer
    return {}


def _declined_reason(summary: dict[str, Any]) -> str | None:
    for signer in obj(summary.get("recipients")).get("signers") or []:
        if isinstance(signer, dict) and signer.get("declinedReason"):
            return str(signer["declinedReason"])
    return None

