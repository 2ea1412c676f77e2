"""The pages a signer sees on a `local` signing link, and the e-sign providers' webhook endpoint
(docs/documents.md, "Signing").

**Signing pages** (`/sign/<token>/`) are outside the staff console: no login, the token in the
link is the credential. The page shows the PDF (from `/sign/<token>/document.pdf`, framed by this
page only), who signs and as which role, a typed-name field and the consent text with its
checkbox, and a decline button. Forms carry Django's CSRF token (a cookie, no session needed).
A link that is unknown answers 404, one used, expired or withdrawn 410, one whose turn has not
come 409 — each a page that says so, never an error trace. Responses are never cached and send
a referrer only to this site, so the token does not travel further than the signer's browser.

**Provider webhooks** (`POST /api/v1/documents/webhooks/<provider>`) are a plain view, as the
body must be read raw and some providers want their own literal answer (Dropbox Sign's
`Hello API Event Received`), in this order:

1. the provider is known and configured (404), the body within WEBHOOK_MAX_BYTES (413);
2. `verify_webhook` on the raw bytes, before anything is parsed: a refusal is 401 and a log
   line; nothing is stored (an unproven body is not evidence of anything);
3. `parse_webhook` (422 for a body that is not the provider's shape; Dropbox Sign confirms each
   event against its API here);
4. each event through `signing.sign_event_record`; a repeat is a no-op;
5. the provider's `webhook_response()`.

An event for an envelope no document has (another system's envelope on a shared vendor account,
or one whose sending failed and was voided) is acknowledged like any other and not kept: a sign
event belongs to a document, and refusing it would only make the vendor retry it and, as
DocuSign Connect does with a listener that keeps failing, stop delivering our own envelopes'
events. It is logged. A failure while applying an event (the vendor's signed copy could not be
fetched) answers 503 with nothing changed, so the vendor sends it again.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils.cache import add_never_cache_headers
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods, require_POST

from casefile.audit.actor import client_ip
from casefile.core.errors import AppError, NotFound, PayloadTooLarge, ValidationFailed
from casefile.core.http import error_response, json_error
from casefile.documents import signing
from casefile.documents.esign.base import WebhookRefused
from casefile.documents.esign.registry import provider_named
from casefile.documents.signing import LinkState, LinkUnusable, OpenedLink

log = logging.getLogger(__name__)

# The signing page frames its PDF, and nothing else may frame either.
PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "frame-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
            "object-src 'none'")
PDF_CSP = "frame-ancestors 'self'"

_STATUS = {LinkState.OPEN: 200, LinkState.USED: 410, LinkState.EXPIRED: 410,
           LinkState.WITHDRAWN: 410, LinkState.WAITING: 409}


def _private(response: HttpResponse, csp: str = PAGE_CSP) -> HttpResponse:
    add_never_cache_headers(response)
    # Same-origin only: the token in the address never leaves this site as a referrer, and the
    # signer's own form posts still carry the Origin that CSRF checks (no-referrer sends null).
    response["Referrer-Policy"] = "same-origin"
    response["Content-Security-Policy"] = csp
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _who(request: HttpRequest) -> dict[str, Any]:
    return {"ip_address": client_ip(request),
            "user_agent": request.META.get("HTTP_USER_AGENT", "")[:500]}


def _page(request: HttpRequest, token: str, opened: OpenedLink | None, *,
          status: int | None = None, **context: Any) -> HttpResponse:
    template = "documents/signing.html"
    if opened is None or opened.state != LinkState.OPEN or context.get("done"):
        template = "documents/signing_closed.html"
    context = {"opened": opened, "token": token, "consent_text": signing.CONSENT_TEXT,
               **context}
    if opened is not None:
        document = opened.document
        roles = {str(r.get("role")): r for r in signing.signer_roles(document)}
        context.update(document=document, role=opened.link.role,
                       signer=opened.signer, state=opened.state,
                       required=bool(roles.get(opened.link.role, {}).get("required", True)),
                       title=document.title or document.template.name)
    code = status or (_STATUS[opened.state] if opened is not None else 404)
    return _private(render(request, template, context, status=code))


@csrf_protect
@require_http_methods(["GET", "POST"])
def signing_page(request: HttpRequest, token: str) -> HttpResponse:
    who = _who(request)
    try:
        if request.method == "GET":
            return _page(request, token, signing.signing_link_open(token, **who))
        return _submit(request, token, who)
    except NotFound:
        return _page(request, token, None, status=404, unknown=True)


def _submit(request: HttpRequest, token: str, who: dict[str, Any]) -> HttpResponse:
    action = request.POST.get("action", "sign")
    try:
        if action == "decline":
            recorded = signing.signing_link_decline(
                token=token, reason=request.POST.get("reason", ""), **who)
            done = "declined"
        else:
            recorded = signing.signing_link_sign(
                token=token, typed_name=request.POST.get("typed_name", ""),
                consent=request.POST.get("consent") == "yes", **who)
            done = "signed"
    except LinkUnusable as exc:
        return _page(request, token, exc.opened)
    except ValidationFailed as exc:
        opened = signing.link_state(signing.link_for(token))
        return _page(request, token, opened, status=422, problems=exc.details or {},
                     typed_name=request.POST.get("typed_name", ""))
    opened = signing.link_state(signing.link_for(token))
    return _page(request, token, opened, status=200, done=done, recorded=recorded)


@require_http_methods(["GET"])
def signing_pdf(request: HttpRequest, token: str) -> HttpResponse:
    """The document's issued PDF, for the signer whose link is open (and in its turn)."""
    from casefile.documents.storage import read_v1

    try:
        opened = signing.link_state(signing.link_for(token))
    except NotFound:
        return _private(HttpResponse("not found", status=404, content_type="text/plain"))
    if opened.state != LinkState.OPEN:
        return _private(HttpResponse(f"this signing link is {opened.state}",
                                     status=_STATUS[opened.state], content_type="text/plain"))
    try:
        data = read_v1(opened.document)
    except AppError as exc:
        log.error("signing link for %s: %s", opened.document.id, exc.message)
        return _private(HttpResponse("the document cannot be shown", status=503,
                                     content_type="text/plain"))
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{opened.document.id}.pdf"'
    response["X-Frame-Options"] = "SAMEORIGIN"
    return _private(response, csp=PDF_CSP)


# --- provider webhooks ---------------------------------------------------------------------------
@csrf_exempt
@require_POST
def provider_webhook(request: HttpRequest, provider: str) -> HttpResponse:
    try:
        return _webhook(request, provider)
    except AppError as exc:
        return error_response(exc)


def _webhook(request: HttpRequest, provider_name: str) -> HttpResponse:
    source = provider_named(provider_name)  # 404 unknown or not configured, before the body
    if source.name == "local":
        raise NotFound("the local provider receives no webhooks")
    limit = settings.WEBHOOK_MAX_BYTES
    declared = request.META.get("CONTENT_LENGTH") or ""
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"webhook bodies are limited to {limit} bytes",
                              details={"limit_bytes": limit})
    body = request.body
    if len(body) > limit:
        raise PayloadTooLarge(f"webhook bodies are limited to {limit} bytes",
                              details={"limit_bytes": limit})
    headers = dict(request.headers)
    try:
        source.verify_webhook(body=body, headers=headers)
    except WebhookRefused as exc:
        log.warning("e-sign webhook from %s refused (%s): %d bytes from %s", source.name,
                    exc.reason, len(body), client_ip(request))
        return json_error(401, exc.code, exc.message, exc.details)
    events = source.parse_webhook(body=body, headers=headers)
    kept = signing.stored_header_text(source.kept_headers(headers))
    outcomes = []
    for event in events:
        try:
            recorded = signing.sign_event_record(provider=source, event=event, raw_body=body,
                                                 signature_header=kept)
            outcomes.append(recorded.outcome)
        except signing.UnknownEnvelope:
            log.warning("e-sign webhook from %s: event %s for unknown envelope %s, "
                        "acknowledged and not kept", source.name, event.event_id,
                        event.envelope_id)
            outcomes.append("unknown_envelope")
        except (ValidationFailed, NotFound):
            raise
        except AppError as exc:
            log.error("e-sign webhook from %s: event %s failed: %s", source.name,
                      event.event_id, exc.message)
            return json_error(503, "webhook_failed", "the event could not be applied; nothing "
                              "was changed and it may be sent again")
    status, content_type, answer = source.webhook_response()
    return HttpResponse(answer, status=status, content_type=content_type)


signing_urls = [
    path("<str:token>/", signing_page, name="page"),
    path("<str:token>/document.pdf", signing_pdf, name="pdf"),
]
