"""The staff and token API: reasons from the person acting, inputs validated at the edge (422,
never 500), and the permission matrix for machines."""

import pytest

from casefile.accounts.models import ApiToken, StaffUser
from casefile.accounts.roles import Role
from casefile.audit import ledger
from casefile.audit.models import AuditEntry
from tests.conftest import ApiClient, make_staff, token_for

pytestmark = pytest.mark.django_db
REASON = "ACCOUNT_PROVISIONING"


def new_entries(since: int) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(seq__gt=since).order_by("seq"))


def head() -> int:
    ledger.chain_pending()  # what the test set up has committed, as in production
    return AuditEntry.objects.order_by("-seq").values_list("seq", flat=True).first() or 0


def test_token_create_and_revoke_record_the_persons_reasons(api_as):
    client = api_as(Role.ANALYST)
    start = head()
    created = client.call("POST", "/api/v1/tokens",
                          {"name": "laptop", "reason_code": "SECURITY_INCIDENT"})
    assert created.status_code == 201 and created.json()["token"].startswith("cf_")
    token_id = created.json()["id"]
    revoked = client.call("DELETE", f"/api/v1/tokens/{token_id}?reason_code=INVESTIGATION")
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert [(e.action, e.reason_code) for e in new_entries(start)] == [
        ("API_TOKEN_CREATED", "SECURITY_INCIDENT"), ("API_TOKEN_REVOKED", "INVESTIGATION")]


@pytest.mark.parametrize(("method", "path", "body"), [
    ("POST", "/api/v1/tokens", {"name": "laptop"}),
    ("POST", "/api/v1/tokens", {"name": "laptop", "reason_code": ""}),
    ("POST", "/api/v1/tokens", {"name": "laptop", "reason_code": "BECAUSE"}),
    ("DELETE", "/api/v1/tokens/{own}", None),
    ("DELETE", "/api/v1/tokens/{own}?reason_code=BECAUSE", None),
])
def test_token_changes_without_a_known_reason_are_refused(api_as, method, path, body):
    client = api_as(Role.ANALYST)
    own = client.call("GET", "/api/v1/tokens").json()[0]["id"]
    start = head()
    response = client.call(method, path.format(own=own), body)
    assert response.status_code == 422, response.content
    assert response.json()["error"]["code"] == "validation_error"
    assert new_entries(start) == []
    assert ApiToken.objects.filter(revoked_at__isnull=True).count() == 1


@pytest.mark.parametrize("role", [Role.INGEST, Role.PLATFORM])
def test_machines_may_not_make_or_revoke_tokens(role):
    machine = make_staff(role)
    client = ApiClient(token_for(machine))
    own = ApiToken.objects.get(user=machine).id
    start = head()
    create = client.call("POST", "/api/v1/tokens", {"name": "more", "reason_code": REASON})
    revoke = client.call("DELETE", f"/api/v1/tokens/{own}?reason_code={REASON}")
    missing = client.call("DELETE", f"/api/v1/tokens/tok_nope?reason_code={REASON}")
    listing = client.call("GET", "/api/v1/tokens")
    assert [r.status_code for r in (create, revoke, missing, listing)] == [403, 403, 403, 403]
    assert new_entries(start) == []
    assert ApiToken.objects.filter(user=machine).count() == 1


def test_an_administrator_revokes_a_machines_token(api_as):
    machine = make_staff(Role.INGEST)
    token_for(machine)
    own = ApiToken.objects.get(user=machine).id
    response = api_as(Role.ADMIN).call("DELETE",
                                       f"/api/v1/tokens/{own}?reason_code=SECURITY_INCIDENT")
    assert response.status_code == 200
    assert AuditEntry.objects.filter(action="API_TOKEN_REVOKED").get().reason_code == \
        "SECURITY_INCIDENT"


@pytest.mark.parametrize(("method", "path", "body"), [
    ("POST", "/api/v1/tokens", {"name": "x" * 101, "reason_code": REASON}),
    ("POST", "/api/v1/tokens", {"name": "nul\x00", "reason_code": REASON}),
    ("POST", "/api/v1/tokens", {"name": "ok", "reason_code": "R" * 65}),
    ("DELETE", "/api/v1/tokens/not-a-token?reason_code=ACCOUNT_PROVISIONING", None),
    ("DELETE", "/api/v1/tokens/" + "tok_" + "x" * 60 + "?reason_code=ACCOUNT_PROVISIONING",
     None),
    ("POST", "/api/v1/staff", {"email": "not-an-email", "roles": ["viewer"],
                               "reason_code": REASON}),
    ("POST", "/api/v1/staff", {"email": "a" * 250 + "@example.com", "roles": ["viewer"],
                               "reason_code": REASON}),
    ("POST", "/api/v1/staff", {"email": "nul\x00@example.com", "roles": ["viewer"],
                               "reason_code": REASON}),
    ("POST", "/api/v1/staff", {"email": "n@example.com", "name": "n" * 201,
                               "roles": ["viewer"], "reason_code": REASON}),
    ("POST", "/api/v1/staff", {"email": "n@example.com", "roles": [], "reason_code": REASON}),
    ("POST", "/api/v1/staff", {"email": "n@example.com", "roles": ["viewer"]}),
    ("POST", "/api/v1/staff", {"email": "n@example.com", "roles": ["viewer"],
                               "reason_code": None}),
    ("POST", "/api/v1/staff/usr_not_staff/roles", {"role": "ops", "reason_code": REASON}),
    ("POST", "/api/v1/staff/{me}/roles", {"role": "ops"}),
    ("DELETE", "/api/v1/staff/{me}/roles/admin", None),
    ("DELETE", "/api/v1/staff/{me}/roles/king?reason_code=ACCOUNT_PROVISIONING", None),
])
def test_bad_input_is_422_and_changes_nothing(method, path, body):
    admin = make_staff(Role.ADMIN)
    client = ApiClient(token_for(admin))
    start = head()
    response = client.call(method, path.format(me=admin.id), body)
    assert response.status_code == 422, (response.status_code, response.content[:300])
    assert set(response.json()["error"]) == {"code", "message", "details"}
    assert new_entries(start) == []
    assert StaffUser.objects.count() == 1 and ApiToken.objects.count() == 1


def test_staff_created_through_the_api_records_the_reason(api_as):
    response = api_as(Role.ADMIN).call("POST", "/api/v1/staff", {
        "email": " New@Example.com ", "name": "New", "roles": ["viewer", "analyst"],
        "reason_code": "CUSTOMER_REQUEST"})
    assert response.status_code == 201, response.content
    assert response.json()["email"] == "new@example.com"
    entry = AuditEntry.objects.get(action="STAFF_USER_CREATED", actor_role="admin")
    assert entry.reason_code == "CUSTOMER_REQUEST"


def test_an_unknown_staff_id_of_the_right_shape_is_404(api_as):
    response = api_as(Role.ADMIN).call(
        "POST", "/api/v1/staff/stf_01NOSUCHSTAFF/roles", {"role": "ops", "reason_code": REASON})
    assert response.status_code == 404
