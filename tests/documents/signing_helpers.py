"""Set-up for the signing tests: published templates, a leg with its parties, an issued pack,
sent through a provider; and the `local` provider's links followed as a signer would."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from casefile.accounts.roles import Role
from casefile.audit.actor import Actor
from casefile.documents import services, signing
from casefile.documents.models import DocPack, Document
from tests.conftest import make_staff

_names = itertools.count(1)
REASON = "LEGAL_REQUEST"
PARTIES = {
    "buyer": {"user_id": "usr_buyer", "email": "bea@buyer.example", "name": "Bea Buyer"},
    "talent": {"user_id": "usr_talent", "email": "tom@talent.example", "name": "Tom Talent"},
    "witness": {"user_id": None, "email": "wes@witness.example", "name": "Wes Witness"},
}
# buyer signs first, then talent; the witness is optional.
ROLES = [{"role": "buyer", "required": True, "order": 1},
         {"role": "talent", "required": True, "order": 2},
         {"role": "witness", "required": False, "order": 3}]


def legal() -> Actor:
    return Actor.staff(make_staff(Role.LEGAL))


def platform() -> Actor:
    return Actor.staff(make_staff(Role.PLATFORM))


def published_template(*, name: str | None = None, roles: list[dict[str, Any]] | None = None,
                       body: str = "{{ buyer.name }} books {{ talent.name }} for {{ fee }} USD."):
    author = legal()
    n = next(_names)
    used = [v for v in ("fee", "buyer", "talent") if v in body]
    clause = services.clause_create(
        actor=author, name=f"Base terms {n}", body_markdown=body,
        variables_json={"type": "object", "required": used,
                        "properties": {v: {"type": "integer" if v == "fee" else "object"}
                                       for v in used}},
        reason_code=REASON)
    services.clause_publish(actor=author, clause=clause, reason_code=REASON)
    template = services.template_create(
        actor=author, name=name or f"Talent SOW {n}",
        clauses_ordered=[{"clause_id": clause.id, "version": clause.version, "order": 1}],
        layout_json={"header": "Booking contract", "footer": "Page {page} of {pages}"},
        signer_roles=roles or ROLES, reason_code=REASON)
    return services.template_publish(actor=author, template=template, reason_code=REASON)


def issued_pack(*, templates: int = 1, roles: list[dict[str, Any]] | None = None,
                parties: dict[str, Any] | None = None, body: str | None = None) -> DocPack:
    """A leg's issued pack of `templates` documents (new published templates each time)."""
    for _ in range(templates):
        published_template(roles=roles, **({"body": body} if body else {}))
    machine = platform()
    leg, _ = services.booking_leg_upsert(
        actor=machine, leg_id=f"leg-{next(_names)}", city="NYC", provider_role="model",
        parties=parties or PARTIES, facts={"fee": 1200},
        starts_at=datetime(2026, 12, 1, 10, tzinfo=UTC),
        ends_at=datetime(2026, 12, 1, 18, tzinfo=UTC))
    return services.doc_pack_generate(actor=machine, leg=leg, issue=True)


def sent_pack(provider: str = "local", **kwargs: Any) -> tuple[DocPack, signing.Sent]:
    pack = issued_pack(**kwargs)
    sent = signing.doc_pack_send(actor=legal(), pack=pack, provider=provider,
                                 reason_code=REASON)
    pack.refresh_from_db()
    return pack, sent


def documents(pack: DocPack) -> list[Document]:
    return list(Document.objects.filter(pack=pack).order_by("position", "id"))


def token_of(url: str) -> str:
    match = re.search(r"/sign/([^/]+)/$", url)
    assert match, url
    return match.group(1)


def tokens(sent: signing.Sent, doc_id: str) -> dict[str, str]:
    return {role: token_of(url)
            for role, url in sent.envelopes[doc_id]["signing_urls"].items()}


def later(hours: float) -> datetime:
    return datetime.now(UTC) + timedelta(hours=hours)
