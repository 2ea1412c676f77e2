import orjson
import pytest

from casefile.accounts.roles import Role
from casefile.audit.models import AuditEntry
from tests.audit.helpers import record_entries
from tests.conftest import ApiClient

pytestmark = pytest.mark.django_db


def test_health_reports_database_and_object_store():
    response = ApiClient().get("/api/v1/health")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "object_store": "ok"}


def test_health_degrades_when_the_store_is_unusable(settings, tmp_path):
    from casefile.storage import get_store

    blocker = tmp_path / "file"
    blocker.write_text("x")
    settings.OBJECT_STORE_URL = f"file://{blocker}/objects"
    get_store.cache_clear()
    response = ApiClient().get("/api/v1/health")
    assert response.status_code == 503 and response.json()["status"] == "degraded"


def test_me(api_as):
    body = api_as(Role.ANALYST, Role.SUPPORT).call("GET", "/api/v1/me").json()
    assert body["roles"] == ["support", "analyst"]
    assert "audit.view" not in body["permissions"] and "profile.view" in body["permissions"]


def test_errors_have_one_shape(api_as):
    client = api_as(Role.ADMIN)
    missing = client.call("GET", "/api/v1/audit/entries/aud_nope")
    assert missing.status_code == 404
    assert set(missing.json()["error"]) == {"code", "message", "details"}
    invalid = client.call("POST", "/api/v1/staff", {"email": "x@example.com", "roles": ["king"],
                                                    "reason_code": "ACCOUNT_PROVISIONING"})
    assert invalid.status_code == 422 and invalid.json()["error"]["code"] == "validation_error"
    extra = client.call("POST", "/api/v1/tokens", {"name": "a", "surprise": 1})
    assert extra.status_code == 422
    unknown_reason = client.call("POST", "/api/v1/staff", {
        "email": "x@example.com", "roles": ["viewer"], "reason_code": "WHIM"})
    assert unknown_reason.status_code == 422
    assert "unknown reason code" in unknown_reason.json()["error"]["message"]
    conflict = client.call("POST", "/api/v1/staff", {
        "email": client_email(client), "roles": ["viewer"], "reason_code": "OPERATIONS"})
    assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "conflict"
    nowhere = client.call("GET", "/api/v1/no/such/route")
    assert nowhere.status_code == 404 and nowhere.json()["error"]["code"] == "not_found"


def client_email(client) -> str:
    return client.call("GET", "/api/v1/me").json()["email"]


def test_oversized_body_is_413(api_as, settings):
    settings.MAX_REQUEST_BYTES = 1000
    response = api_as(Role.VIEWER).call("POST", "/api/v1/tokens", {"name": "x" * 2000})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_openapi_is_served():
    response = ApiClient().get("/api/v1/openapi.json")
    assert response.status_code == 200 and "/api/v1/audit/entries" in response.json()["paths"]


def test_revoked_token_stops_working(api_as):
    client = api_as(Role.VIEWER)
    token_id = client.call("GET", "/api/v1/tokens").json()[0]["id"]
    assert client.call("DELETE", f"/api/v1/tokens/{token_id}?reason_code=SECURITY_INCIDENT"
                       ).status_code == 200
    assert client.call("GET", "/api/v1/me").status_code == 401


def test_token_use_is_timestamped(api_as):
    client = api_as(Role.VIEWER)
    client.call("GET", "/api/v1/me")
    assert client.call("GET", "/api/v1/tokens").json()[0]["last_used_at"] is not None


def test_others_tokens_are_not_found(api_as):
    alice = api_as(Role.ANALYST)
    bob = api_as(Role.ANALYST)
    bobs = bob.call("GET", "/api/v1/tokens").json()[0]["id"]
    assert alice.call("DELETE", f"/api/v1/tokens/{bobs}?reason_code=SECURITY_INCIDENT"
                      ).status_code == 404


def test_audit_list_filters_and_pages_without_gaps(api_as):
    client = api_as(Role.ADMIN)
    record_entries(25)
    seen, cursor = [], None
    while True:
        url = "/api/v1/audit/entries?action=LIMIT_OVERRIDE&limit=7"
        page = client.call("GET", url + (f"&cursor={cursor}" if cursor else "")).json()
        seen += [e["seq"] for e in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    expected = list(AuditEntry.objects.filter(action="LIMIT_OVERRIDE")
                    .order_by("-seq").values_list("seq", flat=True))
    assert seen == expected and len(seen) == 25
    by_tenant = client.call("GET", "/api/v1/audit/entries?target_tenant_id=ten_3").json()
    assert {e["target_tenant_id"] for e in by_tenant["items"]} == {"ten_3"}
    high = client.call("GET", "/api/v1/audit/entries?risk=HIGH").json()["items"]
    assert {e["action"] for e in high} == {"STAFF_USER_CREATED"}


def test_audit_export_streams_ndjson_and_is_itself_audited(api_as):
    client = api_as(Role.ADMIN)
    record_entries(3)
    response = client.call(
        "GET", "/api/v1/audit/export?action=LIMIT_OVERRIDE&reason_code=COMPLIANCE_REVIEW")
    assert response.status_code == 200
    lines = [orjson.loads(x) for x in b"".join(response.streaming_content).splitlines()]
    assert [d["seq"] for d in lines] == sorted(d["seq"] for d in lines) and len(lines) == 3
    export = AuditEntry.objects.get(action="EXPORT_REQUESTED")
    assert export.metadata["filter"] == {"action": ["LIMIT_OVERRIDE"]}
    assert export.actor_email == client_email(client)
