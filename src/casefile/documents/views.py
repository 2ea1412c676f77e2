"""Console screens for documents: the clause library and templates with their editors and a
PDF preview, and a booking leg's page with its packs, their documents (the PDF shown in the
page), signature events and legal holds.

Forms are read by the API's schemas (`documents.schemas`) and every write goes through
`services`; changes are previewed before they apply (`console.change`), except issuing a pack,
whose PDFs are written to the write-once store on the way to its audit entry (a preview would
leave them behind)."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from casefile.accounts.permissions import Perm, has_perm
from casefile.audit.actor import Actor
from casefile.core.console import change, reason, screen
from casefile.core.errors import ValidationFailed
from casefile.core.validation import validated
from casefile.documents import policy, selectors, services
from casefile.documents.models import Clause, Template
from casefile.documents.schemas import (
    ActiveIn,
    ClauseIn,
    ClauseVersionIn,
    GenerateIn,
    PreviewIn,
    ReasonOnlyIn,
    TemplateIn,
    TemplateVersionIn,
    VoidIn,
)
from casefile.holds.selectors import active_holds_over

PDF_CSP = "frame-ancestors 'self'"  # framed by the console's own pages, nothing else


def _json_field(request: HttpRequest, name: str, default: Any = None) -> Any:
    raw = request.POST.get(name, "").strip()
    if not raw:
        return default
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValidationFailed(f"{name}: not JSON ({exc.msg} at line {exc.lineno}, column "
                               f"{exc.colno})", details={"field": name}) from None


def _gate(request: HttpRequest, name: str) -> list[str] | None:
    """A gate as typed: codes separated by commas or spaces; blank means any."""
    codes = [c for c in request.POST.get(name, "").replace(",", " ").split() if c]
    return codes or None


def _form(request: HttpRequest, schema, *, text=(), json_fields=(), gates=(), what: str,
          **extra) -> Any:
    code, _ticket = reason(request)
    data: dict[str, Any] = {name: request.POST.get(name, "") for name in text}
    data.update({name: _json_field(request, name) for name in json_fields})
    data.update({name: _gate(request, name) for name in gates})
    return validated(schema, {**data, **extra, "reason_code": code}, what=what, strict=False)


def _pdf(data: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    response["Content-Security-Policy"] = PDF_CSP
    response["X-Frame-Options"] = "SAMEORIGIN"
    return response


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False) if value is not None else ""


def _gate_text(gate: list[str] | None) -> str:
    return ", ".join(gate) if gate else ""


# --- the library ----------------------------------------------------------------------------
@screen(Perm.DOCUMENTS_VIEW)
def library(request: HttpRequest, actor: Actor) -> HttpResponse:
    return render(request, "documents/library.html", {
        "clauses": selectors.clauses()[:500], "templates": selectors.templates()[:500],
        "legs": selectors.legs()[:50],
        "may_author": has_perm(actor.roles, Perm.DOCUMENTS_AUTHOR)})


def _clause_context(actor: Actor, clause: Clause | None) -> dict[str, Any]:
    return {"clause": clause,
            "versions": selectors.clause_versions(clause) if clause else [],
            "roles": policy.ProviderRole.values,
            "may_author": has_perm(actor.roles, Perm.DOCUMENTS_AUTHOR),
            "body": clause.body_markdown if clause else "",
            "variables": _pretty(clause.variables_json if clause else
                                 {"type": "object", "required": [], "properties": {}}),
            "city_gate": _gate_text(clause.city_gate) if clause else "",
            "role_gate": _gate_text(clause.role_gate) if clause else ""}


@screen(Perm.DOCUMENTS_VIEW)
def clause_page(request: HttpRequest, actor: Actor, clause_id: str) -> HttpResponse:
    return render(request, "documents/clause.html",
                  _clause_context(actor, selectors.clause_get(clause_id)))


@screen(Perm.DOCUMENTS_AUTHOR)
def clause_new(request: HttpRequest, actor: Actor) -> HttpResponse:
    if request.method != "POST":
        return render(request, "documents/clause.html", _clause_context(actor, None))
    body = _form(request, ClauseIn, text=("name", "body_markdown"),
                 json_fields=("variables_json",), gates=("city_gate", "role_gate"),
                 what="the clause")
    return change(request, lambda: services.clause_create(actor=actor, **body.model_dump()),
                  done=f"Clause {body.name!r} v1 drafted",
                  redirect_to=reverse("documents:library"))


def _to_clause(clause: Clause) -> str:
    return reverse("documents:clause", args=[clause.id])


@require_POST
@screen(Perm.DOCUMENTS_AUTHOR)
def clause_version(request: HttpRequest, actor: Actor, clause_id: str) -> HttpResponse:
    clause = selectors.clause_get(clause_id)
    body = _form(request, ClauseVersionIn, text=("body_markdown",),
                 json_fields=("variables_json",), gates=("city_gate", "role_gate"),
                 what="the clause")
    return change(request, lambda: services.clause_new_version(actor=actor, clause=clause,
                                                               **body.model_dump()),
                  done=f"The next version of {clause.name!r} drafted",
                  redirect_to=reverse("documents:library"))


@require_POST
@screen(Perm.DOCUMENTS_AUTHOR)
def clause_publish(request: HttpRequest, actor: Actor, clause_id: str) -> HttpResponse:
    clause = selectors.clause_get(clause_id)
    body = _form(request, ReasonOnlyIn, what="the publication")
    return change(request, lambda: services.clause_publish(actor=actor, clause=clause,
                                                           reason_code=body.reason_code),
                  done=f"{clause} published", redirect_to=_to_clause(clause))


@require_POST
@screen(Perm.DOCUMENTS_AUTHOR)
def clause_active(request: HttpRequest, actor: Actor, clause_id: str) -> HttpResponse:
    clause = selectors.clause_get(clause_id)
    body = _form(request, ActiveIn, text=("active",), what="the change")
    return change(request, lambda: services.clause_set_active(
        actor=actor, clause=clause, active=body.active, reason_code=body.reason_code),
        done=f"{clause} {'returned' if body.active else 'withdrawn'}",
        redirect_to=_to_clause(clause))


# --- templates ------------------------------------------------------------------------------
def _template_context(actor: Actor, template: Template | None) -> dict[str, Any]:
    return {"template": template,
            "versions": selectors.template_versions(template) if template else [],
            "pinned": _pinned(template) if template else [],
            "published_clauses": selectors.clauses(published=True).filter(is_active=True)[:500],
            "roles": policy.ProviderRole.values, "signer_roles": policy.SignerRole.values,
            "may_author": has_perm(actor.roles, Perm.DOCUMENTS_AUTHOR),
            "clauses_ordered": _pretty(template.clauses_ordered if template else []),
            "layout": _pretty(template.layout_json if template else
                              {"page_size": "A4", "header": "", "footer": "Page {page} of "
                                                                         "{pages}"}),
            "signers": _pretty(template.signer_roles if template else
                               [{"role": "buyer", "required": True, "order": 1},
                                {"role": "talent", "required": True, "order": 2}]),
            "city_gate": _gate_text(template.city_gate) if template else "",
            "role_gate": _gate_text(template.role_gate) if template else ""}


def _pinned(template: Template) -> list[Any]:
    from casefile.documents import generation

    try:
        return generation.pinned_clauses(template)
    except ValidationFailed:
        return []


@screen(Perm.DOCUMENTS_VIEW)
def template_page(request: HttpRequest, actor: Actor, template_id: str) -> HttpResponse:
    return render(request, "documents/template.html",
                  _template_context(actor, selectors.template_get(template_id)))


_TEMPLATE_JSON = ("clauses_ordered", "layout_json", "signer_roles")


@screen(Perm.DOCUMENTS_AUTHOR)
def template_new(request: HttpRequest, actor: Actor) -> HttpResponse:
    if request.method != "POST":
        return render(request, "documents/template.html", _template_context(actor, None))
    body = _form(request, TemplateIn, text=("name",), json_fields=_TEMPLATE_JSON,
                 gates=("city_gate", "role_gate"), what="the template")
    return change(request, lambda: services.template_create(actor=actor, **body.model_dump()),
                  done=f"Template {body.name!r} v1 drafted",
                  redirect_to=reverse("documents:library"))


def _to_template(template: Template) -> str:
    return reverse("documents:template", args=[template.id])


@require_POST
@screen(Perm.DOCUMENTS_AUTHOR)
def template_version(request: HttpRequest, actor: Actor, template_id: str) -> HttpResponse:
    template = selectors.template_get(template_id)
    body = _form(request, TemplateVersionIn, json_fields=_TEMPLATE_JSON,
                 gates=("city_gate", "role_gate"), what="the template")
    return change(request, lambda: services.template_new_version(
        actor=actor, template=template, **body.model_dump()),
        done=f"The next version of {template.name!r} drafted",
        redirect_to=reverse("documents:library"))


@require_POST
@screen(Perm.DOCUMENTS_AUTHOR)
def template_publish(request: HttpRequest, actor: Actor, template_id: str) -> HttpResponse:
    template = selectors.template_get(template_id)
    body = _form(request, ReasonOnlyIn, what="the publication")
    return change(request, lambda: services.template_publish(actor=actor, template=template,
                                                             reason_code=body.reason_code),
                  done=f"{template} published", redirect_to=_to_template(template))


@require_POST
@screen(Perm.DOCUMENTS_AUTHOR)
def template_active(request: HttpRequest, actor: Actor, template_id: str) -> HttpResponse:
    template = selectors.template_get(template_id)
    body = _form(request, ActiveIn, text=("active",), what="the change")
    return change(request, lambda: services.template_set_active(
        actor=actor, template=template, active=body.active, reason_code=body.reason_code),
        done=f"{template} {'returned' if body.active else 'withdrawn'}",
        redirect_to=_to_template(template))


@screen(Perm.DOCUMENTS_AUTHOR)
def template_preview(request: HttpRequest, actor: Actor, template_id: str) -> HttpResponse:
    """The PDF shown in the editor's frame: with the clauses' sample variables (GET), or with
    the variables typed beside it (a POST whose target is the frame)."""
    template = selectors.template_get(template_id)
    variables = None
    if request.method == "POST":
        variables = validated(PreviewIn, {"variables": _json_field(request, "variables")},
                              what="the sample variables").variables
    return _pdf(services.template_preview(actor=actor, template=template, variables=variables),
                f"preview-{template.id}.pdf")


# --- legs and packs -------------------------------------------------------------------------
@screen(Perm.DOCUMENTS_VIEW)
def leg_page(request: HttpRequest, actor: Actor, leg_id: str) -> HttpResponse:
    leg = selectors.leg_get(leg_id)
    packs = []
    for pack in selectors.packs_of(leg):
        documents = [{"doc": d, "events": selectors.sign_events_of(d),
                      "holds": active_holds_over("document", d.id)}
                     for d in selectors.documents_of(pack)]
        packs.append({"pack": pack, "documents": documents,
                      "allowed": sorted(policy.TRANSITIONS[pack.status]),
                      "holds": active_holds_over("doc_pack", pack.id)})
    return render(request, "documents/leg.html", {
        "leg": leg, "packs": packs, "templates": services.selected_templates(leg),
        "may_issue": has_perm(actor.roles, Perm.DOCUMENTS_ISSUE),
        "may_hold": has_perm(actor.roles, Perm.HOLDS_PLACE)})


def _to_leg(leg_id: str) -> str:
    return reverse("documents:leg", args=[leg_id])


@require_POST
@screen(Perm.DOCUMENTS_ISSUE)
def pack_generate(request: HttpRequest, actor: Actor, leg_id: str) -> HttpResponse:
    leg = selectors.leg_get(leg_id)
    body = _form(request, GenerateIn, text=("issue",) if request.POST.get("issue") else (),
                 what="the pack")
    if body.issue:  # its PDFs are written once on the way: no preview
        if request.POST.get("preview"):
            raise ValidationFailed("issuing writes the PDFs to the write-once store: it cannot "
                                   "be previewed (preview without 'Issue at once')")
        services.doc_pack_generate(actor=actor, leg=leg, issue=True,
                                   reason_code=body.reason_code)
        messages.success(request, "A new pack was generated and issued")
        return redirect(_to_leg(leg.id))
    return change(request, lambda: services.doc_pack_generate(
        actor=actor, leg=leg, reason_code=body.reason_code),
        done="A draft pack was generated", redirect_to=_to_leg(leg.id))


@require_POST
@screen(Perm.DOCUMENTS_ISSUE)
def pack_issue(request: HttpRequest, actor: Actor, pack_id: str) -> HttpResponse:
    pack = selectors.pack_get(pack_id)
    body = _form(request, ReasonOnlyIn, what="the issue")
    services.doc_pack_issue(actor=actor, pack=pack, reason_code=body.reason_code)
    messages.success(request, f"Pack {pack.id} issued: its PDFs are in the write-once store")
    return redirect(_to_leg(pack.leg_id))


@require_POST
@screen(Perm.DOCUMENTS_ISSUE)
def pack_void(request: HttpRequest, actor: Actor, pack_id: str) -> HttpResponse:
    pack = selectors.pack_get(pack_id)
    body = _form(request, VoidIn, text=("reason",), what="the void")
    return change(request, lambda: services.doc_pack_void(
        actor=actor, pack=pack, reason=body.reason, reason_code=body.reason_code),
        done=f"Pack {pack.id} voided", redirect_to=_to_leg(pack.leg_id))


@screen(Perm.DOCUMENTS_VIEW)
def document_pdf(request: HttpRequest, actor: Actor, doc_id: str) -> HttpResponse:
    document = selectors.document_get(doc_id)
    return _pdf(selectors.document_pdf(document), f"{document.id}_v1.pdf")
