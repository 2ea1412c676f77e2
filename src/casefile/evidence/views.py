"""Console screens for evidence: the list with an upload form, and a blob's page (metadata, the
redacted copy, the original on request with a reason, shredding, the chain of custody).

Reads come from `selectors`, every write and audited read goes through `services`.
"""

from __future__ import annotations

import base64

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from casefile.accounts.permissions import Perm, has_perm
from casefile.audit.actor import Actor
from casefile.audit.registry import ACTIONS
from casefile.core.console import change, query_without, screen
from casefile.core.errors import ValidationFailed
from casefile.core.pagination import keyset_page
from casefile.core.validation import from_query, validated
from casefile.evidence import holds, selectors, services
from casefile.evidence.api import bytes_response
from casefile.evidence.models import EvidenceBlob
from casefile.evidence.redaction import PII_KINDS, decode_text, family
from casefile.evidence.schemas import EvidenceFilter, ReasonIn, UploadIn, parse_pii_map

PAGE = 50
TEXT_PREVIEW_CHARS = 100_000


@screen(Perm.EVIDENCE_VIEW)
def evidence_list(request: HttpRequest, actor: Actor) -> HttpResponse:
    evidence_filter = from_query(EvidenceFilter, request.GET)
    page = keyset_page(selectors.blobs(evidence_filter), keys=["created_at", "id"],
                       cursor=request.GET.get("cursor"), limit=PAGE)
    return render(request, "evidence/list.html", {
        "rows": page.items, "next_cursor": page.next_cursor, "filter": evidence_filter,
        "keep": query_without(request.GET, "cursor"), "kinds": PII_KINDS,
        "may_upload": has_perm(actor.roles, Perm.EVIDENCE_UPLOAD),
        "max_bytes": settings.EVIDENCE_MAX_BYTES,
    })


@require_POST
@screen(Perm.EVIDENCE_UPLOAD)
def evidence_upload(request: HttpRequest, actor: Actor) -> HttpResponse:
    """The upload form: a file, its PII map (JSON) and a reason. Not previewable (the objects
    are written before the entry: `services.evidence_upload`)."""
    upload = request.FILES.get("file")
    if upload is None:
        raise ValidationFailed("choose a file to upload")
    form = {name: request.POST[name].strip() for name in UploadIn.model_fields
            if request.POST.get(name, "").strip()}
    body = validated(UploadIn, form, what="the upload")
    blob = services.evidence_upload(
        actor=actor, data=upload.read(), filename=upload.name or "",
        content_type=body.content_type or upload.content_type or "application/octet-stream",
        pii_map=parse_pii_map(body.pii_map), case_id=body.case_id,
        platform_user_id=body.platform_user_id, source=body.source or "console",
        reason_code=body.reason_code, ticket_ref=body.ticket_ref)
    messages.success(request, f"Stored {blob.id} (original encrypted, redacted copy made)")
    return redirect(_to(blob))


def _to(blob: EvidenceBlob) -> str:
    return reverse("evidence:blob", args=[blob.id])


def _shown(blob: EvidenceBlob, data: bytes) -> dict[str, str]:
    """How the page shows bytes: an image as a data: URI (the page's CSP allows those), text
    and JSON as text."""
    if blob.is_image:
        ctype = blob.content_type.split(";")[0].strip().lower()
        return {"image": f"data:{ctype};base64,{base64.b64encode(data).decode()}"}
    text = decode_text(data, blob.content_type)
    if len(text) > TEXT_PREVIEW_CHARS:
        text = text[:TEXT_PREVIEW_CHARS] + "\n…"
    return {"text": text}


@screen(Perm.EVIDENCE_VIEW)
def blob_page(request: HttpRequest, actor: Actor, blob_id: str) -> HttpResponse:
    """GET: the page with the redacted copy. POST (with a reason): the same page with the
    original shown as well, read through the audited, hash-checked service."""
    blob = selectors.blob_get(blob_id)
    original = None
    if request.method == "POST":
        body = validated(ReasonIn, {"reason_code": request.POST.get("reason_code", ""),
                                    "ticket_ref": request.POST.get("ticket_ref") or None},
                         what="the reason")
        data = services.evidence_original_read(actor=actor, blob=blob,
                                               reason_code=body.reason_code,
                                               ticket_ref=body.ticket_ref)
        original = _shown(blob, data)
    custody = selectors.custody(blob)
    return render(request, "evidence/blob.html", {
        "blob": blob, "original": original, "custody": custody,
        "holds": holds.holds_over(blob),
        "may_hold": has_perm(actor.roles, Perm.HOLDS_PLACE),
        "risks": {key: kind.risk.value for key, kind in ACTIONS.items()},
        "redacted": _shown(blob, services.evidence_redacted_read(actor=actor, blob=blob))
        if not blob.is_image else None,
        "is_json": family(blob.content_type) == "json",
        "may_original": has_perm(actor.roles, Perm.EVIDENCE_ORIGINAL),
        "may_shred": has_perm(actor.roles, Perm.EVIDENCE_SHRED),
        "may_audit": has_perm(actor.roles, Perm.AUDIT_VIEW),
    })


@screen(Perm.EVIDENCE_VIEW)
def blob_redacted(request: HttpRequest, actor: Actor, blob_id: str) -> HttpResponse:
    """The redacted copy's bytes, for the page's <img> (served inline, sandboxed)."""
    blob = selectors.blob_get(blob_id)
    return bytes_response(blob, services.evidence_redacted_read(actor=actor, blob=blob),
                          copy="redacted", inline=True)


@require_POST
@screen(Perm.EVIDENCE_SHRED)
def blob_shred(request: HttpRequest, actor: Actor, blob_id: str) -> HttpResponse:
    blob = selectors.blob_get(blob_id)
    body = validated(ReasonIn, {"reason_code": request.POST.get("reason_code", ""),
                                "ticket_ref": request.POST.get("ticket_ref") or None},
                     what="the reason")
    return change(request, lambda: services.evidence_shred(
        actor=actor, blob=blob, reason_code=body.reason_code, ticket_ref=body.ticket_ref),
        done=f"{blob.id} shredded: the original can no longer be read", redirect_to=_to(blob))
