"""Step-up: starting an impersonation (CRITICAL) and approving a four-eyes request need a second
factor proven in the last STEP_UP_SECONDS, in the console (the verify page, then back) and
through the API (a current code in X-Casefile-TOTP), whatever the sign-in method."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client

from casefile.accounts.models import StaffSession
from casefile.accounts.roles import Role
from casefile.audit.actor import Actor
from casefile.audit.models import AuditEntry
from casefile.core.timeutil import now
from casefile.platform import services as platform
from casefile.platform.models import Approval, Impersonation
from tests.accounts.helpers import enrol_totp, fresh_totp_code, prove_second_factor, totp_code
from tests.conftest import ApiClient, make_staff, token_for

pytestmark = pytest.mark.django_db

SYNC = Actor.system("platform-sync")
USER_PAGE = "/platform/users/usr_alpha/"
IMPERSONATE = {"user_id": "usr_alpha", "minutes": "15", "reason_code": "SECURITY_INCIDENT",
               "ticket_ref": "INC-7"}
STALE = timedelta(seconds=301)  # just past the default window of 300 s


@pytest.fixture(autouse=True)
def subject(db):
    platform.tenant_upsert(actor=SYNC, tenant_id="ten_acme", name="Acme")
    platform.platform_user_upsert(actor=SYNC, user_id="usr_alpha", email="alpha@acme.test",
                                  tenant_id="ten_acme")


def console(*roles, proven_ago: timedelta | None = timedelta(0)):
    """A signed-in console client whose second factor was proven `proven_ago` ago (None:
    never — a password-only session, which the sign-in gate holds at the verify page)."""
    user = make_staff(*roles)
    device = enrol_totp(user)
    client = Client()
    client.force_login(user)
    StaffSession.objects.filter(session_key=client.session.session_key).update(
        second_factor_at=None if proven_ago is None else now() - proven_ago)
    return client, user, device


def pending_impersonation() -> Approval:
    return platform.operation_request(
        actor=Actor.staff(make_staff(Role.ADMIN)), operation="impersonation_start",
        params={"user_id": "usr_alpha", "minutes": 15}, reason_code="SECURITY_INCIDENT",
        ticket_ref="INC-7").approval


# --- the console ---------------------------------------------------------------------------


def test_impersonation_in_the_console_asks_for_a_recent_factor_then_goes_back_to_the_form():
    client, _user, device = console(Role.ADMIN, proven_ago=STALE)
    answer = client.post("/platform/operations/impersonation_start/", IMPERSONATE,
                         HTTP_REFERER=f"http://testserver{USER_PAGE}")
    assert answer.status_code == 302
    assert answer["Location"] == ("/account/verify/?next=http%3A%2F%2Ftestserver%2Fplatform"
                                  "%2Fusers%2Fusr_alpha%2F")
    assert not Approval.objects.exists()  # nothing was asked for
    assert not AuditEntry.objects.filter(action="APPROVAL_REQUESTED").exists()
    page = client.get(answer["Location"])
    assert b"Confirm it is you" in page.content and b"needs a second factor proven" in page.content

    back = client.post("/account/verify/", {"code": totp_code(device),
                                            "next": f"http://testserver{USER_PAGE}"})
    assert back.status_code == 302 and back["Location"] == f"http://testserver{USER_PAGE}"
    client.post("/platform/operations/impersonation_start/", IMPERSONATE,
                HTTP_REFERER=f"http://testserver{USER_PAGE}")
    assert Approval.objects.get().operation == "impersonation_start"


def test_a_factor_proven_within_the_window_is_enough_and_the_preview_needs_none():
    client, _user, _device = console(Role.ADMIN, proven_ago=timedelta(seconds=290))
    preview = client.post("/platform/operations/impersonation_start/",
                          {**IMPERSONATE, "preview": "1"}, HTTP_HX_REQUEST="true")
    assert preview.status_code == 200 and b"IMPERSONATION_START" in preview.content
    client.post("/platform/operations/impersonation_start/", IMPERSONATE)
    assert Approval.objects.count() == 1


def test_approving_in_the_console_asks_for_a_recent_factor_rejecting_does_not():
    approval = pending_impersonation()
    client, user, device = console(Role.ADMIN, proven_ago=STALE)
    decide = f"/platform/approvals/{approval.id}/"
    answer = client.post(decide, {"decision": "approve", "reason_code": "COMPLIANCE_REVIEW"},
                         HTTP_REFERER="http://testserver/platform/approvals/")
    assert answer["Location"].startswith("/account/verify/?next=")
    approval.refresh_from_db()
    assert approval.status == "pending" and not Impersonation.objects.exists()

    client.post("/account/verify/", {"code": totp_code(device)})
    client.post(decide, {"decision": "approve", "reason_code": "COMPLIANCE_REVIEW"})
    approval.refresh_from_db()
    assert approval.status == "approved" and Impersonation.objects.count() == 1

    # Later, past the window: asked again; a rejection is not a step-up.
    other = pending_impersonation()
    prove_second_factor(client, at=now() - STALE)
    client.post(f"/platform/approvals/{other.id}/",
                {"decision": "approve", "reason_code": "COMPLIANCE_REVIEW"})
    assert Approval.objects.get(pk=other.pk).status == "pending"
    client.post(f"/platform/approvals/{other.id}/",
                {"decision": "reject", "reason_code": "COMPLIANCE_REVIEW"})
    assert Approval.objects.get(pk=other.pk).status == "rejected"
    assert Approval.objects.get(pk=approval.pk).decided_by_id == user.pk


def test_an_idp_sign_in_with_mfa_counts_from_its_sign_in_time():
    """An OpenID Connect session whose IdP proved a second factor (accounts.sessions records
    it as idp:<amr> at sign-in): that proof counts for the window, then runs out."""
    client, _user, _device = console(Role.ADMIN)
    StaffSession.objects.filter(session_key=client.session.session_key).update(
        method="oidc", second_factor="idp:otp", second_factor_at=now() - timedelta(seconds=60))
    client.post("/platform/operations/impersonation_start/", IMPERSONATE)
    assert Approval.objects.count() == 1
    StaffSession.objects.filter(session_key=client.session.session_key).update(
        second_factor_at=now() - STALE)
    answer = client.post("/platform/operations/impersonation_start/",
                         {**IMPERSONATE, "user_id": "usr_alpha"})
    assert answer["Location"].startswith("/account/verify/")
    assert Approval.objects.count() == 1


def test_without_the_permission_the_answer_is_forbidden_not_a_step_up():
    client, _user, _device = console(Role.SUPPORT, proven_ago=STALE)
    answer = client.post("/platform/operations/impersonation_start/", IMPERSONATE)
    assert answer.status_code == 403 and not Approval.objects.exists()


# --- the API -------------------------------------------------------------------------------


def api_client(*roles):
    user = make_staff(*roles)
    return ApiClient(token_for(user)), user, enrol_totp(user)


def post(client, path: str, body: dict, *, totp: str | None = None):
    headers = {"Authorization": f"Bearer {client.token}"}
    if totp is not None:
        headers["X-Casefile-TOTP"] = totp
    return client.post(path, body, content_type="application/json", headers=headers)


def request_impersonation(client, *, totp: str | None = None):
    return post(client, "/api/v1/platform/operations", {
        "operation": "impersonation_start", "params": {"user_id": "usr_alpha", "minutes": 15},
        "reason_code": "SECURITY_INCIDENT", "ticket_ref": "INC-7"}, totp=totp)


def test_the_api_refuses_a_critical_action_on_the_token_alone():
    client, user, device = api_client(Role.ADMIN)
    refused = request_impersonation(client)
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert error["code"] == "step_up_required" and error["details"]["header"] == "X-Casefile-TOTP"
    assert not Approval.objects.exists()

    done = request_impersonation(client, totp=totp_code(device))
    assert done.status_code == 202, done.content
    proven = AuditEntry.objects.get(action="STAFF_SECOND_FACTOR_PROVEN")
    assert proven.metadata["via"] == "api" and proven.resource == f"staff:{user.id}"


def test_the_api_refuses_a_replayed_or_wrong_code_and_counts_it():
    client, user, device = api_client(Role.ADMIN)
    code = totp_code(device)
    assert request_impersonation(client, totp=code).status_code == 202
    replayed = request_impersonation(client, totp=code)
    assert replayed.status_code == 403 and replayed.json()["error"]["code"] == "step_up_required"
    assert "already used" in replayed.json()["error"]["message"]
    device.refresh_from_db()
    assert device.throttling_failure_count == 1
    assert Approval.objects.count() == 1
    failed = AuditEntry.objects.get(action="STAFF_SIGN_IN_FAILED")
    assert failed.resource == f"staff:{user.id}" and "X-Casefile-TOTP" in failed.metadata["reason"]
    throttled = request_impersonation(client, totp=fresh_totp_code(device))
    assert throttled.status_code == 429  # the back-off after a wrong code


def test_approving_through_the_api_needs_the_code_rejecting_does_not():
    approval = pending_impersonation()
    client, _user, device = api_client(Role.ADMIN)
    url = f"/api/v1/platform/approvals/{approval.id}/approve"
    refused = client.call("POST", url, {"reason_code": "COMPLIANCE_REVIEW"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "step_up_required"
    assert Approval.objects.get(pk=approval.pk).status == "pending"
    approved = post(client, url, {"reason_code": "COMPLIANCE_REVIEW"}, totp=totp_code(device))
    assert approved.status_code == 200, approved.content
    assert Impersonation.objects.count() == 1
    other = pending_impersonation()
    rejected = client.call("POST", f"/api/v1/platform/approvals/{other.id}/reject",
                           {"reason_code": "COMPLIANCE_REVIEW"})
    assert rejected.status_code == 200


def test_a_session_proof_does_not_carry_over_to_the_api():
    """A console session that just proved a factor does not lend it to the person's token."""
    client, user, _device = console(Role.ADMIN)
    assert client.get("/cases/").status_code == 200
    api = ApiClient(token_for(user))
    assert request_impersonation(api).status_code == 403
