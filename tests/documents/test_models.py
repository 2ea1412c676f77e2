"""The documents tables' own guarantees, below the services: the partial unique index, the
triggers that keep sign events append-only, packs and documents undeleted and published
versions frozen — on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, IntegrityError, transaction

from casefile.core import timeutil
from casefile.documents.models import (
    BookingLeg,
    Clause,
    DocPack,
    Document,
    SignEvent,
    Template,
)

pytestmark = pytest.mark.django_db(transaction=True)


def _rows():
    now = timeutil.now()
    clause = Clause.objects.create(name="Base", version=1, body_markdown="Hi {{ name }}",
                                   variables_json={"type": "object"}, created_by="stf_x",
                                   created_at=now, published_at=now)
    template = Template.objects.create(
        name="SOW", version=1, clauses_ordered=[{"clause_id": clause.id, "version": 1,
                                                 "order": 1}],
        layout_json={}, signer_roles=[], created_by="stf_x", created_at=now, published_at=now)
    leg = BookingLeg.objects.create(id="leg_1", city="NYC", provider_role="model",
                                    created_at=now, updated_at=now)
    pack = DocPack.objects.create(leg=leg, generator_ver="0" * 64, city="NYC",
                                  created_by="stf_x", created_at=now, updated_at=now)
    doc = Document.objects.create(pack=pack, template=template, template_version=1,
                                  variables_filled={"name": "A"}, render_pdf_sha256="0" * 64,
                                  created_at=now, updated_at=now)
    return clause, template, leg, pack, doc


def test_one_live_pack_per_leg_but_many_voided():
    _, _, leg, pack, _ = _rows()
    now = timeutil.now()
    with pytest.raises(IntegrityError), transaction.atomic():
        DocPack.objects.create(leg=leg, generator_ver="1", city="NYC", created_by="stf_x",
                               created_at=now, updated_at=now)
    DocPack.objects.filter(pk=pack.pk).update(status="voided")
    for _ in range(2):
        DocPack.objects.create(leg=leg, generator_ver="1", city="NYC", created_by="stf_x",
                               created_at=now, updated_at=now, status="voided")
    DocPack.objects.create(leg=leg, generator_ver="1", city="NYC", created_by="stf_x",
                           created_at=now, updated_at=now)
    assert leg.packs.filter(status="voided").count() == 3


def test_packs_and_documents_are_never_deleted_and_keep_their_inputs():
    _, _, _, pack, doc = _rows()
    with pytest.raises(DatabaseError), transaction.atomic():
        Document.objects.filter(pk=doc.pk).delete()
    with pytest.raises(DatabaseError), transaction.atomic():
        DocPack.objects.filter(pk=pack.pk).delete()
    with pytest.raises(DatabaseError), transaction.atomic():
        Document.objects.filter(pk=doc.pk).update(variables_filled={"name": "B"})
    with pytest.raises(DatabaseError), transaction.atomic():
        DocPack.objects.filter(pk=pack.pk).update(generator_ver="f" * 64)
    # What moves, moves.
    Document.objects.filter(pk=doc.pk).update(envelope_status="sent", render_pdf_key="k")
    DocPack.objects.filter(pk=pack.pk).update(status="issued")
    assert DocPack.objects.get(pk=pack.pk).status == "issued"


def test_sign_events_are_append_only():
    _, _, _, _, doc = _rows()
    now = timeutil.now()
    event = SignEvent.objects.create(document=doc, provider="local", provider_event_id="e1",
                                     event="viewed", provider_payload="{}", occurred_at=now,
                                     received_at=now, audit_entry_id="aud_x")
    with pytest.raises(DatabaseError), transaction.atomic():
        SignEvent.objects.filter(pk=event.pk).update(event="signed")
    with pytest.raises(DatabaseError), transaction.atomic():
        SignEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(IntegrityError), transaction.atomic():
        SignEvent.objects.create(document=doc, provider="local", provider_event_id="e1",
                                 event="viewed", provider_payload="{}", occurred_at=now,
                                 received_at=now, audit_entry_id="aud_y")


def test_published_versions_are_frozen_drafts_are_not():
    clause, template, _, _, _ = _rows()
    for model, row, change in ((Clause, clause, {"body_markdown": "changed"}),
                               (Template, template, {"layout_json": {"page_size": "A4"}})):
        with pytest.raises(DatabaseError), transaction.atomic():
            model.objects.filter(pk=row.pk).update(**change)
        with pytest.raises(DatabaseError), transaction.atomic():
            model.objects.filter(pk=row.pk).update(published_at=None)
        model.objects.filter(pk=row.pk).update(is_active=False)  # withdrawing is allowed
        assert model.objects.get(pk=row.pk).is_active is False
    now = timeutil.now()
    draft = Clause.objects.create(name="Base", version=2, body_markdown="x",
                                  variables_json={}, created_by="stf_x", created_at=now)
    Clause.objects.filter(pk=draft.pk).update(body_markdown="y", published_at=now)
    with pytest.raises(DatabaseError), transaction.atomic():
        Clause.objects.filter(pk=draft.pk).delete()
