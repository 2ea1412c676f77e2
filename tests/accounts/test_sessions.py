"""Console sessions: sign-in and its failure audited, idle and absolute timeouts, signing out,
signing out everywhere (sessions and API tokens), and the step-up window."""

from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.test import RequestFactory

from casefile.accounts import sessions
from casefile.accounts.models import StaffSession
from casefile.accounts.roles import Role
from casefile.audit.actor import Actor
from casefile.audit.models import AuditEntry
from casefile.core.timeutil import now
from tests.conftest import ApiClient, CommittingClient, make_staff, token_for

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple 42"


def signed_in(user, *, agent="pytest") -> CommittingClient:
    client = CommittingClient(HTTP_USER_AGENT=agent)
    answer = client.post("/login/", {"username": user.email, "password": PASSWORD})
    assert answer.status_code == 302, answer.content
    return client


def test_a_password_sign_in_is_a_session_row_and_an_entry():
    user = make_staff(Role.ANALYST, password=PASSWORD)
    client = signed_in(user)
    row = StaffSession.objects.get(user=user)
    assert row.method == "password" and row.session_key == client.session.session_key
    assert row.second_factor_at is None
    entry = AuditEntry.objects.get(action="STAFF_SIGNED_IN")
    assert entry.resource == f"staff:{user.id}" and entry.actor_role == "system"
    assert entry.metadata["method"] == "password" and entry.user_agent == "pytest"
    assert client.get("/cases/").status_code == 200


def test_a_refused_sign_in_is_audited_without_saying_why_to_the_client():
    user = make_staff(Role.ANALYST, password=PASSWORD)
    answer = CommittingClient().post("/login/", {"username": user.email, "password": "wrong"})
    assert answer.status_code == 200 and b"Wrong e-mail or password" in answer.content
    entry = AuditEntry.objects.get(action="STAFF_SIGN_IN_FAILED")
    assert entry.metadata["claimed"] == user.email and entry.resource == "staff:unknown"
    assert not StaffSession.objects.exists()


@pytest.mark.parametrize(("field", "age", "why"), [
    ("last_seen_at", timedelta(minutes=31), "idle"),
    ("created_at", timedelta(hours=10, minutes=1), "expired"),
])
def test_timeouts_sign_the_session_out(field, age, why):
    user = make_staff(Role.ANALYST, password=PASSWORD)
    client = signed_in(user)
    StaffSession.objects.filter(user=user).update(**{field: now() - age})
    answer = client.get("/cases/")
    assert answer.status_code == 302 and answer["Location"].startswith("/login/")
    assert not StaffSession.objects.filter(user=user).exists()
    assert AuditEntry.objects.get(action="STAFF_SIGNED_OUT").metadata["why"] == why
    assert client.get("/cases/").status_code == 302  # the cookie is dead too


def test_activity_keeps_an_idle_session_alive():
    user = make_staff(Role.ANALYST, password=PASSWORD)
    client = signed_in(user)
    StaffSession.objects.filter(user=user).update(last_seen_at=now() - timedelta(minutes=29))
    assert client.get("/cases/").status_code == 200
    assert now() - StaffSession.objects.get(user=user).last_seen_at < timedelta(minutes=1)


def test_signing_out_ends_the_row_and_the_cookie():
    user = make_staff(Role.ANALYST, password=PASSWORD)
    client = signed_in(user)
    assert client.post("/logout/").status_code == 302
    assert not StaffSession.objects.exists()
    assert AuditEntry.objects.get(action="STAFF_SIGNED_OUT").metadata["why"] == "signed out"
    assert client.get("/cases/").status_code == 302


def test_a_session_without_its_row_is_signed_out():
    """A session from before the upgrade, or one whose row was revoked."""
    user = make_staff(Role.ANALYST, password=PASSWORD)
    client = signed_in(user)
    StaffSession.objects.all().delete()
    assert client.get("/cases/").status_code == 302


def test_sign_out_everywhere_ends_every_session_and_token():
    user = make_staff(Role.OPS, password=PASSWORD)
    laptop, phone = signed_in(user, agent="laptop"), signed_in(user, agent="phone")
    api = ApiClient(token_for(user))
    assert api.call("GET", "/api/v1/me").status_code == 200
    answer = laptop.post("/logout/everywhere/")
    assert answer.status_code == 302
    assert phone.get("/cases/").status_code == 302
    assert laptop.get("/cases/").status_code == 302
    assert api.call("GET", "/api/v1/me").status_code == 401
    assert not Session.objects.exists() and not StaffSession.objects.exists()
    entry = AuditEntry.objects.get(action="STAFF_SIGNED_OUT_EVERYWHERE")
    assert entry.actor_user_id == user.id and entry.metadata["sessions"] == 2
    assert len(entry.metadata["tokens"]) == 1


def test_admins_sign_others_out_everywhere_others_may_not():
    target = make_staff(Role.ANALYST, password=PASSWORD)
    client = signed_in(target)
    other = ApiClient(token_for(make_staff(Role.OPS)))
    path = f"/api/v1/staff/{target.id}/sign-out-everywhere"
    assert other.call("POST", path, {"reason_code": "SECURITY_INCIDENT"}).status_code == 403
    assert client.get("/cases/").status_code == 200
    admin = ApiClient(token_for(make_staff(Role.ADMIN)))
    assert admin.call("POST", path, {}).status_code == 422  # someone else's: a reason is due
    answer = admin.call("POST", path, {"reason_code": "SECURITY_INCIDENT"})
    assert answer.status_code == 200 and answer.json() == {"sessions": 1, "tokens": 0}
    assert client.get("/cases/").status_code == 302
    assert AuditEntry.objects.get(
        action="STAFF_SIGNED_OUT_EVERYWHERE").reason_code == "SECURITY_INCIDENT"


def test_a_second_factor_is_fresh_for_the_step_up_window(settings):
    user = make_staff(Role.ADMIN, password=PASSWORD)
    client = signed_in(user)
    request = RequestFactory().get("/")
    request.session = client.session
    assert not sessions.second_factor_fresh(request)
    sessions.session_prove_second_factor(request, factor="totp")
    assert sessions.second_factor_fresh(request)
    assert AuditEntry.objects.get(action="STAFF_SECOND_FACTOR_PROVEN").metadata == {
        "factor": "totp", "via": "sign-in"}
    StaffSession.objects.update(second_factor_at=now() - timedelta(
        seconds=settings.STEP_UP_SECONDS + 1))
    assert not sessions.second_factor_fresh(request)


def test_entries_of_an_idp_user_name_the_subject_and_issuer():
    user = make_staff(Role.ANALYST)
    user.oidc_issuer, user.oidc_subject = "https://idp.example", "248289761001"
    user.save()
    from casefile.cases import services as cases

    case = cases.case_create(actor=Actor.staff(user), kind="incident", title="x",
                             reason_code="INVESTIGATION")
    entry = AuditEntry.objects.get(action="CASE_CREATED", resource=f"case:{case.id}")
    assert entry.metadata["oidc"] == {"iss": "https://idp.example", "sub": "248289761001"}
