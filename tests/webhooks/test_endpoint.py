"""`POST /api/v1/webhooks/{vendor}`: signatures, the log, idempotency, secrets and rotation, the
limits and every failure in the project's error shape. Cases are in test_apply.py."""

from __future__ import annotations

import hashlib
import itertools
import json

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from casefile.accounts.roles import Role
from casefile.audit import ledger
from casefile.audit.actor import Actor
from casefile.audit.models import AuditEntry
from casefile.evidence import services as evidence
from casefile.evidence.models import EvidenceBlob
from casefile.webhooks.models import Outcome, WebhookDelivery, WebhookResolution
from tests.conftest import make_staff
from tests.webhooks.helpers import (
    HEADERS,
    OLD_SECRET,
    SAMPLES,
    SECRET,
    VENDORS,
    deliver,
    encode,
    hex_hmac,
    post,
    sample,
    sample_json,
    signed,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def secrets(settings):
    settings.WEBHOOK_SECRETS = {name: [SECRET] for name in VENDORS}
    return settings


def only_row() -> WebhookDelivery:
    rows = list(WebhookDelivery.objects.all())
    assert len(rows) == 1, rows
    return rows[0]


def error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code, body
    return body["error"]


# --- a good delivery ---------------------------------------------------------------------------
@pytest.mark.parametrize("vendor", VENDORS)
def test_a_signed_delivery_is_logged_and_its_body_kept_as_evidence(vendor):
    body = sample(vendor)
    response = deliver(vendor)
    assert response.status_code == 200, response.content
    row = only_row()
    assert response.json() == {"received": True, "delivery_id": row.id,
                               "outcome": Outcome.HELD_FOR_CASE}
    assert (row.vendor, row.signature_ok, row.signature_reason) == (vendor, True, "")
    assert row.body_sha256 == hashlib.sha256(body).hexdigest()
    assert row.body_size == len(body)
    assert row.session_id == SAMPLES[vendor][1]
    assert row.case_state == "passed"
    assert row.event_id and row.event_type and row.first_receipt
    assert row.verification_case_id == ""  # no case has this session yet: held
    blob = EvidenceBlob.objects.get(pk=row.evidence_id)
    assert (blob.sha256, blob.source, blob.content_type) == (
        row.body_sha256, f"webhook:{vendor}", "application/json")
    assert blob.created_by is None  # Casefile itself stored it
    assert HEADERS[vendor] in row.headers


def test_the_raw_body_is_readable_through_the_vault_and_its_pii_redacted():
    body = sample("persona")
    deliver("persona")
    blob = EvidenceBlob.objects.get(pk=only_row().evidence_id)
    legal = Actor.staff(make_staff(Role.LEGAL))
    assert evidence.evidence_original_read(actor=legal, blob=blob,
                                           reason_code="COMPLIANCE_REVIEW") == body
    redacted = json.loads(evidence.evidence_redacted_read(actor=legal, blob=blob))
    fields = redacted["data"]["attributes"]["payload"]["data"]["attributes"]["fields"]
    assert fields["name-first"]["value"] == "[REDACTED:name]"
    assert fields["birthdate"]["value"] == "[REDACTED:dob]"
    assert fields["address-country-code"]["value"] == "DE"  # not personal on its own
    assert {e["kind"] for e in blob.pii_map} == {"name", "dob"}


def test_veriff_pii_is_mapped():
    deliver("veriff")
    blob = EvidenceBlob.objects.get(pk=only_row().evidence_id)
    assert {e["locator"] for e in blob.pii_map} == {
        "/verification/person/firstName", "/verification/person/lastName",
        "/verification/person/dateOfBirth", "/verification/document/number",
        "/technicalData/ip"}


def test_the_evidence_upload_is_audited_as_casefile_itself_with_the_vendor_named():
    deliver("checkr")
    ledger.chain_pending()
    entry = AuditEntry.objects.get(action="EVIDENCE_UPLOADED")
    assert (entry.actor_role, entry.reason_code) == ("system", "EVIDENCE_INTAKE")
    assert entry.metadata["via"] == "webhook:checkr"


def test_no_token_session_or_csrf_token_is_needed():
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_staff(Role.ADMIN))  # a session cookie does not bring CSRF in
    assert deliver("onfido", client=client).status_code == 200
    # A staff token is not a vendor's signature.
    body = sample("veriff")
    response = post("veriff", body, {"Authorization": "Bearer cf_whatever"})
    error(response, 401, "signature_invalid")


# --- bad signatures ----------------------------------------------------------------------------
@pytest.mark.parametrize("vendor", VENDORS)
def test_a_bad_signature_is_401_logged_and_nothing_kept(vendor):
    body = sample(vendor)
    response = post(vendor, body, signed(vendor, body, "not-the-secret"))
    err = error(response, 401, "signature_invalid")
    assert err["details"] == {"reason": "no secret matched"}
    row = only_row()
    assert (row.outcome, row.signature_ok, row.signature_reason) == (
        Outcome.SIGNATURE_INVALID, False, "no secret matched")
    assert row.body_sha256 == hashlib.sha256(body).hexdigest()  # its hash only
    assert (row.event_id, row.session_id, row.evidence_id, row.first_receipt) == (
        "", "", "", False)
    assert not EvidenceBlob.objects.exists()
    assert not AuditEntry.objects.exists() or not AuditEntry.objects.filter(
        action__startswith="VERIFICATION").exists()


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_missing_signature_is_401_and_logged(vendor):
    error(post(vendor, sample(vendor)), 401, "signature_invalid")
    assert only_row().signature_reason == f"missing header {HEADERS[vendor]}"


def test_a_tampered_body_is_refused():
    body = sample("checkr")
    headers = signed("checkr", body)
    error(post("checkr", body.replace(b"clear", b"consider"), headers), 401, "signature_invalid")
    assert only_row().outcome == Outcome.SIGNATURE_INVALID


def test_persona_outside_the_five_minute_tolerance_is_refused():
    import time

    body = sample("persona")
    response = post("persona", body, signed("persona", body, at=time.time() - 6 * 60))
    assert error(response, 401, "signature_invalid")["details"] == {
        "reason": "timestamp outside tolerance"}


def test_no_secret_is_ever_logged():
    body = sample("veriff")
    headers = {**signed("veriff", body), "X-AUTH-CLIENT": "veriff-api-key",
               "User-Agent": "Veriff", "Cookie": "sessionid=x"}
    post("veriff", body, headers)
    post("veriff", body, {**signed("veriff", body, "wrong"), "X-AUTH-CLIENT": "k"})
    for row in WebhookDelivery.objects.all():
        text = json.dumps(row.headers) + row.signature_reason + row.detail
        assert SECRET not in text and "veriff-api-key" not in text and "sessionid" not in text
        assert set(row.headers) <= {"Content-Type", "User-Agent", "X-HMAC-SIGNATURE"}


# --- secrets -----------------------------------------------------------------------------------
@pytest.mark.parametrize("vendor", VENDORS)
def test_during_rotation_old_and_new_are_accepted_and_a_removed_one_is_refused(vendor, secrets):
    secrets.WEBHOOK_SECRETS = {vendor: [SECRET, OLD_SECRET]}
    first = sample_json(vendor)
    assert deliver(vendor, secret=OLD_SECRET).status_code == 200
    second = _another_event(vendor, first)
    assert deliver(vendor, second, secret=SECRET).status_code == 200
    secrets.WEBHOOK_SECRETS = {vendor: [SECRET]}  # the old one is retired
    third = _another_event(vendor, json.loads(second))
    error(deliver(vendor, third, secret=OLD_SECRET), 401, "signature_invalid")
    assert deliver(vendor, third, secret=SECRET).status_code == 200
    outcomes = list(WebhookDelivery.objects.order_by("received_at", "id")
                    .values_list("outcome", flat=True))
    assert outcomes == [Outcome.HELD_FOR_CASE, Outcome.HELD_FOR_CASE, Outcome.SIGNATURE_INVALID,
                        Outcome.HELD_FOR_CASE]


_seconds = itertools.count(1)


def _another_event(vendor: str, doc: dict) -> bytes:
    """The same kind of delivery as a new event (vendors without ids derive theirs)."""
    if vendor == "persona":
        doc["data"]["id"] += "x"
    elif vendor == "onfido":
        obj = doc["payload"]["object"]
        obj["completed_at_iso8601"] = obj["completed_at_iso8601"][:17] + str(
            int(obj["completed_at_iso8601"][17:19]) + 1).zfill(2) + "Z"
    elif vendor == "veriff":
        doc["verification"]["decisionTime"] = f"2026-03-02T12:19:{next(_seconds):02d}.000Z"
    else:
        doc["id"] += "x"
    return encode(doc)


def test_a_single_string_secret_is_accepted(secrets):
    secrets.WEBHOOK_SECRETS = {"checkr": SECRET}
    assert deliver("checkr").status_code == 200


@pytest.mark.parametrize("configured", [{}, {"persona": []}, {"persona": [""]}, {"persona": ""},
                                        {"persona": [None, " "]}, {"persona": 5}])
def test_a_vendor_without_a_secret_is_refused_never_accepted_unsigned(configured, secrets):
    secrets.WEBHOOK_SECRETS = configured
    body = sample("persona")
    for headers in ({}, signed("persona", body, ""), signed("persona", body)):
        err = error(post("persona", body, headers), 404, "webhook_not_configured")
        assert "WEBHOOK_SECRETS" in err["message"]
    assert set(WebhookDelivery.objects.values_list("outcome", flat=True)) == {
        Outcome.NOT_CONFIGURED}
    assert not EvidenceBlob.objects.exists()


# --- idempotency -------------------------------------------------------------------------------
@pytest.mark.parametrize("vendor", VENDORS)
def test_a_replay_is_a_duplicate_and_changes_nothing(vendor):
    assert deliver(vendor).status_code == 200
    first = only_row()
    response = deliver(vendor)
    assert response.status_code == 200
    assert response.json()["outcome"] == Outcome.DUPLICATE
    replay = WebhookDelivery.objects.exclude(pk=first.pk).get()
    assert (replay.outcome, replay.first_receipt, replay.evidence_id) == (
        Outcome.DUPLICATE, False, "")
    assert first.id in replay.detail
    assert EvidenceBlob.objects.count() == 1


def test_a_replay_with_another_body_says_so():
    doc = sample_json("checkr")
    deliver("checkr", encode(doc))
    doc["data"]["object"]["result"] = "consider"  # same event id, other content
    assert deliver("checkr", encode(doc)).json()["outcome"] == Outcome.DUPLICATE
    assert "differs" in WebhookDelivery.objects.get(outcome=Outcome.DUPLICATE).detail


# --- limits and refusals -----------------------------------------------------------------------
def test_an_unknown_vendor_is_404():
    err = error(post("jumio", b"{}"), 404, "unknown_vendor")
    assert "persona" in err["message"]
    assert not WebhookDelivery.objects.exists()


def test_a_body_over_the_limit_is_413_before_verification(secrets):
    secrets.WEBHOOK_MAX_BYTES = 100
    body = sample("persona")
    error(post("persona", body, signed("persona", body)), 413, "payload_too_large")
    assert not WebhookDelivery.objects.exists()


def test_the_limit_is_never_above_what_the_vault_takes(secrets):
    secrets.WEBHOOK_MAX_BYTES, secrets.EVIDENCE_MAX_BYTES = 10_000_000, 100
    body = sample("checkr")
    error(post("checkr", body, signed("checkr", body)), 413, "payload_too_large")
    assert not WebhookDelivery.objects.exists()


def test_a_signed_body_that_is_not_the_vendors_shape_is_422_and_logged():
    body = encode({"payload": {"resource_type": "check"}})
    err = error(deliver("onfido", body), 422, "payload_invalid")
    assert err["details"]["path"] == "$.payload.action"
    row = only_row()
    assert (row.outcome, row.signature_ok, row.evidence_id) == (
        Outcome.PAYLOAD_INVALID, True, "")
    assert "$.payload.action" in row.detail


def test_only_post_is_allowed():
    client = Client()
    for method in ("get", "put", "delete"):
        response = getattr(client, method)("/api/v1/webhooks/persona")
        assert response.status_code == 405
        assert response.json()["error"]["code"] == "method_not_allowed"


def test_a_failure_while_applying_is_503_logged_and_changes_nothing(monkeypatch):
    from casefile.webhooks import services

    def broken(**kwargs):
        raise RuntimeError("the vault is down")

    monkeypatch.setattr(services.evidence, "evidence_upload", broken)
    err = error(deliver("checkr"), 503, "webhook_failed")
    row = only_row()
    assert err["details"] == {"delivery_id": row.id}
    assert (row.outcome, row.first_receipt) == (Outcome.FAILED, False)
    assert "the vault is down" in row.detail
    monkeypatch.undo()
    assert deliver("checkr").json()["outcome"] == Outcome.HELD_FOR_CASE  # the retry is applied


# --- append-only -------------------------------------------------------------------------------
def _refused(sql: str, params=()) -> None:
    with pytest.raises(DatabaseError, match="append-only"):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)


def test_the_log_refuses_update_and_delete():
    deliver("checkr")
    row = only_row()
    _refused("UPDATE webhook_delivery SET outcome = 'applied' WHERE id = %s", [row.id])
    _refused("DELETE FROM webhook_delivery WHERE id = %s", [row.id])
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        WebhookDelivery.objects.filter(pk=row.pk).update(detail="edited")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        row.delete()
    resolution = WebhookResolution.objects.create(delivery=row, resolved_at=row.received_at,
                                                  outcome=Outcome.APPLIED,
                                                  verification_case_id="vrf_x")
    _refused("UPDATE webhook_resolution SET outcome = 'rejected' WHERE id = %s",
             [resolution.pk])
    _refused("DELETE FROM webhook_resolution WHERE id = %s", [resolution.pk])
    assert WebhookDelivery.objects.get(pk=row.pk).outcome == row.outcome


@pytest.mark.postgres_only
def test_the_log_refuses_truncate_on_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("TRUNCATE is PostgreSQL's")
    deliver("checkr")
    _refused("TRUNCATE webhook_delivery CASCADE")


# --- nothing answers a server error ------------------------------------------------------------
header_values = st.text(st.characters(codec="latin-1", exclude_characters="\r\n\x00"),
                        max_size=120)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(vendor=st.sampled_from([*VENDORS, "jumio", "PERSONA", "x" * 300, "%00", "..", "a b"]),
       body=st.one_of(st.binary(max_size=300), st.just(b""),
                      st.sampled_from([sample(v) for v in VENDORS])),
       signature=st.one_of(header_values, st.sampled_from(["t=1,v1=" + "0" * 64, "0" * 64])),
       sign=st.booleans(), mutate=st.booleans())
def test_fuzzed_requests_never_answer_a_server_error(vendor, body, signature, sign, mutate):
    """Any vendor name, body and signature header, and signed bodies of any shape (the samples
    with a part replaced, or arbitrary bytes): a 2xx or a 4xx in the one error shape."""
    if mutate:
        try:
            doc = json.loads(body)
        except ValueError:
            doc = None
        if isinstance(doc, dict) and doc:
            doc[sorted(doc)[0]] = signature
            body = encode(doc)
    headers = {}
    if vendor in HEADERS:
        headers = signed(vendor, body) if sign else {HEADERS[vendor]: signature}
    response = Client().post(f"/api/v1/webhooks/{vendor}", data=body,
                             content_type="application/json", headers=headers)
    assert response.status_code < 500, response.content
    if response.status_code >= 400:
        assert set(response.json()["error"]) == {"code", "message", "details"}


def test_a_hex_signature_of_the_wrong_key_length_is_just_wrong():
    body = sample("onfido")
    error(post("onfido", body, {"X-SHA2-Signature": hex_hmac(SECRET, body)[:-2]}), 401,
          "signature_invalid")


@pytest.mark.parametrize("event_id", ["evt_\x00nul", "evt_" + "x" * 400])
def test_an_event_id_the_column_cannot_hold_is_kept_by_its_digest(event_id):
    doc = sample_json("persona")
    doc["data"]["id"] = event_id
    doc["data"]["attributes"]["payload"]["data"]["id"] = "inq_\x00" + "y" * 300
    body = encode(doc)
    assert deliver("persona", body).json()["outcome"] == Outcome.HELD_FOR_CASE
    row = only_row()
    expected = "sha256:" + hashlib.sha256(event_id.encode()).hexdigest()
    assert row.event_id == expected and "\x00" not in row.session_id
    assert deliver("persona", body).json()["outcome"] == Outcome.DUPLICATE
