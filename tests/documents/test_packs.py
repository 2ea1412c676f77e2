"""Doc packs: gating, variable validation, the status machine, supersede, re-rendering, the
store's layout and retention (DESIGN 9.5)."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.conf import settings

from casefile.audit.models import AuditEntry
from casefile.core.errors import Conflict, InvalidTransition, ValidationFailed
from casefile.documents import generation, selectors, services
from casefile.documents.models import DocPack
from casefile.storage import get_store
from tests.documents import helpers
from tests.documents.helpers import REASON

pytestmark = pytest.mark.django_db(transaction=True)


def test_generate_issue_writes_the_layout_with_retention_from_the_legs_end():
    author = helpers.legal()
    helpers.template(actor=author)
    leg = helpers.leg()
    pack = services.doc_pack_generate(actor=author, leg=leg, reason_code=REASON)
    assert pack.status == "draft" and len(pack.generator_ver) == 64
    [doc] = selectors.documents_of(pack)
    assert doc.render_pdf_key == ""  # nothing is stored before issue
    pack = services.doc_pack_issue(actor=author, pack=pack, reason_code=REASON)
    doc.refresh_from_db()
    prefix = f"{settings.DOCUMENTS_PREFIX}packs/{pack.id}/"
    assert doc.render_pdf_key == f"{prefix}{doc.id}_v1.pdf"
    store = get_store()
    pdf = store.get(doc.render_pdf_key)
    assert pdf.startswith(b"%PDF") and hashlib.sha256(pdf).hexdigest() == doc.render_pdf_sha256
    assert store.get(f"{prefix}hash_{doc.id}.txt") == f"{doc.render_pdf_sha256}\n".encode()
    expected = leg.ends_at + timedelta(days=settings.DOCUMENTS_RETENTION_DAYS)
    for key in (doc.render_pdf_key, f"{prefix}hash_{doc.id}.txt"):
        assert store.head(key).retain_until == expected
    assert selectors.document_pdf(doc) == pdf


def test_rendering_again_gives_the_same_bytes():
    author = helpers.legal()
    helpers.template(actor=author)
    pack = services.doc_pack_generate(actor=author, leg=helpers.leg(), reason_code=REASON)
    [doc] = selectors.documents_of(pack)
    assert generation.sha256(generation.render_v1(doc)) == doc.render_pdf_sha256
    assert generation.render_v1(doc) == generation.render_v1(doc)


def test_each_missing_or_invalid_variable_is_named_across_clauses():
    author = helpers.legal()
    other = helpers.clause(author, body="Deposit {{ deposit }}, venue {{ venue }}",
                           schema={"type": "object", "required": ["deposit", "venue"],
                                   "properties": {"deposit": {"type": "integer"},
                                                  "venue": {"type": "string"}}})
    helpers.template(helpers.clause(author), other, actor=author)
    leg = helpers.leg(facts={"rate": -1, "deposit": "ten"},
                      parties={"buyer": {"email": "b@example.com", "name": ""}})
    with pytest.raises(ValidationFailed) as caught:
        services.doc_pack_generate(actor=author, leg=leg, reason_code=REASON)
    fields = {p["field"]: p["message"] for p in caught.value.details["variables"]}
    assert set(fields) == {"rate", "deposit", "venue", "talent", "buyer.name"}
    assert "is required" in fields["venue"] and "is required" in fields["talent"]
    assert not DocPack.objects.exists()


def test_gates_select_templates_and_clauses():
    author = helpers.legal()
    la_only = helpers.clause(author, body="LA film permit applies.",
                             schema={"type": "object", "properties": {}}, city_gate=["la"])
    helpers.template(helpers.clause(author), la_only, actor=author, name="SOW")
    helpers.template(actor=author, name="Studio rules", role_gate=["studio"])
    helpers.template(actor=author, name="NYC only", city_gate=["NYC"])
    pack = services.doc_pack_generate(actor=author, leg=helpers.leg(city="la"),
                                      reason_code=REASON)
    assert [d.title for d in selectors.documents_of(pack)] == ["SOW"]
    [doc] = selectors.documents_of(pack)
    assert doc.variables_filled["leg"]["city"] == "LA"
    pack2 = services.doc_pack_generate(actor=author, leg=helpers.leg(city="nyc"),
                                       reason_code=REASON)
    assert [d.title for d in selectors.documents_of(pack2)] == ["NYC only", "SOW"]
    with pytest.raises(ValidationFailed):
        services.doc_pack_generate(actor=author, leg=helpers.leg(city="SF", role="studio",
                                                                 facts={}), reason_code=REASON)


def test_status_machine_two_voided_packs_and_supersede_in_one_transaction():
    author = helpers.legal()
    helpers.template(actor=author)
    leg = helpers.leg()
    first = services.doc_pack_generate(actor=author, leg=leg, reason_code=REASON)
    with pytest.raises(Conflict):
        services.doc_pack_generate(actor=author, leg=leg, reason_code=REASON)
    services.doc_pack_void(actor=author, pack=first, reason="booking changed", reason_code=REASON)
    second = services.doc_pack_generate(actor=author, leg=leg, reason_code=REASON)
    second = services.doc_pack_issue(actor=author, pack=second, reason_code=REASON)
    services.doc_pack_void(actor=author, pack=second, reason_code=REASON)
    assert leg.packs.filter(status="voided").count() == 2
    with pytest.raises(InvalidTransition):
        services.doc_pack_issue(actor=author, pack=second, reason_code=REASON)
    with pytest.raises(InvalidTransition):
        services.doc_pack_void(actor=author, pack=second, reason_code=REASON)

    third = services.doc_pack_issue(actor=author, reason_code=REASON, pack=(
        services.doc_pack_generate(actor=author, leg=leg, reason_code=REASON)))
    with pytest.raises(Conflict):  # an issued pack is superseded only by issuing a new one
        services.doc_pack_generate(actor=author, leg=leg, reason_code=REASON)
    entries = AuditEntry.objects.count()
    fourth = services.doc_pack_generate(actor=author, leg=leg, reason_code=REASON, issue=True)
    third.refresh_from_db()
    assert (third.status, third.superseded_by_id, fourth.status) == ("superseded", fourth.id,
                                                                     "issued")
    assert AuditEntry.objects.count() == entries + 1
    entry = AuditEntry.objects.order_by("-created_at").first()
    assert entry.action == "DOC_PACK_ISSUED"
    assert entry.metadata["superseded"] == {"pack_id": third.id, "was": "issued"}
    with pytest.raises(InvalidTransition):
        services.doc_pack_void(actor=author, pack=third, reason_code=REASON)


def test_supersede_is_undone_with_the_new_pack(monkeypatch):
    author = helpers.legal()
    helpers.template(actor=author)
    leg = helpers.leg()
    old = services.doc_pack_issue(actor=author, reason_code=REASON, pack=(
        services.doc_pack_generate(actor=author, leg=leg, reason_code=REASON)))

    def broken(*args, **kwargs):
        raise RuntimeError("store down")

    monkeypatch.setattr(services.storage, "write_v1", broken)
    with pytest.raises(RuntimeError):
        services.doc_pack_generate(actor=author, leg=leg, reason_code=REASON, issue=True)
    old.refresh_from_db()
    assert old.status == "issued" and leg.packs.count() == 1


def test_generating_twice_from_the_same_inputs_gives_the_same_sha256(monkeypatch):
    """The document id is printed in the PDF: with the same id, template versions and leg, a
    second generation gives byte-identical PDFs."""
    author = helpers.legal()
    helpers.template(actor=author)
    leg = helpers.leg()
    monkeypatch.setattr(services.ids, "new_doc_id", lambda: "doc_01SAMEIDFORBOTHRUNS00000")
    first = services.doc_pack_generate(actor=author, leg=leg, reason_code=REASON)
    [one] = selectors.documents_of(first)
    services.doc_pack_void(actor=author, pack=first, reason_code=REASON)
    monkeypatch.setattr(services.ids, "new_doc_id", lambda: "doc_01SAMEIDFORBOTHRUNS00001")
    second = services.doc_pack_generate(actor=author, leg=leg, reason_code=REASON)
    [two] = selectors.documents_of(second)
    assert first.generator_ver == second.generator_ver
    pdf = generation.render_document(template=two.template, doc_id=one.id,
                                     variables=two.variables_filled)
    assert generation.sha256(pdf) == one.render_pdf_sha256
