"""From a template, its pinned clauses and a leg's variables to a document's v1 PDF.

Pure reads and rendering, no writes: pack generation (services), the preview, and anyone
re-rendering a document to check its bytes (`render_v1`) use the same steps, so a document
rendered again from its row gives the bytes whose SHA-256 it recorded.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from casefile.core.errors import ValidationFailed
from casefile.documents import render, templating
from casefile.documents.models import Clause, Document, Template


def gate_allows(gate: list[str] | None, value: str) -> bool:
    """`null` lets every value through; a list, the values it names."""
    return gate is None or value in gate


@dataclass(frozen=True)
class Pinned:
    clause: Clause
    order: int


def pinned_clauses(template: Template) -> list[Pinned]:
    """The template's clauses, each the exact version it pinned, in order."""
    entries = sorted(template.clauses_ordered, key=lambda e: e["order"])
    found = {(c.id, c.version): c for c in Clause.objects.filter(
        pk__in=[e["clause_id"] for e in entries])}
    pinned = []
    for entry in entries:
        clause = found.get((entry["clause_id"], entry["version"]))
        if clause is None:  # a template only pins published versions, which are never deleted
            raise ValidationFailed(f"{template.id} pins {entry['clause_id']} v{entry['version']}, "
                                   "which does not exist")
        pinned.append(Pinned(clause=clause, order=entry["order"]))
    return pinned


def included(pinned: Iterable[Pinned], *, city: str, provider_role: str) -> list[Pinned]:
    """A clause gated away from the leg's city or role is left out of its document (a clause
    for one city inside a template for all)."""
    return [p for p in pinned if gate_allows(p.clause.city_gate, city)
            and gate_allows(p.clause.role_gate, provider_role)]


def schemas(pinned: Iterable[Pinned]) -> list[templating.ClauseSchema]:
    return [templating.ClauseSchema(clause_id=p.clause.id, name=p.clause.name,
                                    version=p.clause.version, schema=p.clause.variables_json)
            for p in pinned]


def render_input(*, template: Template, doc_id: str, pinned: Sequence[Pinned],
                 variables: dict[str, Any]) -> render.RenderInput:
    """The renderer's input; 422 naming each variable a body could not be rendered with."""
    layout = render.layout_from_json(template.layout_json)
    sections, problems = [], []
    for p in pinned:
        try:
            text = templating.render_body(p.clause.body_markdown, variables)
        except templating.RenderFailed as exc:
            problems.append({"field": exc.field, "message": exc.message,
                             "clauses": [{"clause_id": p.clause.id, "name": p.clause.name,
                                          "version": p.clause.version}]})
            continue
        sections.append(render.Section(
            title=p.clause.name, markdown=text,
            page_break_before=p.clause.id in layout.page_break_before))
    if problems:
        raise ValidationFailed(
            f"{len(problems)} variable(s) could not be rendered: "
            + "; ".join(f"{p['field']}: {p['message']}" for p in problems),
            details={"variables": problems})
    return render.RenderInput(title=template.name, doc_id=doc_id, sections=tuple(sections),
                              layout=layout)


def render_document(*, template: Template, doc_id: str, variables: dict[str, Any],
                    gated: bool = True) -> bytes:
    """Check the variables against every included clause's schema (naming each problem), then
    render. The leg's city and role, which gate clauses, are read from the variables (a
    preview without a leg is not gated)."""
    pinned = _pinned_for(template, variables, gated=gated)
    templating.check_variables(variables, schemas(pinned))
    return render.render_pdf(render_input(template=template, doc_id=doc_id, pinned=pinned,
                                          variables=variables))


def _pinned_for(template: Template, variables: dict[str, Any], *, gated: bool = True
                ) -> list[Pinned]:
    pinned = pinned_clauses(template)
    if gated:
        leg = variables.get("leg") or {}
        pinned = included(pinned, city=leg.get("city", ""),
                          provider_role=leg.get("provider_role", ""))
    return pinned


def document_render_input(document: Document) -> render.RenderInput:
    """What the document's v1 was rendered from: its template version, the clause versions it
    pinned (gated as at generation) and the variables stored then — for the signed copy, which
    is those pages followed by the certificate."""
    variables = document.variables_filled
    return render_input(template=document.template, doc_id=document.id,
                        pinned=_pinned_for(document.template, variables), variables=variables)


def render_v1(document: Document) -> bytes:
    """The document's v1 PDF rendered again from its row: its template version, the clause
    versions that template pinned, and the variables stored at generation."""
    return render_document(template=document.template, doc_id=document.id,
                           variables=document.variables_filled)


def generator_version(templates: Sequence[Template]) -> str:
    """What generated a pack (DESIGN 9.5): the renderer's version (its code, fpdf2's and
    markdown-it-py's versions, the fonts) and each template's and pinned clause's id and
    version."""
    parts = [render.RENDERER_VERSION]
    for template in templates:
        parts.append(f"{template.id}:{template.version}")
        parts += [f"  {e['clause_id']}:{e['version']}"
                  for e in sorted(template.clauses_ordered, key=lambda e: e["order"])]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
