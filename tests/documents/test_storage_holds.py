"""A pack's objects in the write-once store — the seed's layout under DOCUMENTS_PREFIX, 7-year
COMPLIANCE retention from the leg's end, nothing deletable — on the file store and on S3
(moto's server, which enforces Object Lock); legal holds over a document and over a pack."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings

from casefile.core.errors import Conflict
from casefile.documents import selectors, services, storage
from casefile.documents.models import Document
from casefile.holds.selectors import active_holds_over
from casefile.storage import ObjectLocked, get_store
from tests.documents import helpers
from tests.documents.helpers import REASON
from tests.holds.helpers import place, release

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(params=["file", "s3"])
def documents_store(request, settings):
    if request.param == "s3":
        settings.OBJECT_STORE_URL = request.getfixturevalue("s3_bucket_url")
        settings.OBJECT_STORE_ENDPOINT_URL = request.getfixturevalue("moto_endpoint")
        get_store.cache_clear()
    yield get_store()
    get_store.cache_clear()


def _issued(**leg):
    author = helpers.legal()
    helpers.template(actor=author)
    helpers.template(actor=author)
    pack = services.doc_pack_generate(actor=author, leg=helpers.leg(**leg), reason_code=REASON,
                                      issue=True)
    return author, pack, selectors.documents_of(pack)


def test_layout_retention_and_no_delete(documents_store):
    store = documents_store
    _, pack, documents = _issued()
    assert settings.DOCUMENTS_PREFIX == "docs/prod/"  # the seed's docs/prod/ by default
    retain = pack.leg.ends_at + timedelta(days=7 * 365 + 2)
    assert pack.retain_until == retain
    keys = sorted(store.list(f"docs/prod/packs/{pack.id}/"))
    expected = []
    for doc in documents:
        expected += [f"docs/prod/packs/{pack.id}/{doc.id}_v1.pdf",
                     f"docs/prod/packs/{pack.id}/hash_{doc.id}.txt"]
        assert store.get(f"docs/prod/packs/{pack.id}/hash_{doc.id}.txt") == \
            f"{doc.render_pdf_sha256}\n".encode()
    assert keys == sorted(expected)
    for key in keys:
        info = store.head(key)
        assert info.retain_until == retain and not info.legal_hold
        with pytest.raises(ObjectLocked):
            store.delete(key)
    assert selectors.document_pdf(documents[0]).startswith(b"%PDF")


def test_retention_counts_from_issue_when_the_leg_has_no_end(documents_store):
    _, pack, documents = _issued(ends_at=None)
    assert timedelta(0) <= pack.retain_until - (
        pack.issued_at + timedelta(days=settings.DOCUMENTS_RETENTION_DAYS)) < timedelta(seconds=1)
    assert documents_store.head(documents[0].render_pdf_key).retain_until == pack.retain_until


def test_signing_side_objects_share_the_layout_and_retention(documents_store):
    _, pack, [doc, _] = _issued()
    key = storage.document_store_object(document=doc, name=f"{doc.id}_v2.pdf", data=b"%PDF-2")
    assert key == f"docs/prod/packs/{pack.id}/{doc.id}_v2.pdf"
    assert documents_store.head(key).retain_until == pack.retain_until
    with pytest.raises(Conflict):  # written once
        storage.document_store_object(document=doc, name=f"{doc.id}_v2.pdf", data=b"again")
    with pytest.raises(ValueError):  # only the document's own names
        storage.document_store_object(document=doc, name="other.json", data=b"{}")


def test_a_tampered_pdf_is_refused(documents_store, settings):
    _, _, [doc, _] = _issued()
    doc.render_pdf_sha256 = "0" * 64  # what the row says no longer matches the store
    with pytest.raises(storage.DocumentIntegrityError):
        selectors.document_pdf(doc)


def test_a_hold_on_a_document_covers_all_its_objects_and_those_written_later(documents_store):
    _, pack, [doc, other] = _issued()
    hold = place("document", doc.id)
    held = set(hold.object_keys)
    assert held == {doc.render_pdf_key, f"docs/prod/packs/{pack.id}/hash_{doc.id}.txt"}
    assert all(documents_store.head(k).legal_hold for k in held)
    assert not documents_store.head(other.render_pdf_key).legal_hold
    later = storage.document_store_object(document=doc, name=f"envelope_{doc.id}.json",
                                          data=b"{}")
    assert documents_store.head(later).legal_hold  # written held: the hold covers it
    release(hold)
    assert not any(documents_store.head(k).legal_hold for k in [*held, later])


def test_a_hold_on_a_pack_covers_every_document():
    _, pack, documents = _issued()
    hold = place("doc_pack", pack.id)
    store = get_store()
    for doc in documents:
        assert store.head(doc.render_pdf_key).legal_hold
        assert [h.id for h in active_holds_over("document", doc.id)] == [hold.id]
    assert len(hold.object_keys) == 2 * len(documents)


def test_rows_are_not_deleted():
    from django.db import DatabaseError, transaction
    from django.db.models import ProtectedError

    _, pack, documents = _issued()
    with pytest.raises(DatabaseError), transaction.atomic():
        Document.objects.filter(pk=documents[0].pk).delete()
    with pytest.raises(ProtectedError), transaction.atomic():  # its documents PROTECT it
        pack.delete()
