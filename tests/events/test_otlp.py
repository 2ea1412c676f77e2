"""OTLP/HTTP logs as an OpenTelemetry Collector sends them: protobuf or JSON, gzip or not."""

import gzip

import orjson
import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import SeverityNumber

from casefile.accounts.roles import Role
from casefile.events.models import Event
from casefile.events.otlp import from_protobuf
from casefile.events.severity import Severity

pytestmark = pytest.mark.django_db

PATH = "/api/v1/otlp/v1/logs"
PROTOBUF, JSON = "application/x-protobuf", "application/json"
T0 = 1_764_000_000_000_000_000  # 2025-11-24T16:00:00Z in nanoseconds


def _kv(key: str, value) -> KeyValue:
    return KeyValue(key=key, value=_any(value))


def _any(value) -> AnyValue:
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, dict):
        any_value = AnyValue()
        any_value.kvlist_value.values.extend(_kv(k, v) for k, v in value.items())
        return any_value
    if isinstance(value, list):
        any_value = AnyValue()
        any_value.array_value.values.extend(_any(v) for v in value)
        return any_value
    return AnyValue(string_value=value)


def collector_export(tag: str = "") -> ExportLogsServiceRequest:
    """What a collector batches: two services, several scopes, records of every kind."""
    request = ExportLogsServiceRequest()
    for service, environment in (("checkout", "prod"), ("billing", "staging")):
        resource_logs = request.resource_logs.add()
        resource_logs.resource.attributes.extend([
            _kv("service.name", service), _kv("deployment.environment", environment),
            _kv("host.name", f"{service}-7f9c")])
        for scope_name in ("io.opentelemetry.jdbc", "com.acme.payments"):
            scope_logs = resource_logs.scope_logs.add()
            scope_logs.scope.name = scope_name
            scope_logs.scope.version = "1.4.0"
            scope_logs.schema_url = "https://opentelemetry.io/schemas/1.24.0"
            for i, (number, text) in enumerate([
                    (SeverityNumber.SEVERITY_NUMBER_INFO, "INFO"),
                    (SeverityNumber.SEVERITY_NUMBER_ERROR, "ERROR"),
                    (SeverityNumber.SEVERITY_NUMBER_WARN2, "WARN")]):
                record = scope_logs.log_records.add(
                    time_unix_nano=T0 + i * 1_000_000, observed_time_unix_nano=T0 + i + 7,
                    severity_number=number, severity_text=text, flags=1,
                    trace_id=bytes.fromhex("5b8efff798038103d269b633813fc60c"),
                    span_id=bytes.fromhex("eee19b7ec3c1b174"))
                if i == 2:  # a structured body, as a JSON-logging library sends
                    record.body.CopyFrom(_any({"event": "retry", "attempt": 3, "ok": False,
                                               "backoff": 1.5, "hosts": ["a", "b"]}))
                else:
                    record.body.string_value = f"{tag}{scope_name} {service} payment {i} failed"
                record.attributes.extend([_kv("http.status_code", 500 + i),
                                          _kv("user.id", f"u{i}")])
    return request


def otlp_json(request: ExportLogsServiceRequest) -> bytes:
    """The same export in OTLP/JSON, as a collector writes it with `encoding: json`: protobuf's
    JSON mapping with enums as integers and the trace and span ids in hex."""
    document = json_format.MessageToDict(request, use_integers_for_enums=True)
    for resource_logs in document["resourceLogs"]:
        for scope_logs in resource_logs.get("scopeLogs", ()):
            for record in scope_logs.get("logRecords", ()):
                if "traceId" in record:
                    record["traceId"] = "5b8efff798038103d269b633813fc60c"
                    record["spanId"] = "eee19b7ec3c1b174"
    return orjson.dumps(document)


@pytest.fixture
def post(api_as):
    client = api_as(Role.INGEST)

    def send(body: bytes, content_type: str = PROTOBUF, encoding: str | None = None):
        headers = {"Authorization": f"Bearer {client.token}"}
        if encoding:
            headers["Content-Encoding"] = encoding
        return client.post(PATH, body, content_type=content_type, headers=headers)

    return send


def stored() -> list[tuple]:
    return list(Event.objects.order_by("occurred_at", "service", "component", "message")
                .values_list("occurred_at", "severity", "component", "service", "environment",
                             "system_id", "message", "raw_payload", "fingerprint", "source"))


def _body(kind: str, request: ExportLogsServiceRequest) -> tuple[bytes, str, str | None]:
    raw, media = ((request.SerializeToString(), PROTOBUF) if kind.startswith("protobuf")
                  else (otlp_json(request), JSON))
    return (gzip.compress(raw), media, "gzip") if kind.endswith("gzip") else (raw, media, None)


@pytest.mark.parametrize("kind", ["protobuf", "protobuf+gzip", "json", "json+gzip"])
def test_a_collector_export_is_stored_the_same_in_every_encoding(post, kind):
    body, media, encoding = _body(kind, collector_export())
    response = post(body, media, encoding)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith(media)
    events = stored()
    assert len(events) == 12
    first = Event.objects.get(message="io.opentelemetry.jdbc checkout payment 0 failed")
    assert (first.service, first.environment, first.system_id, first.component) == (
        "checkout", "prod", "checkout-7f9c", "io.opentelemetry.jdbc")
    assert first.severity == Severity.INFO and first.source == "otlp"
    assert first.occurred_at.isoformat() == "2025-11-24T16:00:00+00:00"
    record = first.raw_payload["logRecord"]
    assert record["traceId"] == "5b8efff798038103d269b633813fc60c"
    assert record["spanId"] == "eee19b7ec3c1b174" and record["severityNumber"] == 9
    assert record["attributes"][0] == {"key": "http.status_code", "value": {"intValue": "500"}}
    structured = Event.objects.filter(severity=Severity.WARNING, service="billing").first()
    assert structured is not None
    assert orjson.loads(structured.message) == {"event": "retry", "attempt": 3, "ok": False,
                                                "backoff": 1.5, "hosts": ["a", "b"]}
    assert Event.objects.filter(severity=Severity.ERROR).count() == 4


def test_protobuf_and_json_give_identical_events_and_deduplicate_each_other(post):
    """The same export, sent once in each encoding (a collector switched from json to proto):
    the second is all duplicates, because the raw payloads and their keys are the same."""
    request = collector_export()
    assert post(otlp_json(request), JSON).status_code == 200
    as_json = stored()
    Event.objects.all().delete()
    assert post(request.SerializeToString()).status_code == 200
    assert stored() == as_json
    again = post(gzip.compress(otlp_json(request)), JSON, "gzip")
    assert again.status_code == 200 and again.json() == {"partialSuccess": {}}
    assert stored() == as_json


def test_the_protobuf_form_is_the_otlp_json_form():
    request = collector_export()
    assert from_protobuf(request.SerializeToString()) == orjson.loads(otlp_json(request))
    assert from_protobuf(b"") == {"resourceLogs": []}
    odd = collector_export()
    odd.resource_logs.add()  # empty parts, as well
    odd.resource_logs[0].scope_logs.add().log_records.add()
    record = odd.resource_logs[0].scope_logs[0].log_records[0]
    record.attributes.extend([
        _kv("bytes", "x"), _kv("nan", float("nan")), _kv("inf", float("-inf")), _kv("zero", 0.0),
        _kv("empty", ""), _kv("array", []), _kv("kvlist", {}), KeyValue(key="unset"),
        KeyValue(key="no value", value=AnyValue()), _kv("big", -(2**63))])
    record.attributes[0].value.bytes_value = b"\x00\xffbinary"
    record.dropped_attributes_count = 3
    record.event_name = "payment.failed"
    assert from_protobuf(odd.SerializeToString()) == orjson.loads(otlp_json(odd))


def test_a_re_post_is_idempotent(post):
    body = gzip.compress(collector_export().SerializeToString())
    assert post(body, PROTOBUF, "gzip").status_code == 200
    again = post(body, PROTOBUF, "gzip")
    assert again.status_code == 200
    assert ExportLogsServiceResponse.FromString(again.content) == ExportLogsServiceResponse()
    assert Event.objects.count() == 12


def _with_unreadable_records() -> ExportLogsServiceRequest:
    request = collector_export()
    records = request.resource_logs[1].scope_logs[0].log_records
    records[0].ClearField("body")  # no message
    records[1].severity_number = 30  # not an OTLP severity
    return request


def test_partial_success_in_protobuf(post):
    response = post(_with_unreadable_records().SerializeToString())
    assert response.status_code == 200
    answer = ExportLogsServiceResponse.FromString(response.content)
    assert answer.partial_success.rejected_log_records == 2
    assert "record 7: missing message" in answer.partial_success.error_message
    assert "record 8: OTLP severityNumber 30" in answer.partial_success.error_message
    assert Event.objects.count() == 10


def test_partial_success_in_json(post):
    response = post(otlp_json(_with_unreadable_records()), JSON)
    assert response.status_code == 200
    partial = response.json()["partialSuccess"]
    assert partial["rejectedLogRecords"] == 2 and "record 7" in partial["errorMessage"]
    assert Event.objects.count() == 10


def test_an_export_whose_every_record_is_unreadable_is_refused(post):
    request = ExportLogsServiceRequest()
    request.resource_logs.add().scope_logs.add().log_records.add(severity_text="INFO")
    response = post(request.SerializeToString())
    assert response.status_code == 400
    assert response.json()["error"]["details"]["rejected"] == 1


@pytest.mark.parametrize("body", [b"\xff\xff\xff", b"\x0a\x05\x0a\x03\x0a", b"not protobuf at all"])
def test_invalid_protobuf_is_a_400(post, body):
    response = post(body)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["message"].startswith("not an ExportLogsServiceRequest")
    assert not Event.objects.exists()


@pytest.mark.parametrize(("mutate", "problem"), [
    (lambda r: r.__setitem__("timeUnixNano", "soon"), "timeUnixNano: not an integer"),
    (lambda r: r.__setitem__("timeUnixNano", "-1"), "timeUnixNano: -1 is out of range"),
    (lambda r: r.__setitem__("severityNumber", "ERROR"), "severityNumber: not an integer"),
    (lambda r: r.__setitem__("traceId", "W4vv95gDgQPSabYzgT/GDA=="),
     "traceId: not a 16-byte id in hex"),
    (lambda r: r["attributes"][1].__setitem__("value", {"intValue": 1.5}),
     "attributes[1].value.intValue: not an integer"),
    (lambda r: r["attributes"][1].pop("key"), "attributes[1].key: missing"),
    (lambda r: r["body"]["kvlistValue"]["values"][4]["value"]["arrayValue"].__setitem__(
        "values", [{"stringValue": 7}]),
     "body.kvlistValue.values[4].value.arrayValue.values[0].stringValue: not a string"),
])
def test_json_with_a_wrong_type_deep_inside_is_a_400_naming_the_path(post, mutate, problem):
    document = orjson.loads(otlp_json(collector_export()))
    mutate(document["resourceLogs"][1]["scopeLogs"][1]["logRecords"][2])
    response = post(orjson.dumps(document), JSON)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["message"] == (
        f"resourceLogs[1].scopeLogs[1].logRecords[2].{problem}"
        + (" for its type" if "range" in problem else ""))
    assert not Event.objects.exists()


@pytest.mark.parametrize("body", [b"{}", b"[]", b'{"resourceLogs": 3}', b"not json"])
def test_json_that_is_no_export_is_a_400(post, body):
    assert post(body, JSON).status_code == 400


@pytest.mark.parametrize("body", [b"\x1f\x8b\x08\x00garbage", b"plain bytes", b""])
def test_bad_gzip_is_a_400(post, body):
    response = post(body, PROTOBUF, "gzip")
    assert response.status_code == 400, response.content
    assert "not valid gzip" in response.json()["error"]["message"]


def test_a_truncated_gzip_is_a_400(post):
    body = gzip.compress(collector_export().SerializeToString())
    response = post(body[: len(body) // 2], PROTOBUF, "gzip")
    assert response.status_code == 400 and "ends early" in response.json()["error"]["message"]


def test_a_decompression_bomb_is_a_413(post, settings):
    """The decompressed body is held to the same limit as a plain one."""
    bomb = gzip.compress(b"\x00" * 100_000_000)
    assert len(bomb) < 200_000 < settings.MAX_REQUEST_BYTES
    response = post(bomb, PROTOBUF, "gzip")
    assert response.status_code == 413
    limit = settings.MAX_REQUEST_BYTES
    assert response.json()["error"]["details"] == {"limit_bytes": limit}
    settings.MAX_REQUEST_BYTES = 10_000
    padded = b'{"resourceLogs": []}'.ljust(10_000)
    assert post(gzip.compress(padded), JSON, "gzip").status_code == 200
    assert post(gzip.compress(padded + b" "), JSON, "gzip").status_code == 413


def test_gzip_members_one_after_another_are_one_body(post):
    raw = otlp_json(collector_export())
    response = post(gzip.compress(raw[:100]) + gzip.compress(raw[100:]), JSON, "gzip")
    assert response.status_code == 200 and Event.objects.count() == 12


@pytest.mark.parametrize("encoding", ["br", "deflate", "zstd", "gzip, snappy"])
def test_other_encodings_are_a_415(post, encoding):
    response = post(collector_export().SerializeToString(), PROTOBUF, encoding)
    assert response.status_code == 415
    assert response.json()["error"]["details"] == {"supported": ["gzip", "identity"]}


def test_identity_is_no_encoding(post):
    assert post(collector_export().SerializeToString(), PROTOBUF, "identity").status_code == 200
    assert Event.objects.count() == 12


def test_permission_is_checked_before_the_body_is_read(api_as):
    client = api_as(Role.VIEWER)
    response = client.post(PATH, b"\x1f\x8b junk", content_type=PROTOBUF,
                           headers={"Authorization": f"Bearer {client.token}",
                                    "Content-Encoding": "gzip"})
    assert response.status_code == 403
