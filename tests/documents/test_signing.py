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


# --- the provider webhook endpoint -------------------------------------------------------------
class Vendor:
    """One fake vendor server as the webhook tests drive it: deliveries for an envelope's
    signers (by their index in signing order) and for the envelope itself."""

    name: str

    def __init__(self, fake):
        self.fake = fake

    def deliver(self, client, body: bytes, headers: dict[str, str]):
        meta = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()
                if k.lower() != "content-type"}
        return client.post(f"/api/v1/documents/webhooks/{self.name}", body,
                           content_type=headers.get("Content-Type", "application/json"),
                           **meta)


class DocuSignDriver(Vendor):
    name = "docusign"
    KEY = "connect-key-1"

    def delivery(self, envelope_id: str, kind: str, index: int | None = None, *,
                 minute: int = 0, key: str | None = None, reason: str = ""):
        generated = f"2026-03-01T10:{minute:02d}:00.0000000Z"
        recipient = str(index + 1) if index is not None else None
        if kind == "signed":
            body = self.fake.message(envelope_id, "recipient-completed", recipient_id=recipient,
                                     generated=generated)
        elif kind == "declined":
            body = self.fake.message(envelope_id, "recipient-declined", recipient_id=recipient,
                                     generated=generated, declined_reason=reason or "no")
        elif kind == "expired":
            self.fake.envelopes[envelope_id].status = "voided"
            body = self.fake.message(envelope_id, "envelope-voided", generated=generated,
                                     voided_reason="Envelope has expired.")
        else:
            if kind == "completed":
                self.fake.envelopes[envelope_id].status = "completed"
            body = self.fake.message(envelope_id, f"envelope-{kind}", generated=generated)
        return body, self.fake.signature_headers(body, key or self.KEY)


class DropboxSignDriver(Vendor):
    name = "dropbox_sign"

    def delivery(self, envelope_id: str, kind: str, index: int | None = None, *,
                 minute: int = 0, key: str | None = None, reason: str = ""):
        when = 1772359200 + minute * 60
        signature_id = None
        if kind in ("signed", "declined"):
            signature_id = self.fake.signer_did(envelope_id, index, kind, at=when,
                                                reason=reason or None)
            event_type = f"signature_request_{kind}"
        elif kind == "completed":
            for i in range(len(self.fake.requests[envelope_id].signatures)):
                self.fake.signer_did(envelope_id, i, "signed", at=when)
            event_type = "signature_request_all_signed"
        elif kind == "expired":
            self.fake.requests[envelope_id].expires_at = when - 60
            event_type = "signature_request_expired"
        else:
            event_type = f"signature_request_{kind}"
        return self.fake.callback(event_type, envelope_id, signature_id=signature_id,
                                  event_time=when, key=key)


class DocuSealDriver(Vendor):
    name = "docuseal"

    def delivery(self, envelope_id: str, kind: str, index: int | None = None, *,
                 minute: int = 0, key: str | None = None, reason: str = ""):
        import time

        stamp = f"2026-03-01T10:{minute:02d}:00.000Z"
        submission = int(envelope_id)
        if kind == "signed":
            body = self.fake.form_event(submission, index, "form.completed", timestamp=stamp)
        elif kind == "declined":
            body = self.fake.form_event(submission, index, "form.declined", timestamp=stamp,
                                        decline_reason=reason or "no")
        else:
            body = self.fake.submission_event(submission, f"submission.{kind}", timestamp=stamp)
        return body, self.fake.signature_headers(body, secret=key, ts=int(time.time()))


DRIVERS = {"docusign": (DocuSignDriver, "FakeDocuSign"),
           "dropbox_sign": (DropboxSignDriver, "FakeDropboxSign"),
           "docuseal": (DocuSealDriver, "FakeDocuSeal")}


@pytest.fixture(params=sorted(DRIVERS))
def vendor(request, settings):
    from tests.documents import fake_providers

    driver_class, fake_name = DRIVERS[request.param]
    with getattr(fake_providers, fake_name)() as fake:
        settings.ESIGN_PROVIDERS = {request.param: fake.config()}
        yield driver_class(fake)


def vendor_pack(vendor: Vendor, **kwargs) -> tuple[DocPack, Document]:
    pack, _ = sent_pack(vendor.name, **kwargs)
    doc = documents(pack)[0]
    assert doc.envelope_provider == vendor.name and doc.envelope_status == "sent"
    return pack, doc


def test_signed_deliveries_complete_the_envelope_and_sign_the_pack(vendor, client):
    from tests.documents.fake_providers import signed_copy

    pack, doc = vendor_pack(vendor)
    for index in range(3):
        response = vendor.deliver(client, *vendor.delivery(doc.envelope_id, "signed", index,
                                                           minute=index))
        assert response.status_code == 200, response.content
    response = vendor.deliver(client, *vendor.delivery(doc.envelope_id, "completed", minute=5))
    status, content_type, body = vendor_provider(vendor).webhook_response()
    assert (response.status_code, response.content) == (status, body)
    doc.refresh_from_db()
    pack.refresh_from_db()
    assert doc.envelope_status == "completed" and pack.status == "signed"
    store = get_store()
    v2 = store.get(doc.signed_pdf_key)
    assert v2 == signed_copy(store.get(doc.render_pdf_key))
    assert doc.signed_pdf_sha256 == hashlib.sha256(v2).hexdigest()
    envelope = orjson.loads(store.get(doc.envelope_key))
    assert envelope["provider"] == vendor.name and envelope["status"] == "completed"
    assert [e["event"] for e in envelope["events"]] == ["signed"] * 3 + ["completed"]
    signed = SignEvent.objects.filter(document=doc, event="signed").order_by("occurred_at")
    assert [e.actor_role for e in signed] == ["buyer", "talent", "witness"]
    for row in signed:
        assert row.provider == vendor.name and row.signature_header
        assert AuditEntry.objects.get(pk=row.audit_entry_id).action == "DOCUMENT_SIGN_EVENT"


def vendor_provider(vendor: Vendor):
    from casefile.documents.esign.registry import provider_named

    return provider_named(vendor.name)


def test_a_bad_signature_is_401_and_nothing_is_kept(vendor, client, caplog):
    _, doc = vendor_pack(vendor)
    body, headers = vendor.delivery(doc.envelope_id, "signed", 0, key="not-the-secret")
    response = vendor.deliver(client, body, headers)
    assert response.status_code == 401, response.content
    assert response.json()["error"]["code"] == "webhook_refused"
    assert not SignEvent.objects.exists()
    assert not AuditEntry.objects.filter(action="DOCUMENT_SIGN_EVENT").exists()
    assert "refused" in caplog.text


def test_a_replayed_delivery_changes_nothing(vendor, client):
    _, doc = vendor_pack(vendor)
    body, headers = vendor.delivery(doc.envelope_id, "signed", 0)
    for _ in range(2):
        assert vendor.deliver(client, body, headers).status_code == 200
    assert SignEvent.objects.filter(document=doc).count() == 1
    assert AuditEntry.objects.filter(action="DOCUMENT_SIGN_EVENT").count() == 1


def test_deliveries_out_of_order_never_move_the_envelope_back(vendor, client):
    pack, doc = vendor_pack(vendor)
    late_signed = vendor.delivery(doc.envelope_id, "signed", 0, minute=1)
    completed = vendor.delivery(doc.envelope_id, "completed", minute=9)
    assert vendor.deliver(client, *completed).status_code == 200
    assert vendor.deliver(client, *late_signed).status_code == 200
    doc.refresh_from_db()
    assert doc.envelope_status == "completed"
    late = SignEvent.objects.get(document=doc, event="signed")
    entry = AuditEntry.objects.get(pk=late.audit_entry_id)
    assert entry.metadata["outcome"] == "out_of_order"
    assert entry.details["before"] == entry.details["after"]


@pytest.mark.parametrize("kind", ["declined", "expired"])
def test_a_decline_or_expiry_voids_the_envelope_and_the_pack(vendor, client, kind,
                                                             django_capture_on_commit_callbacks,
                                                             monkeypatch):
    if kind == "expired" and vendor.name == "dropbox_sign":
        import casefile.core.timeutil as timeutil  # its API's expires_at is checked against now

        monkeypatch.setattr(timeutil, "now", lambda: datetime.fromtimestamp(
            1772359200 + 3600, UTC))
    pack, doc = vendor_pack(vendor, templates=2)
    other = documents(pack)[1]
    with django_capture_on_commit_callbacks(execute=True):
        response = vendor.deliver(client, *vendor.delivery(doc.envelope_id, kind, 0,
                                                           reason="dates wrong"))
    assert response.status_code == 200, response.content
    doc.refresh_from_db()
    other.refresh_from_db()
    pack.refresh_from_db()
    assert doc.envelope_status == ("voided" if kind == "declined" else "expired")
    assert pack.status == "voided" and kind in pack.void_reason
    assert other.envelope_status == "voided"
    # The pack's other envelope is voided at the vendor too, once the change committed.
    assert vendor_voided(vendor, other.envelope_id)


def vendor_voided(vendor: Vendor, envelope_id: str) -> bool:
    fake = vendor.fake
    if vendor.name == "docusign":
        return fake.envelopes[envelope_id].status == "voided"
    if vendor.name == "dropbox_sign":
        return fake.requests[envelope_id].canceled
    return fake.submissions[envelope_id].archived


def test_an_event_for_an_unknown_envelope_is_acknowledged_and_not_kept(client, settings,
                                                                       caplog):
    from tests.documents.fake_providers import FakeDocuSign

    with FakeDocuSign() as fake:
        settings.ESIGN_PROVIDERS = {"docusign": fake.config()}
        driver = DocuSignDriver(fake)
        envelope_id = vendor_provider(driver).create_envelope(
            pdf=b"%PDF-1.4\n%%EOF\n", filename="x.pdf", title="Elsewhere",
            signers=[signing.Signer(role="buyer", name="B", email="b@example.com", order=1)],
            metadata={}).envelope_id
        response = driver.deliver(client, *driver.delivery(envelope_id, "completed"))
    assert response.status_code == 200
    assert not SignEvent.objects.exists()
    assert "unknown envelope" in caplog.text


def test_unknown_unconfigured_and_local_providers_are_404(client, settings):
    settings.ESIGN_PROVIDERS = {}
    for name in ("nobody", "docusign", "local"):
        response = client.post(f"/api/v1/documents/webhooks/{name}", b"{}",
                               content_type="application/json")
        assert response.status_code == 404, (name, response.content)
        assert response.json()["error"]["code"] == "not_found"
    assert client.get("/api/v1/documents/webhooks/docusign").status_code == 405


def test_an_oversized_body_is_413_before_its_signature_is_read(client, settings):
    from tests.documents.fake_providers import FakeDocuSign

    settings.WEBHOOK_MAX_BYTES = 100
    with FakeDocuSign() as fake:
        settings.ESIGN_PROVIDERS = {"docusign": fake.config()}
        response = client.post("/api/v1/documents/webhooks/docusign", b"{" + b" " * 200 + b"}",
                               content_type="application/json")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


# --- the signing page --------------------------------------------------------------------------
def page(client, token: str):
    return client.get(f"/sign/{token}/")


def test_the_page_shows_the_pdf_role_name_and_consent_and_signs(client):
    from django.test import Client

    pack, sent = sent_pack()
    doc = documents(pack)[0]
    token = tokens(sent, doc.id)["buyer"]
    browser = Client(enforce_csrf_checks=True, HTTP_USER_AGENT="Mozilla/5.0 test")
    response = page(browser, token)
    assert response.status_code == 200
    html = response.content.decode()
    assert f'src="/sign/{token}/document.pdf"' in html
    assert "Bea Buyer" in html and ">buyer<" in html and signing.CONSENT_TEXT in html
    assert response["Cache-Control"].startswith("max-age=0")
    assert response["Referrer-Policy"] == "same-origin"
    pdf = browser.get(f"/sign/{token}/document.pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert hashlib.sha256(pdf.content).hexdigest() == doc.render_pdf_sha256
    assert pdf["X-Frame-Options"] == "SAMEORIGIN"
    # Without the CSRF token the form is refused.
    refused = browser.post(f"/sign/{token}/", {"typed_name": "Bea", "consent": "yes"})
    assert refused.status_code == 403
    csrf = browser.cookies["csrftoken"].value
    missing = browser.post(f"/sign/{token}/", {"typed_name": "", "csrfmiddlewaretoken": csrf})
    assert missing.status_code == 422
    assert "type your full name" in missing.content.decode()
    done = browser.post(f"/sign/{token}/", {"typed_name": "Bea Buyer", "consent": "yes",
                                            "csrfmiddlewaretoken": csrf},
                        REMOTE_ADDR="192.0.2.10")
    assert done.status_code == 200 and "you have signed" in done.content.decode()
    row = SignEvent.objects.get(document=doc, event="signed")
    assert (row.ip_address, row.user_agent) == ("192.0.2.10", "Mozilla/5.0 test")
    assert SignEvent.objects.filter(document=doc, event="viewed").count() == 1
    again = page(browser, token)
    assert again.status_code == 410 and "has been used" in again.content.decode()
    assert browser.get(f"/sign/{token}/document.pdf").status_code == 410


def test_unknown_expired_and_waiting_links_say_so(client, monkeypatch):
    pack, sent = sent_pack()
    doc = documents(pack)[0]
    links = tokens(sent, doc.id)
    unknown = page(client, "not-a-real-token")
    assert unknown.status_code == 404 and "not valid" in unknown.content.decode()
    waiting = page(client, links["talent"])
    assert waiting.status_code == 409 and "not your turn" in waiting.content.decode()
    expires = SigningLink.objects.get(document=doc, role="buyer").expires_at
    monkeypatch.setattr(signing, "now", lambda: expires + timedelta(minutes=1))
    expired = page(client, links["buyer"])
    assert expired.status_code == 410 and "expired" in expired.content.decode()
    withdrawn = page(client, links["talent"])  # the expiry voided the envelope
    assert withdrawn.status_code == 410 and "no longer open" in withdrawn.content.decode()


def test_declining_on_the_page_voids_the_pack(client):
    pack, sent = sent_pack()
    doc = documents(pack)[0]
    response = client.post(f"/sign/{tokens(sent, doc.id)['buyer']}/",
                           {"action": "decline", "reason": "wrong dates"})
    assert response.status_code == 200 and "declined" in response.content.decode()
    pack.refresh_from_db()
    assert pack.status == "voided"


def test_the_platform_sends_with_the_registrys_reason():
    from tests.documents.signing_helpers import platform

    pack = issued_pack()
    signing.doc_pack_send(actor=platform(), pack=pack, provider="local",
                          reason_code="COMPLIANCE_REVIEW")
    entry = AuditEntry.objects.get(action="DOC_PACK_SENT")
    assert entry.reason_code == "BOOKING_DOCUMENTS"


def test_a_staff_token_opens_no_webhook(vendor):
    """The webhook's only credential is the provider's signature: an admin's token is not one."""
    from tests.conftest import ApiClient, token_for

    _, doc = vendor_pack(vendor)
    body, headers = vendor.delivery(doc.envelope_id, "signed", 0, key="not-the-secret")
    admin = ApiClient(token_for(make_staff(Role.ADMIN)))
    response = vendor.deliver(admin, body, {**headers,
                                            "Authorization": f"Bearer {admin.token}"})
    assert response.status_code == 401
    assert not SignEvent.objects.exists()


def test_the_sign_events_api_lists_the_timeline(api_as):
    pack, sent = sent_pack()
    doc = documents(pack)[0]
    sign(tokens(sent, doc.id)["buyer"])
    response = api_as(Role.LEGAL).call("GET",
                                       f"/api/v1/documents/documents/{doc.id}/sign-events")
    assert response.status_code == 200
    body = response.json()
    assert body["envelope_status"] == "sent"
    assert [(e["event"], e["signer_role"], e["ip_address"]) for e in body["items"]] == [
        ("signed", "buyer", "203.0.113.7")]


def test_sending_through_the_api_shows_each_link_once(api_as):
    pack = issued_pack()
    response = api_as(Role.LEGAL).call("POST", f"/api/v1/documents/packs/{pack.id}/send",
                                       {"provider": "local", "reason_code": REASON})
    assert response.status_code == 200, response.content
    [(doc_id, envelope)] = response.json()["envelopes"].items()
    assert set(envelope["signing_urls"]) == {"buyer", "talent", "witness"}
    again = api_as(Role.LEGAL).call("POST", f"/api/v1/documents/packs/{pack.id}/send",
                                    {"provider": "local", "reason_code": REASON})
    assert again.status_code == 409
    unknown = api_as(Role.LEGAL).call("POST", f"/api/v1/documents/packs/{issued_pack().id}"
                                      "/send", {"provider": "nobody", "reason_code": REASON})
    assert unknown.status_code == 404
