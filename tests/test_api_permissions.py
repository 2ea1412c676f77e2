import pytest

from casefile.accounts import services
from casefile.accounts.permissions import Perm, roles_for
from casefile.accounts.roles import Role
from casefile.audit.actor import Actor
from casefile.core.api import api
from tests.api_cases import Endpoint
from tests.conftest import ApiClient, make_staff, token_for

CLI = Actor.system("tests")


def own_token(user):
    token, _ = services.api_token_create(actor=CLI, owner=user, name="to revoke")
    return {"token_id": token.id}


def other_staff(user):
    return {"user_id": make_staff(Role.VIEWER).id}


def other_staff_with_support(user):
    return {"user_id": make_staff(Role.VIEWER, Role.SUPPORT).id, "role": "support"}


ENDPOINTS = [
    Endpoint("GET", "/api/v1/health", None),
    Endpoint("GET", "/api/v1/me", Perm.PROFILE_VIEW),
    Endpoint("GET", "/api/v1/tokens", Perm.TOKEN_MANAGE_OWN),
    Endpoint("POST", "/api/v1/tokens", Perm.TOKEN_MANAGE_OWN, ok=201, body={"name": "laptop"}),
    Endpoint("DELETE", "/api/v1/tokens/{token_id}", Perm.TOKEN_MANAGE_OWN, params=own_token),
    Endpoint("GET", "/api/v1/staff", Perm.STAFF_VIEW),
    Endpoint("POST", "/api/v1/staff", Perm.STAFF_MANAGE, ok=201,
             body={"email": "new@example.com", "roles": ["viewer"],
                   "reason_code": "ACCOUNT_PROVISIONING"}),
    Endpoint("POST", "/api/v1/staff/{user_id}/roles", Perm.STAFF_MANAGE, params=other_staff,
             body={"role": "analyst", "reason_code": "ACCOUNT_PROVISIONING"}),
    Endpoint("DELETE", "/api/v1/staff/{user_id}/roles/{role}?reason_code=ACCOUNT_PROVISIONING",
             Perm.STAFF_MANAGE, params=other_staff_with_support),
    Endpoint("GET", "/api/v1/audit/entries", Perm.AUDIT_VIEW),
    Endpoint("GET", "/api/v1/audit/entries/{entry_id}", Perm.AUDIT_VIEW,
             params=lambda user: {"entry_id": _any_entry_id()}),
    Endpoint("GET", "/api/v1/audit/export", Perm.AUDIT_EXPORT),
    Endpoint("GET", "/api/v1/audit/state", Perm.AUDIT_VERIFY),
    Endpoint("POST", "/api/v1/events", Perm.EVENTS_INGEST, body={"message": "hello"}),
    Endpoint("POST", "/api/v1/otlp/v1/logs", Perm.EVENTS_INGEST, body={"resourceLogs": []}),
    Endpoint("GET", "/api/v1/events", Perm.EVENTS_VIEW),
    Endpoint("GET", "/api/v1/events/{event_id}", Perm.EVENTS_VIEW,
             params=lambda user: {"event_id": _an_event_id()}),
    Endpoint("GET", "/api/v1/events/export", Perm.EVENTS_EXPORT),
    Endpoint("GET", "/api/v1/events/analytics/top", Perm.EVENTS_VIEW),
    Endpoint("GET", "/api/v1/events/analytics/severity", Perm.EVENTS_VIEW),
    Endpoint("GET", "/api/v1/events/analytics/breakdown", Perm.EVENTS_VIEW),
]


def _an_event_id() -> str:
    from tests.events.helpers import ingest

    ingest([{"message": "for the permission test"}])
    from casefile.events.models import Event

    return Event.objects.values_list("id", flat=True).first()


def _any_entry_id() -> str:
    from casefile.audit.models import AuditEntry

    return AuditEntry.objects.order_by("seq").values_list("id", flat=True).first()


def test_every_route_is_declared():
    schema = api.get_openapi_schema()
    routes = {f"{m.upper()} {p}" for p, ops in schema["paths"].items() for m in ops}
    declared = {f"{e.method} {e.route.split('?')[0]}" for e in ENDPOINTS}
    assert routes == declared


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.id)
@pytest.mark.parametrize("role", list(Role), ids=str)
def test_role_access(endpoint: Endpoint, role: Role):
    user = make_staff(role)
    response = ApiClient(token_for(user)).call(endpoint.method, endpoint.path(user), endpoint.body)
    allowed = endpoint.perm is None or role in roles_for(endpoint.perm)
    expected = endpoint.ok if allowed else 403
    assert response.status_code == expected, response.content
    if not allowed:
        assert response.json()["error"]["code"] == "forbidden"


@pytest.mark.django_db
@pytest.mark.parametrize("endpoint", [e for e in ENDPOINTS if e.perm], ids=lambda e: e.id)
def test_no_token_is_401(endpoint: Endpoint):
    user = make_staff(Role.ADMIN)
    for client in (ApiClient(None), ApiClient("cf_not-a-real-token")):
        response = client.call(endpoint.method, endpoint.path(user), endpoint.body)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "not_authenticated"
