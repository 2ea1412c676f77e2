"""Four-eyes records both people; expiries are jobs, audited; the machines' reasons are the
registry's (issue 9, items 4, 5, 11)."""

from datetime import timedelta

import pytest

from casefile.accounts import services as accounts
from casefile.accounts.roles import Role
from casefile.audit.actor import Actor
from casefile.audit.models import AuditEntry
from casefile.core.errors import Conflict, ValidationFailed
from casefile.core.timeutil import now
from casefile.platform import services
from casefile.platform.models import Approval, OutboxCommand, PlatformUser, Tenant
from tests.accounts.helpers import totp_header
from tests.conftest import CLI, ApiClient, make_staff, token_for
from tests.conftest import CommittingClient as Client

pytestmark = pytest.mark.django_db
CREDIT = {"tenant_id": "ten_acme", "amount_cents": 500}


@pytest.fixture(autouse=True)
def tenant(settings):
    settings.FOUR_EYES_CREDIT_CENTS = 100
    tenant, _ = services.tenant_upsert(actor=CLI, tenant_id="ten_acme", name="Acme")
    return tenant


def test_the_applied_entry_names_the_requester_as_they_asked_and_the_approver_as_they_approved():
    support, admin = make_staff(Role.SUPPORT), make_staff(Role.ADMIN)
    asked = ApiClient(token_for(support)).call(
        "POST", "/api/v1/platform/operations",
        {"operation": "tenant_credit_add", "params": CREDIT, "reason_code": "CUSTOMER_REQUEST"},
        REMOTE_ADDR="198.51.100.7", HTTP_USER_AGENT="support-browser/1.0")
    assert asked.status_code == 202
    approval_id = asked.json()["approval"]["id"]
    assert asked.json()["approval"]["requested_ip"] == "198.51.100.7"
    approver = ApiClient(token_for(admin))
    approved = approver.call(
        "POST", f"/api/v1/platform/approvals/{approval_id}/approve",
        {"reason_code": "COMPLIANCE_REVIEW"}, REMOTE_ADDR="203.0.113.9",
        HTTP_USER_AGENT="admin-browser/2.0", **totp_header(approver))  # step-up
    assert approved.status_code == 200, approved.content
    applied = AuditEntry.objects.get(action="BILLING_CREDIT_ADD")
    assert (applied.actor_user_id, applied.ip_address, applied.user_agent) == (
        support.id, "198.51.100.7", "support-browser/1.0")
    assert applied.reason_code == "CUSTOMER_REQUEST"
    approver = applied.metadata["approved_by"]
    assert (approver["actor_user_id"], approver["actor_email"], approver["ip_address"],
            approver["user_agent"]) == (admin.id, admin.email, "203.0.113.9", "admin-browser/2.0")
    decided = AuditEntry.objects.get(action="APPROVAL_DECIDED")
    assert (decided.actor_user_id, decided.ip_address, decided.reason_code) == (
        admin.id, "203.0.113.9", "COMPLIANCE_REVIEW")


def test_deciding_needs_the_approvers_own_reason():
    approval = _request()
    admin = ApiClient(token_for(make_staff(Role.ADMIN)))
    for body in (None, {}, {"reason_code": ""}):
        response = admin.call("POST", f"/api/v1/platform/approvals/{approval.id}/approve", body)
        assert response.status_code in (400, 422), response.content
        assert "error" in response.json()
    with pytest.raises(ValidationFailed, match="reason code"):
        services.approval_decide(actor=Actor.staff(make_staff(Role.ADMIN)), approval=approval,
                                 approve=False, reason_code="")
    assert Approval.objects.get(pk=approval.pk).status == "pending"


@pytest.mark.parametrize("lost", ["deactivated", "role revoked"])
def test_a_requester_who_may_no_longer_ask_voids_the_request(lost):
    requester = make_staff(Role.SUPPORT)
    approval = _request(requester)
    if lost == "deactivated":
        requester.is_active = False
        requester.save(update_fields=["is_active"])
    else:
        accounts.staff_role_revoke(actor=CLI, user=requester, role=Role.SUPPORT,
                                   reason_code="ACCOUNT_PROVISIONING")
    approver = Actor.staff(make_staff(Role.ADMIN))
    with pytest.raises(Conflict, match="may no longer request"):
        services.approval_decide(actor=approver, approval=approval, approve=True,
                                 reason_code="COMPLIANCE_REVIEW")
    assert Approval.objects.get(pk=approval.pk).status == "void"
    assert Tenant.objects.get().credit_balance_cents == 0
    assert not OutboxCommand.objects.exists()
    void = AuditEntry.objects.filter(action="APPROVAL_DECIDED").get()
    assert void.details["diff"]["status"] == {"from": "pending", "to": "void"}
    assert void.actor_user_id == approver.user.id


def test_expiry_is_a_job_that_audits_and_reading_the_inbox_changes_nothing(monkeypatch):
    approval = _request()
    later = now() + timedelta(days=2)
    monkeypatch.setattr("casefile.platform.services.now", lambda: later)
    monkeypatch.setattr("casefile.platform.views.now", lambda: later)
    client = Client()
    client.force_login(make_staff(Role.ADMIN))
    before = AuditEntry.objects.count()
    page = client.get("/platform/approvals/")
    assert page.status_code == 200 and b"can no longer be decided" in page.content
    assert AuditEntry.objects.count() == before
    assert Approval.objects.get(pk=approval.pk).status == "pending"

    assert services.approvals_expire() == 1
    assert services.approvals_expire() == 0
    assert Approval.objects.get(pk=approval.pk).status == "expired"
    entry = AuditEntry.objects.get(action="APPROVAL_EXPIRED")
    assert (entry.actor_role, entry.reason_code) == ("system", "TIME_BOX_EXPIRED")


def test_time_limited_suspensions_are_lifted_by_the_job(monkeypatch):
    services.platform_user_upsert(actor=CLI, user_id="usr_bob", email="bob@acme.test")
    services.operation_request(actor=Actor.staff(make_staff(Role.SUPPORT)),
                               operation="user_suspend", params={"user_id": "usr_bob", "days": 3},
                               reason_code="POLICY_VIOLATION")
    assert services.suspensions_expire() == 0
    later = now() + timedelta(days=3, minutes=1)
    monkeypatch.setattr("casefile.platform.services.now", lambda: later)
    assert services.suspensions_expire() == 1
    user = PlatformUser.objects.get(pk="usr_bob")
    assert (user.status, user.suspended_until) == ("active", None)
    lifted = AuditEntry.objects.get(action="USER_UNSUSPEND")
    assert (lifted.actor_role, lifted.reason_code) == ("system", "SUSPENSION_ENDED")
    assert OutboxCommand.objects.filter(type="user.unsuspend").count() == 1


def test_people_give_reasons_and_machines_record_the_declared_one():
    from casefile.audit import ledger
    from casefile.audit.registry import ACTIONS, REASON_CODES, SYSTEM_REASONS

    assert "AUTOMATED" not in REASON_CODES  # a person cannot pass as a job
    for action in ACTIONS.values():
        assert action.system_reason is None or action.system_reason in SYSTEM_REASONS
    person = Actor.staff(make_staff(Role.ADMIN))
    from django.db import transaction

    with pytest.raises(ValidationFailed, match="reason code is required"), transaction.atomic():
        ledger.record(actor=person, action="TENANT_VIEW_DETAILS", resource="tenant:ten_acme")
    with pytest.raises(ValidationFailed, match="unknown reason code"), transaction.atomic():
        ledger.record(actor=person, action="TENANT_VIEW_DETAILS", resource="tenant:ten_acme",
                      reason_code="SLA_POLICY")
    with pytest.raises(ValidationFailed, match="people only"), transaction.atomic():
        ledger.record(actor=CLI, action="TENANT_VIEW_DETAILS", resource="tenant:ten_acme")
    with pytest.raises(ValueError, match="do not choose"), transaction.atomic():
        ledger.record(actor=CLI, action="TENANT_UPSERTED", resource="tenant:ten_acme",
                      reason_code="OPERATIONS")


def _request(requester=None) -> Approval:
    outcome = services.operation_request(
        actor=Actor.staff(requester or make_staff(Role.SUPPORT)), operation="tenant_credit_add",
        params=CREDIT, reason_code="CUSTOMER_REQUEST")
    assert outcome.approval is not None
    return outcome.approval
