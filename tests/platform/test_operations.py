from datetime import timedelta

import pytest

from casefile.accounts.roles import Role
from casefile.audit.actor import Actor
from casefile.audit.models import AuditEntry
from casefile.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from casefile.core.timeutil import now
from casefile.platform import services
from casefile.platform.models import Approval, Impersonation, OutboxCommand, Tenant
from tests.accounts.helpers import totp_header
from tests.conftest import ApiClient, make_staff, token_for

pytestmark = pytest.mark.django_db
SYNC = Actor.system("platform-sync")


@pytest.fixture
def tenant():
    t, _ = services.tenant_upsert(actor=SYNC, tenant_id="ten_acme", name="Acme",
                                  policy={"sso": False, "plan": "basic"}, limits={"seats": 5},
                                  details={"billing_email": "cfo@acme.test"})
    return t


@pytest.fixture
def member(tenant):
    u, _ = services.platform_user_upsert(actor=SYNC, user_id="usr_bob", email="Bob@acme.test",
                                         tenant_id=tenant.id)
    return u


def staff(*roles):
    return Actor.staff(make_staff(*roles))


def test_upserts_are_idempotent(tenant):
    again, changed = services.tenant_upsert(actor=SYNC, tenant_id="ten_acme", name="Acme",
                                            policy={"sso": False, "plan": "basic"},
                                            limits={"seats": 5})
    assert not changed
    assert AuditEntry.objects.filter(action="TENANT_UPSERTED").count() == 1
    _, changed = services.tenant_upsert(actor=SYNC, tenant_id="ten_acme", name="Acme Inc")
    assert changed
    entry = AuditEntry.objects.filter(action="TENANT_UPSERTED").latest("created_at")
    assert entry.details["diff"] == {"name": {"from": "Acme", "to": "Acme Inc"}}


@pytest.mark.parametrize(("operation", "params", "role", "action", "diff_key"), [
    ("tenant_policy_update", {"tenant_id": "ten_acme", "policy": {"sso": True}}, Role.OPS,
     "TENANT_POLICY_UPDATE", "policy.sso"),
    ("tenant_credit_add", {"tenant_id": "ten_acme", "amount_cents": 2500}, Role.SUPPORT,
     "BILLING_CREDIT_ADD", "credit_balance_cents"),
    ("tenant_limit_override", {"tenant_id": "ten_acme", "limits": {"seats": 50}}, Role.OPS,
     "LIMIT_OVERRIDE", "limits.seats"),
    ("user_suspend", {"user_id": "usr_bob", "days": 7}, Role.SUPPORT, "USER_SUSPEND",
     "status"),
])
def test_each_operation_writes_one_entry_and_one_command(member, operation, params, role, action,
                                                         diff_key):
    actor = staff(role)
    before_entries = set(AuditEntry.objects.values_list("id", flat=True))
    outcome = services.operation_request(actor=actor, operation=operation, params=params,
                                         reason_code="CUSTOMER_REQUEST")
    assert outcome.command is not None and outcome.approval is None
    new = AuditEntry.objects.exclude(id__in=before_entries)
    assert [e.action for e in new] == [action]
    entry = new.get()
    assert diff_key in entry.details["diff"]
    command = OutboxCommand.objects.get()
    assert command.audit_entry_id == entry.id and command.payload["audit_entry_id"] == entry.id
    assert command.status == "pending"


def test_unsuspend_and_conflicts(member):
    actor = staff(Role.SUPPORT)
    services.operation_request(actor=actor, operation="user_suspend",
                               params={"user_id": "usr_bob"}, reason_code="POLICY_VIOLATION")
    with pytest.raises(Conflict):
        services.operation_request(actor=actor, operation="user_suspend",
                                   params={"user_id": "usr_bob"}, reason_code="POLICY_VIOLATION")
    services.operation_request(actor=actor, operation="user_unsuspend",
                               params={"user_id": "usr_bob"}, reason_code="CUSTOMER_REQUEST")
    assert AuditEntry.objects.filter(action="USER_UNSUSPEND").count() == 1


@pytest.mark.parametrize(("operation", "params"), [
    ("tenant_credit_add", {"tenant_id": "ten_acme", "amount_cents": 0}),
    ("tenant_credit_add", {"tenant_id": "ten_acme", "amount_cents": "10"}),
    ("tenant_limit_override", {"tenant_id": "ten_acme", "limits": {"seats": -1}}),
    ("tenant_policy_update", {"tenant_id": "ten_acme", "policy": "all"}),
    ("user_suspend", {"tenant_id": "ten_acme"}),
])
def test_bad_parameters_are_refused(tenant, operation, params):
    with pytest.raises(ValidationFailed):
        services.operation_request(actor=staff(Role.ADMIN), operation=operation, params=params,
                                   reason_code="CUSTOMER_REQUEST")
    assert not OutboxCommand.objects.exists()


def test_roles_are_checked(tenant):
    with pytest.raises(PermissionDenied):
        services.operation_request(actor=staff(Role.ANALYST), operation="tenant_credit_add",
                                   params={"tenant_id": "ten_acme", "amount_cents": 5},
                                   reason_code="CUSTOMER_REQUEST")


def test_large_credit_needs_a_second_person(tenant, settings):
    settings.FOUR_EYES_CREDIT_CENTS = 10_000
    requester, approver = staff(Role.SUPPORT), staff(Role.ADMIN)
    outcome = services.operation_request(actor=requester, operation="tenant_credit_add",
                                         params={"tenant_id": "ten_acme", "amount_cents": 50_000},
                                         reason_code="CUSTOMER_REQUEST")
    assert outcome.approval is not None and outcome.command is None
    assert Tenant.objects.get().credit_balance_cents == 0  # nothing yet
    with pytest.raises(PermissionDenied, match="someone else"):
        services.approval_decide(actor=requester, approval=outcome.approval, approve=True,
                             reason_code="COMPLIANCE_REVIEW")
    done = services.approval_decide(actor=approver, approval=outcome.approval, approve=True,
                             reason_code="COMPLIANCE_REVIEW")
    assert Tenant.objects.get().credit_balance_cents == 50_000
    entry = AuditEntry.objects.get(action="BILLING_CREDIT_ADD")
    assert entry.actor_user_id == requester.user.id
    assert entry.metadata["approved_by"]["actor_user_id"] == approver.user.id
    assert done.command.payload["amount_cents"] == 50_000
    with pytest.raises(Conflict):
        services.approval_decide(actor=staff(Role.ADMIN), approval=outcome.approval,
                                 approve=True,
                             reason_code="COMPLIANCE_REVIEW")


def test_rejected_and_expired_requests_do_nothing(tenant, settings, monkeypatch):
    settings.FOUR_EYES_CREDIT_CENTS = 10
    params = {"tenant_id": "ten_acme", "amount_cents": 500}
    first = services.operation_request(actor=staff(Role.SUPPORT), operation="tenant_credit_add",
                                       params=params, reason_code="CUSTOMER_REQUEST").approval
    services.approval_decide(actor=staff(Role.ADMIN), approval=first, approve=False,
                             reason_code="COMPLIANCE_REVIEW")
    assert Approval.objects.get(pk=first.pk).status == "rejected"
    second = services.operation_request(actor=staff(Role.SUPPORT), operation="tenant_credit_add",
                                        params=params, reason_code="CUSTOMER_REQUEST").approval
    later = now() + timedelta(days=2)
    monkeypatch.setattr("casefile.platform.services.now", lambda: later)
    with pytest.raises(Conflict, match="expired"):
        services.approval_decide(actor=staff(Role.ADMIN), approval=second, approve=True,
                             reason_code="COMPLIANCE_REVIEW")
    assert Approval.objects.get(pk=second.pk).status == "expired"
    assert Tenant.objects.get().credit_balance_cents == 0
    assert not OutboxCommand.objects.exists()


def test_impersonation_is_admin_only_ticketed_approved_and_time_boxed(member):
    params = {"user_id": "usr_bob", "minutes": 15}
    with pytest.raises(PermissionDenied):
        services.operation_request(actor=staff(Role.OPS), operation="impersonation_start",
                                   params=params, reason_code="SECURITY_INCIDENT",
                                   ticket_ref="SEC-1")
    admin = staff(Role.ADMIN)
    with pytest.raises(ValidationFailed, match="ticket"):
        services.operation_request(actor=admin, operation="impersonation_start", params=params,
                                   reason_code="SECURITY_INCIDENT")
    with pytest.raises(ValidationFailed, match="minutes"):
        services.operation_request(actor=admin, operation="impersonation_start",
                                   params={"user_id": "usr_bob", "minutes": 600},
                                   reason_code="SECURITY_INCIDENT", ticket_ref="SEC-1")
    pending = services.operation_request(actor=admin, operation="impersonation_start",
                                         params=params, reason_code="SECURITY_INCIDENT",
                                         ticket_ref="SEC-1").approval
    assert not Impersonation.objects.exists()
    services.approval_decide(actor=staff(Role.ADMIN), approval=pending, approve=True,
                             reason_code="COMPLIANCE_REVIEW")
    session = Impersonation.objects.get()
    assert session.staff_id == admin.user.id
    assert session.expires_at - session.started_at == timedelta(minutes=15)
    start = AuditEntry.objects.get(action="IMPERSONATION_START")
    assert (start.risk, start.ticket_ref) == ("CRITICAL", "SEC-1")


def test_requests_while_impersonating_carry_the_session_id(member, monkeypatch):
    admin_user = make_staff(Role.ADMIN)
    pending = services.operation_request(
        actor=Actor.staff(admin_user), operation="impersonation_start",
        params={"user_id": "usr_bob", "minutes": 10}, reason_code="SECURITY_INCIDENT",
        ticket_ref="SEC-2").approval
    services.approval_decide(actor=staff(Role.ADMIN), approval=pending, approve=True,
                             reason_code="COMPLIANCE_REVIEW")
    session = Impersonation.objects.get()
    client = ApiClient(token_for(admin_user))
    client.call("POST", "/api/v1/platform/tenants/ten_acme/details",
                {"reason_code": "SECURITY_INCIDENT"})
    read = AuditEntry.objects.get(action="TENANT_VIEW_DETAILS")
    assert read.metadata["impersonation_id"] == session.id
    # After the time box, requests no longer carry it, and the sweep ends the session.
    later = now() + timedelta(minutes=11)
    monkeypatch.setattr("casefile.platform.selectors.now", lambda: later)
    monkeypatch.setattr("casefile.platform.services.now", lambda: later)
    client.call("POST", "/api/v1/platform/tenants/ten_acme/details",
                {"reason_code": "SECURITY_INCIDENT"})
    assert "impersonation_id" not in AuditEntry.objects.filter(
        action="TENANT_VIEW_DETAILS").latest("created_at").metadata
    assert services.impersonations_expire() == 1
    end = AuditEntry.objects.get(action="IMPERSONATION_END")
    assert end.actor_role == "system"
    assert OutboxCommand.objects.filter(type="user.impersonation.end").count() == 1


def test_viewing_tenant_details_is_an_audited_read(tenant):
    client = ApiClient(token_for(make_staff(Role.SUPPORT)))
    plain = client.call("GET", "/api/v1/platform/tenants/ten_acme").json()
    assert "details" not in plain
    assert not AuditEntry.objects.filter(action="TENANT_VIEW_DETAILS").exists()
    body = client.call("POST", "/api/v1/platform/tenants/ten_acme/details",
                       {"reason_code": "CUSTOMER_REQUEST"}).json()
    assert body["details"] == {"billing_email": "cfo@acme.test"}
    assert AuditEntry.objects.get(action="TENANT_VIEW_DETAILS").metadata["fields"] == [
        "billing_email"]


def test_operation_over_http_and_four_eyes_inbox(tenant, settings):
    settings.FOUR_EYES_CREDIT_CENTS = 100
    support = ApiClient(token_for(make_staff(Role.SUPPORT)))
    admin = ApiClient(token_for(make_staff(Role.ADMIN)))
    small = support.call("POST", "/api/v1/platform/operations", {
        "operation": "tenant_credit_add", "params": {"tenant_id": "ten_acme", "amount_cents": 50},
        "reason_code": "CUSTOMER_REQUEST"})
    assert small.status_code == 200 and small.json()["status"] == "done"
    big = support.call("POST", "/api/v1/platform/operations", {
        "operation": "tenant_credit_add", "params": {"tenant_id": "ten_acme", "amount_cents": 500},
        "reason_code": "CUSTOMER_REQUEST"})
    assert big.status_code == 202
    approval_id = big.json()["approval"]["id"]
    inbox = admin.call("GET", "/api/v1/platform/approvals").json()["items"]
    assert [a["id"] for a in inbox] == [approval_id]
    decision = {"reason_code": "COMPLIANCE_REVIEW"}
    assert support.call("POST", f"/api/v1/platform/approvals/{approval_id}/approve",
                        decision).status_code == 403
    approved = admin.call("POST", f"/api/v1/platform/approvals/{approval_id}/approve", decision,
                          **totp_header(admin))  # step-up
    assert approved.status_code == 200
    assert approved.json()["after"]["credit_balance_cents"] == 550


def test_an_operation_naming_a_case_must_name_a_real_one(member):
    with pytest.raises(NotFound, match="cas_missing"):
        services.operation_request(actor=staff(Role.SUPPORT), operation="user_suspend",
                                   params={"user_id": "usr_bob", "case_id": "cas_missing"},
                                   reason_code="POLICY_VIOLATION")
    assert not OutboxCommand.objects.exists()
