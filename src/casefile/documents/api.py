"""The documents API under /api/v1/documents (docs/documents.md): the clause library and
templates (legal), booking legs (the platform), doc packs and their PDFs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Router, Status

from casefile.accounts.access import require
from casefile.accounts.permissions import Perm
from casefile.core.schemas import Limit, Schema
from casefile.documents import policy, selectors, services
from casefile.documents.models import BookingLeg, Clause, DocPack, Document, Template
from casefile.documents.schemas import (
    ActiveIn,
    ClauseId,
    ClauseIn,
    ClauseVersionIn,
    DocumentId,
    GenerateIn,
    LegId,
    LegIn,
    PackId,
    PreviewIn,
    ReasonOnlyIn,
    TemplateId,
    TemplateIn,
    TemplateVersionIn,
    VoidIn,
    leg_kwargs,
)

router = Router(tags=["documents"])

_PDF = {"200": {"description": "the PDF", "content": {
    "application/pdf": {"schema": {"type": "string", "format": "binary"}}}}}


class ClauseOut(Schema):
    id: str
    name: str
    version: int
    city_gate: list[str] | None
    role_gate: list[str] | None
    is_active: bool
    body_markdown: str
    variables_json: dict[str, Any]
    created_by: str
    created_at: datetime
    published_at: datetime | None
    published_by: str

    @staticmethod
    def of(c: Clause) -> ClauseOut:
        return ClauseOut(id=c.id, name=c.name, version=c.version, city_gate=c.city_gate,
                         role_gate=c.role_gate, is_active=c.is_active,
                         body_markdown=c.body_markdown, variables_json=c.variables_json,
                         created_by=c.created_by, created_at=c.created_at,
                         published_at=c.published_at, published_by=c.published_by)


class TemplateOut(Schema):
    id: str
    name: str
    version: int
    city_gate: list[str] | None
    role_gate: list[str] | None
    clauses_ordered: list[dict[str, Any]]
    layout_json: dict[str, Any]
    signer_roles: list[dict[str, Any]]
    is_active: bool
    created_by: str
    created_at: datetime
    published_at: datetime | None
    published_by: str

    @staticmethod
    def of(t: Template) -> TemplateOut:
        return TemplateOut(id=t.id, name=t.name, version=t.version, city_gate=t.city_gate,
                           role_gate=t.role_gate, clauses_ordered=t.clauses_ordered,
                           layout_json=t.layout_json, signer_roles=t.signer_roles,
                           is_active=t.is_active, created_by=t.created_by,
                           created_at=t.created_at, published_at=t.published_at,
                           published_by=t.published_by)


class ClauseListOut(Schema):
    items: list[ClauseOut]


class TemplateListOut(Schema):
    items: list[TemplateOut]


class LegOut(Schema):
    id: str
    city: str
    provider_role: str
    parties: dict[str, Any]
    facts: dict[str, Any]
    starts_at: datetime | None
    ends_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def of(leg: BookingLeg) -> LegOut:
        return LegOut(id=leg.id, city=leg.city, provider_role=leg.provider_role,
                      parties=leg.parties, facts=leg.facts, starts_at=leg.starts_at,
                      ends_at=leg.ends_at, created_at=leg.created_at, updated_at=leg.updated_at)


class LegUpsertOut(Schema):
    leg: LegOut
    changed: bool


class DocumentOut(Schema):
    id: str
    pack_id: str
    position: int
    title: str
    template_id: str
    template_version: int
    variables_filled: dict[str, Any]
    render_pdf_key: str
    render_pdf_sha256: str
    envelope_provider: str
    envelope_id: str
    envelope_status: str
    signer_map_json: dict[str, Any]
    signed_pdf_key: str
    signed_pdf_sha256: str
    created_at: datetime
    updated_at: datetime

    @staticmethod
    def of(d: Document) -> DocumentOut:
        return DocumentOut(
            id=d.id, pack_id=d.pack_id, position=d.position, title=d.title,
            template_id=d.template_id, template_version=d.template_version,
            variables_filled=d.variables_filled, render_pdf_key=d.render_pdf_key,
            render_pdf_sha256=d.render_pdf_sha256, envelope_provider=d.envelope_provider,
            envelope_id=d.envelope_id, envelope_status=d.envelope_status,
            signer_map_json=d.signer_map_json, signed_pdf_key=d.signed_pdf_key,
            signed_pdf_sha256=d.signed_pdf_sha256, created_at=d.created_at,
            updated_at=d.updated_at)


class PackOut(Schema):
    id: str
    leg_id: str
    status: str
    allowed: list[str]  # the statuses it may move to next (documents.policy.TRANSITIONS)
    generator_ver: str
    city: str
    ends_at: datetime | None
    retain_until: datetime | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    issued_at: datetime | None
    signed_at: datetime | None
    voided_at: datetime | None
    void_reason: str
    superseded_by: str | None
    documents: list[DocumentOut]

    @staticmethod
    def of(p: DocPack) -> PackOut:
        return PackOut(
            id=p.id, leg_id=p.leg_id, status=p.status,
            allowed=sorted(policy.TRANSITIONS[p.status]), generator_ver=p.generator_ver,
            city=p.city, ends_at=p.ends_at, retain_until=p.retain_until,
            created_by=p.created_by, created_at=p.created_at, updated_at=p.updated_at,
            issued_at=p.issued_at, signed_at=p.signed_at, voided_at=p.voided_at,
            void_reason=p.void_reason, superseded_by=p.superseded_by_id,
            documents=[DocumentOut.of(d) for d in selectors.documents_of(p)])


class PackListOut(Schema):
    items: list[PackOut]


def _pdf(data: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(data, content_type="application/pdf")
    # Shown in the console's frame (same origin), saved under its id when downloaded.
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


# --- clauses --------------------------------------------------------------------------------
@router.get("/clauses", response=ClauseListOut,
            summary="Clause versions, by name, newest version first")
def clause_list(request: HttpRequest, name: str | None = None, published: bool | None = None,
                limit: Limit = 100):
    require(request, Perm.DOCUMENTS_VIEW)
    rows = selectors.clauses(name=name, published=published)[:limit]
    return {"items": [ClauseOut.of(c) for c in rows]}


@router.post("/clauses", response={201: ClauseOut}, summary="Draft version 1 of a new clause")
def clause_create(request: HttpRequest, body: ClauseIn):
    actor = require(request, Perm.DOCUMENTS_AUTHOR)
    return Status(201, ClauseOut.of(services.clause_create(actor=actor, **body.model_dump())))


@router.get("/clauses/{clause_id}", response=ClauseOut, summary="A clause version")
def clause_get(request: HttpRequest, clause_id: ClauseId):
    require(request, Perm.DOCUMENTS_VIEW)
    return ClauseOut.of(selectors.clause_get(clause_id))


@router.post("/clauses/{clause_id}/versions", response={201: ClauseOut},
             summary="Draft the next version of the clause's name")
def clause_new_version(request: HttpRequest, clause_id: ClauseId, body: ClauseVersionIn):
    actor = require(request, Perm.DOCUMENTS_AUTHOR)
    clause = selectors.clause_get(clause_id)
    return Status(201, ClauseOut.of(services.clause_new_version(actor=actor, clause=clause,
                                                                **body.model_dump())))


@router.post("/clauses/{clause_id}/publish", response=ClauseOut,
             summary="Publish a draft clause version (it never changes again)")
def clause_publish(request: HttpRequest, clause_id: ClauseId, body: ReasonOnlyIn):
    actor = require(request, Perm.DOCUMENTS_AUTHOR)
    return ClauseOut.of(services.clause_publish(actor=actor,
                                                clause=selectors.clause_get(clause_id),
                                                reason_code=body.reason_code))


@router.post("/clauses/{clause_id}/active", response=ClauseOut,
             summary="Withdraw a clause version from new templates, or return it")
def clause_active(request: HttpRequest, clause_id: ClauseId, body: ActiveIn):
    actor = require(request, Perm.DOCUMENTS_AUTHOR)
    return ClauseOut.of(services.clause_set_active(
        actor=actor, clause=selectors.clause_get(clause_id), active=body.active,
        reason_code=body.reason_code))


# --- templates ------------------------------------------------------------------------------
@router.get("/templates", response=TemplateListOut,
            summary="Template versions, by name, newest version first")
def template_list(request: HttpRequest, name: str | None = None,
                  published: bool | None = None, limit: Limit = 100):
    require(request, Perm.DOCUMENTS_VIEW)
    rows = selectors.templates(name=name, published=published)[:limit]
    return {"items": [TemplateOut.of(t) for t in rows]}


@router.post("/templates", response={201: TemplateOut},
             summary="Draft version 1 of a new template")
def template_create(request: HttpRequest, body: TemplateIn):
    actor = require(request, Perm.DOCUMENTS_AUTHOR)
    return Status(201, TemplateOut.of(services.template_create(actor=actor,
                                                               **body.model_dump())))


@router.get("/templates/{template_id}", response=TemplateOut, summary="A template version")
def template_get(request: HttpRequest, template_id: TemplateId):
    require(request, Perm.DOCUMENTS_VIEW)
    return TemplateOut.of(selectors.template_get(template_id))


@router.post("/templates/{template_id}/versions", response={201: TemplateOut},
             summary="Draft the next version of the template's name")
def template_new_version(request: HttpRequest, template_id: TemplateId,
                         body: TemplateVersionIn):
    actor = require(request, Perm.DOCUMENTS_AUTHOR)
    template = selectors.template_get(template_id)
    return Status(201, TemplateOut.of(services.template_new_version(
        actor=actor, template=template, **body.model_dump())))


@router.post("/templates/{template_id}/publish", response=TemplateOut,
             summary="Publish a draft template version (packs are generated from it)")
def template_publish(request: HttpRequest, template_id: TemplateId, body: ReasonOnlyIn):
    actor = require(request, Perm.DOCUMENTS_AUTHOR)
    return TemplateOut.of(services.template_publish(
        actor=actor, template=selectors.template_get(template_id),
        reason_code=body.reason_code))


@router.post("/templates/{template_id}/active", response=TemplateOut,
             summary="Withdraw a template version from pack generation, or return it")
def template_active(request: HttpRequest, template_id: TemplateId, body: ActiveIn):
    actor = require(request, Perm.DOCUMENTS_AUTHOR)
    return TemplateOut.of(services.template_set_active(
        actor=actor, template=selectors.template_get(template_id), active=body.active,
        reason_code=body.reason_code))


@router.post("/templates/{template_id}/preview", response={200: None},
             openapi_extra={"responses": _PDF},
             summary="The template rendered with sample variables (a PDF kept nowhere)")
def template_preview(request: HttpRequest, template_id: TemplateId, body: PreviewIn) -> Any:
    actor = require(request, Perm.DOCUMENTS_AUTHOR)
    template = selectors.template_get(template_id)
    return _pdf(services.template_preview(actor=actor, template=template,
                                          variables=body.variables),
                f"preview-{template.id}.pdf")


# --- legs and packs -------------------------------------------------------------------------
@router.put("/legs/{leg_id}", response=LegUpsertOut,
            summary="Upsert a booking leg (the platform's machine identity; idempotent)")
def leg_upsert(request: HttpRequest, leg_id: LegId, body: LegIn):
    actor = require(request, Perm.PLATFORM_SYNC)
    leg, changed = services.booking_leg_upsert(actor=actor, leg_id=leg_id, **leg_kwargs(body))
    return {"leg": LegOut.of(leg), "changed": changed}


@router.get("/legs/{leg_id}", response=LegOut, summary="A booking leg")
def leg_get(request: HttpRequest, leg_id: LegId):
    require(request, Perm.DOCUMENTS_VIEW)
    return LegOut.of(selectors.leg_get(leg_id))


@router.get("/legs/{leg_id}/packs", response=PackListOut, summary="A leg's packs, newest first")
def leg_packs(request: HttpRequest, leg_id: LegId):
    require(request, Perm.DOCUMENTS_VIEW)
    return {"items": [PackOut.of(p) for p in selectors.packs_of(selectors.leg_get(leg_id))]}


@router.post("/legs/{leg_id}/packs", response={201: PackOut},
             summary="Generate the leg's doc pack (422 names each missing or invalid variable)")
def pack_generate(request: HttpRequest, leg_id: LegId, body: GenerateIn):
    actor = require(request, Perm.DOCUMENTS_ISSUE)
    pack = services.doc_pack_generate(actor=actor, leg=selectors.leg_get(leg_id),
                                      issue=body.issue, reason_code=body.reason_code)
    return Status(201, PackOut.of(pack))


@router.get("/packs/{pack_id}", response=PackOut, summary="A doc pack with its documents")
def pack_get(request: HttpRequest, pack_id: PackId):
    require(request, Perm.DOCUMENTS_VIEW)
    return PackOut.of(selectors.pack_get(pack_id))


@router.post("/packs/{pack_id}/issue", response=PackOut,
             summary="Issue a draft pack: its PDFs written once to the store under retention")
def pack_issue(request: HttpRequest, pack_id: PackId, body: ReasonOnlyIn):
    actor = require(request, Perm.DOCUMENTS_ISSUE)
    pack = services.doc_pack_issue(actor=actor, pack=selectors.pack_get(pack_id),
                                   reason_code=body.reason_code)
    return PackOut.of(selectors.pack_get(pack.id))


@router.post("/packs/{pack_id}/void", response=PackOut, summary="Void a draft or issued pack")
def pack_void(request: HttpRequest, pack_id: PackId, body: VoidIn):
    actor = require(request, Perm.DOCUMENTS_ISSUE)
    pack = services.doc_pack_void(actor=actor, pack=selectors.pack_get(pack_id),
                                  reason=body.reason, reason_code=body.reason_code)
    return PackOut.of(selectors.pack_get(pack.id))


@router.get("/documents/{doc_id}", response=DocumentOut, summary="A document of a pack")
def document_get(request: HttpRequest, doc_id: DocumentId):
    require(request, Perm.DOCUMENTS_VIEW)
    return DocumentOut.of(selectors.document_get(doc_id))


@router.get("/documents/{doc_id}/pdf", response={200: None}, openapi_extra={"responses": _PDF},
            summary="The document's v1 PDF from the store, its SHA-256 checked")
def document_pdf(request: HttpRequest, doc_id: DocumentId) -> Any:
    require(request, Perm.DOCUMENTS_VIEW)
    document = selectors.document_get(doc_id)
    return _pdf(selectors.document_pdf(document), f"{document.id}_v1.pdf")


# Signing (documents.signing_api): sending a pack for signature, a document's sign events.
from casefile.documents.signing_api import router as _signing_router  # noqa: E402

router.add_router("", _signing_router)
