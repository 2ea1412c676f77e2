"""Reads for the documents app: the clause library, templates, legs, packs and their PDFs."""

from __future__ import annotations

from django.db.models import QuerySet

from casefile.core.errors import NotFound
from casefile.documents import generation, storage
from casefile.documents.models import BookingLeg, Clause, DocPack, Document, SignEvent, Template


def clause_get(clause_id: str) -> Clause:
    found = Clause.objects.filter(pk=clause_id).first()
    if found is None:
        raise NotFound(f"no clause {clause_id}")
    return found


def clauses(*, name: str | None = None, published: bool | None = None) -> QuerySet[Clause]:
    """Newest first within a name; names in order."""
    rows = Clause.objects.all()
    if name:
        rows = rows.filter(name=name)
    if published is not None:
        rows = rows.filter(published_at__isnull=not published)
    return rows.order_by("name", "-version")


def clause_versions(clause: Clause) -> QuerySet[Clause]:
    return Clause.objects.filter(name=clause.name).order_by("-version")


def template_get(template_id: str) -> Template:
    found = Template.objects.filter(pk=template_id).first()
    if found is None:
        raise NotFound(f"no template {template_id}")
    return found


def templates(*, name: str | None = None, published: bool | None = None) -> QuerySet[Template]:
    rows = Template.objects.all()
    if name:
        rows = rows.filter(name=name)
    if published is not None:
        rows = rows.filter(published_at__isnull=not published)
    return rows.order_by("name", "-version")


def template_versions(template: Template) -> QuerySet[Template]:
    return Template.objects.filter(name=template.name).order_by("-version")


def leg_get(leg_id: str) -> BookingLeg:
    found = BookingLeg.objects.filter(pk=leg_id).first()
    if found is None:
        raise NotFound(f"no booking leg {leg_id}")
    return found


def legs() -> QuerySet[BookingLeg]:
    return BookingLeg.objects.order_by("-updated_at", "-id")


def packs_of(leg: BookingLeg) -> QuerySet[DocPack]:
    return leg.packs.order_by("-created_at", "-id")


def pack_get(pack_id: str) -> DocPack:
    found = DocPack.objects.select_related("leg").filter(pk=pack_id).first()
    if found is None:
        raise NotFound(f"no doc pack {pack_id}")
    return found


def documents_of(pack: DocPack) -> list[Document]:
    return list(pack.documents.select_related("template").order_by("position", "id"))


def document_get(doc_id: str) -> Document:
    found = Document.objects.select_related("pack", "template").filter(pk=doc_id).first()
    if found is None:
        raise NotFound(f"no document {doc_id}")
    return found


def sign_events_of(document: Document) -> QuerySet[SignEvent]:
    return document.sign_events.order_by("occurred_at", "received_at", "id")


def document_pdf(document: Document) -> bytes:
    """The v1 PDF: from the store once issued (checked against the store's hash and the
    document's), rendered again for a draft (and checked against the hash it recorded)."""
    if document.render_pdf_key:
        return storage.read_v1(document)
    pdf = generation.render_v1(document)
    if generation.sha256(pdf) != document.render_pdf_sha256:
        raise storage.DocumentIntegrityError(
            f"{document.id} renders to different bytes than at generation",
            details={"doc_id": document.id, "expected": document.render_pdf_sha256,
                     "actual": generation.sha256(pdf)})
    return pdf
