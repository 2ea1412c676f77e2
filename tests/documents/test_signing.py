"""Signing (documents.signing): sending a pack, sign events (idempotent, out of order, only
forward), decline and expiry voiding the envelope and the pack, completion signing the pack
with its v2 PDF and envelope record, and the `local` provider's links and pages."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from django.db import connection

from casefile.accounts.roles import Role
from casefile.audit.actor import Actor
from casefile.audit.models import AuditEntry
from casefile.core.errors import Conflict, PermissionDenied, ValidationFailed
from casefile.documents import signing
from casefile.documents.esign import local
from casefile.documents.esign.base import ProviderEvent
from casefile.documents.models import DocPack, Document, SignEvent, SigningLink
from casefile.documents.storage import key_for
from casefile.storage import get_store
from tests.conftest import make_staff
from tests.documents.signing_helpers import (
    REASON,
    documents,
    issued_pack,
    legal,
    sent_pack,
    tokens,
)

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 12, 1, 9, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def event(doc: Document, kind: str, minutes: float, *, event_id: str | None = None,
          role: str | None = None, reason: str = "") -> ProviderEvent:
    return ProviderEvent(event_id=event_id or f"{doc.envelope_id}-{kind}-{minutes}",
                         envelope_id=doc.envelope_id, event=kind,  # type: ignore[arg-type]
                         occurred_at=at(minutes), signer_role=role, reason=reason)


def record(doc: Document, kind: str, minutes: float, **kwargs) -> signing.Recorded:
    ev = event(doc, kind, minutes, **kwargs)
    return signing.sign_event_record(provider="local", event=ev,
                                     raw_body=json.dumps({"event": kind, "id": ev.event_id}),
                                     received_at=at(minutes))


def sign(token: str, name: str = "Bea Buyer", **kwargs) -> signing.Recorded:
    return signing.signing_link_sign(token=token, typed_name=name, consent=True,
                                     ip_address="203.0.113.7", user_agent="Firefox/140",
                                     **kwargs)


# --- sending -----------------------------------------------------------------------------------
def test_sending_makes_one_envelope_per_document_with_ordered_links():
    pack, sent = sent_pack(templates=2)
    docs = documents(pack)
    assert set(sent.envelopes) == {d.id for d in docs}
    for doc in docs:
        assert doc.envelope_provider == "local" and doc.envelope_status == "sent"
        assert doc.envelope_id.startswith("local-")
        assert sent.envelopes[doc.id]["signers"] == ["buyer", "talent", "witness"]
        links = SigningLink.objects.filter(document=doc)
        assert sorted(link.role for link in links) == ["buyer", "talent", "witness"]
        for role, token in tokens(sent, doc.id).items():
            link = links.get(role=role)
            # Only the digest is stored; the token is in the URL handed out, once.
            assert link.token_digest == hashlib.sha256(token.encode()).hexdigest()
            assert token not in link.token_digest
            assert link.expires_at - link.created_at == timedelta(hours=72)
    entry = AuditEntry.objects.get(action="DOC_PACK_SENT")
    assert entry.resource == f"pack:{pack.id}" and entry.reason_code == REASON
    assert set(entry.metadata["envelopes"]) == {d.id for d in docs}
    assert "signing_urls" not in json.dumps(entry.metadata)  # the tokens are not in the ledger


def test_only_an_issued_pack_is_sent_and_only_once():
    pack, _ = sent_pack()
    with pytest.raises(Conflict, match="already sent"):
        signing.doc_pack_send(actor=legal(), pack=pack, provider="local", reason_code=REASON)
    other = issued_pack()
    from casefile.documents import services

    services.doc_pack_void(actor=legal(), pack=other, reason="cancelled", reason_code=REASON)
    with pytest.raises(Conflict, match="only an issued pack"):
        signing.doc_pack_send(actor=legal(), pack=other, provider="local", reason_code=REASON)


def test_sending_needs_the_issue_permission_and_a_reason():
    pack = issued_pack()
    with pytest.raises(PermissionDenied):
        signing.doc_pack_send(actor=Actor.staff(make_staff(Role.SUPPORT)), pack=pack,
                              provider="local", reason_code=REASON)
    with pytest.raises(ValidationFailed):
        signing.doc_pack_send(actor=legal(), pack=pack, provider="local", reason_code=None)
    assert not AuditEntry.objects.filter(action="DOC_PACK_SENT").exists()


def test_a_required_role_without_a_party_is_named():
    pack = issued_pack(parties={"buyer": {"user_id": "usr_b", "email": "b@example.com",
                                          "name": "B"}}, body="A booking for {{ fee }} USD.")
    with pytest.raises(ValidationFailed) as caught:
        signing.doc_pack_send(actor=legal(), pack=pack, provider="local", reason_code=REASON)
    assert caught.value.details["missing_roles"] == ["talent"]
    assert not SigningLink.objects.exists()


# --- sign events -------------------------------------------------------------------------------
def test_an_event_is_recorded_once_and_a_repeat_answers_as_the_first():
    pack, _ = sent_pack()
    doc = documents(pack)[0]
    first = record(doc, "viewed", 1, event_id="evt-1", role="buyer")
    again = record(doc, "viewed", 1, event_id="evt-1", role="buyer")
    assert (first.duplicate, again.duplicate) == (False, True)
    assert again.sign_event.id == first.sign_event.id
    assert again.outcome == first.outcome == "recorded"
    assert SignEvent.objects.filter(document=doc).count() == 1
    entries = AuditEntry.objects.filter(action="DOCUMENT_SIGN_EVENT")
    assert entries.count() == 1
    entry = entries.get()
    assert entry.id == first.sign_event.audit_entry_id
    assert entry.resource == f"document:{doc.id}" and entry.reason_code == "ESIGN_EVENT"
    assert entry.actor_role == "system" and entry.metadata["via"] == "esign:local"
    row = first.sign_event
    assert row.provider_payload == json.dumps({"event": "viewed", "id": "evt-1"})
    assert (row.actor_role, row.actor_email) == ("buyer", "bea@buyer.example")


def test_status_only_moves_forward_and_a_late_event_is_recorded_not_applied():
    pack, _ = sent_pack()
    doc = documents(pack)[0]
    for role, minutes in (("buyer", 5), ("talent", 6)):
        SigningLink.objects.filter(document=doc, role=role).update(used_at=at(minutes))
        record(doc, "signed", minutes, role=role)
    done = record(doc, "completed", 10)
    assert done.outcome == "applied" and done.envelope_status == "completed"
    late_sent = record(doc, "envelope_sent", 0)  # older than what was recorded
    late_void = record(doc, "voided", 12)  # newer, but completed is final
    assert late_sent.outcome == "out_of_order" and late_void.outcome == "recorded"
    doc.refresh_from_db()
    pack.refresh_from_db()
    assert doc.envelope_status == "completed" and pack.status == "signed"
    assert SignEvent.objects.filter(document=doc).count() == 5


def test_a_forward_event_applies_however_late_it_arrives():
    """A decline that happened before a view recorded first still ends the envelope: the
    status goes only where the later event would have taken it too."""
    pack, _ = sent_pack()
    doc = documents(pack)[0]
    record(doc, "viewed", 10, role="talent")
    declined = record(doc, "declined", 5, role="buyer", reason="wrong fee")
    assert declined.outcome == "applied"
    doc.refresh_from_db()
    assert doc.envelope_status == "voided"


def test_a_decline_voids_the_envelope_the_pack_and_the_packs_other_envelopes():
    pack, sent = sent_pack(templates=2)
    first, second = documents(pack)
    token = tokens(sent, first.id)["buyer"]
    result = signing.signing_link_decline(token=token, reason="the fee is wrong",
                                          ip_address="198.51.100.4", user_agent="Safari")
    assert result.outcome == "applied"
    assert (result.envelope_status, result.pack_status) == ("voided", "voided")
    pack.refresh_from_db()
    first.refresh_from_db()
    second.refresh_from_db()
    assert pack.status == "voided" and "declined" in pack.void_reason
    assert first.envelope_status == second.envelope_status == "voided"
    row = SignEvent.objects.get(document=first, event="declined")
    assert (row.ip_address, row.user_agent, row.actor_role) == ("198.51.100.4", "Safari",
                                                                 "buyer")
    assert orjson.loads(row.provider_payload)["reason"] == "the fee is wrong"
    store = get_store()
    for doc in (first, second):
        assert doc.envelope_key == key_for(doc, f"envelope_{doc.id}.json")
        record_ = orjson.loads(store.get(doc.envelope_key))
        assert record_["status"] == "voided" and record_["envelope_id"] == doc.envelope_id
    entry = AuditEntry.objects.get(pk=row.audit_entry_id)
    assert entry.metadata["pack_voided"] is True
    assert entry.metadata["voided_envelopes"] == [second.id]
    assert entry.ip_address == "198.51.100.4"
    # Every link of the pack is closed now.
    for role, other in tokens(sent, second.id).items():
        assert signing.link_state(signing.link_for(other)).state == "withdrawn", role


def test_an_expired_link_ends_the_envelope_and_voids_the_pack(monkeypatch):
    pack, sent = sent_pack()
    doc = documents(pack)[0]
    token = tokens(sent, doc.id)["buyer"]
    link = SigningLink.objects.get(document=doc, role="buyer")
    moment = link.expires_at + timedelta(seconds=1)
    opened = signing.signing_link_open(token, at=moment)
    assert opened.state == "expired"
    doc.refresh_from_db()
    pack.refresh_from_db()
    assert doc.envelope_status == "expired" and pack.status == "voided"
    assert SignEvent.objects.filter(document=doc, event="expired").count() == 1
    with pytest.raises(signing.LinkUnusable):
        sign(token, at=moment)
    # Opening it again records nothing more.
    signing.signing_link_open(token, at=moment + timedelta(hours=1))
    assert SignEvent.objects.filter(document=doc).count() == 1


def test_the_sweep_expires_envelopes_whose_links_ran_out():
    pack, _ = sent_pack(templates=2)
    link = SigningLink.objects.filter(document__pack=pack).first()
    assert signing.signing_links_expire(at=link.expires_at - timedelta(minutes=1)) == 0
    assert signing.signing_links_expire(at=link.expires_at + timedelta(minutes=1)) == 1
    # The first expiry voided the pack and with it the other envelope: nothing left to expire.
    assert signing.signing_links_expire(at=link.expires_at + timedelta(hours=1)) == 0
    pack.refresh_from_db()
    assert pack.status == "voided"
    assert sorted(d.envelope_status for d in documents(pack)) == ["expired", "voided"]


# --- the local provider ------------------------------------------------------------------------
def test_signers_sign_in_order_and_each_link_works_once():
    pack, sent = sent_pack()
    doc = documents(pack)[0]
    links = tokens(sent, doc.id)
    waiting = signing.signing_link_open(links["talent"])
    assert waiting.state == "waiting" and waiting.waiting_for == ["buyer"]
    with pytest.raises(signing.LinkUnusable):
        sign(links["talent"], "Tom Talent")
    assert signing.signing_link_open(links["buyer"]).state == "open"
    signed = sign(links["buyer"])
    assert signed.envelope_status == "sent"
    with pytest.raises(signing.LinkUnusable) as caught:
        sign(links["buyer"])
    assert caught.value.opened.state == "used"
    assert signing.signing_link_open(links["talent"]).state == "open"
    # The optional witness comes after the talent, and holds no one up.
    assert signing.signing_link_open(links["witness"]).waiting_for == ["talent"]


def test_signing_records_typed_name_consent_ip_agent_and_time():
    pack, sent = sent_pack()
    doc = documents(pack)[0]
    moment = datetime.now(UTC)
    sign(tokens(sent, doc.id)["buyer"], "  Bea   Q. Buyer ", at=moment)
    row = SignEvent.objects.get(document=doc, event="signed")
    assert (row.actor_role, row.actor_name, row.actor_email) == ("buyer", "Bea Q. Buyer",
                                                                  "bea@buyer.example")
    assert (row.ip_address, row.user_agent, row.occurred_at) == ("203.0.113.7", "Firefox/140",
                                                                  moment)
    payload = orjson.loads(row.provider_payload)
    assert payload["typed_name"] == "Bea Q. Buyer"
    assert payload["consent_text"] == signing.CONSENT_TEXT
    assert payload["v1_sha256"] == doc.render_pdf_sha256
    header = orjson.loads(row.signature_header)[local.SIGNATURE_HEADER]
    link = SigningLink.objects.get(document=doc, role="buyer")
    assert header == local.event_signature(link.token_digest, row.provider_payload.encode())
    assert link.used_at == moment


def test_a_signature_needs_a_name_and_consent():
    pack, sent = sent_pack()
    doc = documents(pack)[0]
    token = tokens(sent, doc.id)["buyer"]
    with pytest.raises(ValidationFailed) as caught:
        signing.signing_link_sign(token=token, typed_name="  ", consent=False)
    assert set(caught.value.details) == {"typed_name", "consent"}
    assert signing.signing_link_open(token).state == "open"  # not used up


def test_every_required_signer_completes_the_envelope_and_the_pack(settings):
    pack, sent = sent_pack(templates=2)
    store = get_store()
    for doc in documents(pack):
        links = tokens(sent, doc.id)
        sign(links["buyer"], "Bea Buyer")
        last = sign(links["talent"], "Tom Talent")
        doc.refresh_from_db()
        assert doc.envelope_status == "completed"
        v2 = store.get(doc.signed_pdf_key)
        assert doc.signed_pdf_key == key_for(doc, f"{doc.id}_v2.pdf")
        assert hashlib.sha256(v2).hexdigest() == doc.signed_pdf_sha256
        v1 = store.get(doc.render_pdf_key)
        assert v2.startswith(b"%PDF-") and len(v2) > len(v1)
        # The signed copy renders again from the stored inputs and events, byte for byte.
        assert signing.render_signed_copy(doc) == v2
        envelope = orjson.loads(store.get(doc.envelope_key))
        assert envelope["status"] == "completed" and envelope["v2_sha256"] == doc.signed_pdf_sha256
        assert [s["role"] for s in envelope["signers"]] == ["buyer", "talent"]
        assert [e["event"] for e in envelope["events"]] == ["signed", "signed", "completed"]
    pack.refresh_from_db()
    assert pack.status == "signed" and pack.signed_at is not None
    assert last.pack_status == "signed"
    # The witness's link closed with the envelope.
    witness = tokens(sent, documents(pack)[0].id)["witness"]
    assert signing.link_state(signing.link_for(witness)).state == "withdrawn"


def test_a_pack_voided_by_staff_closes_its_links():
    from casefile.documents import services

    pack, sent = sent_pack()
    doc = documents(pack)[0]
    services.doc_pack_void(actor=legal(), pack=pack, reason="booking cancelled",
                           reason_code=REASON)
    doc.refresh_from_db()
    assert doc.envelope_status == "voided" and doc.envelope_key
    assert signing.signing_link_open(tokens(sent, doc.id)["buyer"]).state == "withdrawn"


def test_an_unknown_envelope_is_refused_and_nothing_kept():
    with pytest.raises(signing.UnknownEnvelope):
        signing.sign_event_record(
            provider="local", raw_body=b"{}",
            event=ProviderEvent(event_id="x", envelope_id="local-nope", event="signed",
                                occurred_at=T0))
    assert not SignEvent.objects.exists()
    assert not AuditEntry.objects.filter(action="DOCUMENT_SIGN_EVENT").exists()


def test_sign_events_are_append_only():
    from django.db import DatabaseError, transaction

    pack, sent = sent_pack()
    doc = documents(pack)[0]
    sign(tokens(sent, doc.id)["buyer"])
    row = SignEvent.objects.filter(document=doc).first()
    with pytest.raises(DatabaseError), transaction.atomic():
        SignEvent.objects.filter(pk=row.pk).update(actor_name="Mallory")
    assert connection.vendor in ("sqlite", "postgresql")


def test_the_pack_is_not_signed_while_another_document_is_open():
    pack, sent = sent_pack(templates=2)
    first, second = documents(pack)
    links = tokens(sent, first.id)
    sign(links["buyer"])
    sign(links["talent"], "Tom Talent")
    pack.refresh_from_db()
    assert pack.status == "issued"
    assert DocPack.objects.get(pk=pack.pk).signed_at is None
