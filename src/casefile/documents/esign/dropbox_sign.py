"""Dropbox Sign (formerly HelloSign) API v3 and its event callbacks.

Sources followed:
  - Events: https://developers.hellosign.com/docs/events/overview/ (callbacks are
    `multipart/form-data` POSTs; the event is the JSON in the form field `json`) and
    https://developers.hellosign.com/docs/events/walkthrough/ ; the answer must be HTTP 200 with
    the body `Hello API Event Received`, or the event is retried
    (https://developers.hellosign.com/api/manual-reference-pages/glossary/callbacks-events).
  - `event.event_hash` = hex HMAC-SHA256 keyed with the API key over
    `event.event_time + event.event_type` (the official SDK's `EventCallbackHelper.is_valid`,
    github.com/hellosign/dropbox-sign-python dropbox_sign/event_callback_helper.py). Event types:
    the SDK's `EventCallbackRequestEvent.event_type` enum.
  - Example payload: https://help.dropbox.com/integrations/example-of-a-dropbox-sign-callback-event
  - REST (basic auth, the API key as user name, empty password): `POST /signature_request/send`
    (`files[0]`, `signers[i][name|email_address|order]` with 0-based `order`, `metadata[key]`
    — up to 10 keys —, `form_fields_per_document`), `POST /signature_request/cancel/{id}`
    (asynchronous; confirmed by a `signature_request_canceled` event; afterwards the request
    answers 410), `GET /signature_request/files/{id}?file_type=pdf` (409 while the files are
    prepared), `GET /signature_request/{id}` (the SDK's docs/SignatureRequestApi.md).

Why the API is asked before an event is trusted: the hash covers only the time and the type,
not the body. Anyone holding one genuine delivery can send its hash with any other body (another
signature request, another signer). So `verify_webhook` checks the hash on the raw body (the
`json` field read from it, nothing else interpreted), and `parse_webhook` then fetches the
signature request from the API and derives the event's facts from the API's answer — the
request's metadata, the signer's e-mail, the signed/declined/viewed state, completion, expiry, or
410 for a cancelation. If the API does not confirm what the event claims, `parse_webhook` raises
`Unconfirmed` (a `WebhookRefused`): nothing is recorded from it. Only the event's type and its
signed time come from the body.

No timestamp tolerance is applied to `event_time`: Dropbox Sign retries a callback for days with
the event's original time, so a tolerance would refuse genuine retries; what stops a replayed
hash is the API confirmation above, and a genuine replay gives the same event id.

Event ids: `event_hash` alone repeats across requests (same second, same type), so the id is
derived from `event_time`, `event_type`, the signature request id and `related_signature_id`.

Configuration (ESIGN_PROVIDERS["dropbox_sign"]): `base_url` (https://api.hellosign.com/v3),
`api_key`, optional `webhook_secrets` (default: `[api_key]`; list the old key beside the new one
while rotating), `client_id` (an API app whose callback URL is used), `test_mode` (default
false), `timeout`.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
from collections.abc import Mapping
from datetime import datetime
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any, ClassVar

from casefile.core import timeutil
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

ACKNOWLEDGEMENT = b"Hello API Event Received"
ROLES_KEY = "casefile_roles"  # metadata key: the signer roles by 0-based signing order

_EVENTS: dict[str, EventName] = {
    "signature_request_sent": "envelope_sent",
    "signature_request_viewed": "viewed",
    "signature_request_signed": "signed",
    "signature_request_declined": "declined",
    "signature_request_canceled": "voided",
    "signature_request_expired": "expired",
    "signature_request_all_signed": "completed",
}


class Unconfirmed(WebhookRefused):
    """The hash was right but the API does not confirm what the event says (a replayed hash with
    a forged body, or a state that has since moved on). Nothing is recorded from it."""

    code = "webhook_unconfirmed"


class DropboxSign:
    name: ClassVar[str] = "dropbox_sign"

    def __init__(self, *, base_url: str, api_key: str, webhook_secrets: tuple[str, ...],
                 client_id: str | None = None, test_mode: bool = False,
                 timeout: float = http.DEFAULT_TIMEOUT):
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.webhook_secrets = webhook_secrets
        self.client_id = client_id
        self.test_mode = test_mode
        self.timeout = timeout

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> DropboxSign:
        read = ConfigReader(cls.name, config)
        api_key = read.text("api_key")
        provider = cls(base_url=read.url("base_url"), api_key=api_key,
                       webhook_secrets=read.secrets(default=[api_key] if api_key else None),
                       client_id=config.get("client_id") or None,
                       test_mode=read.flag("test_mode", default=False),
                       timeout=read.number("timeout", default=http.DEFAULT_TIMEOUT))
        read.done()
        return provider

    # --- REST ------------------------------------------------------------------------------

    def _headers(self, **extra: str) -> dict[str, str]:
        token = base64.b64encode(f"{self.api_key}:".encode()).decode()
        return {"Authorization": f"Basic {token}", "Accept": "application/json", **extra}

    def create_envelope(self, *, pdf: bytes, filename: str, title: str, signers: list[Signer],
                        metadata: dict[str, str]) -> EnvelopeCreated:
        ordered = require_signers(signers)
        if len(metadata) > 9:  # Dropbox Sign keeps 10 keys; one holds the roles
            raise ProviderError("dropbox_sign: at most 9 metadata keys")
        last_page = pdf_page_count(pdf)
        fields: list[tuple[str, str]] = [("title", title), ("subject", title)]
        form_fields = []
        for index, signer in enumerate(ordered):
            fields += [(f"signers[{index}][name]", signer.name),
                       (f"signers[{index}][email_address]", signer.email),
                       (f"signers[{index}][order]", str(index))]
            x, y, w, h = signature_box(index)
            form_fields.append({"document_index": 0, "api_id": f"sign_{signer.role}",
                                "name": f"Signature ({signer.role})", "type": "signature",
                                "required": True, "signer": str(index), "page": last_page,
                                "x": x, "y": y, "width": w, "height": h})
        fields.append(("form_fields_per_document", json.dumps(form_fields)))
        for key, value in sorted(metadata.items()):
            fields.append((f"metadata[{key}]", value))
        fields.append((f"metadata[{ROLES_KEY}]", ",".join(s.role for s in ordered)))
        fields.append(("test_mode", "1" if self.test_mode else "0"))
        if self.client_id:
            fields.append(("client_id", self.client_id))
        body, content_type = http.multipart(fields, [("files[0]", filename, "application/pdf",
                                                      pdf)])
        response = http.request(
            "POST", f"{self.base_url}/signature_request/send", body=body,
            headers=self._headers(**{"Content-Type": content_type}), timeout=self.timeout,
            ok=(200,), what="dropbox_sign send signature request")
        request_id = text_or_none(
            obj(obj(response.json()).get("signature_request")).get("signature_request_id"))
        if not request_id:
            raise ProviderError("dropbox_sign send: no signature_request_id in the answer",
                                status=response.status)
        return EnvelopeCreated(envelope_id=request_id, signing_urls=None)

    def void(self, *, envelope_id: str, reason: str) -> None:
        # Dropbox Sign's cancel takes no reason; ours is kept by the caller's audit entry.
        url = f"{self.base_url}/signature_request/cancel/{path_segment(envelope_id)}"
        http.request("POST", url, headers=self._headers(), timeout=self.timeout, ok=(200,),
                     what="dropbox_sign cancel signature request")

    def signed_pdf(self, *, envelope_id: str) -> bytes:
        url = (f"{self.base_url}/signature_request/files/{path_segment(envelope_id)}"
               "?file_type=pdf")
        try:
            response = http.request("GET", url, headers=self._headers(Accept="application/pdf"),
                                    timeout=self.timeout, ok=(200,),
                                    what="dropbox_sign download files")
        except ProviderError as exc:
            if exc.http_status == 409:  # the files are still being prepared: try again later
                raise ProviderError("dropbox_sign download files: still being prepared",
                                    status=409, retryable=True) from exc
            raise
        if not response.body.startswith(b"%PDF-"):
            raise ProviderError("dropbox_sign download files: the answer is not a PDF",
                                status=response.status)
        return response.body

    def _signature_request(self, request_id: str) -> dict[str, Any] | None:
        """The request as the API sees it now; None when it answers 410 (canceled/deleted)."""
        try:
            response = http.request(
                "GET", f"{self.base_url}/signature_request/{path_segment(request_id)}",
                headers=self._headers(), timeout=self.timeout, ok=(200,),
                what="dropbox_sign get signature request")
        except ProviderError as exc:
            if exc.http_status == 410:
                return None
            raise
        return obj(obj(response.json()).get("signature_request"))

    # --- callbacks -------------------------------------------------------------------------

    def verify_webhook(self, *, body: bytes, headers: Mapping[str, str],
                       at: datetime | None = None) -> None:
        event = obj(_callback_json(body, headers).get("event"))
        event_time, event_type = event.get("event_time"), event.get("event_type")
        given = event.get("event_hash")
        if not (isinstance(event_time, str | int) and isinstance(event_type, str)
                and isinstance(given, str)):
            raise WebhookRefused("event_time, event_type or event_hash missing")
        message = f"{event_time}{event_type}".encode()
        expected = [hmac_sha256(key, message).hex().encode() for key in keys(self.webhook_secrets)]
        if not any_matches(expected, [given.strip().lower().encode()]):
            raise WebhookRefused("event_hash does not match any configured API key")

    def parse_webhook(self, *, body: bytes, headers: Mapping[str, str]) -> list[ProviderEvent]:
        """The events, confirmed against the API (module docstring). Raises `Unconfirmed` when
        the API does not bear the event out, `ProviderError` when the API cannot be asked (the
        caller answers 5xx so Dropbox Sign retries)."""
        payload = _callback_json(body, headers)
        event = obj(payload.get("event"))
        event_type = str(event.get("event_type") or "")
        mapped = _EVENTS.get(event_type)
        if mapped is None:
            return []  # callback_test, reminders, bounces, templates: nothing to record
        occurred_at = parse_time(event.get("event_time"), where="$.event.event_time")
        request_id = text_or_none(obj(payload.get("signature_request")).get("signature_request_id"))
        if request_id is None:
            raise PayloadInvalid("$.signature_request.signature_request_id: missing",
                                 details={"path": "$.signature_request.signature_request_id"})
        signature_id = text_or_none(obj(event.get("event_metadata")).get("related_signature_id"))
        state = self._signature_request(request_id)
        signer, reason = self._confirm(mapped, state, signature_id)
        roles = str(obj(state.get("metadata") if state else {}).get(ROLES_KEY) or "").split(",")
        return [ProviderEvent(
            event_id=stable_event_id(self.name, str(event.get("event_time")), event_type,
                                     request_id, signature_id),
            envelope_id=request_id, event=mapped, occurred_at=occurred_at,
            signer_email=text_or_none(signer.get("signer_email_address")) if signer else None,
            signer_role=_role(signer, roles) if signer else None,
            reason=reason)]

    def _confirm(self, mapped: EventName, state: dict[str, Any] | None,
                 signature_id: str | None) -> tuple[dict[str, Any] | None, str]:
        """The signer the event is about (for recipient events) and the reason, as the API
        tells them; Unconfirmed if the API's state does not show what the event says."""
        if mapped == "voided":
            if state is None:
                return None, "canceled"
            raise Unconfirmed("the API still serves a request the event calls canceled")
        if state is None:
            raise Unconfirmed("the API answers 410: the signature request is gone")
        if mapped == "envelope_sent":
            return None, ""
        if mapped == "completed":
            if state.get("is_complete") is True:
                return None, ""
            raise Unconfirmed("the API does not show the request complete")
        if mapped == "expired":
            expires_at = state.get("expires_at")
            if (state.get("is_complete") is not True and expires_at is not None
                    and parse_time(expires_at, where="expires_at") <= timeutil.now()):
                return None, "expired"
            raise Unconfirmed("the API does not show the request expired")
        signer = next((s for s in state.get("signatures") or []
                       if isinstance(s, dict) and signature_id
                       and text_or_none(s.get("signature_id")) == signature_id), None)
        if signer is None:
            raise Unconfirmed("the API knows no such signer on this request")
        status = signer.get("status_code")
        if mapped == "signed" and status == "signed":
            return signer, ""
        if mapped == "declined" and status == "declined":
            return signer, str(signer.get("decline_reason") or "")
        if mapped == "viewed" and signer.get("last_viewed_at") is not None:
            return signer, ""
        raise Unconfirmed(f"the API shows this signer as {status!r}")

    def webhook_response(self) -> tuple[int, str, bytes]:
        return 200, "text/plain", ACKNOWLEDGEMENT

    def kept_headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        # The hash is inside the body; the Content-Type (its boundary) is what re-reading needs.
        content_type = header(headers, "Content-Type")
        return {"Content-Type": content_type} if content_type else {}


def _role(signer: dict[str, Any], roles: list[str]) -> str | None:
    order = signer.get("order")
    if isinstance(order, int) and not isinstance(order, bool) and 0 <= order < len(roles):
        return roles[order] or None
    return text_or_none(signer.get("signer_role"))


def _callback_json(body: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
    """The callback's JSON: the `json` field of a multipart/form-data body (what Dropbox Sign
    sends), of a urlencoded form, or a bare JSON body (how a stored payload may be kept)."""
    content_type = header(headers, "Content-Type") or ""
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "multipart/form-data":
        return load_json_object(_multipart_field(body, content_type, "json"), where="json")
    if media == "application/x-www-form-urlencoded":
        values = urllib.parse.parse_qs(body.decode("utf-8", "replace"), max_num_fields=50)
        if len(values.get("json", [])) != 1:
            raise WebhookRefused("no json field in the form")
        return load_json_object(values["json"][0].encode(), where="json")
    return load_json_object(body)


def _multipart_field(body: bytes, content_type: str, name: str) -> bytes:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise WebhookRefused("multipart body without parts")
    found = []
    for part in message.get_payload():
        if (isinstance(part, Message)
                and part.get_param("name", header="content-disposition") == name):
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                found.append(payload)
    if len(found) != 1:
        raise WebhookRefused(f"expected one {name!r} field in the multipart body")
    return found[0]
