"""Second factors with an authenticator app (TOTP): enrolment through the pages, proving one
after the password, a replayed code and wrong codes refused (and counted, then throttled), the
gate that keeps a password-only session of an administrator or of anyone with a factor out of
the console, removal, and the enrolment links `casefile user add` prints."""

from __future__ import annotations

import io
import re
import time
from urllib.parse import parse_qs, unquote, urlparse

import pytest
from django.core import signing
from django.core.management import call_command
from django_otp.plugins.otp_totp.models import TOTPDevice

from casefile.accounts import factors
from casefile.accounts.models import StaffSession, StaffUser
from casefile.accounts.roles import Role
from casefile.audit.actor import Actor
from casefile.audit.models import AuditEntry
from casefile.core.errors import Conflict, PermissionDenied, Throttled, ValidationFailed
from tests.accounts.helpers import enrol_totp, totp_code
from tests.conftest import ApiClient, CommittingClient, make_staff, token_for

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple 42"


def password_only(user) -> CommittingClient:
    """Signed in with the password, as the sign-in form does: nothing more proven yet."""
    client = CommittingClient()
    answer = client.post("/login/", {"username": user.email, "password": PASSWORD})
    assert answer.status_code == 302, answer.content
    return client


def session_of(client) -> StaffSession:
    return StaffSession.objects.get(session_key=client.session.session_key)


# --- the gate after the password -------------------------------------------------------------


def test_an_admin_without_a_factor_is_sent_to_enrol_before_anything_else():
    admin = make_staff(Role.ADMIN, password=PASSWORD)
    client = password_only(admin)
    for page in ("/cases/", "/platform/tenants/", "/audit/", "/admin/"):
        answer = client.get(page)
        assert answer.status_code == 302, page
        assert answer["Location"].startswith("/account/factors/?next=")
    page = client.get("/account/factors/", follow=True)
    assert b"Administrators prove a second factor" in page.content
    # API tokens are not sessions: the gate does not touch them.
    assert ApiClient(token_for(admin)).call("GET", "/api/v1/me").status_code == 200


def test_a_password_alone_may_sign_out_but_not_sign_out_everywhere():
    analyst = make_staff(Role.ANALYST, password=PASSWORD)
    enrol_totp(analyst)
    token = token_for(analyst)
    client = password_only(analyst)
    everywhere = client.post("/logout/everywhere/")
    assert everywhere.status_code == 302 and everywhere["Location"].startswith("/account/verify/")
    assert ApiClient(token).call("GET", "/api/v1/me").status_code == 200  # not revoked
    out = client.post("/logout/")
    assert out.status_code == 302 and not StaffSession.objects.filter(user=analyst).exists()


def test_someone_without_a_factor_and_not_admin_just_signs_in():
    analyst = make_staff(Role.ANALYST, password=PASSWORD)
    assert password_only(analyst).get("/cases/").status_code == 200


def test_admin_enrols_an_app_through_the_pages_and_is_then_let_in():
    admin = make_staff(Role.ADMIN, password=PASSWORD)
    client = password_only(admin)
    page = client.get("/account/factors/totp/?next=/cases/")
    assert page.status_code == 200
    device = TOTPDevice.objects.get(user=admin)
    assert not device.confirmed
    uri = urlparse(unquote(re.search(r'href="(otpauth://[^"]+)"', page.content.decode())[1]
                          .replace("&amp;", "&")))
    query = parse_qs(uri.query)
    assert uri.scheme == "otpauth" and uri.netloc == "totp"
    assert uri.path == f"/Casefile:{admin.email}" and query["issuer"] == ["Casefile"]
    assert query["secret"][0] == factors.totp_secret(device).replace(" ", "")
    assert query["digits"] == ["6"] and query["period"] == ["30"]
    # Reloading the page shows the same secret (the app may already hold it).
    client.get("/account/factors/totp/")
    assert TOTPDevice.objects.filter(user=admin).count() == 1

    wrong = client.post("/account/factors/totp/", {"code": "000000", "name": "Phone"},
                        follow=True)
    assert b"wrong code" in wrong.content and not TOTPDevice.objects.get().confirmed
    device.refresh_from_db()
    device.throttling_failure_count = 0  # the back-off of the wrong code, as if waited out
    device.save()
    done = client.post("/account/factors/totp/", {"code": totp_code(device), "name": "Phone",
                                                  "next": "/cases/"})
    assert done.status_code == 302 and done["Location"] == "/cases/"
    device.refresh_from_db()
    assert device.confirmed and device.name == "Phone"
    entry = AuditEntry.objects.get(action="STAFF_FACTOR_ENROLLED")
    assert entry.actor_user_id == admin.id and entry.reason_code == "ACCOUNT_PROVISIONING"
    assert entry.resource == f"staff:{admin.id}" and entry.metadata["factor"] == "totp"
    assert "key" not in str(entry.metadata)  # the secret is never recorded
    assert session_of(client).second_factor == "totp"  # confirming it proved it
    assert AuditEntry.objects.filter(action="STAFF_SECOND_FACTOR_PROVEN").count() == 1
    assert client.get("/cases/").status_code == 200


def test_with_an_app_the_password_is_not_enough_until_a_code_is_given(settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # no back-off: this test is about counting
    analyst = make_staff(Role.ANALYST, password=PASSWORD)
    device = enrol_totp(analyst)
    client = password_only(analyst)
    answer = client.get("/cases/")
    assert answer.status_code == 302 and answer["Location"] == "/account/verify/?next=%2Fcases%2F"
    assert session_of(client).second_factor_at is None
    assert client.get("/account/verify/?next=/cases/").status_code == 200

    wrong = client.post("/account/verify/", {"code": "123456", "next": "/cases/"})
    assert wrong.status_code == 200 and b"wrong code" in wrong.content
    device.refresh_from_db()
    assert device.throttling_failure_count == 1  # counted
    failed = AuditEntry.objects.get(action="STAFF_SIGN_IN_FAILED")
    assert failed.resource == f"staff:{analyst.id}" and "sign-in" in failed.metadata["reason"]
    assert client.get("/cases/").status_code == 302  # still kept out

    right = client.post("/account/verify/", {"code": totp_code(device), "next": "/cases/"})
    assert right.status_code == 302 and right["Location"] == "/cases/"
    session = session_of(client)
    assert session.second_factor == "totp" and session.second_factor_at is not None
    device.refresh_from_db()
    assert device.throttling_failure_count == 0 and device.last_t >= 0
    proven = AuditEntry.objects.get(action="STAFF_SECOND_FACTOR_PROVEN")
    assert proven.metadata["factor"] == "totp" and proven.resource == f"staff:{analyst.id}"
    assert client.get("/cases/").status_code == 200


def test_a_replayed_code_is_refused():
    analyst = make_staff(Role.ANALYST, password=PASSWORD)
    device = enrol_totp(analyst)
    code = totp_code(device)
    assert factors.totp_verify(user=analyst, code=code).pk == device.pk
    spent = TOTPDevice.objects.get(pk=device.pk).last_t
    with pytest.raises(ValidationFailed, match="already used"):
        factors.totp_verify(user=analyst, code=code)
    # …also through the verify page of another session (an eavesdropper's).
    client = password_only(analyst)
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_count=0)  # waited out
    answer = client.post("/account/verify/", {"code": code, "next": "/cases/"})
    assert answer.status_code == 200 and b"already used" in answer.content
    assert session_of(client).second_factor_at is None
    assert TOTPDevice.objects.get(pk=device.pk).last_t == spent  # django-otp's last_t


def test_wrong_codes_are_counted_then_throttled_even_for_the_right_code(settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 30
    analyst = make_staff(Role.ANALYST, password=PASSWORD)
    device = enrol_totp(analyst)
    with pytest.raises(ValidationFailed):
        factors.totp_verify(user=analyst, code="000000")
    with pytest.raises(Throttled) as refused:
        factors.totp_verify(user=analyst, code=totp_code(device))
    assert 1 <= refused.value.details["retry_after_seconds"] <= 31
    device.refresh_from_db()
    assert device.throttling_failure_count == 1 and device.last_t == -1  # nothing accepted
    client = password_only(analyst)
    answer = client.post("/account/verify/", {"code": totp_code(device)})
    assert b"too many wrong codes" in answer.content
    assert session_of(client).second_factor_at is None


def test_a_code_is_not_a_number_or_an_unconfirmed_secret():
    analyst = make_staff(Role.ANALYST)
    pending = factors.totp_enrol_begin(user=analyst)
    with pytest.raises(Conflict):  # an unconfirmed secret proves nothing
        factors.totp_verify(user=analyst, code=totp_code(pending))
    enrol_totp(analyst)
    with pytest.raises(ValidationFailed):
        factors.totp_verify(user=analyst, code="12345x")


# --- removing ------------------------------------------------------------------------------


def test_removing_a_factor_needs_a_recent_proof_and_is_audited():
    analyst = make_staff(Role.ANALYST, password=PASSWORD)
    device = enrol_totp(analyst)
    client = password_only(analyst)
    url = f"/account/factors/totp/{device.pk}/remove/"
    answer = client.post(url)
    assert answer.status_code == 302 and answer["Location"].startswith("/account/verify/")
    assert TOTPDevice.objects.filter(pk=device.pk).exists()
    client.post("/account/verify/", {"code": totp_code(device)})
    answer = client.post(url)
    assert answer.status_code == 302 and answer["Location"] == "/account/factors/"
    assert not TOTPDevice.objects.filter(pk=device.pk).exists()
    entry = AuditEntry.objects.get(action="STAFF_FACTOR_REMOVED")
    assert (entry.actor_user_id, entry.reason_code, entry.metadata["factor"]) == (
        analyst.id, "ACCOUNT_PROVISIONING", "totp")


def test_an_admin_keeps_at_least_one_factor_and_another_admin_may_remove_one():
    admin = make_staff(Role.ADMIN)
    first, second = enrol_totp(admin, name="first"), enrol_totp(admin, name="second")
    factors.factor_remove(actor=Actor.staff(admin), user=admin, factor="totp",
                          factor_id=first.pk)
    with pytest.raises(Conflict, match="at least one"):
        factors.factor_remove(actor=Actor.staff(admin), user=admin, factor="totp",
                              factor_id=second.pk)
    assert TOTPDevice.objects.filter(pk=second.pk).exists()
    analyst = make_staff(Role.ANALYST)
    lost = enrol_totp(analyst)
    with pytest.raises(PermissionDenied):
        factors.factor_remove(actor=Actor.staff(make_staff(Role.OPS)), user=analyst,
                              factor="totp", factor_id=lost.pk, reason_code="SECURITY_INCIDENT")
    factors.factor_remove(actor=Actor.staff(admin), user=analyst, factor="totp",
                          factor_id=lost.pk, reason_code="SECURITY_INCIDENT")
    entry = AuditEntry.objects.filter(action="STAFF_FACTOR_REMOVED").latest("created_at")
    assert entry.actor_user_id == admin.id and entry.reason_code == "SECURITY_INCIDENT"


def test_a_password_only_session_cannot_add_a_second_factor_beside_the_first():
    analyst = make_staff(Role.ANALYST, password=PASSWORD)
    enrol_totp(analyst)
    client = password_only(analyst)
    answer = client.get("/account/factors/totp/")
    assert answer.status_code == 302 and answer["Location"].startswith("/account/verify/")
    assert TOTPDevice.objects.filter(user=analyst).count() == 1
    options = client.post("/account/factors/webauthn/options/")
    assert options.status_code == 403 and options.json()["error"]["code"] == "step_up_required"


# --- enrolment links -----------------------------------------------------------------------


def _link_path(output: str) -> str:
    return urlparse(re.search(r"(\S*/account/enrol/\S+/)", output)[1]).path


def test_user_add_prints_a_link_that_sets_a_password_once_then_leads_to_enrolment(settings):
    settings.CASEFILE_BASE_URL = "https://casefile.example.com"
    out = io.StringIO()
    call_command("user", "add", "new-admin@example.com", "--role", "admin", stdout=out)
    text = out.getvalue()
    assert "https://casefile.example.com/account/enrol/" in text and "required for admin" in text
    path = _link_path(text)
    client = CommittingClient()
    assert client.get(path).status_code == 200
    short = client.post(path, {"new_password1": "short", "new_password2": "short"})
    assert short.status_code == 200 and b"too short" in short.content
    done = client.post(path, {"new_password1": PASSWORD, "new_password2": PASSWORD})
    assert done.status_code == 302 and done["Location"] == "/account/factors/"
    user = StaffUser.objects.get(email="new-admin@example.com")
    assert user.check_password(PASSWORD)
    assert AuditEntry.objects.filter(action="STAFF_SIGNED_IN",
                                     resource=f"staff:{user.id}").exists()
    assert client.get("/cases/")["Location"].startswith("/account/factors/")  # admin: enrol
    page = client.get("/account/factors/totp/")  # the first factor needs no proof
    assert page.status_code == 200
    # Spent: the same link does nothing more.
    again = CommittingClient().get(path)
    assert again.status_code == 404 and b"does not work" in again.content


def test_an_enrolment_link_runs_out(monkeypatch, settings):
    settings.ENROLMENT_LINK_HOURS = 72
    user = make_staff(Role.ANALYST)
    path = f"/account/enrol/{factors.enrolment_token(user)}/"
    later = time.time() + 72 * 3600 + 5
    monkeypatch.setattr(signing.time, "time", lambda: later)
    assert CommittingClient().get(path).status_code == 404
    forged = f"/account/enrol/{factors.enrolment_token(user)[:-2]}xx/"
    monkeypatch.undo()
    assert CommittingClient().get(forged).status_code == 404


def test_a_new_link_is_the_way_back_after_a_lost_factor():
    analyst = make_staff(Role.ANALYST, password=PASSWORD)
    enrol_totp(analyst, name="lost phone")
    out = io.StringIO()
    call_command("user", "enrol-link", analyst.email, stdout=out)
    client = CommittingClient()
    client.post(_link_path(out.getvalue()),
                {"new_password1": PASSWORD + "!", "new_password2": PASSWORD + "!"})
    assert client.get("/cases/")["Location"].startswith("/account/verify/")
    page = client.get("/account/factors/totp/")  # within the window, no proof needed
    assert page.status_code == 200
    device = TOTPDevice.objects.get(user=analyst, confirmed=False)
    client.post("/account/factors/totp/", {"code": totp_code(device), "name": "new phone"})
    assert client.get("/cases/").status_code == 200
    assert AuditEntry.objects.filter(action="STAFF_FACTOR_ENROLLED").count() == 1
