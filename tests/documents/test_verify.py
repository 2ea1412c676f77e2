"""`casefile documents verify PACK_ID`: exit 0 and a JSON report on an intact pack (issued,
signed through `local`, signed through a vendor), exit 1 naming the check after tampering with
a stored object, a row's hash, a sign event's payload or its signature."""

from __future__ import annotations

import hashlib
import os
from contextlib import contextmanager

import orjson
import pytest
from django.core.management import call_command
from django.db import connection

from casefile.documents import signing
from casefile.documents import triggers as document_triggers
from casefile.documents.models import Document, SignEvent
from casefile.storage import get_store
from tests.documents.signing_helpers import documents, issued_pack, sent_pack, tokens

pytestmark = pytest.mark.django_db


def verify(capsys, pack_id: str) -> tuple[int, dict]:
    code = 0
    try:
        call_command("documents", "verify", pack_id)
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    return code, orjson.loads(capsys.readouterr().out)


def checks(report: dict, doc_id: str) -> dict[str, str]:
    [doc] = [d for d in report["documents"] if d["doc_id"] == doc_id]
    return {c["check"]: c["result"] for c in doc["checks"]}


def event_checks(report: dict) -> list[tuple[str, str, str]]:
    return [(e["event"], c["check"], c["result"]) for d in report["documents"]
            for e in d["sign_events"] for c in e["checks"]]


def signed_local_pack(templates: int = 1):
    pack, sent = sent_pack(templates=templates)
    for doc in documents(pack):
        links = tokens(sent, doc.id)
        signing.signing_link_open(links["buyer"], ip_address="203.0.113.1", user_agent="UA")
        signing.signing_link_sign(token=links["buyer"], typed_name="Bea Buyer", consent=True,
                                  ip_address="203.0.113.1", user_agent="UA")
        signing.signing_link_sign(token=links["talent"], typed_name="Tom Talent", consent=True,
                                  ip_address="203.0.113.2", user_agent="UA2")
    pack.refresh_from_db()
    assert pack.status == "signed"
    return pack


@contextmanager
def as_dba():
    """Lift the documents' triggers for one change, as someone with the database's owner
    rights could: what verify is for."""
    vendor = connection.vendor
    with connection.cursor() as cursor:
        for statement in document_triggers.uninstall_sql(vendor):
            cursor.execute(statement)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            for statement in document_triggers.install_sql(vendor):
                cursor.execute(statement)


def store_path(key: str):
    store = get_store()
    return store.root / "data" / key, store.root / "meta" / f"{key}.json"


def overwrite(key: str, data: bytes, *, meta_too: bool) -> None:
    data_path, meta_path = store_path(key)
    os.chmod(data_path, 0o644)
    data_path.write_bytes(data)
    if meta_too:  # the intruder also rewrites the store's own record of the object
        meta = orjson.loads(meta_path.read_bytes())
        meta["sha256"], meta["size"] = hashlib.sha256(data).hexdigest(), len(data)
        os.chmod(meta_path, 0o644)
        meta_path.write_bytes(orjson.dumps(meta))


def test_an_issued_pack_verifies(capsys):
    pack = issued_pack(templates=2)
    code, report = verify(capsys, pack.id)
    assert code == 0 and report["ok"] is True and report["failed"] == []
    assert report["status"] == "issued" and len(report["documents"]) == 2
    for doc in documents(pack):
        assert checks(report, doc.id) == {"v1_stored": "ok", "hash_file": "ok",
                                          "v1_rerendered": "ok"}


def test_a_pack_signed_through_local_verifies_with_every_signature(capsys):
    pack = signed_local_pack(templates=2)
    code, report = verify(capsys, pack.id)
    assert code == 0, report
    for doc in documents(pack):
        assert checks(report, doc.id) == {"v1_stored": "ok", "hash_file": "ok",
                                          "v1_rerendered": "ok", "v2_stored": "ok",
                                          "envelope_record": "ok"}
    events = event_checks(report)
    assert {r for _, _, r in events} == {"ok"}
    assert [e for e, c, _ in events if c == "signature"].count("signed") == 4


def test_a_tampered_v1_fails(capsys):
    pack = issued_pack()
    doc = documents(pack)[0]
    overwrite(doc.render_pdf_key, b"%PDF-1.4 forged", meta_too=False)
    code, report = verify(capsys, pack.id)
    assert code == 1 and report["ok"] is False
    result = checks(report, doc.id)
    assert result["v1_stored"] == "failed" and result["v1_rerendered"] == "failed"
    assert f"{doc.id}:v1_stored" in report["failed"]


def test_a_v1_replaced_with_the_stores_record_still_fails(capsys):
    pack = issued_pack()
    doc = documents(pack)[0]
    overwrite(doc.render_pdf_key, b"%PDF-1.4 forged", meta_too=True)
    code, report = verify(capsys, pack.id)
    assert code == 1
    assert checks(report, doc.id)["v1_stored"] == "failed"


def test_a_tampered_hash_file_fails(capsys):
    from casefile.documents.storage import hash_name, key_for

    pack = issued_pack()
    doc = documents(pack)[0]
    overwrite(key_for(doc, hash_name(doc)), b"0" * 64 + b"\n", meta_too=True)
    code, report = verify(capsys, pack.id)
    assert code == 1 and checks(report, doc.id)["hash_file"] == "failed"


def test_a_rows_hash_changed_by_a_dba_fails(capsys):
    pack = issued_pack()
    doc = documents(pack)[0]
    with as_dba():
        Document.objects.filter(pk=doc.pk).update(render_pdf_sha256="f" * 64)
    code, report = verify(capsys, pack.id)
    assert code == 1
    result = checks(report, doc.id)
    assert result["v1_stored"] == result["hash_file"] == result["v1_rerendered"] == "failed"


def test_a_changed_signed_copy_hash_fails(capsys):
    pack = signed_local_pack()
    doc = documents(pack)[0]
    Document.objects.filter(pk=doc.pk).update(signed_pdf_sha256="a" * 64)
    code, report = verify(capsys, pack.id)
    assert code == 1 and checks(report, doc.id)["v2_stored"] == "failed"


def test_a_rewritten_sign_event_fails_its_signature_and_the_ledger(capsys):
    pack = signed_local_pack()
    doc = documents(pack)[0]
    row = SignEvent.objects.get(document=doc, event="signed", actor_role="buyer")
    forged = row.provider_payload.replace("Bea Buyer", "Someone Else")
    with as_dba():
        SignEvent.objects.filter(pk=row.pk).update(provider_payload=forged)
    code, report = verify(capsys, pack.id)
    assert code == 1
    [event] = [e for d in report["documents"] for e in d["sign_events"]
               if e["sign_event_id"] == row.id]
    assert {c["check"]: c["result"] for c in event["checks"]} == {"ledger": "failed",
                                                                  "signature": "failed"}
    # The envelope record written when it completed no longer matches either.
    assert checks(report, doc.id)["envelope_record"] == "failed"


def test_a_vendors_events_are_verified_where_its_secret_is_configured(capsys, settings,
                                                                      client):
    from tests.documents.fake_providers import FakeDocuSign

    with FakeDocuSign() as fake:
        settings.ESIGN_PROVIDERS = {"docusign": fake.config()}
        pack, _ = sent_pack("docusign")
        doc = documents(pack)[0]
        body = fake.message(doc.envelope_id, "recipient-completed", recipient_id="1")
        response = client.post("/api/v1/documents/webhooks/docusign", body,
                               content_type="application/json",
                               **{f"HTTP_{k.upper().replace('-', '_')}": v for k, v in
                                  fake.signature_headers(body, "connect-key-1").items()
                                  if k != "Content-Type"})
        assert response.status_code == 200, response.content
        code, report = verify(capsys, pack.id)
        assert code == 0 and ("signed", "signature", "ok") in event_checks(report)
        # A rotated-out secret: the stored signature no longer checks.
        settings.ESIGN_PROVIDERS = {"docusign": fake.config(webhook_secrets=["another"])}
        code, report = verify(capsys, pack.id)
        assert code == 1 and ("signed", "signature", "failed") in event_checks(report)
    # Not configured here: skipped, and the pack still verifies.
    settings.ESIGN_PROVIDERS = {}
    code, report = verify(capsys, pack.id)
    assert code == 0 and ("signed", "signature", "skipped") in event_checks(report)


def test_an_unknown_pack_exits_1(capsys):
    code, report = verify(capsys, "dpk_nope")
    assert code == 1 and report == {"pack_id": "dpk_nope", "ok": False,
                                    "error": "no doc pack dpk_nope"}
