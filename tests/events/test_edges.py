"""Ingestion and event reads at their edges: nothing is lost silently and nothing is a 500
(issue 9, items 8 and 9). Each test runs on SQLite and PostgreSQL."""

import io
from urllib.parse import quote

import orjson
import pytest
from django.test.client import ClientHandler

from casefile.accounts.roles import Role
from casefile.audit.models import AuditEntry
from casefile.events.models import Event
from casefile.events.parsing import UnusableInput
from tests.events.helpers import ingest
from tests.events.test_ingest import OTLP

pytestmark = pytest.mark.django_db(transaction=False)

BOM = b"\xef\xbb\xbf"


@pytest.fixture
def ingester(api_as):
    client = api_as(Role.INGEST)

    def post(body: bytes, content_type: str, path: str = "/api/v1/events"):
        return client.post(path, body, content_type=content_type,
                           headers={"Authorization": f"Bearer {client.token}"})

    post.token = client.token
    return post


# --- silent loss ------------------------------------------------------------------------------
def _wsgi(environ_extra: dict, body: bytes, token: str):
    """Call the WSGI application as gunicorn does for a chunked upload: the decoded body in
    wsgi.input, no CONTENT_LENGTH, the input marked as terminated."""
    environ = {
        "REQUEST_METHOD": "POST", "PATH_INFO": "/api/v1/events", "SCRIPT_NAME": "",
        "QUERY_STRING": "", "SERVER_NAME": "testserver", "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body),
        "wsgi.errors": io.StringIO(), "wsgi.multithread": False, "wsgi.multiprocess": False,
        "wsgi.run_once": False, "CONTENT_TYPE": "application/x-ndjson",
        "HTTP_AUTHORIZATION": f"Bearer {token}", "HTTP_TRANSFER_ENCODING": "chunked",
        "wsgi.input_terminated": True, **environ_extra,
    }
    # The test client's handler: the WSGI request and every middleware, without closing the
    # test's database connection at the end.
    response = ClientHandler()(environ)
    return response.status_code, orjson.loads(response.content)


def test_chunked_upload_is_stored(ingester):
    status, body = _wsgi({}, b'{"message": "chunked one"}\n{"message": "chunked two"}\n',
                         ingester.token)
    assert status == 200 and body["accepted"] == 2
    assert Event.objects.filter(message__startswith="chunked").count() == 2


def test_chunked_upload_over_the_limit_is_413(ingester, settings):
    settings.MAX_REQUEST_BYTES = 1000
    lines = b"".join(orjson.dumps({"message": f"m{i}"}) + b"\n" for i in range(200))
    status, body = _wsgi({}, lines, ingester.token)
    assert status == 413 and body["error"]["code"] == "payload_too_large"
    assert not Event.objects.exists()


def test_chunked_upload_without_a_terminated_input_is_411(ingester):
    status, body = _wsgi({"wsgi.input_terminated": False}, b'{"message": "x"}\n', ingester.token)
    assert status == 411 and body["error"]["code"] == "length_required"


@pytest.mark.parametrize(("body", "content_type"), [
    (b"message,level\nhello,warn\n", "application/json"),  # CSV sent as JSON
    (b'{"message": "one"}\n', "text/csv"),  # JSON sent as CSV: its "header" is the object
    (b"just some words\n", "text/csv"),
    (b"[]", "application/json"),
    (b"message\n", "text/csv"),  # a header and no row
])
def test_content_that_does_not_match_its_type_is_never_a_silent_200(ingester, body,
                                                                    content_type):
    response = ingester(body, content_type)
    assert response.status_code == 422, response.content
    assert response.json()["error"]["code"] == "validation_error"
    assert not Event.objects.exists()


def test_trailing_garbage_is_reported(ingester):
    response = ingester(b'{"message": "good"}\n{"message": "cut off', "application/x-ndjson")
    assert response.status_code == 200
    assert response.json()["accepted"] == 1 and response.json()["rejected"] == 1
    assert response.json()["errors"][0]["line"] == 2
    json_tail = ingester(b'[{"message": "a"}] trailing', "application/json")
    assert json_tail.status_code == 422 and not Event.objects.filter(message="a").exists()


def test_byte_order_mark_is_not_part_of_the_first_line(ingester):
    ndjson = ingester(BOM + b'{"message": "first"}\n{"message": "second"}\n',
                      "application/x-ndjson")
    assert ndjson.json() == {"accepted": 2, "duplicates": 0, "rejected": 0, "errors": []}
    csv = ingester(BOM + b"message,level\nrow one,warn\nrow two,error\n", "text/csv")
    assert csv.json()["accepted"] == 2 and csv.json()["rejected"] == 0
    assert ingest(BOM + b'[{"message": "json"}]', fmt="json").accepted == 1
    assert ingest(BOM + b"message\nauto csv\n").accepted == 1  # detected through the BOM


def test_invalid_utf8_in_csv_rejects_those_rows_by_line(ingester):
    body = b"message,service\nfine,api\nbad \xff\xfe bytes,api\nalso fine,\xc3\n"
    response = ingester(body, "text/csv")
    assert response.status_code == 200
    assert response.json()["accepted"] == 1
    assert [(e["line"], e["error"]) for e in response.json()["errors"]] == [
        (3, "not valid UTF-8"), (4, "not valid UTF-8")]
    assert list(Event.objects.values_list("message", flat=True)) == ["fine"]
    assert not Event.objects.filter(message__contains="\ufffd").exists()


def test_csv_header_that_is_not_utf8_is_unusable():
    with pytest.raises(UnusableInput):
        ingest(b"mess\xffage\nx\n", fmt="csv")


def test_deduplication_is_scoped_by_source():
    record = {"event_id": "e-1", "message": "same id, two sources"}
    assert ingest([record], source="api").accepted == 1
    assert ingest([record], source="otlp").accepted == 1
    assert ingest([record], source="api").duplicates == 1
    # Without an id, the same payload from two sources is two events too.
    anonymous = [{"message": "no id"}]
    assert ingest(anonymous, source="api").accepted == 1
    assert ingest(anonymous, source="console").accepted == 1
    # A record's own `source` field is its scope.
    assert ingest([{**record, "source": "billing"}], source="api").accepted == 1
    assert ingest([{**record, "source": "billing"}], source="otlp").duplicates == 1
    assert sorted(Event.objects.filter(message=record["message"])
                  .values_list("source", flat=True)) == ["api", "billing", "otlp"]


def test_deduplication_scope_survives_the_bulk_path():
    """Both sources in one batch, and again: the pre-COPY lookup compares by (source, key)."""
    rows = [{"event_id": f"k{i}", "message": f"m{i}", "source": s}
            for i in range(50) for s in ("a", "b")]
    assert ingest(rows).accepted == 100
    again = ingest(rows)
    assert again.accepted == 0 and again.duplicates == 100


R0 = "resourceLogs[0]"
L0 = "resourceLogs[0].scopeLogs[0].logRecords[0]"


@pytest.mark.parametrize(("document", "problem"), [
    ({"resourceLogs": ["not an object"]}, f"{R0}: not an object"),
    ({"resourceLogs": [{"scopeLogs": {"not": "a list"}}]}, f"{R0}.scopeLogs: not an array"),
    ({"resourceLogs": [{"scopeLogs": [42]}]}, f"{R0}.scopeLogs[0]: not an object"),
    ({"resourceLogs": [{"scopeLogs": [{"logRecords": "nope"}]}]},
     f"{R0}.scopeLogs[0].logRecords: not an array"),
    ({"resourceLogs": [{"resource": [], "scopeLogs": []}]}, f"{R0}.resource: not an object"),
    ({"resourceLogs": [{"resource": {"attributes": "x"}, "scopeLogs": []}]},
     f"{R0}.resource.attributes: not an array"),
    ({"resourceLogs": [{"scopeLogs": [{"scope": "name", "logRecords": [{"body": "x"}]}]}]},
     f"{R0}.scopeLogs[0].scope: not an object"),
    ({"resourceLogs": [{"scopeLogs": [{"logRecords": [
        {"body": {"stringValue": "x"}, "severityNumber": {"a": 1}}]}]}]},
     f"{L0}.severityNumber: not an integer"),
    ({"resourceLogs": [{"scopeLogs": [{"logRecords": [
        {"body": {"stringValue": "x"}, "timeUnixNano": [1]}]}]}]},
     f"{L0}.timeUnixNano: not an integer"),
    ({"resourceLogs": [{"scopeLogs": [{"logRecords": [
        {"body": {"stringValue": "x"}, "attributes": [{"key": 5, "value": {}}]}]}]}]},
     f"{L0}.attributes[0].key: not a string"),
    ({"resourceLogs": [{"scopeLogs": [{"logRecords": [
        {"body": {"arrayValue": {"values": 3}}}]}]}]},
     f"{L0}.body.arrayValue.values: not an array"),
])
def test_otlp_of_the_wrong_structure_is_refused_not_a_500(ingester, document, problem):
    """The OTLP spec answers a request it cannot decode with 400; the message says where."""
    response = ingester(orjson.dumps(document), "application/json", "/api/v1/otlp/v1/logs")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["message"] == problem


def test_otlp_a_bad_part_refuses_the_whole_export(ingester):
    """Nothing of an export that is not one is stored (a protobuf export could not even hold
    the bad part), so the collector's retry after a fix does not meet half of it stored."""
    document = {"resourceLogs": [*OTLP["resourceLogs"], "junk",
                                 {"scopeLogs": [{"logRecords": 1}]}]}
    response = ingester(orjson.dumps(document), "application/json", "/api/v1/otlp/v1/logs")
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "resourceLogs[1]: not an object"
    assert not Event.objects.filter(source="otlp").exists()


def test_otlp_deeply_nested_values_are_rejected():
    value: dict = {"stringValue": "leaf"}
    for _ in range(50):  # within orjson's depth, beyond the parser's 32 levels
        value = {"kvlistValue": {"values": [{"key": "k", "value": value}]}}
    document = {"resourceLogs": [{"scopeLogs": [{"logRecords": [
        {"body": {"stringValue": "deep"}, "attributes": [{"key": "a", "value": value}]},
        {"body": {"stringValue": "shallow"}}]}]}]}
    result = ingest(orjson.dumps(document), fmt="otlp")
    assert result.accepted == 1 and result.rejected == 1


@pytest.mark.parametrize("stamp", ["nan", "inf", "-inf", "1e999", str(10**30),
                                   "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00",
                                   "2300-01-01T00:00:00Z"])
def test_timestamps_out_of_range_are_rejected(stamp):
    result = ingest(f"message,timestamp\nx,{stamp}\n".encode(), fmt="csv")
    assert result.rejected == 1 and "timestamp" in result.errors[0]["error"]


# --- reads --------------------------------------------------------------------------------------
@pytest.fixture
def viewer(api_as):
    ingest([{"message": "one event", "service": "api"}])
    return api_as(Role.ANALYST)


@pytest.mark.parametrize("query", [
    "analytics/top?limit=-1", "analytics/top?limit=0", "analytics/top?limit=101",
    f"analytics/top?limit={2**70}", "analytics/breakdown?limit=-5",
    "analytics/breakdown?by=nope", "analytics/severity?bucket=week",
    "?limit=0", "?limit=501", f"?limit={2**64}",
    f"?service={'s' * 201}", f"?environment={'e' * 101}", f"?fingerprint={'f' * 65}",
    f"?q={'q' * 201}", f"?severity={2**70}", "?severity=loud", "?since=yesterday",
    "analytics/top?since=0116-05-17T08:03:37Z", "analytics/severity?until=9999-12-31T00:00",
    "?service=a%00b", "?q=%00", "export?reason_code=%00&format=csv",
    "?cursor=" + "W3siYSI6MX0sWzFdXQ", "?cursor=WyJub3QgYSBkYXRlIiwiZXZ0XzEiXQ",
    "?cursor=" + "A" * 2000,
])
def test_bad_queries_are_422_in_the_error_shape(viewer, query):
    separator = "" if query.startswith("?") else "/"
    response = viewer.call("GET", f"/api/v1/events{separator}{query}")
    assert response.status_code == 422, response.content
    assert set(response.json()["error"]) == {"code", "message", "details"}


def test_nul_in_a_path_is_refused(viewer):
    response = viewer.call("GET", "/api/v1/events/evt_" + quote("\x00"))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


def test_event_id_of_the_wrong_shape_is_422_and_unknown_one_404(viewer):
    assert viewer.call("GET", "/api/v1/events/cas_123").status_code == 422
    assert viewer.call("GET", "/api/v1/events/evt_01JDOESNOTEXIST").status_code == 404


def test_export_takes_its_reason_from_the_person(viewer):
    missing = viewer.call("GET", "/api/v1/events/export?format=csv")
    assert missing.status_code == 422
    unknown = viewer.call("GET", "/api/v1/events/export?format=csv&reason_code=BECAUSE")
    assert unknown.status_code == 422
    assert not AuditEntry.objects.filter(action="EXPORT_REQUESTED").exists()
    given = viewer.call("GET", "/api/v1/events/export?format=csv&reason_code=LEGAL_REQUEST")
    assert given.status_code == 200
    b"".join(given.streaming_content)
    assert AuditEntry.objects.get(action="EXPORT_REQUESTED").reason_code == "LEGAL_REQUEST"


# --- the console reads the same filter ------------------------------------------------------------
@pytest.fixture
def console(client, staff_factory):
    user = staff_factory(Role.ANALYST, password="a long enough password 1")
    client.force_login(user)
    ingest([{"message": "console event", "service": "api", "level": "error"}])
    return client


@pytest.mark.parametrize("query", [
    f"service={'s' * 201}", "severity=loud", "since=not-a-date", f"q={'q' * 201}",
    "cursor=W3siYSI6MX0sWzFdXQ", "service=a%00b",
])
def test_console_explorer_refuses_what_the_api_refuses(console, query):
    response = console.get(f"/events/?{query}")
    assert response.status_code in (400, 422), response.status_code


def test_console_explorer_reads_the_shared_filter(console):
    shown = console.get("/events/?service=api&severity=warning&since=2000-01-01T00:00")
    assert shown.status_code == 200 and b"console event" in shown.content
    hidden = console.get("/events/?service=api&severity=critical&since=2000-01-01T00:00")
    assert hidden.status_code == 200 and b"console event" not in hidden.content
