"""The platform's sync endpoints: its machine identity only, JSON answers, validated input, and
nothing accepted that a later read cannot serve (issue 9, items 6, 8, 10)."""

import pytest

from casefile.accounts.roles import Role
from casefile.audit.models import AuditEntry
from casefile.platform.models import Tenant
from tests.conftest import ApiClient, make_staff, token_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def machine():
    return ApiClient(token_for(make_staff(Role.PLATFORM)))


def test_the_platform_upserts_and_gets_json_back(machine):
    response = machine.call("PUT", "/api/v1/platform/tenants/ten_acme",
                            {"name": "Acme", "policy": {"sso": True}, "limits": {"seats": 5},
                             "details": {"vat": "DE1"}})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["changed"] is True and body["tenant"]["policy"] == {"sso": True}
    again = machine.call("PUT", "/api/v1/platform/tenants/ten_acme",
                         {"name": "Acme", "policy": {"sso": True}, "limits": {"seats": 5},
                          "details": {"vat": "DE1"}}).json()
    assert again["changed"] is False
    user = machine.call("PUT", "/api/v1/platform/users/usr_bob",
                        {"email": "Bob@Acme.test", "tenant_id": "ten_acme"})
    assert user.status_code == 200 and user.json()["user"]["email"] == "bob@acme.test"
    (entry,) = AuditEntry.objects.filter(action="TENANT_UPSERTED")
    assert entry.reason_code == "PLATFORM_SYNC"
    # The ledger shows that the sensitive details changed, not what they hold.
    assert entry.details["after"]["details"] == {"sha256": entry.details["after"]["details"][
        "sha256"]}
    assert "DE1" not in str(entry.details)


@pytest.mark.parametrize("role", [Role.OPS, Role.ADMIN, Role.INGEST, Role.SUPPORT])
def test_staff_and_log_shippers_cannot_use_the_sync(role):
    client = ApiClient(token_for(make_staff(role)))
    response = client.call("PUT", "/api/v1/platform/tenants/ten_acme",
                           {"name": "Acme", "policy": {"everything": True}})
    assert response.status_code == 403
    assert not Tenant.objects.exists() and not AuditEntry.objects.filter(
        action="TENANT_UPSERTED").exists()


@pytest.mark.parametrize("role", [Role.INGEST, Role.PLATFORM])
def test_machines_cannot_mint_tokens(role):
    client = ApiClient(token_for(make_staff(role)))
    response = client.call("POST", "/api/v1/tokens",
                           {"name": "more", "reason_code": "ACCOUNT_PROVISIONING"})
    assert response.status_code == 403


@pytest.mark.parametrize(("path", "body"), [
    ("/api/v1/platform/tenants/acme", {"name": "Acme"}),  # not a tenant id
    ("/api/v1/platform/tenants/ten_" + "x" * 60, {"name": "Acme"}),  # longer than the column
    ("/api/v1/platform/tenants/ten_acme", {"name": "x" * 201}),
    ("/api/v1/platform/tenants/ten_acme", {"name": "Acme\x00"}),
    ("/api/v1/platform/tenants/ten_acme", {"name": "Acme", "status": "whatever"}),
    ("/api/v1/platform/tenants/ten_acme", {"name": "Acme", "details": {"n": 2**64}}),
    ("/api/v1/platform/tenants/ten_acme", {"name": "Acme", "limits": {"seats": 1e400}}),
    ("/api/v1/platform/users/usr_bob", {"email": "not an address"}),
    ("/api/v1/platform/users/bob", {"email": "bob@acme.test"}),
    ("/api/v1/platform/users/usr_bob", {"email": "bob@acme.test", "tenant_id": "acme"}),
])
def test_bad_input_is_refused_with_nothing_stored(machine, path, body):
    response = machine.call("PUT", path, body)
    assert response.status_code in (404, 422), response.content
    assert response.json()["error"]["code"] in ("validation_error", "not_found")
    assert not AuditEntry.objects.filter(action__in=["TENANT_UPSERTED",
                                                     "PLATFORM_USER_UPSERTED"]).exists()


def test_details_that_were_accepted_can_be_read_and_each_read_is_audited_once(machine):
    machine.call("PUT", "/api/v1/platform/tenants/ten_acme",
                 {"name": "Acme", "details": {"big": 2**53 - 1, "nested": {"list": [1, "a"]}}})
    reader = ApiClient(token_for(make_staff(Role.SUPPORT)))
    response = reader.call("POST", "/api/v1/platform/tenants/ten_acme/details",
                           {"reason_code": "CUSTOMER_REQUEST"})
    assert response.status_code == 200
    assert response.json()["details"]["big"] == 2**53 - 1
    assert AuditEntry.objects.filter(action="TENANT_VIEW_DETAILS").count() == 1
