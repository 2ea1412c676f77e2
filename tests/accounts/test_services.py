import pytest

from casefile.accounts import services
from casefile.accounts.models import ApiToken, StaffUser
from casefile.accounts.roles import Role
from casefile.audit.actor import Actor
from casefile.audit.models import AuditEntry
from casefile.core.errors import Conflict, PermissionDenied, ValidationFailed
from tests.conftest import CLI, make_staff

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
REASON = "ACCOUNT_PROVISIONING"


def test_creating_staff_is_audited_without_the_password():
    user = make_staff(Role.ANALYST, Role.SUPPORT, email="Ana@Example.com", password=PASSWORD)
    assert user.email == "ana@example.com" and user.roles == {Role.ANALYST, Role.SUPPORT}
    assert user.password.startswith("argon2")
    entry = AuditEntry.objects.get(action="STAFF_USER_CREATED")
    assert entry.resource == f"staff:{user.id}" and entry.actor_role == "system"
    assert entry.details["after"]["roles"] == ["support", "analyst"]
    # The row as it is, with the password hash replaced by its digest: when it changes shows,
    # what it is never does.
    assert PASSWORD not in str(entry.details) and user.password not in str(entry.details)
    assert set(entry.details["after"]["password"]) == {"sha256"}
    assert entry.details["after"]["email"] == "ana@example.com"


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
    assert revoke.details["diff"] == {"roles": {"from": ["analyst", "viewer"], "to": ["analyst"]}}
    assert StaffUser.objects.get(pk=user.pk).roles == {Role.ANALYST}


def test_the_last_admin_keeps_the_role():
    admin = make_staff(Role.ADMIN)
    with pytest.raises(Conflict, match="last active administrator"):
        services.staff_role_revoke(actor=Actor.staff(admin), user=admin, role=Role.ADMIN,
                                   reason_code="ACCOUNT_PROVISIONING")


def test_tokens_are_stored_hashed_and_shown_once():
    user = make_staff(Role.VIEWER)
    token, secret = services.api_token_create(actor=Actor.staff(user), owner=user, name="ci",
                                              reason_code="ACCOUNT_PROVISIONING")
    assert secret.startswith("cf_") and len(secret) > 40
    stored = ApiToken.objects.get(pk=token.pk)
    assert stored.key_hash == services.hash_token(secret) and secret not in stored.key_hash
    entry = AuditEntry.objects.get(action="API_TOKEN_CREATED")
    assert secret not in str(entry.details) and entry.details["after"]["prefix"] == secret[:10]


def test_staff_may_not_make_tokens_for_others_unless_admin():
    alice, bob = make_staff(Role.ANALYST), make_staff(Role.ANALYST)
    with pytest.raises(PermissionDenied):
        services.api_token_create(actor=Actor.staff(alice), owner=bob, reason_code=REASON)
    services.api_token_create(actor=Actor.staff(make_staff(Role.ADMIN)), owner=bob,
                              reason_code=REASON)


def test_revoking_a_token_is_audited_once():
    user = make_staff(Role.VIEWER)
    token, _ = services.api_token_create(actor=Actor.staff(user), owner=user, reason_code=REASON)
    services.api_token_revoke(actor=Actor.staff(user), token=token, reason_code="SECURITY_INCIDENT")
    with pytest.raises(Conflict):
        services.api_token_revoke(actor=Actor.staff(user), token=token, reason_code=REASON)
    assert AuditEntry.objects.filter(action="API_TOKEN_REVOKED").count() == 1


def test_a_person_names_the_reason_for_each_token_change():
    user = make_staff(Role.ANALYST)
    token, _ = services.api_token_create(actor=Actor.staff(user), owner=user,
                                         reason_code="SECURITY_INCIDENT")
    services.api_token_revoke(actor=Actor.staff(user), token=token, reason_code="INVESTIGATION")
    assert [(e.action, e.reason_code) for e in AuditEntry.objects.filter(
        action__startswith="API_TOKEN").order_by("created_at")] == [
        ("API_TOKEN_CREATED", "SECURITY_INCIDENT"), ("API_TOKEN_REVOKED", "INVESTIGATION")]


@pytest.mark.parametrize("reason", [None, "", "BECAUSE"])
def test_a_person_without_a_known_reason_changes_nothing(reason):
    admin, user = make_staff(Role.ADMIN), make_staff(Role.ANALYST)
    token, _ = services.api_token_create(actor=CLI, owner=user)
    before = AuditEntry.objects.count()
    calls = [
        lambda: services.api_token_create(actor=Actor.staff(user), owner=user,
                                          reason_code=reason),
        lambda: services.api_token_revoke(actor=Actor.staff(user), token=token,
                                          reason_code=reason),
        lambda: services.staff_user_create(actor=Actor.staff(admin), email="n@example.com",
                                           roles=[Role.VIEWER], reason_code=reason),
        lambda: services.staff_role_grant(actor=Actor.staff(admin), user=user, role=Role.OPS,
                                          reason_code=reason),  # type: ignore[arg-type]
        lambda: services.staff_role_revoke(actor=Actor.staff(admin), user=user,
                                           role=Role.ANALYST,
                                           reason_code=reason),  # type: ignore[arg-type]
    ]
    for call in calls:
        with pytest.raises(ValidationFailed, match="reason code"):
            call()
    assert AuditEntry.objects.count() == before
    assert ApiToken.objects.filter(user=user).count() == 1
    assert not ApiToken.objects.filter(revoked_at__isnull=False).exists()
    assert not StaffUser.objects.filter(email="n@example.com").exists()
    assert StaffUser.objects.get(pk=user.pk).roles == {Role.ANALYST}


def test_the_operators_cli_records_the_registrys_reason():
    user = make_staff(Role.ANALYST)
    token, _ = services.api_token_create(actor=CLI, owner=user, name="ci")
    services.api_token_revoke(actor=CLI, token=token)
    entries = AuditEntry.objects.filter(action__startswith="API_TOKEN").order_by("created_at")
    assert [(e.actor_role, e.reason_code) for e in entries] == [
        ("system", "ACCOUNT_PROVISIONING"), ("system", "ACCOUNT_PROVISIONING")]


def test_machines_may_not_make_or_revoke_their_own_tokens():
    machine = make_staff(Role.INGEST)
    token, _ = services.api_token_create(actor=CLI, owner=machine)  # the operator may
    with pytest.raises(PermissionDenied):
        services.api_token_create(actor=Actor.staff(machine), owner=machine, reason_code=REASON)
    with pytest.raises(PermissionDenied):
        services.api_token_revoke(actor=Actor.staff(machine), token=token, reason_code=REASON)
    services.api_token_revoke(actor=Actor.staff(make_staff(Role.ADMIN)), token=token,
                              reason_code="SECURITY_INCIDENT")  # an administrator may


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"name": "x" * 101}, "name"),
    ({"name": "lap\x00top"}, "name"),
])
def test_token_names_are_bounded_and_without_nul(kwargs, message):
    user = make_staff(Role.VIEWER)
    with pytest.raises(ValidationFailed, match=message):
        services.api_token_create(actor=Actor.staff(user), owner=user, reason_code=REASON,
                                  **kwargs)
    assert not ApiToken.objects.exists()


@pytest.mark.parametrize(("email", "name"), [
    ("a" * 250 + "@example.com", ""),
    ("ok@example.com", "n" * 201),
    ("ok@example.com", "nul\x00"),
])
def test_staff_input_beyond_its_columns_is_refused(email, name):
    with pytest.raises(ValidationFailed):
        services.staff_user_create(
            actor=CLI, email=email, name=name, roles=[Role.VIEWER])
    assert not StaffUser.objects.exists()
