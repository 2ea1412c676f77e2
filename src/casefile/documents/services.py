"""Writes for the documents app (DESIGN 9.5): the clause library and templates, booking legs,
and doc packs.

Every verb authorises, changes and records exactly one audit entry (before/after) in one
transaction. Authoring is legal's (`documents.author`); a leg comes from the platform's machine
identity (`platform.sync`), idempotently; packs are generated, issued and voided by the
platform at checkout or by legal (`documents.issue`). A machine records the registry's system
reason; a person gives theirs.

Versions only grow: an edit is a new row with the next version of the same name, and a
published row never changes again (the services refuse, and a trigger refuses whatever gets
past them: documents/triggers.py). A pack moves by `documents.policy.TRANSITIONS` only.

Store writes are not transactional: a pack's PDFs are written while its issue's transaction
is open, after its row is locked; if that transaction then fails, the objects stay behind
under retention with no row naming them (as evidence does, docs/evidence.md).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction

from casefile.accounts.permissions import Perm
from casefile.audit import ledger
from casefile.audit.actor import Actor
from casefile.audit.snapshot import snapshot
from casefile.core import ids
from casefile.core.errors import Conflict, InvalidTransition, ValidationFailed
from casefile.core.schemas import check_json
from casefile.core.timeutil import isoformat, now
from casefile.documents import generation, storage, templating
from casefile.documents.models import BookingLeg, Clause, DocPack, Document, Template
from casefile.documents.policy import (
    LIVE_STATUSES,
    PackStatus,
    ProviderRole,
    SignerRole,
    can_move,
)
from casefile.documents.variables import RESERVED, leg_variables

NAME_LIMIT = 200
BODY_LIMIT = 100 * 1024
CITY_LIMIT = 40


def _reason(actor: Actor, reason_code: str | None) -> str | None:
    """A person's reason (required, known: 422 before anything changes); a machine's is the
    registry's, so whatever it sent is not recorded as its reason."""
    return None if actor.is_machine else actor.reason(reason_code)


def _by(actor: Actor) -> str:
    return actor.user.id if actor.user is not None else "system"


# --- input checks -----------------------------------------------------------------------------
def _name(value: str) -> str:
    value = (value or "").strip()
    if not value or len(value) > NAME_LIMIT or "\x00" in value:
        raise ValidationFailed(f"name: 1 to {NAME_LIMIT} characters, without NUL",
                               details={"field": "name"})
    return value


def city_code(value: str, *, field: str = "city") -> str:
    """City codes are compared as upper-case text (`nyc` and `NYC` are one city)."""
    value = (value or "").strip().upper()
    if not value or len(value) > CITY_LIMIT or "\x00" in value:
        raise ValidationFailed(f"{field}: 1 to {CITY_LIMIT} characters",
                               details={"field": field})
    return value


def _gate(value: Any, *, field: str, allowed: list[str] | None = None) -> list[str] | None:
    """`null` (every value) or a non-empty list of distinct values, kept sorted."""
    if value is None:
        return None
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ValidationFailed(f"{field}: null (any) or a non-empty list of codes",
                               details={"field": field})
    if allowed is None:
        codes = {city_code(v, field=field) for v in value}
    else:
        codes = {v.strip() for v in value}
        unknown = sorted(codes - set(allowed))
        if unknown:
            raise ValidationFailed(f"{field}: unknown {', '.join(unknown)} (one of "
                                   f"{', '.join(allowed)})", details={"field": field,
                                                                      "unknown": unknown})
    return sorted(codes)


def _json(value: Any, field: str) -> Any:
    try:
        check_json(value)
    except ValueError as exc:
        raise ValidationFailed(f"{field}: {exc}", details={"field": field}) from None
    return value


def _clause_fields(*, body_markdown: str, variables_json: Any, city_gate: Any,
                   role_gate: Any) -> dict[str, Any]:
    if not isinstance(body_markdown, str) or not body_markdown.strip() \
            or len(body_markdown) > BODY_LIMIT or "\x00" in body_markdown:
        raise ValidationFailed(f"body_markdown: 1 to {BODY_LIMIT} characters, without NUL",
                               details={"field": "body_markdown"})
    schema = templating.check_schema(_json(variables_json, "variables_json"))
    templating.check_body(body_markdown, schema)
    return {"body_markdown": body_markdown, "variables_json": schema,
            "city_gate": _gate(city_gate, field="city_gate"),
            "role_gate": _gate(role_gate, field="role_gate", allowed=ProviderRole.values)}


def _clauses_ordered(value: Any) -> list[dict[str, Any]]:
    """[{clause_id, version, order}], each a published, active clause version, orders distinct;
    stored in order."""
    if not isinstance(value, list) or not value:
        raise ValidationFailed("clauses_ordered: a non-empty list of {clause_id, version, order}",
                               details={"field": "clauses_ordered"})
    problems, entries = [], []
    for i, item in enumerate(value):
        where = f"clauses_ordered.{i}"
        if not isinstance(item, dict) or set(item) != {"clause_id", "version", "order"} \
                or not isinstance(item["clause_id"], str) \
                or not all(isinstance(item[k], int) and not isinstance(item[k], bool)
                           for k in ("version", "order")):
            problems.append({"field": where, "message": "must be {clause_id: text, version: "
                                                        "integer, order: integer}"})
            continue
        entries.append((where, item))
    found = {(c.id, c.version): c for c in Clause.objects.filter(
        pk__in=[item["clause_id"] for _, item in entries])}
    for where, item in entries:
        clause = found.get((item["clause_id"], item["version"]))
        if clause is None:
            problems.append({"field": where, "message": f"no clause {item['clause_id']} "
                                                        f"version {item['version']}"})
        elif clause.published_at is None:
            problems.append({"field": where, "message": f"{clause} is not published: a "
                                                        "template pins published versions"})
        elif not clause.is_active:
            problems.append({"field": where, "message": f"{clause} is withdrawn"})
    orders = [item["order"] for _, item in entries]
    if len(set(orders)) != len(orders):
        problems.append({"field": "clauses_ordered", "message": "orders must be distinct"})
    ids_ = [item["clause_id"] for _, item in entries]
    if len(set(ids_)) != len(ids_):
        problems.append({"field": "clauses_ordered", "message": "a clause is pinned twice"})
    if problems:
        raise ValidationFailed("clauses_ordered: " + "; ".join(
            f"{p['field']}: {p['message']}" for p in problems), details=problems)
    return sorted(({"clause_id": item["clause_id"], "version": item["version"],
                    "order": item["order"]} for _, item in entries), key=lambda e: e["order"])


def _signer_roles(value: Any) -> list[dict[str, Any]]:
    """[{role, required, order}]: known roles, each once, at least one required."""
    if not isinstance(value, list) or not value:
        raise ValidationFailed("signer_roles: a non-empty list of {role, required, order}",
                               details={"field": "signer_roles"})
    problems, roles = [], []
    for i, item in enumerate(value):
        where = f"signer_roles.{i}"
        if not isinstance(item, dict) or set(item) != {"role", "required", "order"} \
                or item["role"] not in SignerRole.values \
                or not isinstance(item["required"], bool) \
                or not isinstance(item["order"], int) or isinstance(item["order"], bool) \
                or item["order"] < 1:
            problems.append({"field": where, "message": "must be {role: one of "
                             f"{', '.join(SignerRole.values)}, required: true|false, "
                             "order: integer from 1}"})
            continue
        roles.append(item)
    if len({r["role"] for r in roles}) != len(roles):
        problems.append({"field": "signer_roles", "message": "a role is listed twice"})
    if roles and not any(r["required"] for r in roles):
        problems.append({"field": "signer_roles", "message": "at least one role must sign"})
    if problems:
        raise ValidationFailed("signer_roles: " + "; ".join(
            f"{p['field']}: {p['message']}" for p in problems), details=problems)
    return sorted(({"role": r["role"], "required": r["required"], "order": r["order"]}
                   for r in roles), key=lambda r: (r["order"], r["role"]))


def _template_fields(*, clauses_ordered: Any, layout_json: Any, signer_roles: Any,
                     city_gate: Any, role_gate: Any) -> dict[str, Any]:
    from casefile.documents import render

    pinned = _clauses_ordered(clauses_ordered)
    layout_json = _json(layout_json, "layout_json")
    layout = render.layout_from_json(layout_json)  # 422 naming each bad field
    stray = sorted(set(layout.page_break_before) - {e["clause_id"] for e in pinned})
    if stray:
        raise ValidationFailed("layout_json.page_break_before names clauses the template does "
                               f"not pin: {', '.join(stray)}",
                               details=[{"field": "page_break_before", "unknown": stray}])
    return {"clauses_ordered": pinned, "layout_json": layout_json,
            "signer_roles": _signer_roles(signer_roles),
            "city_gate": _gate(city_gate, field="city_gate"),
            "role_gate": _gate(role_gate, field="role_gate", allowed=ProviderRole.values)}


# --- versioned rows (clauses and templates alike) ---------------------------------------------
_KINDS = {Clause: ("clause", "CLAUSE"), Template: ("template", "TEMPLATE")}


def resource(row: Clause | Template | BookingLeg | DocPack) -> str:
    if isinstance(row, BookingLeg):
        return f"leg:{row.id}"
    if isinstance(row, DocPack):
        return f"pack:{row.id}"
    return f"{_KINDS[type(row)][0]}:{row.id}"


def _create_version(actor: Actor, model: type[Clause] | type[Template], name: str,
                    fields: dict[str, Any], reason_code: str | None, *,
                    first: bool) -> Clause | Template:
    kind, action = _KINDS[model]
    with transaction.atomic():
        # The newest version of the name, locked: two editors cannot both take the next number
        # (the unique (name, version) index catches what a lock cannot: a first version).
        latest = (model.objects.select_for_update().filter(name=name)
                  .order_by("-version").first())
        if first and latest is not None:
            raise Conflict(f"a {kind} named {name!r} exists: make its next version instead",
                           details={"id": latest.id, "version": latest.version})
        if not first and latest is None:
            raise Conflict(f"no {kind} named {name!r}")
        version = (latest.version if latest else 0) + 1
        try:
            with transaction.atomic():
                row = model.objects.create(name=name, version=version, created_by=_by(actor),
                                           created_at=now(), **fields)
        except IntegrityError:
            raise Conflict(f"{kind} {name!r} version {version} was just made by someone "
                           "else: start from it") from None
        ledger.record(actor=actor, action=f"{action}_DRAFTED", resource=resource(row),
                      reason_code=reason_code, before=snapshot(latest) if latest else None,
                      after=snapshot(row), metadata={"version": version})
    return row


def _publish(actor: Actor, row: Clause | Template, reason_code: str | None) -> Clause | Template:
    kind, action = _KINDS[type(row)]
    model = type(row)
    with transaction.atomic():
        row = model.objects.select_for_update().get(pk=row.pk)
        if row.published_at is not None:
            raise Conflict(f"{kind} {row} is already published: make its next version",
                           details={"published_at": isoformat(row.published_at)})
        if isinstance(row, Template):  # its clauses may have been withdrawn since it was saved
            _template_fields(clauses_ordered=row.clauses_ordered, layout_json=row.layout_json,
                             signer_roles=row.signer_roles, city_gate=row.city_gate,
                             role_gate=row.role_gate)
        before = snapshot(row)
        row.published_at, row.published_by = now(), _by(actor)
        row.save(update_fields=["published_at", "published_by"])
        ledger.record(actor=actor, action=f"{action}_PUBLISHED", resource=resource(row),
                      reason_code=reason_code, before=before, after=snapshot(row))
    return row


def _set_active(actor: Actor, row: Clause | Template, active: bool,
                reason_code: str | None) -> Clause | Template:
    kind, action = _KINDS[type(row)]
    with transaction.atomic():
        row = type(row).objects.select_for_update().get(pk=row.pk)
        if row.is_active == active:
            raise Conflict(f"{kind} {row} is already {'active' if active else 'withdrawn'}")
        before = snapshot(row)
        row.is_active = active
        row.save(update_fields=["is_active"])
        ledger.record(actor=actor, action=f"{action}_ACTIVE_SET", resource=resource(row),
                      reason_code=reason_code, before=before, after=snapshot(row))
    return row


# --- clauses ----------------------------------------------------------------------------------
def clause_create(*, actor: Actor, name: str, body_markdown: str, variables_json: Any,
                  city_gate: Any = None, role_gate: Any = None,
                  reason_code: str | None = None) -> Clause:
    """Version 1 of a new clause, a draft."""
    actor.require(Perm.DOCUMENTS_AUTHOR)
    reason_code = _reason(actor, reason_code)
    fields = _clause_fields(body_markdown=body_markdown, variables_json=variables_json,
                            city_gate=city_gate, role_gate=role_gate)
    return _create_version(actor, Clause, _name(name), fields, reason_code, first=True)  # type: ignore[return-value]


def clause_new_version(*, actor: Actor, clause: Clause, body_markdown: str, variables_json: Any,
                       city_gate: Any = None, role_gate: Any = None,
                       reason_code: str | None = None) -> Clause:
    """The next version of `clause`'s name (whichever version `clause` is), a draft."""
    actor.require(Perm.DOCUMENTS_AUTHOR)
    reason_code = _reason(actor, reason_code)
    fields = _clause_fields(body_markdown=body_markdown, variables_json=variables_json,
                            city_gate=city_gate, role_gate=role_gate)
    return _create_version(actor, Clause, clause.name, fields, reason_code, first=False)  # type: ignore[return-value]


def clause_publish(*, actor: Actor, clause: Clause, reason_code: str | None = None) -> Clause:
    actor.require(Perm.DOCUMENTS_AUTHOR)
    return _publish(actor, clause, _reason(actor, reason_code))  # type: ignore[return-value]


def clause_set_active(*, actor: Actor, clause: Clause, active: bool,
                      reason_code: str | None = None) -> Clause:
    """Withdraw a clause version from new templates (or return it); templates that already pin
    it keep it."""
    actor.require(Perm.DOCUMENTS_AUTHOR)
    return _set_active(actor, clause, active, _reason(actor, reason_code))  # type: ignore


# --- templates --------------------------------------------------------------------------------
def template_create(*, actor: Actor, name: str, clauses_ordered: Any, layout_json: Any,
                    signer_roles: Any, city_gate: Any = None, role_gate: Any = None,
                    reason_code: str | None = None) -> Template:
    actor.require(Perm.DOCUMENTS_AUTHOR)
    reason_code = _reason(actor, reason_code)
    fields = _template_fields(clauses_ordered=clauses_ordered, layout_json=layout_json,
                              signer_roles=signer_roles, city_gate=city_gate,
                              role_gate=role_gate)
    return _create_version(actor, Template, _name(name), fields, reason_code, first=True)  # type: ignore[return-value]


def template_new_version(*, actor: Actor, template: Template, clauses_ordered: Any,
                         layout_json: Any, signer_roles: Any, city_gate: Any = None,
                         role_gate: Any = None, reason_code: str | None = None) -> Template:
    actor.require(Perm.DOCUMENTS_AUTHOR)
    reason_code = _reason(actor, reason_code)
    fields = _template_fields(clauses_ordered=clauses_ordered, layout_json=layout_json,
                              signer_roles=signer_roles, city_gate=city_gate,
                              role_gate=role_gate)
    return _create_version(actor, Template, template.name, fields, reason_code, first=False)  # type: ignore[return-value]


def template_publish(*, actor: Actor, template: Template,
                     reason_code: str | None = None) -> Template:
    actor.require(Perm.DOCUMENTS_AUTHOR)
    return _publish(actor, template, _reason(actor, reason_code))  # type: ignore[return-value]


def template_set_active(*, actor: Actor, template: Template, active: bool,
                        reason_code: str | None = None) -> Template:
    """Withdraw a template version from pack generation (or return it)."""
    actor.require(Perm.DOCUMENTS_AUTHOR)
    return _set_active(actor, template, active, _reason(actor, reason_code))  # type: ignore


def template_preview(*, actor: Actor, template: Template,
                     variables: dict[str, Any] | None = None) -> bytes:
    """The template rendered with sample variables (those given, else the clauses' schema
    `examples`/`default`), a PDF kept nowhere. Variables are checked as at generation: 422
    naming each problem. Clauses are gated only if the sample has a `leg`."""
    actor.require(Perm.DOCUMENTS_AUTHOR)
    pinned = generation.pinned_clauses(template)
    if variables is None:
        variables = templating.sample_variables(generation.schemas(pinned))
    _json(variables, "variables")
    return generation.render_document(template=template, doc_id="doc_PREVIEW",
                                      variables=variables, gated="leg" in variables)


# --- booking legs -----------------------------------------------------------------------------
def _parties(value: Any) -> dict[str, dict[str, Any]]:
    from pydantic import TypeAdapter, ValidationError

    from casefile.core.schemas import Email

    if not isinstance(value, dict):
        raise ValidationFailed("parties: an object of signer role → {user_id, email, name}",
                               details={"field": "parties"})
    emails = TypeAdapter(Email)
    parties, problems = {}, []
    for role, party in sorted(value.items()):
        where = f"parties.{role}"
        if role not in SignerRole.values:
            problems.append({"field": where, "message": "unknown signer role (one of "
                                                        f"{', '.join(SignerRole.values)})"})
            continue
        if not isinstance(party, dict) or not set(party) <= {"user_id", "email", "name"}:
            problems.append({"field": where, "message": "must be {user_id, email, name}"})
            continue
        try:
            email = emails.validate_python(party.get("email") or "").lower()
        except ValidationError:
            problems.append({"field": f"{where}.email", "message": "not a valid e-mail address"})
            continue
        user_id, name = party.get("user_id"), party.get("name") or ""
        if user_id is not None and (not isinstance(user_id, str) or len(user_id) > 40):
            problems.append({"field": f"{where}.user_id", "message": "text of 40 characters "
                                                                     "at most, or null"})
            continue
        if not isinstance(name, str) or len(name) > NAME_LIMIT:
            problems.append({"field": f"{where}.name", "message": f"at most {NAME_LIMIT} "
                                                                  "characters"})
            continue
        parties[role] = {"user_id": user_id, "email": email, "name": name.strip()}
    if problems:
        raise ValidationFailed("parties: " + "; ".join(
            f"{p['field']}: {p['message']}" for p in problems), details=problems)
    return _json(parties, "parties")


def booking_leg_upsert(*, actor: Actor, leg_id: str, city: str, provider_role: str,
                       parties: Any, facts: Any, starts_at: datetime | None = None,
                       ends_at: datetime | None = None) -> tuple[BookingLeg, bool]:
    """Create or update a leg as the platform reports it; `(leg, changed)`. Sending the same
    leg again changes nothing and records nothing."""
    actor.require(Perm.PLATFORM_SYNC)
    if provider_role not in ProviderRole.values:
        raise ValidationFailed(f"provider_role: one of {', '.join(ProviderRole.values)}",
                               details={"field": "provider_role"})
    if not isinstance(facts, dict):
        raise ValidationFailed("facts: an object", details={"field": "facts"})
    reserved = sorted(set(facts) & RESERVED)
    if reserved:
        raise ValidationFailed(f"facts may not be named {', '.join(reserved)}: those names are "
                               "the leg and its parties", details={"field": "facts",
                                                                   "reserved": reserved})
    facts = _json(facts, "facts")
    if starts_at and ends_at and ends_at < starts_at:
        raise ValidationFailed("ends_at is before starts_at", details={"field": "ends_at"})
    values = {"city": city_code(city), "provider_role": provider_role,
              "parties": _parties(parties), "facts": facts, "starts_at": starts_at,
              "ends_at": ends_at}
    moment = now()
    with transaction.atomic():
        leg = BookingLeg.objects.select_for_update().filter(pk=leg_id).first()
        before = snapshot(leg) if leg else None
        if leg is None:
            leg = BookingLeg(id=leg_id, created_at=moment, updated_at=moment)
        for field, value in values.items():
            setattr(leg, field, value)
        if before is not None and before == snapshot(leg):
            return leg, False
        leg.updated_at = moment
        leg.save()
        ledger.record(actor=actor, action="BOOKING_LEG_UPSERTED", resource=resource(leg),
                      before=before, after=snapshot(leg))
    return leg, True


# --- doc packs ----------------------------------------------------------------------------------
# Called in the transaction of a pack's move to issued or voided, with keyword arguments `pack`,
# `documents` and `actor`: the signing side (documents.signing) registers here to open or void
# envelopes, so these verbs never import it.
_issued_listeners: list[Callable[..., None]] = []
_voided_listeners: list[Callable[..., None]] = []


def on_pack_issued(listener: Callable[..., None]) -> None:
    if listener not in _issued_listeners:
        _issued_listeners.append(listener)


def on_pack_voided(listener: Callable[..., None]) -> None:
    if listener not in _voided_listeners:
        _voided_listeners.append(listener)


def selected_templates(leg: BookingLeg) -> list[Template]:
    """The newest published, active version of each template name whose gates let the leg's
    city and provider role through, by name."""
    newest: dict[str, Template] = {}
    for template in (Template.objects.filter(published_at__isnull=False, is_active=True)
                     .order_by("name", "-version")):
        if template.name in newest:
            continue
        if generation.gate_allows(template.city_gate, leg.city) and \
                generation.gate_allows(template.role_gate, leg.provider_role):
            newest[template.name] = template
    return [newest[name] for name in sorted(newest)]


def _pack_state(pack: DocPack, documents: list[Document] | None = None) -> dict[str, Any]:
    documents = documents if documents is not None else list(
        pack.documents.order_by("position", "id"))
    return {**snapshot(pack), "documents": [
        {"id": d.id, "template_id": d.template_id, "template_version": d.template_version,
         "render_pdf_sha256": d.render_pdf_sha256, "render_pdf_key": d.render_pdf_key}
        for d in documents]}


def _live(leg: BookingLeg) -> DocPack | None:
    return (DocPack.objects.select_for_update().filter(leg=leg, status__in=LIVE_STATUSES)
            .first())


def _refuse_live(live: DocPack | None, *, issue: bool) -> None:
    if live is None:
        return
    if live.status == PackStatus.DRAFT:
        raise Conflict(f"the leg already has draft pack {live.id}: issue or void it first",
                       details={"pack_id": live.id, "status": live.status})
    if not issue:
        raise Conflict(f"the leg has {live.status} pack {live.id}: generate with issue=true to "
                       "issue a new pack that supersedes it",
                       details={"pack_id": live.id, "status": live.status})


def _signer_map(template: Template, leg: BookingLeg) -> dict[str, Any]:
    parties = leg.parties or {}
    return {r["role"]: {**(parties.get(r["role"]) or {"user_id": None, "email": "", "name": ""}),
                        "required": r["required"], "order": r["order"]}
            for r in template.signer_roles}


def doc_pack_generate(*, actor: Actor, leg: BookingLeg, reason_code: str | None = None,
                      issue: bool = False) -> DocPack:
    """Render the leg's documents — one per template its gates select — into a draft pack, or
    with `issue` straight into an issued one that supersedes the leg's issued or signed pack
    in the same transaction. Every included clause's `variables_json` is checked against the
    leg's variables first: 422 naming each missing or invalid one, across all documents. A
    leg with a draft pack must issue or void it first (409)."""
    actor.require(Perm.DOCUMENTS_ISSUE)
    reason_code = _reason(actor, reason_code)
    leg = BookingLeg.objects.get(pk=leg.pk)
    _refuse_live(DocPack.objects.filter(leg=leg, status__in=LIVE_STATUSES).first(), issue=issue)
    templates = selected_templates(leg)
    if not templates:
        raise ValidationFailed(f"no published template's gates select leg {leg.id} (city "
                               f"{leg.city}, role {leg.provider_role})",
                               details={"city": leg.city, "provider_role": leg.provider_role})
    variables = leg_variables(leg)
    plans = []
    for template in templates:
        pinned = generation.included(generation.pinned_clauses(template), city=leg.city,
                                     provider_role=leg.provider_role)
        plans.append((template, pinned))
    # Every clause of every document at once, so the 422 names each problem there is.
    templating.check_variables(variables, [s for _, pinned in plans
                                           for s in generation.schemas(pinned)])
    from casefile.documents import render

    rendered = []
    for template, pinned in plans:
        doc_id = ids.new_doc_id()
        pdf = render.render_pdf(generation.render_input(template=template, doc_id=doc_id,
                                                        pinned=pinned, variables=variables))
        rendered.append((template, doc_id, pdf))
    moment = now()
    with transaction.atomic():
        BookingLeg.objects.select_for_update().filter(pk=leg.pk).first()
        live = _live(leg)
        _refuse_live(live, issue=issue)
        if live is not None:
            # Out of the live statuses first: the partial unique index admits one live pack.
            superseded_was = live.status
            pack_move(pack=live, target=PackStatus.SUPERSEDED, at=moment)
        pack = DocPack.objects.create(
            leg=leg, generator_ver=generation.generator_version(templates), city=leg.city,
            ends_at=leg.ends_at, created_by=_by(actor), created_at=moment, updated_at=moment)
        documents = [Document.objects.create(
            id=doc_id, pack=pack, position=i, title=template.name, template=template,
            template_version=template.version, variables_filled=variables,
            render_pdf_sha256=generation.sha256(pdf), signer_map_json=_signer_map(template, leg),
            created_at=moment, updated_at=moment)
            for i, (template, doc_id, pdf) in enumerate(rendered)]
        metadata: dict[str, Any] = {"leg_id": leg.id}
        if not issue:
            ledger.record(actor=actor, action="DOC_PACK_GENERATED", resource=resource(pack),
                          reason_code=reason_code, after=_pack_state(pack, documents),
                          metadata=metadata)
            return pack
        if live is not None:
            live.superseded_by = pack
            live.save(update_fields=["superseded_by"])
            metadata["superseded"] = {"pack_id": live.id, "was": superseded_was}
        _issue(actor, pack, documents, [pdf for _, _, pdf in rendered], at=moment)
        ledger.record(actor=actor, action="DOC_PACK_ISSUED", resource=resource(pack),
                      reason_code=reason_code, after=_pack_state(pack, documents),
                      metadata={**metadata, "generated": True,
                                "retain_until": isoformat(pack.retain_until)})  # type: ignore
    return pack


def _issue(actor: Actor, pack: DocPack, documents: list[Document], pdfs: list[bytes], *,
           at: datetime) -> None:
    """Move to issued: each v1 PDF and its hash written once under the pack's retention."""
    if not can_move(pack.status, PackStatus.ISSUED):
        raise InvalidTransition(f"pack {pack.id} is {pack.status}: it cannot be issued",
                                details={"status": pack.status})
    pack.ends_at = pack.leg.ends_at
    pack.retain_until = storage.retain_until_for(pack, issued_at=at)
    pack.status, pack.issued_at, pack.updated_at = PackStatus.ISSUED, at, at
    pack.save(update_fields=["ends_at", "retain_until", "status", "issued_at", "updated_at"])
    for document, pdf in zip(documents, pdfs, strict=True):
        document.pack = pack
        document.render_pdf_key, _ = storage.write_v1(document, pdf)
        document.updated_at = at
        document.save(update_fields=["render_pdf_key", "updated_at"])
    for listener in _issued_listeners:
        listener(pack=pack, documents=documents, actor=actor)


def doc_pack_issue(*, actor: Actor, pack: DocPack, reason_code: str | None = None) -> DocPack:
    """Issue a draft: each document is rendered again from what it recorded, must give the
    same bytes (its SHA-256), and is written once to the store with its hash file."""
    actor.require(Perm.DOCUMENTS_ISSUE)
    reason_code = _reason(actor, reason_code)
    documents = list(pack.documents.select_related("template").order_by("position", "id"))
    pdfs = [generation.render_v1(d) for d in documents]
    moment = now()
    with transaction.atomic():
        pack = DocPack.objects.select_for_update().select_related("leg").get(pk=pack.pk)
        before = _pack_state(pack, documents)
        _issue(actor, pack, documents, pdfs, at=moment)
        ledger.record(actor=actor, action="DOC_PACK_ISSUED", resource=resource(pack),
                      reason_code=reason_code, before=before,
                      after=_pack_state(pack, documents),
                      metadata={"leg_id": pack.leg_id,
                                "retain_until": isoformat(pack.retain_until)})  # type: ignore
    return pack


def doc_pack_void(*, actor: Actor, pack: DocPack, reason: str = "",
                  reason_code: str | None = None) -> DocPack:
    """Void a draft or issued pack (a cancelled booking); its stored objects stay, under
    retention. A leg may have any number of voided packs."""
    actor.require(Perm.DOCUMENTS_ISSUE)
    reason_code = _reason(actor, reason_code)
    reason = (reason or "").strip()
    if len(reason) > 500 or "\x00" in reason:
        raise ValidationFailed("reason: at most 500 characters", details={"field": "reason"})
    with transaction.atomic():
        pack = DocPack.objects.select_for_update().get(pk=pack.pk)
        before = _pack_state(pack)
        pack_move(pack=pack, target=PackStatus.VOIDED, at=now(), reason=reason)
        documents = list(pack.documents.order_by("position", "id"))
        for listener in _voided_listeners:
            listener(pack=pack, documents=documents, actor=actor)
        ledger.record(actor=actor, action="DOC_PACK_VOIDED", resource=resource(pack),
                      reason_code=reason_code, before=before, after=_pack_state(pack, documents),
                      metadata={"leg_id": pack.leg_id, "reason": reason})
    return pack


def pack_move(*, pack: DocPack, target: str, at: datetime, reason: str = "") -> DocPack:
    """Move a locked pack by the transition table, with no entry of its own: for the caller's
    transaction, whose own entry says why (a sign event completing or declining it; the verbs
    above). Issuing goes through `doc_pack_issue` (it writes the PDFs)."""
    if target == PackStatus.ISSUED or not can_move(pack.status, target):
        raise InvalidTransition(f"pack {pack.id} is {pack.status}: it cannot become {target}",
                                details={"status": pack.status, "target": target})
    pack.status, pack.updated_at = target, at
    fields = ["status", "updated_at"]
    if target == PackStatus.SIGNED:
        pack.signed_at = at
        fields.append("signed_at")
    if target == PackStatus.VOIDED:
        pack.voided_at, pack.void_reason = at, reason
        fields += ["voided_at", "void_reason"]
    pack.save(update_fields=fields)
    return pack
