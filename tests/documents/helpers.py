"""Set-up for the documents tests, through the real services."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from casefile.accounts.roles import Role
from casefile.audit.actor import Actor
from casefile.documents import services
from casefile.documents.models import BookingLeg, Clause, Template
from tests.conftest import make_staff

_names = itertools.count(1)
_legs = itertools.count(1)
REASON = "COMPLIANCE_REVIEW"

PARTY_SCHEMA = {"type": "object", "required": ["name", "email"],
                "properties": {"name": {"type": "string", "minLength": 1,
                                        "examples": ["Sam Sample"]},
                               "email": {"type": "string", "examples": ["sam@example.com"]}}}
BASE_SCHEMA = {"type": "object", "required": ["buyer", "talent", "rate", "leg"],
               "properties": {"buyer": PARTY_SCHEMA, "talent": PARTY_SCHEMA,
                              "rate": {"type": "number", "minimum": 0, "examples": [150]},
                              "leg": {"type": "object", "required": ["city"],
                                      "examples": [{"id": "leg_demo", "city": "NYC",
                                                    "provider_role": "model"}]}}}
BASE_BODY = ("{{ buyer.name }} books {{ talent.name }} in {{ leg.city }} at "
             "**{{ rate }}** per hour.\n\n- Payment within 7 days\n- Cancellation: 48 hours")


def legal() -> Actor:
    return Actor.staff(make_staff(Role.LEGAL))


def platform() -> Actor:
    return Actor.staff(make_staff(Role.PLATFORM))


def clause(actor: Actor | None = None, *, name: str | None = None, body: str = BASE_BODY,
           schema: dict[str, Any] | None = None, publish: bool = True, **gates) -> Clause:
    actor = actor or legal()
    row = services.clause_create(actor=actor, name=name or f"Clause {next(_names)}",
                                 body_markdown=body, variables_json=schema or BASE_SCHEMA,
                                 reason_code=REASON, **gates)
    if publish:
        row = services.clause_publish(actor=actor, clause=row, reason_code=REASON)
    return row


def template(*clauses: Clause, actor: Actor | None = None, name: str | None = None,
             publish: bool = True, layout: dict[str, Any] | None = None, **gates) -> Template:
    actor = actor or legal()
    clauses = clauses or (clause(actor),)
    row = services.template_create(
        actor=actor, name=name or f"Template {next(_names)}",
        clauses_ordered=[{"clause_id": c.id, "version": c.version, "order": i}
                         for i, c in enumerate(clauses, 1)],
        layout_json=layout or {"page_size": "A4", "header": "Casefile bookings"},
        signer_roles=[{"role": "buyer", "required": True, "order": 1},
                      {"role": "talent", "required": True, "order": 2}],
        reason_code=REASON, **gates)
    if publish:
        row = services.template_publish(actor=actor, template=row, reason_code=REASON)
    return row


def leg(*, leg_id: str | None = None, city: str = "NYC", role: str = "model",
        facts: dict[str, Any] | None = None, parties: dict[str, Any] | None = None,
        ends_at: datetime | None = datetime(2027, 3, 1, 18, tzinfo=UTC)) -> BookingLeg:
    row, _ = services.booking_leg_upsert(
        actor=platform(), leg_id=leg_id or f"leg_{next(_legs)}", city=city, provider_role=role,
        parties=parties if parties is not None else {
            "buyer": {"user_id": "usr_b", "email": "buyer@example.com", "name": "Bea Buyer"},
            "talent": {"user_id": "usr_t", "email": "talent@example.com", "name": "Tal Ent"}},
        facts=facts if facts is not None else {"rate": 150},
        starts_at=datetime(2027, 3, 1, 10, tzinfo=UTC), ends_at=ends_at)
    return row
