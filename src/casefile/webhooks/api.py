"""`POST /api/v1/webhooks/{vendor}`: authenticated by the vendor's signature over the raw body,
not by a staff token or role (so it is not in the permission matrix), and exempt from CSRF like
the rest of the API (no session is involved). docs/webhooks.md."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import Router

from casefile.audit.actor import client_ip
from casefile.core.errors import PayloadTooLarge
from casefile.core.schemas import Schema
from casefile.webhooks import services

router = Router(tags=["webhooks"])

# The vendors' bodies are read raw (the signature is over the exact bytes): declared here for
# the OpenAPI document only.
WEBHOOK_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"type": "object", "additionalProperties": True}}}}}


class WebhookOut(Schema):
    received: bool
    delivery_id: str
    outcome: str


@router.post("/{vendor}", auth=None, response=WebhookOut, openapi_extra=WEBHOOK_BODY,
             summary="A vendor's webhook (Persona, Onfido, Veriff, Checkr), verified by its "
                     "signature")
def webhook(request: HttpRequest, vendor: str):
    from casefile.trust.vendors import vendor as known

    known(vendor)  # 404 for an unknown vendor, before the body is read
    limit = services.body_limit()
    declared = request.META.get("CONTENT_LENGTH") or ""
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"webhook bodies are limited to {limit} bytes",
                              details={"limit_bytes": limit, "declared_bytes": int(declared)})
    receipt = services.webhook_receive(vendor=vendor, body=request.body,
                                       headers=dict(request.headers),
                                       remote_addr=client_ip(request))
    return receipt.as_dict()
