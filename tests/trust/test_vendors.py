"""The vendor webhook layer: signatures exactly as each vendor documents them, and parsing of
each vendor's payloads. Plain unit tests: no database.

Signatures are computed here with plain `hmac`, never with the module under test, and two known
answers come from the vendors' own material (Onfido's SDK test, Checkr's examples repository).
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from casefile.trust.vendors import (
    VENDORS,
    Delivery,
    PayloadInvalid,
    SignatureInvalid,
    UnknownVendor,
    checkr,
    onfido,
    persona,
    vendor,
    veriff,
)
from casefile.trust.vendors.base import CASE_STATES

PAYLOADS = Path(__file__).parent / "payloads"
NOW = datetime(2026, 3, 2, 9, 22, 0, tzinfo=UTC)
SECRET = "wbhsec_current_0123456789"
OLD_SECRET = "wbhsec_previous_9876543210"


def sample(name: str) -> bytes:
    return (PAYLOADS / name).read_bytes()


def sample_json(name: str) -> dict[str, Any]:
    return json.loads(sample(name))


def encode(value: Any) -> bytes:
    return json.dumps(value).encode()


def hex_hmac(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def persona_header(body: bytes, secret: str, when: datetime = NOW) -> str:
    t = str(int(when.timestamp()))
    return f"t={t},v1={hex_hmac(secret, t.encode() + b'.' + body)}"


def tamper(body: bytes) -> bytes:
    """The same body with one byte changed."""
    index = len(body) // 2
    return body[:index] + bytes([body[index] ^ 0x01]) + body[index + 1 :]


# The three vendors that sign only the body: (vendor, header, a sample).
BODY_SIGNED = [
    pytest.param(onfido.Onfido(), "X-SHA2-Signature", "onfido_check_completed.json", id="onfido"),
    pytest.param(veriff.Veriff(), "X-HMAC-SIGNATURE", "veriff_decision.json", id="veriff"),
    pytest.param(checkr.Checkr(), "X-Checkr-Signature", "checkr_report_completed.json",
                 id="checkr"),
]


# --- the registry ------------------------------------------------------------------------------


def test_registry_names_the_four_vendors():
    assert set(VENDORS) == {"persona", "onfido", "veriff", "checkr"}
    for name, v in VENDORS.items():
        assert vendor(name) is v
        assert v.name == name


def test_an_unknown_vendor_is_a_clear_not_found():
    with pytest.raises(UnknownVendor) as caught:
        vendor("jumio")
    assert caught.value.status == 404
    assert "jumio" in caught.value.message
    assert "persona" in caught.value.message


def test_failures_belong_to_the_app_error_hierarchy():
    signature = SignatureInvalid("no secret matched")
    payload = PayloadInvalid("$.data.id", "missing")
    assert (signature.status, signature.code, signature.reason) == (
        401, "signature_invalid", "no secret matched")
    assert (payload.status, payload.code) == (422, "payload_invalid")
    assert payload.details == {"path": "$.data.id", "reason": "missing"}


# --- body-signed vendors: Onfido, Veriff, Checkr -----------------------------------------------


@pytest.mark.parametrize(("v", "name", "payload"), BODY_SIGNED)
def test_a_good_signature_passes(v, name, payload):
    body = sample(payload)
    v.verify({name: hex_hmac(SECRET, body)}, body, [SECRET], now=NOW)


@pytest.mark.parametrize(("v", "name", "payload"), BODY_SIGNED)
def test_the_header_name_is_case_insensitive(v, name, payload):
    body = sample(payload)
    signature = hex_hmac(SECRET, body)
    v.verify({name.lower(): signature}, body, [SECRET], now=NOW)
    v.verify({name.upper(): signature.upper()}, body, [SECRET], now=NOW)


@pytest.mark.parametrize(("v", "name", "payload"), BODY_SIGNED)
def test_a_wrong_secret_fails(v, name, payload):
    body = sample(payload)
    with pytest.raises(SignatureInvalid) as caught:
        v.verify({name: hex_hmac("someone-else", body)}, body, [SECRET], now=NOW)
    assert caught.value.reason == "no secret matched"


@pytest.mark.parametrize(("v", "name", "payload"), BODY_SIGNED)
def test_a_tampered_body_fails(v, name, payload):
    body = sample(payload)
    with pytest.raises(SignatureInvalid) as caught:
        v.verify({name: hex_hmac(SECRET, body)}, tamper(body), [SECRET], now=NOW)
    assert caught.value.reason == "no secret matched"


@pytest.mark.parametrize(("v", "name", "payload"), BODY_SIGNED)
def test_a_missing_header_fails(v, name, payload):
    body = sample(payload)
    for headers in ({}, {"Content-Type": "application/json"}, {name: "  "}):
        with pytest.raises(SignatureInvalid) as caught:
            v.verify(headers, body, [SECRET], now=NOW)
        assert caught.value.reason == f"missing header {name}"


@pytest.mark.parametrize(("v", "name", "payload"), BODY_SIGNED)
@pytest.mark.parametrize("bad", [
    "not-a-signature",
    "sha256=" + "0" * 64,  # a prefix none of these vendors sends
    "0" * 63,
    "0" * 65,
    "g" * 64,
    "０" * 64,  # full-width digits are not hex
])
def test_a_malformed_header_fails(v, name, payload, bad):
    body = sample(payload)
    with pytest.raises(SignatureInvalid) as caught:
        v.verify({name: bad}, body, [SECRET], now=NOW)
    assert caught.value.reason.startswith("malformed header")


@pytest.mark.parametrize(("v", "name", "payload"), BODY_SIGNED)
def test_during_rotation_either_secret_passes(v, name, payload):
    body = sample(payload)
    for signer in (OLD_SECRET, SECRET):
        v.verify({name: hex_hmac(signer, body)}, body, [SECRET, OLD_SECRET], now=NOW)


@pytest.mark.parametrize(("v", "name", "payload"), BODY_SIGNED)
def test_no_usable_secret_never_passes(v, name, payload):
    body = sample(payload)
    # HMAC accepts an empty key: a blank setting must not become a key anyone can sign with.
    for secrets in ([], [""]):
        with pytest.raises(SignatureInvalid) as caught:
            v.verify({name: hex_hmac("", body)}, body, secrets, now=NOW)
        assert caught.value.reason == "no secret configured"


@pytest.mark.parametrize(("v", "name", "payload"), BODY_SIGNED)
def test_verify_never_reads_the_body_as_json(v, name, payload):
    body = b"\xff\xfe not JSON at all"
    v.verify({name: hex_hmac(SECRET, body)}, body, [SECRET], now=NOW)


def test_onfido_known_answer_from_its_sdk():
    # onfido/onfido-python tests/test_classic_webhook_event_verification.py
    raw = (
        b'{"payload":{"resource_type":"check","action":"check.completed",'
        b'"object":{"id":"f2302f45-227d-413d-ad61-09ec077a086a","status":"complete",'
        b'"completed_at_iso8601":"2024-04-04T09:21:21Z",'
        b'"href":"https://api.onfido.com/v3.6/checks/f2302f45-227d-413d-ad61-09ec077a086a"}}}'
    )
    signature = "77ebc3e418f26be6eebb47f7ebe551321de26734fc273961e075fc9ab163d9c7"
    o = onfido.Onfido()
    o.verify({"X-SHA2-Signature": signature}, raw, ["wU99mE6jJ7nXOLFwZ0tJymM1lpI15pZh"], now=NOW)
    delivery = o.parse(raw)
    assert delivery.session_id == "f2302f45-227d-413d-ad61-09ec077a086a"
    assert delivery.case_state == "in_review"


def test_checkr_known_answer_from_its_examples():
    # checkr/webhook-verification-examples verify_signature.py: the compact body Checkr sends.
    body = b'{"monday":"75F","tuesday":"80F"}'
    signature = "b7412f05e981a473b5ecbdb5393afaea02a679db6d7c8e56803512ec4ba98151"
    checkr.Checkr().verify({"X-Checkr-Signature": signature}, body, ["test-secret"], now=NOW)


def test_veriff_ignores_x_auth_client():
    # X-AUTH-CLIENT is the integration's API key: unsigned, so it neither helps nor hurts.
    body = sample("veriff_event.json")
    headers = {"X-AUTH-CLIENT": "anything", "X-HMAC-SIGNATURE": hex_hmac(SECRET, body)}
    veriff.Veriff().verify(headers, body, [SECRET], now=NOW)
    with pytest.raises(SignatureInvalid):
        veriff.Veriff().verify({"X-AUTH-CLIENT": SECRET}, body, [SECRET], now=NOW)


# --- Persona: a signed timestamp -----------------------------------------------------------------


P = persona.Persona()
PERSONA_BODY = sample("persona_inquiry_approved.json")


def test_persona_good_signature_passes():
    P.verify({"Persona-Signature": persona_header(PERSONA_BODY, SECRET)}, PERSONA_BODY,
             [SECRET], now=NOW)
    P.verify({"persona-signature": persona_header(PERSONA_BODY, SECRET)}, PERSONA_BODY,
             [SECRET], now=NOW)


def test_persona_wrong_secret_fails():
    with pytest.raises(SignatureInvalid) as caught:
        P.verify({"Persona-Signature": persona_header(PERSONA_BODY, "someone-else")},
                 PERSONA_BODY, [SECRET], now=NOW)
    assert caught.value.reason == "no secret matched"


def test_persona_tampered_body_fails():
    with pytest.raises(SignatureInvalid) as caught:
        P.verify({"Persona-Signature": persona_header(PERSONA_BODY, SECRET)},
                 tamper(PERSONA_BODY), [SECRET], now=NOW)
    assert caught.value.reason == "no secret matched"


def test_persona_signs_the_timestamp_too():
    # The same v1 with another t is not a valid signature.
    header = persona_header(PERSONA_BODY, SECRET)
    moved = header.replace(f"t={int(NOW.timestamp())}", f"t={int(NOW.timestamp()) + 1}")
    with pytest.raises(SignatureInvalid) as caught:
        P.verify({"Persona-Signature": moved}, PERSONA_BODY, [SECRET], now=NOW)
    assert caught.value.reason == "no secret matched"


def test_persona_missing_header_fails():
    for headers in ({}, {"Persona-Signature": ""}, {"X-Persona-Signature": "t=1,v1=00"}):
        with pytest.raises(SignatureInvalid) as caught:
            P.verify(headers, PERSONA_BODY, [SECRET], now=NOW)
        assert caught.value.reason == "missing header Persona-Signature"


@pytest.mark.parametrize("bad", [
    "garbage",
    "v1=" + "0" * 64,
    "t=1772443320",
    "t=1772443320,v1=abc",
    "t=yesterday,v1=" + "0" * 64,
    "t=-5,v1=" + "0" * 64,
    "t=1772443320,v1=" + "0" * 64 + " t=1772443320",
    "t=1772443320;v1=" + "0" * 64,
])
def test_persona_malformed_header_fails(bad):
    with pytest.raises(SignatureInvalid) as caught:
        P.verify({"Persona-Signature": bad}, PERSONA_BODY, [SECRET], now=NOW)
    assert caught.value.reason.startswith("malformed header")


@pytest.mark.parametrize(("offset", "passes"), [
    (timedelta(minutes=-6), False),
    (timedelta(minutes=6), False),
    (timedelta(minutes=-4), True),
    (timedelta(minutes=4), True),
    (timedelta(minutes=-5), True),
    (timedelta(0), True),
])
def test_persona_timestamp_tolerance_is_five_minutes_both_ways(offset, passes):
    header = persona_header(PERSONA_BODY, SECRET, when=NOW + offset)
    if passes:
        P.verify({"Persona-Signature": header}, PERSONA_BODY, [SECRET], now=NOW)
        return
    with pytest.raises(SignatureInvalid) as caught:
        P.verify({"Persona-Signature": header}, PERSONA_BODY, [SECRET], now=NOW)
    assert caught.value.reason == "timestamp outside tolerance"


def test_persona_tolerance_is_a_constant_and_a_constructor_argument():
    assert persona.TOLERANCE == timedelta(minutes=5)
    header = persona_header(PERSONA_BODY, SECRET, when=NOW - timedelta(minutes=4))
    with pytest.raises(SignatureInvalid):
        persona.Persona(tolerance=timedelta(minutes=1)).verify(
            {"Persona-Signature": header}, PERSONA_BODY, [SECRET], now=NOW)


def test_persona_rotation_header_with_two_sets():
    # Documented: "two space-separated sets of the key-value pairs", one per secret.
    header = (f"{persona_header(PERSONA_BODY, SECRET)} "
              f"{persona_header(PERSONA_BODY, OLD_SECRET)}")
    P.verify({"Persona-Signature": header}, PERSONA_BODY, [SECRET], now=NOW)
    P.verify({"Persona-Signature": header}, PERSONA_BODY, [OLD_SECRET], now=NOW)
    with pytest.raises(SignatureInvalid):
        P.verify({"Persona-Signature": header}, PERSONA_BODY, ["third"], now=NOW)


def test_persona_several_v1_in_one_set():
    t = str(int(NOW.timestamp()))
    message = t.encode() + b"." + PERSONA_BODY
    header = f"t={t},v1={hex_hmac(OLD_SECRET, message)},v1={hex_hmac(SECRET, message)}"
    P.verify({"Persona-Signature": header}, PERSONA_BODY, [SECRET], now=NOW)
    P.verify({"Persona-Signature": header.replace(",", ", ")}, PERSONA_BODY, [SECRET], now=NOW)


def test_persona_rotation_of_our_secrets():
    for signer in (OLD_SECRET, SECRET):
        P.verify({"Persona-Signature": persona_header(PERSONA_BODY, signer)}, PERSONA_BODY,
                 [SECRET, OLD_SECRET], now=NOW)


def test_persona_no_usable_secret_never_passes():
    for secrets in ([], [""]):
        with pytest.raises(SignatureInvalid) as caught:
            P.verify({"Persona-Signature": persona_header(PERSONA_BODY, "")}, PERSONA_BODY,
                     secrets, now=NOW)
        assert caught.value.reason == "no secret configured"


def test_persona_verify_never_reads_the_body_as_json():
    body = b"\x00\xff{"
    P.verify({"Persona-Signature": persona_header(body, SECRET)}, body, [SECRET], now=NOW)


def test_persona_wants_an_aware_now():
    with pytest.raises(ValueError, match="timezone-aware"):
        P.verify({"Persona-Signature": persona_header(PERSONA_BODY, SECRET)}, PERSONA_BODY,
                 [SECRET], now=NOW.replace(tzinfo=None))


# --- parsing the samples -------------------------------------------------------------------------


def test_persona_sample():
    d = P.parse(PERSONA_BODY)
    assert d == Delivery(
        vendor="persona",
        event_id="evt_Rk3uJ8vQy2WcNf5ZtB7pLmXa",
        event_type="inquiry.approved",
        occurred_at=datetime(2026, 3, 2, 9, 21, 48, 512000, tzinfo=UTC),
        session_id="inq_9fT2mQwLx4VbN8cRz6YhKd3s",
        vendor_status="approved",
        case_state="passed",
        decision="approved",
        raw={},
    )
    assert d.raw == json.loads(PERSONA_BODY)


def test_onfido_check_sample():
    d = onfido.Onfido().parse(sample("onfido_check_completed.json"))
    check_id = "5c7e1b2a-9d4f-4a61-8b3e-2f0d6c9a1e47"
    assert (d.vendor, d.event_type, d.session_id) == ("onfido", "check.completed", check_id)
    assert d.event_id == f"{check_id}:check.completed:2026-03-02T10:41:07Z"
    assert d.occurred_at == datetime(2026, 3, 2, 10, 41, 7, tzinfo=UTC)
    # The webhook carries no result: done, but not decided until the check is fetched.
    assert (d.vendor_status, d.case_state, d.decision) == ("complete", "in_review", None)
    assert onfido.outcome("check", "complete", "clear") == ("passed", "clear")


def test_onfido_workflow_run_sample():
    d = onfido.Onfido().parse(sample("onfido_workflow_run_completed.json"))
    assert d.session_id == "0b8f3e6d-27a4-4c19-9e52-7d1a4f6c3b90"
    assert d.event_type == "workflow_run.completed"
    assert (d.vendor_status, d.case_state, d.decision) == ("approved", "passed", "approved")
    assert d.occurred_at == datetime(2026, 3, 2, 11, 5, 33, tzinfo=UTC)


def test_onfido_event_id_is_stable_and_tells_events_apart():
    body = sample_json("onfido_check_completed.json")
    first = onfido.Onfido().parse(encode(body))
    again = onfido.Onfido().parse(encode(body))
    assert first.event_id == again.event_id
    body["payload"]["object"]["completed_at_iso8601"] = "2026-03-09T08:00:00Z"  # reopened, redone
    assert onfido.Onfido().parse(encode(body)).event_id != first.event_id
    started = {"payload": {"resource_type": "check", "action": "check.started",
                           "object": {"id": "c1", "status": "in_progress",
                                      "started_at_iso8601": "2026-03-02T10:00:00Z"}}}
    d = onfido.Onfido().parse(encode(started))
    assert d.event_id == "c1:check.started:2026-03-02T10:00:00Z"
    assert d.occurred_at == datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def test_onfido_other_resources_have_no_session():
    report = {"payload": {"resource_type": "report", "action": "report.completed",
                          "object": {"id": "r1", "status": "complete",
                                     "completed_at_iso8601": "2026-03-02T10:40:00Z",
                                     "href": "https://api.onfido.com/v3.6/reports/r1"}}}
    d = onfido.Onfido().parse(encode(report))
    assert (d.session_id, d.case_state, d.vendor_status) == (None, None, "complete")


def test_veriff_decision_sample():
    d = veriff.Veriff().parse(sample("veriff_decision.json"))
    session = "8a3c6f1e-4b2d-4e7a-9c15-3f6b2d8e1a74"
    assert (d.vendor, d.event_type, d.session_id) == ("veriff", "decision", session)
    assert d.event_id == f"{session}:decision:approved:2026-03-02T12:18:36.916Z"
    assert d.occurred_at == datetime(2026, 3, 2, 12, 18, 36, 916000, tzinfo=UTC)
    assert (d.vendor_status, d.case_state, d.decision) == ("approved", "passed", "approved")


def test_veriff_event_sample():
    d = veriff.Veriff().parse(sample("veriff_event.json"))
    session = "8a3c6f1e-4b2d-4e7a-9c15-3f6b2d8e1a74"
    assert (d.event_type, d.session_id, d.occurred_at) == ("submitted", session, None)
    assert d.event_id == f"{session}:submitted:d1e7b4a2-6c3f-48e9-b5a1-0f2c9d7e4b36"
    assert (d.vendor_status, d.case_state, d.decision) == ("submitted", "pending", None)


def test_checkr_sample():
    d = checkr.Checkr().parse(sample("checkr_report_completed.json"))
    assert (d.vendor, d.event_id, d.event_type) == (
        "checkr", "4b7f2c9e1a6d3f8b5c0e2a71", "report.completed")
    assert d.occurred_at == datetime(2026, 3, 4, 16, 22, 9, tzinfo=UTC)
    assert d.session_id == "9e1c4a7b2f5d8e3a6c0b4d29"
    assert (d.vendor_status, d.case_state, d.decision) == ("complete", "passed", "clear")


def test_checkr_without_include_object_moves_nothing():
    body = sample_json("checkr_report_completed.json")
    body["data"]["object"] = {"id": "rpt1", "object": "report", "uri": "/v1/reports/rpt1"}
    d = checkr.Checkr().parse(encode(body))
    assert (d.session_id, d.vendor_status, d.case_state) == ("rpt1", None, None)


def test_checkr_other_objects_have_no_session():
    body = sample_json("checkr_report_completed.json")
    body["type"] = "candidate.created"
    body["data"]["object"] = {"id": "cand1", "object": "candidate", "uri": "/v1/candidates/c"}
    d = checkr.Checkr().parse(encode(body))
    assert (d.session_id, d.case_state, d.decision) == (None, None, None)


def test_persona_other_resources_have_no_session():
    body = sample_json("persona_inquiry_approved.json")
    body["data"]["attributes"]["name"] = "verification.passed"
    body["data"]["attributes"]["payload"]["data"] = {
        "type": "verification/selfie", "id": "ver_1", "attributes": {"status": "passed"}}
    d = P.parse(encode(body))
    assert (d.event_type, d.session_id, d.vendor_status, d.case_state) == (
        "verification.passed", None, "passed", None)


def test_raw_stays_out_of_repr():
    d = P.parse(PERSONA_BODY)
    assert "Alex" not in repr(d)
    assert d.raw["data"]["attributes"]["payload"]["data"]["attributes"]["fields"]


# --- every row of every table ------------------------------------------------------------------


def _persona_with(status: str) -> bytes:
    body = sample_json("persona_inquiry_approved.json")
    body["data"]["attributes"]["payload"]["data"]["attributes"]["status"] = status
    return encode(body)


@pytest.mark.parametrize(("status", "expected"), persona.STATUSES.items())
def test_persona_table(status, expected):
    d = P.parse(_persona_with(status))
    assert (d.vendor_status, (d.case_state, d.decision)) == (status, expected)


@pytest.mark.parametrize(("key", "expected"), onfido.STATUSES.items(),
                         ids=[":".join(map(str, k)) for k in onfido.STATUSES])
def test_onfido_table(key, expected):
    resource_type, status, result = key
    assert onfido.outcome(resource_type, status, result) == expected
    if result is None:  # the rows a webhook itself can produce
        body = {"payload": {"resource_type": resource_type, "action": f"{resource_type}.x",
                            "object": {"id": "obj1", "status": status}}}
        d = onfido.Onfido().parse(encode(body))
        assert (d.session_id, (d.case_state, d.decision)) == ("obj1", expected)


def _veriff_with(status: str) -> bytes:
    if status in ("started", "submitted"):
        body = sample_json("veriff_event.json")
        body["action"] = status
    else:
        body = sample_json("veriff_decision.json")
        body["verification"]["status"] = status
    return encode(body)


@pytest.mark.parametrize(("status", "expected"), veriff.STATUSES.items())
def test_veriff_table(status, expected):
    d = veriff.Veriff().parse(_veriff_with(status))
    assert (d.vendor_status, (d.case_state, d.decision)) == (status, expected)


@pytest.mark.parametrize(("key", "expected"), checkr.STATUSES.items(),
                         ids=[":".join(map(str, k)) for k in checkr.STATUSES])
def test_checkr_table(key, expected):
    status, result = key
    body = sample_json("checkr_report_completed.json")
    results = [None, "clear", "consider"] if result == checkr.ANY else [result]
    for each in results:
        body["data"]["object"].update(status=status, result=each)
        d = checkr.Checkr().parse(encode(body))
        assert (d.vendor_status, (d.case_state, d.decision)) == (status, expected)


def test_tables_cover_the_documented_statuses():
    # DESIGN section 10's lists, and every outcome is a case state.
    assert {"created", "pending", "completed", "failed", "expired", "needs_review", "approved",
            "declined"} <= set(persona.STATUSES)
    assert {"approved", "declined", "resubmission_requested", "expired", "abandoned",
            "review"} <= set(veriff.STATUSES)
    assert {"pending", "complete", "suspended", "dispute"} <= {s for s, _ in checkr.STATUSES}
    assert {("complete", "clear"), ("complete", "consider")} <= set(checkr.STATUSES)
    assert {"in_progress", "awaiting_applicant", "complete", "withdrawn", "paused",
            "reopened"} <= {s for kind, s, _ in onfido.STATUSES if kind == "check"}
    assert {r for _, _, r in onfido.STATUSES} == {None, "clear", "consider"}
    tables = [persona.STATUSES, onfido.STATUSES, veriff.STATUSES, checkr.STATUSES]
    for table in tables:
        for state, _decision in table.values():
            assert state in CASE_STATES


def test_unknown_statuses_move_nothing():
    assert (P.parse(_persona_with("transmogrified")).case_state) is None
    assert veriff.Veriff().parse(_veriff_with("maybe")).case_state is None
    body = sample_json("checkr_report_completed.json")
    body["data"]["object"].update(status="complete", result="unclear")
    d = checkr.Checkr().parse(encode(body))
    assert (d.vendor_status, d.case_state, d.decision) == ("complete", None, None)
    assert onfido.outcome("check", "complete", "unclear") == (None, None)


# --- the wrong shape -----------------------------------------------------------------------------


def _without(body: dict[str, Any], *path: str) -> bytes:
    body = copy.deepcopy(body)
    node = body
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return encode(body)


def _with(body: dict[str, Any], value: Any, *path: str) -> bytes:
    body = copy.deepcopy(body)
    node = body
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return encode(body)


PERSONA = sample_json("persona_inquiry_approved.json")
ONFIDO = sample_json("onfido_check_completed.json")
VERIFF_DECISION = sample_json("veriff_decision.json")
VERIFF_EVENT = sample_json("veriff_event.json")
CHECKR = sample_json("checkr_report_completed.json")
INQUIRY = ("data", "attributes", "payload", "data")

WRONG_SHAPES = [
    (P, _without(PERSONA, "data"), "$.data"),
    (P, _with(PERSONA, [], "data", "attributes"), "$.data.attributes"),
    (P, _without(PERSONA, *INQUIRY, "id"), "$.data.attributes.payload.data.id"),
    (P, _with(PERSONA, 7, *INQUIRY, "attributes", "status"),
     "$.data.attributes.payload.data.attributes.status"),
    (P, _with(PERSONA, "yesterday", "data", "attributes", "created-at"),
     "$.data.attributes.created-at"),
    (P, _without(PERSONA, "data", "id"), "$.data.id"),
    (onfido.Onfido(), _without(ONFIDO, "payload", "object"), "$.payload.object"),
    (onfido.Onfido(), _with(ONFIDO, 42, "payload", "object", "id"), "$.payload.object.id"),
    (onfido.Onfido(), _with(ONFIDO, "soon", "payload", "object", "completed_at_iso8601"),
     "$.payload.object.completed_at_iso8601"),
    (onfido.Onfido(), _without(ONFIDO, "payload", "action"), "$.payload.action"),
    (veriff.Veriff(), _without(VERIFF_DECISION, "verification", "status"),
     "$.verification.status"),
    (veriff.Veriff(), _with(VERIFF_DECISION, True, "verification", "code"),
     "$.verification.code"),
    (veriff.Veriff(), _with(VERIFF_DECISION, "x", "verification"), "$.verification"),
    (veriff.Veriff(), _without(VERIFF_EVENT, "id"), "$.id"),
    (veriff.Veriff(), encode({"status": "success"}), "$"),
    (checkr.Checkr(), _without(CHECKR, "created_at"), "$.created_at"),
    (checkr.Checkr(), _with(CHECKR, "9999-99-99", "created_at"), "$.created_at"),
    (checkr.Checkr(), _with(CHECKR, None, "data", "object"), "$.data.object"),
    (checkr.Checkr(), _with(CHECKR, ["clear"], "data", "object", "result"),
     "$.data.object.result"),
]


@pytest.mark.parametrize(("v", "body", "path"), WRONG_SHAPES)
def test_the_wrong_shape_names_its_path(v, body, path):
    with pytest.raises(PayloadInvalid) as caught:
        v.parse(body)
    assert caught.value.path == path


@pytest.mark.parametrize("v", VENDORS.values(), ids=list(VENDORS))
@pytest.mark.parametrize("body", [b"", b"not json", b"{", b"\xff\xfe", b"[]", b"null", b"3",
                                  b'"text"', b"[" * 100_000])
def test_a_body_that_is_not_a_json_object_is_refused_at_the_root(v, body):
    with pytest.raises(PayloadInvalid) as caught:
        v.parse(body)
    assert caught.value.path == "$"


# --- parse raises nothing else -------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=25,
)
# Values that look like what the parsers expect, so generated bodies get past the first checks.
likely = st.sampled_from([
    "inquiry", "check", "workflow_run", "report", "approved", "complete", "clear", "consider",
    "2026-03-02T09:21:48Z", "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+01:00",
    "2026-03-02", "", 9001, 7002, True, None, [], {},
])
values = likely | json_values


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


SAMPLES = [
    (P, PERSONA), (onfido.Onfido(), ONFIDO),
    (onfido.Onfido(), sample_json("onfido_workflow_run_completed.json")),
    (veriff.Veriff(), VERIFF_DECISION), (veriff.Veriff(), VERIFF_EVENT), (checkr.Checkr(), CHECKR),
]


def _parse_only_delivers_or_refuses(v, body: bytes) -> None:
    try:
        delivery = v.parse(body)
    except PayloadInvalid as refused:
        assert refused.path.startswith("$")
        return
    assert isinstance(delivery, Delivery)
    assert delivery.case_state is None or delivery.case_state in CASE_STATES
    assert delivery.occurred_at is None or delivery.occurred_at.utcoffset() == timedelta(0)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(list(VENDORS.values())), json_values)
def test_arbitrary_json_gives_a_delivery_or_payload_invalid(v, value):
    _parse_only_delivers_or_refuses(v, json.dumps(value).encode())


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(list(VENDORS.values())), st.binary(max_size=200))
def test_arbitrary_bytes_give_a_delivery_or_payload_invalid(v, body):
    _parse_only_delivers_or_refuses(v, body)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_samples_with_any_part_replaced_give_a_delivery_or_payload_invalid(data):
    v, document = data.draw(st.sampled_from(SAMPLES))
    path = data.draw(st.sampled_from(_paths(document)))
    replacement = data.draw(values)
    if not path:
        mutated = replacement
    else:
        mutated = copy.deepcopy(document)
        node = mutated
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = replacement
    _parse_only_delivers_or_refuses(v, json.dumps(mutated).encode())
