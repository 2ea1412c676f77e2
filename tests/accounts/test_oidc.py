"""Signing in through a real OpenID Connect provider (tests/oidc_provider: oidc-provider on
node, on 127.0.0.1): the account found by (issuer, subject), created and kept in line with the
IdP's groups, and every way a sign-in can be wrong refused with a page and a ledger entry."""

from __future__ import annotations

import socket
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from casefile.accounts import oidc
from casefile.accounts.models import StaffSession, StaffUser
from casefile.accounts.roles import Role
from casefile.audit.models import AuditEntry
from tests.conftest import make_staff
from tests.oidc_provider import CLIENT_ID, CLIENT_SECRET, TestProvider, back_to

pytestmark = pytest.mark.django_db
CALLBACK = "http://testserver/login/oidc/callback/"
ROLE_MAP = "cf-admins=admin,cf-analysts=analyst,cf-support=support,cf-support=viewer"


@pytest.fixture(scope="session")
def idp():
    provider = TestProvider(redirect_uris=[CALLBACK])
    yield provider
    provider.stop()


@pytest.fixture
def oidc_on(settings, idp):
    """Casefile configured for the test IdP, which starts each test with nobody and no knob."""
    settings.OIDC_ISSUER = idp.issuer
    settings.OIDC_CLIENT_ID = CLIENT_ID
    settings.OIDC_CLIENT_SECRET = CLIENT_SECRET
    settings.OIDC_ROLE_MAP = ROLE_MAP
    settings.OIDC_PROVIDER_NAME = "Test IdP"
    settings.OIDC_MFA_ACR = ""
    idp.users()
    idp.tamper(None)
    return idp


def person(groups, **extra):
    login = extra.pop("login", "alice")
    return {login: {"email": f"{login}@corp.example", "name": login.title(), "groups": groups,
                    **extra}}


def sign_in(client, idp, login="alice", *, next_url=None, cancel=False):
    """The whole round trip: Casefile's button, the IdP's login page, back to Casefile."""
    start = client.get("/login/oidc/" + (f"?next={next_url}" if next_url else ""))
    assert start.status_code == 302, start.content[:500]
    at_idp = idp.log_in(start["Location"], login, cancel=cancel)
    return client.get(back_to(at_idp))


def entries(action):
    return list(AuditEntry.objects.filter(action=action).order_by("created_at", "id"))


def signed_in_as(client):
    return client.session.get("_auth_user_id")


def assert_refused(response, status, words, *, signed_out=True):
    assert response.status_code == status, response.content[:800]
    page = response.content.decode()
    assert "You were not signed in" in page
    assert words in page
    if signed_out:
        assert "_auth_user_id" not in response.wsgi_request.session


# --- The login page -------------------------------------------------------------------------

def test_without_an_idp_the_login_page_is_the_local_form_only(client, settings):
    settings.OIDC_ISSUER = ""
    page = client.get("/login/")
    assert page.status_code == 200
    assert b"Sign in with" not in page.content
    assert b'name="password"' in page.content
    assert client.get("/login/oidc/").status_code == 404
    assert client.get("/login/oidc/callback/?code=x&state=y").status_code == 404


def test_with_an_idp_the_login_page_offers_it_and_keeps_the_local_form(client, oidc_on):
    page = client.get("/login/?next=/cases/")
    assert b"Sign in with Test IdP" in page.content
    assert b'href="/login/oidc/?next=%2Fcases%2F"' in page.content
    assert b'name="password"' in page.content  # break-glass


def test_the_request_to_the_idp_uses_pkce_s256_state_and_nonce(client, oidc_on):
    start = client.get("/login/oidc/")
    url = urlsplit(start["Location"])
    assert f"{url.scheme}://{url.netloc}" == oidc_on.issuer
    query = parse_qs(url.query)
    assert query["response_type"] == ["code"]
    assert query["client_id"] == [CLIENT_ID]
    assert query["redirect_uri"] == [CALLBACK]
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43  # base64url of a SHA-256
    assert query["state"][0] and query["nonce"][0]
    assert set(query["scope"][0].split()) == {"openid", "email", "profile", "groups"}


# --- Accounts and roles ---------------------------------------------------------------------

def test_first_sign_in_creates_the_account_with_the_mapped_role(client, oidc_on):
    oidc_on.users(**person(["cf-analysts", "unrelated"]))
    response = sign_in(client, oidc_on, next_url="/cases/")
    assert response.status_code == 302 and response["Location"] == "/cases/"
    user = StaffUser.objects.get(oidc_subject="alice")
    assert signed_in_as(client) == user.pk
    assert (user.oidc_issuer, user.email, user.name) == (oidc_on.issuer, "alice@corp.example",
                                                        "Alice")
    assert user.roles == {Role.ANALYST}
    assert not user.has_usable_password()  # nobody signs in to it with a password
    created = entries("STAFF_USER_CREATED")[-1]
    assert created.resource == f"staff:{user.id}" and created.actor_role == "system"
    assert created.details["after"]["roles"] == ["analyst"]
    assert created.metadata["oidc"] == {"iss": oidc_on.issuer, "sub": "alice",
                                        "groups": ["cf-analysts"]}
    signed_in = entries("STAFF_SIGNED_IN")[-1]
    assert signed_in.metadata["method"] == "oidc"
    assert signed_in.metadata["oidc"]["iss"] == oidc_on.issuer
    assert signed_in.metadata["oidc"]["sub"] == "alice"
    session = StaffSession.objects.get(user=user)
    assert session.method == "oidc" and session.second_factor == ""
    assert client.get("/cases/").status_code == 200  # in the console


def test_a_changed_group_changes_the_role_audited(client, oidc_on):
    oidc_on.users(**person(["cf-analysts"]))
    sign_in(client, oidc_on)
    user = StaffUser.objects.get(oidc_subject="alice")
    oidc_on.users(**person(["cf-support"]))
    response = sign_in(client, oidc_on)
    assert response.status_code == 302
    user.forget_roles()
    assert user.roles == {Role.SUPPORT, Role.VIEWER}
    granted = entries("STAFF_ROLE_GRANTED")
    assert [e.details["after"]["roles"] for e in granted] == [
        ["support", "analyst"], ["support", "analyst", "viewer"]]
    revoked = entries("STAFF_ROLE_REVOKED")
    assert len(revoked) == 1 and revoked[0].details["after"]["roles"] == ["support", "viewer"]
    for entry in [*granted, *revoked]:
        assert entry.resource == f"staff:{user.id}"
        assert entry.actor_role == "system" and entry.reason_code == "ACCOUNT_PROVISIONING"
        assert entry.metadata["oidc"]["sub"] == "alice"
        assert entry.metadata["oidc"]["groups"] == ["cf-support"]
    # Grants come before the revocation: nobody is left without a role in between.
    assert max(e.created_at for e in granted) <= revoked[0].created_at


def test_a_removed_admin_group_removes_admin(client, oidc_on):
    make_staff(Role.ADMIN)  # another administrator, so admin may be taken away
    oidc_on.users(**person(["cf-admins", "cf-analysts"]))
    sign_in(client, oidc_on)
    user = StaffUser.objects.get(oidc_subject="alice")
    assert user.roles == {Role.ADMIN, Role.ANALYST}
    oidc_on.users(**person(["cf-analysts"]))
    assert sign_in(client, oidc_on).status_code == 302
    user.forget_roles()
    assert user.roles == {Role.ANALYST}
    assert entries("STAFF_ROLE_REVOKED")[-1].details["before"]["roles"] == ["admin", "analyst"]


def test_the_last_administrator_losing_the_group_is_refused_not_left_admin(client, oidc_on):
    oidc_on.users(**person(["cf-admins"]))
    sign_in(client, oidc_on)
    oidc_on.users(**person(["cf-analysts"]))
    response = sign_in(client, oidc_on)
    assert_refused(response, 403, "could not take it away")
    assert entries("STAFF_SIGN_IN_FAILED")[-1].metadata["reason"].startswith(
        "oidc: could not revoke admin")
    # The session of the earlier sign-in ends with the refusal.
    assert entries("STAFF_SIGNED_OUT")[-1].metadata["why"] == "sign-in refused"
    assert client.get("/cases/").status_code == 302


def test_no_group_left_removes_every_role_and_refuses(client, oidc_on):
    oidc_on.users(**person(["cf-analysts"]))
    sign_in(client, oidc_on)
    user = StaffUser.objects.get(oidc_subject="alice")
    oidc_on.users(**person(["somewhere-else"]))
    assert_refused(sign_in(client, oidc_on), 403, "your roles were removed")
    user.forget_roles()
    assert user.roles == frozenset()
    assert entries("STAFF_ROLE_REVOKED")[-1].details["after"]["roles"] == []


def test_an_unmapped_person_is_refused_and_no_account_made(client, oidc_on):
    oidc_on.users(**person(["marketing"]))
    response = sign_in(client, oidc_on)
    assert_refused(response, 403, "None of your groups")
    assert not StaffUser.objects.filter(oidc_subject="alice").exists()
    failed = entries("STAFF_SIGN_IN_FAILED")[-1]
    assert failed.resource == "staff:unknown"
    assert failed.metadata["claimed"] == "alice"
    assert failed.metadata["reason"] == "oidc: no group maps to a role (first sign-in)"


def test_found_by_subject_not_e_mail_which_follows_the_idp(client, oidc_on):
    oidc_on.users(**person(["cf-analysts"]))
    sign_in(client, oidc_on)
    user = StaffUser.objects.get(oidc_subject="alice")
    oidc_on.users(**person(["cf-analysts"], email="alice.new@corp.example", name="Alice N."))
    assert sign_in(client, oidc_on).status_code == 302
    user.refresh_from_db()
    assert (user.email, user.name) == ("alice.new@corp.example", "Alice N.")
    updated = entries("STAFF_USER_UPDATED")[-1]
    assert updated.details["before"]["email"] == "alice@corp.example"
    assert updated.details["after"]["email"] == "alice.new@corp.example"
    assert StaffUser.objects.count() == 1


def test_an_idp_person_with_a_local_accounts_e_mail_is_refused_not_merged(client, oidc_on):
    local = make_staff(Role.ADMIN, email="bob@corp.example", password="a long local password")
    oidc_on.users(**person(["cf-admins"], login="bob"))
    response = sign_in(client, oidc_on, "bob")
    assert_refused(response, 403, "belongs to another Casefile account")
    local.refresh_from_db()
    assert local.oidc_subject == ""  # an e-mail claim never takes over an account
    assert not StaffUser.objects.filter(oidc_subject="bob").exists()


def test_an_e_mail_change_onto_another_account_is_refused(client, oidc_on):
    make_staff(Role.VIEWER, email="taken@corp.example")
    oidc_on.users(**person(["cf-analysts"]))
    sign_in(client, oidc_on)
    oidc_on.users(**person(["cf-analysts"], email="taken@corp.example"))
    assert_refused(sign_in(client, oidc_on), 403, "belongs to another Casefile account")
    assert StaffUser.objects.get(oidc_subject="alice").email == "alice@corp.example"


def test_deactivated_in_casefile_is_refused(client, oidc_on):
    oidc_on.users(**person(["cf-analysts"]))
    sign_in(client, oidc_on)
    StaffUser.objects.filter(oidc_subject="alice").update(is_active=False)
    assert_refused(sign_in(client, oidc_on), 403, "Your Casefile account is deactivated")
    failed = entries("STAFF_SIGN_IN_FAILED")[-1]
    assert failed.resource == f"staff:{StaffUser.objects.get(oidc_subject='alice').id}"


def test_deactivated_at_the_idp_is_refused_there(client, oidc_on):
    oidc_on.users(**person(["cf-analysts"], active=False))
    start = client.get("/login/oidc/")
    at_idp = oidc_on.log_in(start["Location"], "alice")
    assert at_idp.status_code == 200 and "This account is deactivated" in at_idp.text
    assert not StaffUser.objects.filter(oidc_subject="alice").exists()


def test_an_active_claim_of_false_is_refused_here_too(client, oidc_on):
    oidc_on.users(**person(["cf-analysts"], active_claim=False))
    assert_refused(sign_in(client, oidc_on), 403, "says your account is deactivated")
    assert not StaffUser.objects.filter(oidc_subject="alice").exists()


# --- The protocol's refusals ----------------------------------------------------------------

def test_a_wrong_state_is_refused(client, oidc_on):
    oidc_on.users(**person(["cf-analysts"]))
    start = client.get("/login/oidc/")
    callback = back_to(oidc_on.log_in(start["Location"], "alice"))
    forged = callback.replace("state=", "state=forged", 1)
    assert_refused(client.get(forged), 400, "not started from this browser")
    assert entries("STAFF_SIGN_IN_FAILED")[-1].metadata["reason"] == (
        "oidc: unknown or missing state")
    assert not StaffUser.objects.exists()


def test_a_callback_in_another_browser_is_refused(client, oidc_on, django_user_model):
    """Login CSRF: an attacker's code and state, delivered to someone else's browser."""
    from tests.conftest import CommittingClient

    oidc_on.users(**person(["cf-analysts"]))
    start = client.get("/login/oidc/")
    callback = back_to(oidc_on.log_in(start["Location"], "alice"))
    assert_refused(CommittingClient().get(callback), 400, "not started from this browser")


def test_a_callback_is_used_once(client, oidc_on):
    oidc_on.users(**person(["cf-analysts"]))
    start = client.get("/login/oidc/")
    callback = back_to(oidc_on.log_in(start["Location"], "alice"))
    assert client.get(callback).status_code == 302
    assert_refused(client.get(callback), 400, "not started from this browser",
                   signed_out=False)


@pytest.mark.parametrize(("mode", "why"), [
    ("nonce", "InvalidClaimError"),
    ("no-nonce", "MissingClaimError"),
    ("iss", "InvalidClaimError"),
    ("aud", "InvalidClaimError"),
    ("exp", "ExpiredTokenError"),
    ("signature", "BadSignatureError"),
])
def test_a_bad_id_token_is_refused(client, oidc_on, mode, why):
    oidc_on.users(**person(["cf-analysts"]))
    oidc_on.tamper(mode)
    response = sign_in(client, oidc_on)
    assert_refused(response, 400, "could not be trusted")
    assert entries("STAFF_SIGN_IN_FAILED")[-1].metadata["reason"].startswith(
        f"oidc: ID token refused: {why}")
    assert not StaffUser.objects.exists()


def test_an_id_token_for_someone_else_than_the_userinfo_is_refused(client, oidc_on):
    oidc_on.users(**person(["cf-analysts"]))
    oidc_on.tamper("sub")  # validly signed, but names another subject than userinfo does
    assert_refused(sign_in(client, oidc_on), 400, "described someone else")
    assert not StaffUser.objects.exists()


def test_an_answer_naming_another_issuer_is_refused(client, oidc_on):
    oidc_on.users(**person(["cf-analysts"]))
    start = client.get("/login/oidc/")
    callback = back_to(oidc_on.log_in(start["Location"], "alice"))
    assert "iss=" in callback  # oidc-provider sends RFC 9207's parameter
    mixed_up = callback.replace("iss=", "iss=https%3A%2F%2Fevil.example&was=", 1)
    assert_refused(client.get(mixed_up), 400, "another identity provider")


def test_a_discovery_document_for_another_issuer_is_refused(client, oidc_on, settings):
    settings.OIDC_ISSUER = oidc_on.issuer + "/"  # the same document, which names another
    assert_refused(client.get("/login/oidc/"), 400, "describes itself as another issuer")


def test_the_provider_saying_no_is_a_clear_page(client, oidc_on):
    oidc_on.users(**person(["cf-analysts"]))
    response = sign_in(client, oidc_on, cancel=True)
    assert_refused(response, 403, "did not sign you in")
    failed = entries("STAFF_SIGN_IN_FAILED")[-1]
    assert failed.metadata["reason"].startswith("oidc: provider error: access_denied")


def test_a_provider_error_shows_no_text_from_the_request(client, oidc_on):
    response = client.get("/login/oidc/callback/?error=%3Cscript%3E&error_description=call+us")
    assert_refused(response, 403, "answered with an error (invalid)")
    assert b"call us" not in response.content and b"<script>" not in response.content


def test_an_unreachable_provider_is_a_clear_page(client, oidc_on, settings):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings.OIDC_ISSUER = f"http://127.0.0.1:{port}"
    settings.OIDC_TIMEOUT_SECONDS = 2
    assert_refused(client.get("/login/oidc/"), 503, "could not be reached")
    assert_refused(client.get("/login/oidc/callback/?code=c&state=s"), 503,
                   "could not be reached")


def test_the_next_address_stays_on_casefile(client, oidc_on):
    oidc_on.users(**person(["cf-analysts"]))
    response = sign_in(client, oidc_on, next_url="https://evil.example/")
    assert response.status_code == 302 and response["Location"] == "/"


# --- The session and the ledger -------------------------------------------------------------

def test_an_action_in_an_oidc_session_names_the_subject_and_issuer(client, oidc_on):
    oidc_on.users(**person(["cf-analysts"]))
    sign_in(client, oidc_on)
    response = client.post("/cases/new/", {"kind": "report", "title": "Spam wave",
                                           "reason_code": "OPERATIONS"})
    assert response.status_code == 302, response.content[:500]
    created = entries("CASE_CREATED")[-1]
    assert created.actor_email == "alice@corp.example"
    assert created.metadata["oidc"]["iss"] == oidc_on.issuer
    assert created.metadata["oidc"]["sub"] == "alice"


def test_an_idp_second_factor_is_recorded_on_the_session(client, oidc_on):
    oidc_on.users(**person(["cf-analysts"], amr=["pwd", "otp"],
                           acr="urn:casefile:test:mfa"))
    sign_in(client, oidc_on)
    session = StaffSession.objects.get(user__oidc_subject="alice")
    assert session.second_factor == "idp:pwd+otp"
    assert session.second_factor_at is not None
    assert client.session["oidc"]["amr"] == ["pwd", "otp"]
    assert client.session["oidc"]["acr"] == "urn:casefile:test:mfa"
    assert entries("STAFF_SIGNED_IN")[-1].metadata["second_factor"] == "idp:pwd+otp"


def test_an_acr_configured_as_multi_factor_counts(client, oidc_on, settings):
    settings.OIDC_MFA_ACR = "urn:casefile:test:mfa"
    oidc_on.users(**person(["cf-analysts"], amr=["pwd"], acr="urn:casefile:test:mfa"))
    sign_in(client, oidc_on)
    session = StaffSession.objects.get(user__oidc_subject="alice")
    assert session.second_factor == "idp:acr=urn:casefile:test:mfa"


def test_a_password_alone_at_the_idp_is_no_second_factor(client, oidc_on):
    oidc_on.users(**person(["cf-analysts"], amr=["pwd"], acr="urn:casefile:test:pwd"))
    sign_in(client, oidc_on)
    session = StaffSession.objects.get(user__oidc_subject="alice")
    assert session.second_factor == "" and session.second_factor_at is None


def step_up(client, idp, login="alice", next_url="/platform/approvals/"):
    start = client.get(f"/login/oidc/?step_up=1&next={next_url}")
    assert start.status_code == 302, start.content[:500]
    query = parse_qs(urlsplit(start["Location"]).query)
    assert query["prompt"] == ["login"] and query["max_age"] == ["0"]
    return client.get(back_to(idp.log_in(start["Location"], login)))


def test_a_step_up_at_the_idp_proves_a_second_factor_in_this_session(client, oidc_on):
    oidc_on.users(**person(["cf-analysts"], amr=["pwd"]))
    sign_in(client, oidc_on)
    session = StaffSession.objects.get(user__oidc_subject="alice")
    assert session.second_factor_at is None
    oidc_on.users(**person(["cf-analysts"], amr=["pwd", "hwk"]))  # the IdP asks for a key
    response = step_up(client, oidc_on)
    assert response.status_code == 302 and response["Location"] == "/platform/approvals/"
    session.refresh_from_db()  # the same session, not a new sign-in
    assert session.second_factor == "idp:pwd+hwk" and session.second_factor_at is not None
    proven = entries("STAFF_SECOND_FACTOR_PROVEN")[-1]
    assert proven.metadata["factor"] == "idp:pwd+hwk"
    assert len(entries("STAFF_SIGNED_IN")) == 1


def test_the_verify_page_offers_the_idp_to_someone_signed_in_through_it(client, oidc_on):
    oidc_on.users(**person(["cf-analysts"], amr=["pwd"]))
    sign_in(client, oidc_on)
    page = client.get("/account/verify/?next=/platform/approvals/")
    assert page.status_code == 200
    assert b"Prove it with Test IdP" in page.content
    assert b"/login/oidc/?step_up=1&amp;next=%2Fplatform%2Fapprovals%2F" in page.content


def test_a_step_up_with_a_password_only_proves_nothing(client, oidc_on):
    oidc_on.users(**person(["cf-analysts"], amr=["pwd"]))
    sign_in(client, oidc_on)
    response = step_up(client, oidc_on)
    assert_refused(response, 403, "did not prove a second factor", signed_out=False)
    assert StaffSession.objects.get(user__oidc_subject="alice").second_factor_at is None
    assert entries("STAFF_SIGN_IN_FAILED")[-1].metadata["reason"] == (
        "oidc: step-up: no second factor in amr/acr")
    assert client.get("/cases/").status_code == 200  # still signed in


def test_a_step_up_as_someone_else_proves_nothing_and_switches_nobody(client, oidc_on):
    oidc_on.users(**person(["cf-analysts"], amr=["pwd"]),
                  **person(["cf-admins"], login="mallory", amr=["pwd", "otp"]))
    sign_in(client, oidc_on)
    alice = StaffUser.objects.get(oidc_subject="alice")
    response = step_up(client, oidc_on, login="mallory")
    assert_refused(response, 403, "as someone else", signed_out=False)
    assert client.session["_auth_user_id"] == alice.pk
    assert StaffSession.objects.get(user=alice).second_factor_at is None
    assert not StaffUser.objects.filter(oidc_subject="mallory").exists()


def test_a_step_up_asks_for_the_multi_factor_acr(client, oidc_on, settings):
    settings.OIDC_MFA_ACR = "urn:casefile:test:mfa"
    oidc_on.users(**person(["cf-analysts"], amr=["pwd"]))
    sign_in(client, oidc_on)
    start = client.get("/login/oidc/?step_up=1")
    assert parse_qs(urlsplit(start["Location"]).query)["acr_values"] == [
        "urn:casefile:test:mfa"]


def test_only_someone_signed_in_through_the_idp_steps_up_there(client, oidc_on):
    assert_refused(client.get("/login/oidc/?step_up=1"), 400, "Only someone signed in")
    local = make_staff(Role.ANALYST, password="a long local password")
    client.force_login(local)
    assert_refused(client.get("/login/oidc/?step_up=1"), 400, "Only someone signed in",
                   signed_out=False)


def test_the_step_up_button_shows_for_idp_sessions_only(rf, oidc_on):
    from django.contrib.auth.models import AnonymousUser
    from django.template import Context, Template

    page = Template("{% load oidc %}{% oidc_step_up '/platform/approvals/' %}")
    request = rf.get("/account/verify/")
    request.user = AnonymousUser()
    assert "Prove it" not in page.render(Context({"request": request}))
    request.user = make_staff(Role.ANALYST)
    assert "Prove it" not in page.render(Context({"request": request}))
    StaffUser.objects.filter(pk=request.user.pk).update(oidc_issuer=oidc_on.issuer,
                                                         oidc_subject="x")
    request.user.refresh_from_db()
    html = page.render(Context({"request": request}))
    assert "Prove it with Test IdP" in html
    assert "/login/oidc/?step_up=1&amp;next=%2Fplatform%2Fapprovals%2F" in html


@pytest.mark.parametrize(("amr", "acr", "expected"), [
    (["pwd"], None, None),
    (["pwd", "kba"], None, None),  # two things known are one factor
    (["pwd", "mfa"], None, "idp:pwd+mfa"),
    (["hwk"], None, "idp:hwk"),
    (["swk", "pin"], None, "idp:swk+pin"),
    (["pwd", "otp"], None, "idp:pwd+otp"),
    (["face"], None, "idp:face"),
    (["sms"], None, None),  # a text message alone is no second factor
    (["pwd", "sms"], None, "idp:pwd+sms"),
    (["pin", "tel"], None, "idp:pin+tel"),
    ([], "gold", "idp:acr=gold"),
    (["pwd"], "silver", None),
])
def test_rfc_8176_methods_and_the_acr_decide_the_second_factor(amr, acr, expected):
    assert oidc.second_factor(amr, acr, frozenset({"gold"})) == expected


# --- Configuration --------------------------------------------------------------------------

def test_the_role_map():
    assert oidc.parse_role_map("a=admin, b = analyst,b=viewer;c=legal") == {
        "a": {Role.ADMIN}, "b": {Role.ANALYST, Role.VIEWER}, "c": {Role.LEGAL}}
    assert oidc.parse_role_map({"x": "ops", "y": ["support", "viewer"]}) == {
        "x": {Role.OPS}, "y": {Role.SUPPORT, Role.VIEWER}}
    with pytest.raises(ImproperlyConfigured, match="not a role"):
        oidc.parse_role_map("a=superuser")
    with pytest.raises(ImproperlyConfigured, match="machine role"):
        oidc.parse_role_map("shippers=ingest")
    with pytest.raises(ImproperlyConfigured, match="not group=role"):
        oidc.parse_role_map("admins")


def test_a_bad_configuration_is_a_system_check_error_and_a_clear_page(client, oidc_on,
                                                                      settings):
    settings.OIDC_ROLE_MAP = "cf-admins=root"
    errors = [e for e in checks.run_checks() if e.id == "casefile.E007"]
    assert len(errors) == 1 and "'root' is not a role" in errors[0].msg
    response = client.get("/login/oidc/")
    assert response.status_code == 503
    assert b"not configured correctly" in response.content
    assert b"root" not in response.content  # the detail is the operator's
    settings.OIDC_ISSUER = ""
    assert not [e for e in checks.run_checks() if e.id == "casefile.E007"]
