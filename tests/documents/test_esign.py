"""The e-sign provider adapters against fake vendor servers on 127.0.0.1 (no internet, no
database): envelope creation, void, signed copy, and each vendor's webhook — signed, bad
signature, rotated secret, replay, out of order, expiry — as each vendor documents it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from casefile.core import timeutil
from casefile.core.errors import NotFound, ValidationFailed
from casefile.documents.esign import registry
from casefile.documents.esign.base import (
    Provider,
    ProviderError,
    Signer,
    WebhookRefused,
    pdf_page_count,
)
from casefile.documents.esign.docuseal import DocuSeal
from casefile.documents.esign.docusign import DocuSign
from casefile.documents.esign.dropbox_sign import ACKNOWLEDGEMENT, DropboxSign, Unconfirmed

from .fake_providers import FakeDocuSeal, FakeDocuSign, FakeDropboxSign, signed_copy

PDF = (b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n"
       b"2 0 obj\n<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >>\nendobj\n"
       b"3 0 obj\n<< /Type /Page /Parent 2 0 R >>\nendobj\n"
       b"4 0 obj\n<< /Type /Page /Parent 2 0 R >>\nendobj\n%%EOF\n")
SIGNERS = [Signer(role="talent", name="Tal Ent", email="talent@example.com", order=2),
           Signer(role="buyer", name="Bu Yer", email="buyer@example.com", order=1)]
METADATA = {"doc_id": "doc_01JTEST", "pack_id": "dpk_01JTEST"}


def create(provider: Provider) -> str:
    return provider.create_envelope(pdf=PDF, filename="doc_01JTEST_v1.pdf", title="Booking",
                                    signers=list(SIGNERS), metadata=dict(METADATA)).envelope_id


def test_page_count_reads_page_objects_not_the_pages_tree() -> None:
    assert pdf_page_count(PDF) == 2
    assert pdf_page_count(b"%PDF-1.4 nothing") == 1


# --- registry ------------------------------------------------------------------------------


def test_registry_builds_configured_vendors_only(settings: Any) -> None:
    settings.ESIGN_PROVIDERS = {}
    with pytest.raises(NotFound):
        registry.provider_named("docusign")
    with pytest.raises(NotFound):
        registry.provider_named("no-such-vendor")
    settings.ESIGN_PROVIDERS = {"docuseal": {"base_url": "https://api.docuseal.com",
                                             "api_key": "k", "webhook_secrets": ["whsec_a"]}}
    provider = registry.provider_named("docuseal")
    assert isinstance(provider, DocuSeal) and isinstance(provider, Provider)
    assert "docuseal" in registry.names() and "docusign" not in registry.names()


def test_registry_names_every_bad_field(settings: Any) -> None:
    settings.ESIGN_PROVIDERS = {"docusign": {"base_url": "ftp://x", "webhook_secrets": []}}
    with pytest.raises(ValidationFailed) as caught:
        registry.provider_named("docusign")
    assert set(caught.value.details["fields"]) == {"base_url", "account_id", "access_token",
                                                   "webhook_secrets"}


def test_dropbox_sign_webhook_key_defaults_to_the_api_key(settings: Any) -> None:
    settings.ESIGN_PROVIDERS = {"dropbox_sign": {"base_url": "https://api.hellosign.com/v3",
                                                 "api_key": "key-1"}}
    provider = registry.provider_named("dropbox_sign")
    assert isinstance(provider, DropboxSign) and provider.webhook_secrets == ("key-1",)


def test_registered_local_needs_no_configuration(settings: Any,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_registered", {})
    settings.ESIGN_PROVIDERS = {}
    with pytest.raises(NotFound):
        registry.provider_named("local")
    seen: list[Any] = []

    def factory(config: Any) -> Any:
        seen.append(config)
        return object()

    registry.register("local", factory)
    registry.provider_named("local")
    assert seen == [{}] and "local" in registry.names()


# --- DocuSign ------------------------------------------------------------------------------


@pytest.fixture
def docusign() -> Iterator[tuple[FakeDocuSign, DocuSign]]:
    with FakeDocuSign(hmac_keys=("connect-key-new", "connect-key-old")) as fake:
        yield fake, DocuSign.from_config(fake.config())


def test_docusign_envelope_carries_routing_order_roles_pdf_and_our_ids(
        docusign: tuple[FakeDocuSign, DocuSign]) -> None:
    fake, provider = docusign
    envelope_id = create(provider)
    body = fake.envelopes[envelope_id].body
    signers = body["recipients"]["signers"]
    assert [(s["roleName"], s["routingOrder"], s["recipientId"]) for s in signers] == [
        ("buyer", "1", "1"), ("talent", "2", "2")]
    assert fake.envelopes[envelope_id].pdf == PDF
    assert {s["tabs"]["signHereTabs"][0]["pageNumber"] for s in signers} == {"2"}
    assert {f["name"]: f["value"] for f in body["customFields"]["textCustomFields"]} == METADATA
    assert body["emailSubject"] == "Booking"


def test_docusign_void_and_signed_copy(docusign: tuple[FakeDocuSign, DocuSign]) -> None:
    fake, provider = docusign
    envelope_id = create(provider)
    provider.void(envelope_id=envelope_id, reason="pack superseded")
    assert fake.envelopes[envelope_id].voided_reason == "pack superseded"
    assert provider.signed_pdf(envelope_id=envelope_id) == signed_copy(PDF)
    with pytest.raises(ValidationFailed):
        provider.signed_pdf(envelope_id="../../other")


def test_docusign_bad_token_is_a_non_retryable_provider_error(
        docusign: tuple[FakeDocuSign, DocuSign]) -> None:
    fake, _ = docusign
    provider = DocuSign.from_config(fake.config(access_token="expired"))
    with pytest.raises(ProviderError) as caught:
        create(provider)
    assert caught.value.http_status == 401 and not caught.value.retryable


def test_docusign_unreachable_is_retryable() -> None:
    with FakeDocuSign() as fake:
        config = fake.config()
    with pytest.raises(ProviderError) as caught:
        create(DocuSign.from_config(config))
    assert caught.value.retryable


def test_docusign_connect_signed_gives_events(docusign: tuple[FakeDocuSign, DocuSign]) -> None:
    fake, provider = docusign
    envelope_id = create(provider)
    body = fake.message(envelope_id, "recipient-completed", recipient_id="1")
    headers = fake.signature_headers(body, "connect-key-new")
    provider.verify_webhook(body=body, headers=headers)
    [event] = provider.parse_webhook(body=body, headers=headers)
    assert (event.event, event.envelope_id, event.signer_email, event.signer_role) == (
        "signed", envelope_id, "buyer@example.com", "buyer")
    assert event.occurred_at == datetime(2026, 3, 1, 10, 0, 0, 123456, UTC)
    assert provider.kept_headers(headers) == {
        "X-DocuSign-Signature-1": headers["X-DocuSign-Signature-1"]}
    completed = fake.message(envelope_id, "envelope-completed")
    [done] = provider.parse_webhook(body=completed, headers={})
    assert done.event == "completed" and done.signer_role is None


@pytest.mark.parametrize("headers", [
    {},
    {"X-DocuSign-Signature-1": "not base64!"},
    {"X-DocuSign-Signature-1": "c2lnbmVkIGJ5IHNvbWVvbmUgZWxzZQ=="},
])
def test_docusign_bad_signature_is_refused(docusign: tuple[FakeDocuSign, DocuSign],
                                           headers: dict[str, str]) -> None:
    fake, provider = docusign
    body = fake.message(create(provider), "envelope-completed")
    with pytest.raises(WebhookRefused):
        provider.verify_webhook(body=body, headers=headers)


def test_docusign_signature_covers_every_byte(docusign: tuple[FakeDocuSign, DocuSign]) -> None:
    fake, provider = docusign
    body = fake.message(create(provider), "envelope-completed")
    headers = fake.signature_headers(body, "connect-key-new")
    with pytest.raises(WebhookRefused):
        provider.verify_webhook(body=body.replace(b"\n", b"\r\n"), headers=headers)
    with pytest.raises(WebhookRefused):
        provider.verify_webhook(body=body, headers=fake.signature_headers(body, "unknown-key"))


def test_docusign_rotated_key_and_second_header_pass(
        docusign: tuple[FakeDocuSign, DocuSign]) -> None:
    fake, provider = docusign
    body = fake.message(create(provider), "envelope-completed")
    provider.verify_webhook(body=body, headers=fake.signature_headers(body, "connect-key-old"))
    # During rotation Connect sends one header per key; a match in any of them is enough.
    provider.verify_webhook(body=body, headers=fake.signature_headers(body, "retired",
                                                                      "connect-key-new"))


def test_docusign_replay_and_retry_give_the_same_event_id(
        docusign: tuple[FakeDocuSign, DocuSign]) -> None:
    fake, provider = docusign
    envelope_id = create(provider)
    first = fake.message(envelope_id, "recipient-completed", recipient_id="2")
    retry = fake.message(envelope_id, "recipient-completed", recipient_id="2", retry_count=3)
    other = fake.message(envelope_id, "recipient-completed", recipient_id="1")
    ids = [provider.parse_webhook(body=b, headers={})[0].event_id
           for b in (first, first, retry, other)]
    assert ids[0] == ids[1] == ids[2] != ids[3]


def test_docusign_out_of_order_events_carry_their_own_time(
        docusign: tuple[FakeDocuSign, DocuSign]) -> None:
    fake, provider = docusign
    envelope_id = create(provider)
    late = fake.message(envelope_id, "envelope-completed", generated="2026-03-01T12:00:00Z")
    early = fake.message(envelope_id, "recipient-delivered", recipient_id="1",
                         generated="2026-03-01T09:00:00.5Z")
    events = [provider.parse_webhook(body=b, headers={})[0] for b in (late, early)]
    assert sorted(events, key=lambda e: e.occurred_at)[0].event == "viewed"


def test_docusign_expiry_is_a_void_with_its_reason(
        docusign: tuple[FakeDocuSign, DocuSign]) -> None:
    fake, provider = docusign
    envelope_id = create(provider)
    expired = fake.message(envelope_id, "envelope-voided", voided_reason="Envelope has expired.")
    voided = fake.message(envelope_id, "envelope-voided", voided_reason="Deal cancelled")
    [e1] = provider.parse_webhook(body=expired, headers={})
    [e2] = provider.parse_webhook(body=voided, headers={})
    assert (e1.event, e2.event, e2.reason) == ("expired", "voided", "Deal cancelled")


def test_docusign_decline_and_unknown_events(docusign: tuple[FakeDocuSign, DocuSign]) -> None:
    fake, provider = docusign
    envelope_id = create(provider)
    declined = fake.message(envelope_id, "recipient-declined", recipient_id="2",
                            declined_reason="Wrong fee")
    [event] = provider.parse_webhook(body=declined, headers={})
    assert (event.event, event.signer_role, event.reason) == ("declined", "talent", "Wrong fee")
    assert provider.parse_webhook(body=fake.message(envelope_id, "recipient-resent",
                                                    recipient_id="1"), headers={}) == []


def test_docusign_another_accounts_message_is_refused(
        docusign: tuple[FakeDocuSign, DocuSign]) -> None:
    fake, provider = docusign
    body = json.loads(fake.message(create(provider), "envelope-completed"))
    body["data"]["accountId"] = "someone-else"
    with pytest.raises(ValidationFailed):
        provider.parse_webhook(body=json.dumps(body).encode(), headers={})


# --- Dropbox Sign ----------------------------------------------------------------------------


@pytest.fixture
def dropbox() -> Iterator[tuple[FakeDropboxSign, DropboxSign]]:
    with FakeDropboxSign(api_key="hs-key-new") as fake:
        yield fake, DropboxSign.from_config(
            fake.config(webhook_secrets=["hs-key-new", "hs-key-old"]))


def test_dropbox_sign_request_shape(dropbox: tuple[FakeDropboxSign, DropboxSign]) -> None:
    fake, provider = dropbox
    request_id = create(provider)
    request = fake.requests[request_id]
    assert [(s["signer_email_address"], s["order"]) for s in request.signatures] == [
        ("buyer@example.com", 0), ("talent@example.com", 1)]
    assert request.pdf == PDF
    assert request.metadata == {**METADATA, "casefile_roles": "buyer,talent"}
    fields = json.loads(request.fields["form_fields_per_document"])
    assert {(f["signer"], f["page"], f["type"]) for f in fields} == {("0", 2, "signature"),
                                                                     ("1", 2, "signature")}


def test_dropbox_sign_void_signed_copy_and_files_being_prepared(
        dropbox: tuple[FakeDropboxSign, DropboxSign]) -> None:
    fake, provider = dropbox
    request_id = create(provider)
    assert provider.signed_pdf(envelope_id=request_id) == signed_copy(PDF)
    fake.preparing = True
    with pytest.raises(ProviderError) as caught:
        provider.signed_pdf(envelope_id=request_id)
    assert caught.value.retryable and caught.value.http_status == 409
    provider.void(envelope_id=request_id, reason="superseded")
    assert fake.requests[request_id].canceled


def test_dropbox_sign_callback_is_confirmed_against_the_api(
        dropbox: tuple[FakeDropboxSign, DropboxSign]) -> None:
    fake, provider = dropbox
    request_id = create(provider)
    signature_id = fake.signer_did(request_id, 1, "signed")
    body, headers = fake.callback("signature_request_signed", request_id,
                                  signature_id=signature_id)
    provider.verify_webhook(body=body, headers=headers)
    gets_before = len(fake.requests_to("GET", rf"/v3/signature_request/{request_id}"))
    [event] = provider.parse_webhook(body=body, headers=headers)
    assert len(fake.requests_to("GET", rf"/v3/signature_request/{request_id}")) == gets_before + 1
    assert (event.event, event.envelope_id, event.signer_email, event.signer_role) == (
        "signed", request_id, "talent@example.com", "talent")
    assert event.occurred_at == datetime.fromtimestamp(1772359200, UTC)
    assert provider.webhook_response() == (200, "text/plain", b"Hello API Event Received")
    assert ACKNOWLEDGEMENT == b"Hello API Event Received"
    assert provider.kept_headers(headers) == {"Content-Type": headers["Content-Type"]}


def test_dropbox_sign_bad_hash_is_refused_and_rotated_key_accepted(
        dropbox: tuple[FakeDropboxSign, DropboxSign]) -> None:
    fake, provider = dropbox
    request_id = create(provider)
    body, headers = fake.callback("signature_request_sent", request_id, key="not-our-key")
    with pytest.raises(WebhookRefused):
        provider.verify_webhook(body=body, headers=headers)
    body, headers = fake.callback("signature_request_sent", request_id, key="hs-key-old")
    provider.verify_webhook(body=body, headers=headers)
    with pytest.raises(WebhookRefused):
        provider.verify_webhook(body=b"json=%7B%7D",
                                headers={"Content-Type": "application/x-www-form-urlencoded"})


def test_dropbox_sign_hash_replayed_with_a_forged_body_is_not_trusted(
        dropbox: tuple[FakeDropboxSign, DropboxSign]) -> None:
    fake, provider = dropbox
    request_id = create(provider)
    # A genuine "signed" hash (it covers only time and type) sent for a signer who has not
    # signed: the signature checks out, the API does not.
    signature_id = str(fake.requests[request_id].signatures[0]["signature_id"])
    body, headers = fake.callback("signature_request_signed", request_id,
                                  signature_id=signature_id)
    provider.verify_webhook(body=body, headers=headers)
    with pytest.raises(Unconfirmed):
        provider.parse_webhook(body=body, headers=headers)
    body, headers = fake.callback("signature_request_all_signed", request_id)
    with pytest.raises(Unconfirmed):
        provider.parse_webhook(body=body, headers=headers)
    # The body's own claims (another request's metadata) are never read: facts come from the API.
    body, headers = fake.callback("signature_request_sent", request_id, request_override={
        "signature_request_id": request_id, "metadata": {"casefile_roles": "witness"}})
    [event] = provider.parse_webhook(body=body, headers=headers)
    assert event.event == "envelope_sent"


def test_dropbox_sign_replay_gives_the_same_ids(
        dropbox: tuple[FakeDropboxSign, DropboxSign]) -> None:
    fake, provider = dropbox
    request_id = create(provider)
    first = fake.signer_did(request_id, 0, "viewed")
    second = fake.signer_did(request_id, 1, "viewed")
    deliveries = [fake.callback("signature_request_viewed", request_id, signature_id=s)
                  for s in (first, first, second)]
    ids = [provider.parse_webhook(body=b, headers=h)[0].event_id for b, h in deliveries]
    assert ids[0] == ids[1] != ids[2]


def test_dropbox_sign_decline_completion_cancel_and_expiry(
        dropbox: tuple[FakeDropboxSign, DropboxSign], monkeypatch: pytest.MonkeyPatch) -> None:
    fake, provider = dropbox
    declined_id = create(provider)
    signature_id = fake.signer_did(declined_id, 0, "declined", reason="Not my booking")
    body, headers = fake.callback("signature_request_declined", declined_id,
                                  signature_id=signature_id)
    [event] = provider.parse_webhook(body=body, headers=headers)
    assert (event.event, event.signer_role, event.reason) == ("declined", "buyer",
                                                              "Not my booking")

    done_id = create(provider)
    fake.signer_did(done_id, 0, "signed")
    fake.signer_did(done_id, 1, "signed")
    body, headers = fake.callback("signature_request_all_signed", done_id, event_time=1772362800)
    [event] = provider.parse_webhook(body=body, headers=headers)
    assert event.event == "completed"

    canceled_id = create(provider)
    body, headers = fake.callback("signature_request_canceled", canceled_id)
    with pytest.raises(Unconfirmed):  # not canceled yet: the API still serves it
        provider.parse_webhook(body=body, headers=headers)
    provider.void(envelope_id=canceled_id, reason="superseded")
    [event] = provider.parse_webhook(body=body, headers=headers)
    assert event.event == "voided"

    expiring_id = create(provider)
    fake.requests[expiring_id].expires_at = 1772359200
    body, headers = fake.callback("signature_request_expired", expiring_id)
    monkeypatch.setattr(timeutil, "now", lambda: datetime.fromtimestamp(1772359100, UTC))
    with pytest.raises(Unconfirmed):
        provider.parse_webhook(body=body, headers=headers)
    monkeypatch.setattr(timeutil, "now", lambda: datetime.fromtimestamp(1772359300, UTC))
    [event] = provider.parse_webhook(body=body, headers=headers)
    assert event.event == "expired"


def test_dropbox_sign_test_callback_records_nothing(
        dropbox: tuple[FakeDropboxSign, DropboxSign]) -> None:
    fake, provider = dropbox
    body, headers = fake.callback("callback_test", "none")
    provider.verify_webhook(body=body, headers=headers)
    assert provider.parse_webhook(body=body, headers=headers) == []
    assert not fake.requests_to("GET", r"/v3/signature_request/none")


# --- DocuSeal --------------------------------------------------------------------------------

NOW = datetime(2026, 3, 1, 10, 0, 30, tzinfo=UTC)


@pytest.fixture
def docuseal(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeDocuSeal, DocuSeal]]:
    monkeypatch.setattr(timeutil, "now", lambda: NOW)
    with FakeDocuSeal(secrets=("whsec_new", "whsec_old")) as fake:
        yield fake, DocuSeal.from_config(fake.config())


def ts(at: datetime = NOW) -> int:
    return int(at.timestamp())


def test_docuseal_submission_shape_and_signing_links(
        docuseal: tuple[FakeDocuSeal, DocuSeal]) -> None:
    fake, provider = docuseal
    created = provider.create_envelope(pdf=PDF, filename="doc.pdf", title="Booking",
                                       signers=list(SIGNERS), metadata=dict(METADATA))
    submission = fake.submissions[created.envelope_id]
    assert submission.pdf == PDF
    assert [(s["role"], s["order"], s["email"], s["metadata"]) for s in
            submission.body["submitters"]] == [("buyer", 0, "buyer@example.com", METADATA),
                                               ("talent", 1, "talent@example.com", METADATA)]
    assert submission.body["order"] == "preserved"
    assert {a["page"] for f in submission.body["documents"][0]["fields"]
            for a in f["areas"]} == {2}
    assert created.signing_urls is not None and set(created.signing_urls) == {"buyer", "talent"}


def test_docuseal_void_and_signed_copy_without_leaking_the_token(
        docuseal: tuple[FakeDocuSeal, DocuSeal]) -> None:
    fake, provider = docuseal
    submission_id = create(provider)
    assert provider.signed_pdf(envelope_id=submission_id) == signed_copy(PDF)
    provider.void(envelope_id=submission_id, reason="superseded")
    assert fake.submissions[submission_id].archived


def test_docuseal_signed_webhook_gives_events(docuseal: tuple[FakeDocuSeal, DocuSeal]) -> None:
    fake, provider = docuseal
    submission_id = int(create(provider))
    body = fake.form_event(submission_id, 1, "form.completed")
    headers = fake.signature_headers(body, ts=ts())
    provider.verify_webhook(body=body, headers=headers)
    [event] = provider.parse_webhook(body=body, headers=headers)
    assert (event.event, event.envelope_id, event.signer_email, event.signer_role) == (
        "signed", str(submission_id), "talent@example.com", "talent")
    assert event.occurred_at == datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    [done] = provider.parse_webhook(body=fake.submission_event(submission_id,
                                                               "submission.completed"),
                                    headers={})
    assert (done.event, done.envelope_id) == ("completed", str(submission_id))


def test_docuseal_bad_signature_rotation_and_tolerance(
        docuseal: tuple[FakeDocuSeal, DocuSeal]) -> None:
    fake, provider = docuseal
    body = fake.form_event(int(create(provider)), 0, "form.viewed")
    provider.verify_webhook(body=body, headers=fake.signature_headers(body, secret="whsec_old",
                                                                      ts=ts()))
    for headers in ({}, {"X-Docuseal-Signature": "garbage"},
                    fake.signature_headers(body, secret="whsec_other", ts=ts()),
                    fake.signature_headers(body + b" ", ts=ts())):
        with pytest.raises(WebhookRefused):
            provider.verify_webhook(body=body, headers=headers)
    # The timestamp is signed: a different one with the same digest fails.
    good = fake.signature_headers(body, ts=ts())["X-Docuseal-Signature"]
    moved = f"{ts() + 1}.{good.split('.', 1)[1]}"
    with pytest.raises(WebhookRefused):
        provider.verify_webhook(body=body, headers={"X-Docuseal-Signature": moved})


@pytest.mark.parametrize("offset", [timedelta(minutes=-6), timedelta(minutes=6)])
def test_docuseal_stale_or_future_timestamp_is_refused(
        docuseal: tuple[FakeDocuSeal, DocuSeal], offset: timedelta) -> None:
    fake, provider = docuseal
    body = fake.form_event(int(create(provider)), 0, "form.viewed")
    headers = fake.signature_headers(body, ts=ts(NOW + offset))
    with pytest.raises(WebhookRefused):
        provider.verify_webhook(body=body, headers=headers)
    # Re-verifying a stored delivery later checks against when it was received.
    provider.verify_webhook(body=body, headers=headers, at=NOW + offset)


def test_docuseal_replay_gives_the_same_ids(docuseal: tuple[FakeDocuSeal, DocuSeal]) -> None:
    fake, provider = docuseal
    submission_id = int(create(provider))
    first = fake.form_event(submission_id, 0, "form.viewed")
    again = fake.form_event(submission_id, 0, "form.viewed")
    later = fake.form_event(submission_id, 0, "form.viewed",
                            timestamp="2026-03-01T10:05:00.000Z")
    ids = [provider.parse_webhook(body=b, headers={})[0].event_id for b in (first, again, later)]
    assert ids[0] == ids[1] != ids[2]


def test_docuseal_expiry_archive_decline_and_ignored_events(
        docuseal: tuple[FakeDocuSeal, DocuSeal]) -> None:
    fake, provider = docuseal
    submission_id = int(create(provider))
    events = [provider.parse_webhook(body=fake.submission_event(submission_id, t), headers={})
              for t in ("submission.expired", "submission.archived", "submission.created")]
    assert [e[0].event for e in events] == ["expired", "voided", "envelope_sent"]
    [declined] = provider.parse_webhook(body=fake.form_event(
        submission_id, 0, "form.declined", decline_reason="Dates wrong"), headers={})
    assert (declined.event, declined.signer_role, declined.reason) == ("declined", "buyer",
                                                                       "Dates wrong")
    assert provider.parse_webhook(body=fake.form_event(submission_id, 0, "form.started"),
                                  headers={}) == []
    with pytest.raises(ValidationFailed):
        provider.parse_webhook(body=b"[1, 2]", headers={})
