"""The edge of every request: one error shape for whatever Django answers under /api/, the
OpenAPI document's 4xx and ingestion bodies, NUL and long URIs, cursors, and the shared types
(issue 9, items 8 and 10). Runs on SQLite and PostgreSQL."""

import base64
from typing import Annotated

import orjson
import pytest
from pydantic import ValidationError

from casefile.accounts.roles import Role
from casefile.core.api import ERROR_STATUSES
from casefile.core.errors import ValidationFailed
from casefile.core.pagination import decode_cursor, encode_cursor, keyset_page
from casefile.core.schemas import (
    JSON_SAFE_MAX,
    Bounded,
    CaseId,
    Email,
    Instant,
    Int64,
    JsonObject,
    Limit,
    ReasonIn,
    Schema,
    TenantId,
)

pytestmark = pytest.mark.django_db


def _shape(response) -> dict:
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    return body["error"]


def test_method_not_allowed_is_in_the_error_shape(api_as):
    response = api_as(Role.ADMIN).call("DELETE", "/api/v1/events")
    assert response.status_code == 405
    error = _shape(response)
    assert error["code"] == "method_not_allowed" and "GET" in error["details"]["allowed"]
    assert "GET" in response["Allow"]


def test_uri_too_long_is_414_in_the_error_shape(api_as):
    response = api_as(Role.ADMIN).call("GET", "/api/v1/events?q=" + "a" * 5000)
    assert response.status_code == 414
    assert _shape(response)["code"] == "uri_too_long"


def test_unknown_api_path_is_404_in_the_error_shape(api_as):
    response = api_as(Role.ADMIN).call("GET", "/api/v1/no/such/thing")
    assert response.status_code == 404 and _shape(response)["code"] == "not_found"


@pytest.mark.parametrize("path", ["/api/v1/cases?q=%00", "/api/v1/audit/entries?action=a%00",
                                  "/api/v1/platform/tenants/ten_" + "%00",
                                  "/api/v1/cases/cas_1%00"])
def test_nul_in_any_query_or_path_is_refused_in_the_error_shape(api_as, path):
    response = api_as(Role.ADMIN).call("GET", path)
    assert response.status_code == 422
    assert _shape(response)["code"] == "validation_error"


def test_nul_in_a_console_query_is_an_error_page(client, staff_factory):
    client.force_login(staff_factory(Role.ANALYST, password="a long enough password 1"))
    response = client.get("/cases/?q=%00")
    assert response.status_code == 422
    assert b"NUL" in response.content


def test_openapi_declares_every_operations_errors_and_ingestion_bodies(client):
    document = client.get("/api/v1/openapi.json").json()
    assert "ErrorOut" in document["components"]["schemas"]
    operations = [(path, method, op) for path, methods in document["paths"].items()
                  for method, op in methods.items()]
    assert len(operations) > 40
    for path, method, op in operations:
        declared = {int(status) for status in op["responses"]}
        assert set(ERROR_STATUSES) <= declared, (method, path)
    ingest = document["paths"]["/api/v1/events"]["post"]["requestBody"]["content"]
    assert {"application/json", "application/x-ndjson", "text/csv"} <= set(ingest)
    otlp = document["paths"]["/api/v1/otlp/v1/logs"]["post"]["requestBody"]["content"]
    assert "resourceLogs" in otlp["application/json"]["schema"]["properties"]


# --- cursors ------------------------------------------------------------------------------------
def _raw(value) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(value)).decode().rstrip("=")


@pytest.mark.parametrize("values", [
    [{"a": 1}, [1]], [None, "x"], [True, "x"], ["x\x00", "y"], [2**63, "x"], [[1], "x"],
])
def test_cursor_with_values_of_the_wrong_type_is_refused(values):
    with pytest.raises(ValidationFailed):
        decode_cursor(_raw(values), 2)


def test_cursor_is_read_as_its_columns_types(admin):
    from casefile.audit import ledger
    from casefile.audit.models import AuditEntry

    ledger.chain_pending()  # the admin's account entry, committed as it would be
    queryset = AuditEntry.objects.all()
    assert keyset_page(queryset, keys=["seq"], cursor=encode_cursor([10**6]), limit=5,
                       key_of=lambda e: [e.seq]).items
    with pytest.raises(ValidationFailed):  # a text where the column holds integers
        keyset_page(queryset, keys=["seq"], cursor=encode_cursor(["abc"]), limit=5)
    with pytest.raises(ValidationFailed):  # a text where the column holds times
        keyset_page(queryset, keys=["created_at", "id"],
                    cursor=encode_cursor(["not a date", "aud_1"]), limit=5)


def test_malformed_cursor_through_the_api_is_422(api_as):
    for cursor in (_raw([{"a": 1}, [1]]), _raw(["yesterday", "evt_1"]), "!!", "A" * 3000):
        response = api_as(Role.ADMIN).call("GET", f"/api/v1/events?cursor={cursor}")
        assert response.status_code in (414, 422), cursor
        _shape(response)


# --- the shared types -----------------------------------------------------------------------------
class Sample(Schema):
    text: Annotated[str, Bounded(10)] = ""
    case: CaseId | None = None
    tenant: TenantId | None = None
    email: Email | None = None
    limit: Limit = 50
    amount: Int64 = 0
    data: JsonObject = {}
    at: Instant | None = None


@pytest.mark.parametrize("given", [
    {"text": "x" * 11}, {"text": "a\x00b"}, {"case": "evt_01ABC"}, {"case": "cas_"},
    {"case": "cas_" + "a" * 40}, {"tenant": "ten_a b"}, {"email": "not an address"},
    {"email": "a\x00@b.co"}, {"limit": 0}, {"limit": 501}, {"limit": -1},
    {"amount": 2**63}, {"amount": -(2**63) - 1}, {"data": {"n": JSON_SAFE_MAX + 1}},
    {"data": {"n": [-(JSON_SAFE_MAX + 1)]}}, {"data": {"s": "a\x00"}}, {"data": {"a\x00": 1}},
    {"data": {"f": float("inf")}}, {"data": {"f": float("nan")}},
    {"data": "deep"}, {"at": "0001-01-01T00:00:00Z"},
    {"at": "9999-01-01T00:00:00"}, {"unknown": 1},
])
def test_shared_types_refuse_what_would_fail_later(given):
    if given.get("data") == "deep":
        nested: dict = {}
        for _ in range(40):
            nested = {"x": nested}
        given = {"data": nested}
    with pytest.raises(ValidationError):
        Sample(**given)


def test_shared_types_accept_what_they_should():
    sample = Sample(text="x" * 10, case="cas_01JABCDEF", tenant="ten_acme",
                    email=" Someone@Example.com ", limit=500, amount=-(2**63),
                    data={"n": JSON_SAFE_MAX, "list": [1.5, "é", None, True]},
                    at="2026-11-25T09:30")
    assert sample.email == "Someone@Example.com"
    assert sample.at is not None and sample.at.tzinfo is not None
    assert ReasonIn(reason_code="INVESTIGATION").ticket_ref is None
    with pytest.raises(ValidationError):
        ReasonIn(reason_code="")
    with pytest.raises(ValidationError):
        ReasonIn(reason_code="x" * 65)
