from datetime import UTC, datetime, timedelta

import orjson
import pytest

from casefile.accounts.roles import Role
from casefile.audit.models import AuditEntry
from casefile.events.models import Event
from tests.events.helpers import ingest

pytestmark = pytest.mark.django_db

BASE = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def at(minutes: float) -> str:
    return (BASE + timedelta(minutes=minutes)).isoformat()


@pytest.fixture
def corpus():
    """A small, hand-countable set: 3 services × severities over two hours."""
    records = []
    for i in range(60):
        records.append({"event_id": f"e{i}", "timestamp": at(i * 2),
                        "service": ["api", "worker", "billing"][i % 3],
                        "environment": "prod" if i % 4 else "staging",
                        "component": "db" if i % 5 == 0 else "http",
                        "level": ["error", "warning", "info"][i % 3],
                        "host": f"h{i % 2}",
                        "message": f"request {i} failed after {i * 7} ms"
                        if i % 3 == 0 else f"cache miss for key user:{i}"})
    assert ingest(records).accepted == 60
    return records


def test_http_ingest_by_content_type(api_as):
    client = api_as(Role.INGEST)
    body = b'{"message": "one"}\n{"message": "two"}\n'
    response = client.post("/api/v1/events", body, content_type="application/x-ndjson",
                           headers={"Authorization": f"Bearer {client.token}"})
    assert response.status_code == 200
    assert response.json() == {"accepted": 2, "duplicates": 0, "rejected": 0, "errors": []}
    csv = client.post("/api/v1/events", b"message,level\nhello,warn\n", content_type="text/csv",
                      headers={"Authorization": f"Bearer {client.token}"})
    assert csv.json()["accepted"] == 1
    assert Event.objects.get(message="hello").source == "api"


def test_http_ingest_all_bad_is_422_with_line_numbers(api_as):
    client = api_as(Role.INGEST)
    response = client.post("/api/v1/events", b'{"nope": 1}\n{"msg": 5}\n',
                           content_type="application/x-ndjson",
                           headers={"Authorization": f"Bearer {client.token}"})
    assert response.status_code == 422
    assert [e["line"] for e in response.json()["error"]["details"]["errors"]] == [1, 2]


def test_http_ingest_oversized_body_is_413(api_as, settings):
    settings.MAX_REQUEST_BYTES = 10_000
    client = api_as(Role.INGEST)
    body = b"".join(orjson.dumps({"message": f"m{i}"}) + b"\n" for i in range(2000))
    response = client.post("/api/v1/events", body, content_type="application/x-ndjson",
                           headers={"Authorization": f"Bearer {client.token}"})
    assert response.status_code == 413
    assert not Event.objects.exists()


def test_otlp_endpoint(api_as):
    from tests.events.test_ingest import OTLP

    client = api_as(Role.INGEST)
    response = client.post("/api/v1/otlp/v1/logs", orjson.dumps(OTLP),
                           content_type="application/json",
                           headers={"Authorization": f"Bearer {client.token}"})
    assert response.status_code == 200 and response.json() == {"partialSuccess": {}}
    assert Event.objects.filter(source="otlp").count() == 2
    proto = client.post("/api/v1/otlp/v1/logs", b"\x0a\x00", content_type="application/x-protobuf",
                        headers={"Authorization": f"Bearer {client.token}"})
    assert proto.status_code == 200 and proto.content == b""  # an empty protobuf response


def test_filters(api_as, corpus):
    client = api_as(Role.VIEWER)

    def count(query: str) -> int:
        return len(client.call("GET", f"/api/v1/events?limit=500&{query}").json()["items"])

    assert count("") == 60
    assert count("service=api") == 20
    assert count("service=api&service=worker") == 40
    assert count("environment=staging") == 15
    assert count("component=db&service=api") == 4  # i in {0, 15, 30, 45}
    assert count("severity=warning") == 40  # errors and warnings
    assert count("severity=err") == 20
    assert count("system_id=h1") == 30
    assert count(f"since={at(30)}&until={at(60)}".replace("+", "%2B")) == 15
    assert count("q=CACHE%20MISS") == 40
    assert count("q=failed%20after") == 20
    assert count("q=ms") == 20
    bad = client.call("GET", "/api/v1/events?severity=loud")
    assert bad.status_code == 422


def test_pages_newest_first_without_gaps_or_repeats_while_ingesting(api_as, corpus):
    client = api_as(Role.ANALYST)
    seen, cursor, extra = [], None, 0
    while True:
        page = client.call("GET", "/api/v1/events?limit=7" + (f"&cursor={cursor}" if cursor
                                                              else "")).json()
        seen += [(e["occurred_at"], e["id"]) for e in page["items"]]
        ingest([{"message": f"concurrent {extra}", "timestamp": at(30.5 + extra)}])  # mid-range
        extra += 1
        cursor = page["next_cursor"]
        if not cursor:
            break
    original = {e.id for e in Event.objects.exclude(message__startswith="concurrent")}
    ids = [i for _, i in seen]
    assert len(ids) == len(set(ids))
    assert original <= set(ids)
    assert seen == sorted(seen, reverse=True)


def test_event_detail_has_the_raw_payload(api_as, corpus):
    client = api_as(Role.VIEWER)
    event = Event.objects.get(dedupe_key__isnull=False, message="request 3 failed after 21 ms")
    body = client.call("GET", f"/api/v1/events/{event.id}").json()
    assert body["raw_payload"]["event_id"] == "e3"
    assert body["template"] and body["severity"] == "error"
    assert client.call("GET", "/api/v1/events/evt_missing").status_code == 404


def test_top_recurring_against_hand_counts(api_as, corpus):
    client = api_as(Role.ANALYST)
    window = f"since={at(0)}&until={at(120)}".replace("+", "%2B")
    top = client.call("GET", f"/api/v1/events/analytics/top?{window}").json()["items"]
    counts = sorted(row["count"] for row in top)
    # Messages differ only in numbers, so each template groups per (component, service):
    expected = {}
    for i in range(60):
        template = "failed" if i % 3 == 0 else "miss"
        key = (template, "db" if i % 5 == 0 else "http", ["api", "worker", "billing"][i % 3])
        expected[key] = expected.get(key, 0) + 1
    assert counts == sorted(expected.values())
    first = top[0]
    assert first["previous_count"] == 0 and first["trend"] == "new"
    assert first["first_seen"] <= first["last_seen"] and first["sample"]


def test_trend_compares_with_the_previous_window(api_as):
    ingest([{"message": "disk full", "timestamp": at(m)} for m in (1, 2)])
    ingest([{"message": "disk full", "timestamp": at(61 + m), "host": "x"} for m in range(5)])
    client = api_as(Role.ANALYST)
    window = f"since={at(60)}&until={at(120)}".replace("+", "%2B")
    (row,) = client.call("GET", f"/api/v1/events/analytics/top?{window}").json()["items"]
    assert (row["count"], row["previous_count"], row["trend"]) == (5, 2, "rising")


def test_severity_histogram_and_breakdowns(api_as, corpus):
    client = api_as(Role.VIEWER)
    window = f"since={at(0)}&until={at(120)}".replace("+", "%2B")
    hist = client.call("GET", f"/api/v1/events/analytics/severity?bucket=hour&{window}").json()
    per_hour = {}
    for row in hist["items"]:
        per_hour[(row["bucket"][:13], row["severity"])] = row["count"]
    assert sum(per_hour.values()) == 60
    assert per_hour[("2026-11-24T12", "error")] == 10  # i = 0,3,…,27 in the first hour
    by = client.call("GET", f"/api/v1/events/analytics/breakdown?by=service&{window}").json()
    assert {r["value"]: r["count"] for r in by["items"]} == {"api": 20, "worker": 20,
                                                              "billing": 20}
    env = client.call("GET", f"/api/v1/events/analytics/breakdown?by=environment&{window}")
    assert {r["value"]: r["count"] for r in env.json()["items"]} == {"prod": 45, "staging": 15}
    assert client.call("GET", "/api/v1/events/analytics/breakdown?by=nope").status_code == 422


@pytest.mark.parametrize("fmt", ["csv", "ndjson"])
def test_export_streams_and_is_audited(api_as, corpus, fmt):
    client = api_as(Role.ANALYST)
    response = client.call("GET", f"/api/v1/events/export?format={fmt}&service=api"
                                  "&reason_code=INVESTIGATION")
    assert response.status_code == 200
    body = b"".join(response.streaming_content).decode()
    rows = body.strip().splitlines()
    assert len(rows) == 20 + (1 if fmt == "csv" else 0)
    entry = AuditEntry.objects.get(action="EXPORT_REQUESTED")
    assert entry.metadata["filter"] == {"service": ["api"]} and entry.metadata["format"] == fmt


def test_viewers_may_not_export(api_as, corpus):
    response = api_as(Role.VIEWER).call("GET", "/api/v1/events/export?reason_code=INVESTIGATION")
    assert response.status_code == 403
    assert not AuditEntry.objects.filter(action="EXPORT_REQUESTED").exists()


def test_purge_keeps_recent_events_and_evidence(staff_factory):
    from casefile.audit.actor import Actor
    from casefile.cases import services as cases
    from casefile.events.services import events_purge

    # Old enough that its month ended before the cutoff: PostgreSQL drops whole months.
    old = (datetime.now(UTC) - timedelta(days=200)).isoformat()
    ingest([{"message": "old", "timestamp": old}, {"message": "old evidence", "timestamp": old},
            {"message": "new"}])
    analyst = Actor.staff(staff_factory(Role.ANALYST))
    case = cases.case_create(actor=analyst, kind="incident", title="outage",
                             reason_code="INVESTIGATION")
    evidence = Event.objects.get(message="old evidence")
    cases.case_event_link(actor=analyst, case=case, event_id=evidence.id,
                          reason_code="INVESTIGATION")
    events_purge(older_than_days=90)
    assert sorted(Event.objects.values_list("message", flat=True)) == ["new", "old evidence"]


def test_event_detail_lists_its_cases(api_as, staff_factory):
    from casefile.audit.actor import Actor
    from casefile.cases import services as cases

    ingest([{"message": "suspicious login"}])
    event = Event.objects.get()
    analyst = Actor.staff(staff_factory(Role.ANALYST))
    case = cases.case_create(actor=analyst, kind="fraud", title="account takeover",
                             reason_code="FRAUD_SIGNAL")
    cases.case_event_link(actor=analyst, case=case, event_id=event.id,
                          reason_code="FRAUD_SIGNAL")
    body = api_as(Role.VIEWER).call("GET", f"/api/v1/events/{event.id}").json()
    assert body["cases"] == [{"id": case.id, "title": "account takeover", "status": "new",
                              "kind": "fraud"}]


@pytest.mark.parametrize("body", [{"resourceLogs": []},
                                  {"resourceLogs": [{"scopeLogs": [{"logRecords": []}]}]}])
def test_an_empty_otlp_export_is_a_success(api_as, body):
    """OTLP exporters send empty batches, and the spec wants them answered as a success."""
    response = api_as(Role.INGEST).call("POST", "/api/v1/otlp/v1/logs", body)
    assert response.status_code == 200, response.content
    assert response.json() == {"partialSuccess": {}}

