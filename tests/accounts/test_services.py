import pytest
from django.contrib.auth import authenticate
from django.test import RequestFactory

from casefile.accounts import services
from casefile.accounts.models import ApiToken, StaffUser
from casefile.accounts.roles import Role
from casefile.audit.actor import Actor
from casefile.audit.models import AuditEntry
from casefile.core.errors import Conflict, PermissionDenied, ValidationFailed
from tests.conftest import make_staff

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"


def test_creating_staff_is_audited_without_the_password():
    user = make_staff(Role.ANALYST, Role.SUPPORT, email="Ana@Example.com", password=PASSWORD)
    assert user.email == "ana@example.com" and user.roles == {Role.ANALYST, Role.SUPPORT}
    assert user.password.startswith("argon2")
    entry = AuditEntry.objects.get(action="STAFF_USER_CREATED")
    assert entry.resource == f"staff:{user.id}" and entry.actor_role == "system"
    assert entry.details["after"]["roles"] == ["support", "analyst"]
    assert PASSWORD not in str(entry.details) and "password_set" in entry.details["after"]


@pytest.mark.parametrize(("email", "roles", "error"), [
    ("not-an-email", [Role.VIEWER], ValidationFailed),
    ("x@example.com", [], ValidationFailed),
])
def test_bad_staff_input_is_refused(email, roles, error):
    with pytest.raises(error):
        services.staff_user_create(actor=Actor.system("t"), email=email, roles=roles,
                                   reason_code="ACCOUNT_PROVISIONING")
    assert not StaffUser.objects.exists()


def test_duplicate_email_conflicts():
    make_staff(email="dup@example.com")
    with pytest.raises(Conflict):
        make_staff(email="DUP@example.com")


def test_weak_password_is_refused():
    with pytest.raises(ValidationFailed, match="password"):
        make_staff(password="short")


def test_only_admins_manage_staff():
    analyst = make_staff(Role.ANALYST)
    with pytest.raises(PermissionDenied):
        services.staff_user_create(actor=Actor.staff(analyst), email="n@example.com",
                                   roles=[Role.ADMIN], reason_code="ACCOUNT_PROVISIONING")


def test_role_grant_and_revoke_record_before_after_and_diff():
    admin = make_staff(Role.ADMIN)
    user = make_staff(Role.VIEWER)
    services.staff_role_grant(actor=Actor.staff(admin), user=user, role=Role.ANALYST,
                              reason_code="ACCOUNT_PROVISIONING")
    grant = AuditEntry.objects.get(action="STAFF_ROLE_GRANTED")
    assert grant.actor_user_id == admin.id
    assert grant.details["diff"] == {"roles": {"from": ["viewer"], "to": ["analyst", "viewer"]}}
    with pytest.raises(Conflict):
        services.staff_role_grant(actor=Actor.staff(admin), user=user, role=Role.ANALYST,
                                  reason_code="ACCOUNT_PROVISIONING")
    services.staff_role_revoke(actor=Actor.staff(admin), user=user, role=Role.VIEWER,
                               reason_code="ACCOUNT_PROVISIONING")
    revoke = AuditEntry.objects.get(action="STAFF_ROLE_REVOKED")
    assert revoke.details["after"] == {"roles": ["analyst"]}
    assert StaffUser.objects.get(pk=user.pk).roles == {Role.ANALYST}


def test_the_last_admin_keeps_the_role():
    admin = make_staff(Role.ADMIN)
    with pytest.raises(Conflict, match="last active administrator"):
        services.staff_role_revoke(actor=Actor.staff(admin), user=admin, role=Role.ADMIN,
                                   reason_code="ACCOUNT_PROVISIONING")


def test_tokens_are_stored_hashed_and_shown_once():
    user = make_staff(Role.VIEWER)
    token, secret = services.api_token_create(actor=Actor.staff(user), owner=user, name="ci")
    assert secret.startswith("cf_") and len(secret) > 40
    stored = ApiToken.objects.get(pk=token.pk)
    assert stored.key_hash == services.hash_token(secret) and secret not in stored.key_hash
    entry = AuditEntry.objects.get(action="API_TOKEN_CREATED")
    assert secret not in str(entry.details) and entry.details["after"]["prefix"] == secret[:10]


def test_staff_may_not_make_tokens_for_others_unless_admin():
    alice, bob = make_staff(Role.ANALYST), make_staff(Role.ANALYST)
    with pytest.raises(PermissionDenied):
        services.api_token_create(actor=Actor.staff(alice), owner=bob)
    services.api_token_create(actor=Actor.staff(make_staff(Role.ADMIN)), owner=bob)


def test_revoking_a_token_is_audited_once():
    user = make_staff(Role.VIEWER)
    token, _ = services.api_token_create(actor=Actor.staff(user), owner=user)
    services.api_token_revoke(actor=Actor.staff(user), token=token)
    with pytest.raises(Conflict):
        services.api_token_revoke(actor=Actor.staff(user), token=token)
    assert AuditEntry.objects.filter(action="API_TOKEN_REVOKED").count() == 1


def test_repeated_failed_sign_ins_are_throttled(settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    make_staff(Role.VIEWER, email="t@example.com", password=PASSWORD)
    request = RequestFactory().post("/login", REMOTE_ADDR="192.0.2.7")
    assert authenticate(request, username="t@example.com", password=PASSWORD) is not None
    for _ in range(3):
        assert authenticate(request, username="t@example.com", password="wrong") is None
    # Now even the right password is refused until the window passes.
    assert authenticate(request, username="T@example.com", password=PASSWORD) is None
