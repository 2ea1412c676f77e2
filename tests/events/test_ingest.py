from datetime import UTC, datetime

import orjson
import pytest

from casefile.events.models import Event
from casefile.events.parsing import UnusableInput, detect_format
from casefile.events.severity import Severity, from_otlp_number, parse_severity
from tests.events.helpers import ingest

pytestmark = pytest.mark.django_db

OTLP = {  # after the OpenTelemetry protocol's example logs.json
    "resourceLogs": [{
        "resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "my.service"}},
            {"key": "deployment.environment", "value": {"stringValue": "prod"}},
            {"key": "host.name", "value": {"stringValue": "node-7"}}]},
        "scopeLogs": [{
            "scope": {"name": "my.library", "version": "1.0.0",
                      "attributes": [{"key": "my.scope.attribute",
                                      "value": {"stringValue": "some scope attribute"}}]},
            "logRecords": [
                {"timeUnixNano": "1544712660300000000",
                 "observedTimeUnixNano": "1544712660300000000",
                 "severityNumber": 10, "severityText": "Information",
                 "traceId": "5B8EFFF798038103D269B633813FC60C", "spanId": "EEE19B7EC3C1B174",
                 "body": {"stringValue": "Example log record"},
                 "attributes": [{"key": "string.attribute",
                                 "value": {"stringValue": "some string"}},
                                {"key": "int.attribute", "value": {"intValue": "10"}}]},
                {"timeUnixNano": "1544712660300000001", "severityNumber": 17,
                 "body": {"stringValue": "disk full on /dev/sda1"}},
            ]}]}]}


def test_json_object_array_and_ndjson():
    one = ingest(orjson.dumps({"message": "single", "level": "warn"}), fmt="json")
    many = ingest(orjson.dumps([{"msg": "a"}, {"msg": "b"}]))
    lines = ingest([{"message": "x1", "timestamp": 1_700_000_000},
                    {"message": "x2", "timestamp": "2026-11-24T10:00:00Z"}])
    assert (one.accepted, many.accepted, lines.accepted) == (1, 2, 2)
    single = Event.objects.get(message="single")
    assert single.severity == Severity.WARNING and single.fingerprint
    assert single.raw_payload == {"message": "single", "level": "warn"}
    assert Event.objects.get(message="x1").occurred_at == datetime(2023, 11, 14, 22, 13, 20,
                                                                   tzinfo=UTC)


def test_csv_with_a_header():
    body = (b"timestamp,level,component,service,environment,host,message\n"
            b"2026-11-24T10:00:00Z,error,db,api,prod,h1,\"connection refused, retrying\"\n"
            b"2026-11-24T10:00:01Z,info,db,api,prod,h1,ok\n")
    result = ingest(body, fmt="auto")
    assert result.accepted == 2, result
    event = Event.objects.get(message="connection refused, retrying")
    assert (event.component, event.service, event.environment, event.system_id) == (
        "db", "api", "prod", "h1")


def test_otlp_logs():
    result = ingest(orjson.dumps(OTLP))
    assert result.accepted == 2, result
    event = Event.objects.get(message="Example log record")
    assert (event.service, event.environment, event.system_id, event.component) == (
        "my.service", "prod", "node-7", "my.library")
    assert event.severity == Severity.INFO
    assert event.occurred_at == datetime(2018, 12, 13, 14, 51, 0, 300000, tzinfo=UTC)
    assert event.raw_payload["logRecord"]["traceId"] == "5B8EFFF798038103D269B633813FC60C"
    assert Event.objects.get(message__startswith="disk full").severity == Severity.ERROR


def test_bad_lines_are_reported_and_good_ones_kept():
    body = b"\n".join([
        b'{"message": "good 1"}',
        b'{"message": "broken',
        b'["not", "an", "object"]',
        b'{"message": 42}',
        b'{"level": "info"}',
        b'{"message": "bad time", "timestamp": "yesterday-ish"}',
        b'{"message": "bad level", "level": "loud"}',
        b'{"message": "bad \xff\xfe bytes"}',
        b'{"message": "' + b"x" * (1024 * 1024 + 10) + b'"}',
        b'{"message": "good 2", "component": {"nested": true}}',
        b'{"message": "good 3"}',
    ])
    result = ingest(body, fmt="ndjson")
    assert result.accepted == 2
    assert result.rejected == 9
    by_line = {e["line"]: e["error"] for e in result.errors}
    assert sorted(by_line) == [2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert "not valid JSON" in by_line[2]
    assert "expected a JSON object" in by_line[3]
    assert "message must be a string" in by_line[4]
    assert "missing message" in by_line[5]
    assert "timestamp" in by_line[6]
    assert "severity" in by_line[7]
    assert "UTF-8" in by_line[8]
    assert "longer than" in by_line[9]
    assert "component must be a string" in by_line[10]


def test_reingesting_stores_nothing_new():
    records = [{"message": f"event {i}", "timestamp": 1_700_000_000 + i} for i in range(20)]
    records.append({"event_id": "client-7", "message": "with an id"})
    first = ingest(records)
    again = ingest(records)
    same_id = ingest([{"event_id": "client-7", "message": "different payload, same id"}])
    assert (first.accepted, first.duplicates) == (21, 0)
    assert (again.accepted, again.duplicates) == (0, 21)
    assert (same_id.accepted, same_id.duplicates) == (0, 1)
    assert Event.objects.count() == 21


def test_repeats_within_one_batch_count_as_duplicates():
    result = ingest([{"message": "same"}] * 3)
    assert (result.accepted, result.duplicates) == (1, 2)


@pytest.mark.parametrize("body", [b"{broken", b"[1, 2"])
def test_unusable_json_document(body):
    with pytest.raises(UnusableInput):
        ingest(body, fmt="json")


def test_large_batches_cross_batch_boundaries():
    records = [{"message": f"m{i}", "timestamp": 1_700_000_000_000 + i} for i in range(12_345)]
    result = ingest(records)
    assert result.accepted == 12_345 and Event.objects.count() == 12_345


@pytest.mark.parametrize(("value", "expected"), [
    (3, Severity.ERROR), ("warn", Severity.WARNING), ("ERR", Severity.ERROR),
    ("fatal", Severity.CRITICAL), ("Information", Severity.INFO), ("trace", Severity.DEBUG),
    ("7", Severity.DEBUG), ("WARN2", Severity.WARNING), ("emerg", Severity.EMERGENCY),
])
def test_severity_names(value, expected):
    assert parse_severity(value) == expected


@pytest.mark.parametrize(("number", "expected"), [
    (1, Severity.DEBUG), (5, Severity.DEBUG), (9, Severity.INFO), (13, Severity.WARNING),
    (17, Severity.ERROR), (21, Severity.CRITICAL), (24, Severity.CRITICAL)])
def test_otlp_severity_numbers(number, expected):
    assert from_otlp_number(number) == expected


@pytest.mark.parametrize(("epoch", "expected"), [
    (1_700_000_000, 1_700_000_000), (1_700_000_000_123, 1_700_000_000.123),
    (1_700_000_000_123_456, 1_700_000_000.123456),
    (1_700_000_000_123_456_789, 1_700_000_000.123457)])
def test_epoch_units_by_magnitude(epoch, expected):
    from casefile.events.normalise import parse_timestamp

    assert abs(parse_timestamp(epoch).timestamp() - expected) < 1e-6


@pytest.mark.parametrize(("head", "fmt"), [
    (b'{"a": 1}\n{"a": 2}\n', "ndjson"), (b'{\n  "a": 1\n}\n', "json"), (b"[{}]", "json"),
    (b'{"resourceLogs": []}', "otlp"), (b"time,message\n", "csv")])
def test_format_detection(head, fmt):
    assert detect_format(head) == fmt
