"""What crosses the edge for the documents app: the API's bodies and the console's forms read
by the same schemas (core.validation.validated), so both refuse the same input."""

from __future__ import annotations

from typing import Annotated, Any

from casefile.core.schemas import (
    Bounded,
    Email,
    IdOf,
    Instant,
    JsonObject,
    Name,
    ReasonCode,
    Schema,
)

ClauseId = Annotated[str, IdOf("cls")]
TemplateId = Annotated[str, IdOf("tpl")]
PackId = Annotated[str, IdOf("dpk")]
DocumentId = Annotated[str, IdOf("doc")]
# The platform's own key for a leg: it is part of store keys and URLs, so plain characters.
LegId = Annotated[str, Bounded(64, min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]
Body = Annotated[str, Bounded(100 * 1024, min_length=1)]
Code = Annotated[str, Bounded(40, min_length=1)]
Gate = list[Code] | None


class ClauseVersionIn(Schema):
    body_markdown: Body
    variables_json: JsonObject
    city_gate: Gate = None  # null: every city
    role_gate: Gate = None  # null: every provider role (model, photographer, studio)
    reason_code: ReasonCode | None = None


class ClauseIn(ClauseVersionIn):
    name: Name


class TemplateVersionIn(Schema):
    clauses_ordered: list[JsonObject]  # [{clause_id, version, order}]
    layout_json: JsonObject
    signer_roles: list[JsonObject]  # [{role, required, order}]
    city_gate: Gate = None
    role_gate: Gate = None
    reason_code: ReasonCode | None = None


class TemplateIn(TemplateVersionIn):
    name: Name


class ReasonOnlyIn(Schema):
    """A person's reason code (required of people; the platform's machine identity sends
    none)."""

    reason_code: ReasonCode | None = None


class ActiveIn(Schema):
    active: bool
    reason_code: ReasonCode | None = None


class PreviewIn(Schema):
    variables: JsonObject | None = None  # null: samples from the clauses' schemas


class PartyIn(Schema):
    user_id: Annotated[str, Bounded(40)] | None = None
    email: Email
    name: Annotated[str, Bounded(200)] = ""


class LegIn(Schema):
    city: Code
    provider_role: Annotated[str, Bounded(20, min_length=1)]
    parties: dict[str, PartyIn] = {}
    facts: JsonObject = {}
    starts_at: Instant | None = None
    ends_at: Instant | None = None


class GenerateIn(Schema):
    # true: issue the new pack at once, superseding the leg's issued or signed pack
    issue: bool = False
    reason_code: ReasonCode | None = None


class VoidIn(Schema):
    reason: Annotated[str, Bounded(500)] = ""
    reason_code: ReasonCode | None = None


def leg_kwargs(body: LegIn) -> dict[str, Any]:
    data = body.model_dump()
    return {**data, "parties": {role: party for role, party in data["parties"].items()}}
