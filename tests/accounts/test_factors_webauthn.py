"""Security keys (WebAuthn) with a software authenticator: registration (attestation "none"),
proving the key after the password, and every refusal the ceremonies must make — another
origin or RP id, a reused challenge, a counter that did not move (a cloned key), someone
else's key, no user presence, a request without the CSRF token."""

from __future__ import annotations

import orjson
import pytest
from django.test import Client

from casefile.accounts.models import StaffSession, WebAuthnCredential
from casefile.accounts.roles import Role
from casefile.audit.models import AuditEntry
from tests.accounts.helpers import SoftKey, b64url
from tests.conftest import CommittingClient, make_staff

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple 42"
ORIGIN = "http://testserver"  # the test client's scheme and host


def post_json(client, url: str, body=None):
    return client.post(url, orjson.dumps(body or {}), content_type="application/json")


def register(client, key: SoftKey, *, name: str = "YubiKey", origin: str = ORIGIN,
             rp_id: str | None = None):
    options = post_json(client, "/account/factors/webauthn/options/")
    assert options.status_code == 200, options.content
    body = {"name": name, "credential": key.register(options.json(), origin=origin, rp_id=rp_id)}
    return post_json(client, "/account/factors/webauthn/verify/", body)


def with_key(user, key: SoftKey) -> WebAuthnCredential:
    client = CommittingClient()
    client.force_login(user)
    assert register(client, key).status_code == 200
    return WebAuthnCredential.objects.get(user=user)


def password_only(user) -> CommittingClient:
    client = CommittingClient()
    assert client.post("/login/", {"username": user.email, "password": PASSWORD}).status_code == 302
    return client


def authenticate(client, key: SoftKey, **kwargs):
    options = post_json(client, "/account/verify/webauthn/options/")
    assert options.status_code == 200, options.content
    return options.json(), post_json(client, "/account/verify/webauthn/?next=/cases/",
                                     {"credential": key.assert_(options.json(), origin=ORIGIN,
                                                                **kwargs)})


def test_registration_keeps_the_key_and_is_audited():
    admin = make_staff(Role.ADMIN, password=PASSWORD)
    client = password_only(admin)  # an admin without a factor: enrolling is all they may do
    key = SoftKey()
    options = post_json(client, "/account/factors/webauthn/options/").json()
    assert options["rp"] == {"id": "testserver", "name": "Casefile"}
    assert options["attestation"] == "none" and options["user"]["name"] == admin.email
    assert options["authenticatorSelection"]["userVerification"] == "discouraged"
    done = post_json(client, "/account/factors/webauthn/verify/",
                     {"name": "YubiKey 5", "credential": key.register(options, origin=ORIGIN)})
    assert done.status_code == 200, done.content
    assert done.json() == {"next": "/account/factors/"}
    stored = WebAuthnCredential.objects.get(user=admin)
    assert stored.credential_id == b64url(key.credential_id)
    assert bytes(stored.public_key) == key.cose_public_key()
    assert stored.name == "YubiKey 5" and stored.transports == ["usb"]
    entry = AuditEntry.objects.get(action="STAFF_FACTOR_ENROLLED")
    assert entry.actor_user_id == admin.id and entry.metadata["factor"] == "webauthn"
    assert entry.reason_code == "ACCOUNT_PROVISIONING"
    # Registering proved the key: the admin is in.
    assert StaffSession.objects.get(user=admin).second_factor == "webauthn"
    assert client.get("/cases/").status_code == 200
    # The same key again is excluded by the options and refused if sent anyway.
    again = post_json(client, "/account/factors/webauthn/options/").json()
    assert again["excludeCredentials"][0]["id"] == b64url(key.credential_id)
    refused = post_json(client, "/account/factors/webauthn/verify/",
                        {"credential": key.register(again, origin=ORIGIN)})
    assert refused.status_code == 409 and WebAuthnCredential.objects.count() == 1


@pytest.mark.parametrize(("origin", "rp_id", "why"), [
    ("https://evil.example", None, "origin"),
    (ORIGIN, "evil.example", "RP ID"),
])
def test_registration_from_elsewhere_is_refused(origin, rp_id, why):
    client = CommittingClient()
    client.force_login(make_staff(Role.ANALYST))
    refused = register(client, SoftKey(), origin=origin, rp_id=rp_id)
    assert refused.status_code == 422 and why in refused.json()["error"]["message"]
    assert not WebAuthnCredential.objects.exists()


def test_signing_in_with_a_key_after_the_password():
    analyst = make_staff(Role.ANALYST, password=PASSWORD)
    key = SoftKey()
    stored = with_key(analyst, key)
    client = password_only(analyst)
    assert client.get("/cases/")["Location"].startswith("/account/verify/")
    page = client.get("/account/verify/?next=/cases/")
    assert b'data-webauthn="authenticate"' in page.content and b"name=\"code\"" not in page.content
    options, answer = authenticate(client, key)
    assert options["allowCredentials"] == [
        {"id": b64url(key.credential_id), "type": "public-key", "transports": ["usb"]}]
    assert answer.status_code == 200, answer.content
    assert answer.json() == {"next": "/cases/"}
    stored.refresh_from_db()
    assert stored.sign_count == key.sign_count and stored.last_used_at is not None
    session = StaffSession.objects.get(session_key=client.session.session_key)
    assert session.second_factor == "webauthn" and session.second_factor_at is not None
    assert client.get("/cases/").status_code == 200


def test_a_challenge_answers_once():
    analyst = make_staff(Role.ANALYST, password=PASSWORD)
    key = SoftKey()
    with_key(analyst, key)
    client = password_only(analyst)
    options, first = authenticate(client, key)
    assert first.status_code == 200
    replay = post_json(client, "/account/verify/webauthn/",
                       {"credential": key.assert_(options, origin=ORIGIN)})
    assert replay.status_code == 422 and "no security-key request" in replay.json()["error"][
        "message"]


@pytest.mark.parametrize(("change", "why"), [
    ({"advance": 0}, "sign count"),  # a cloned key: its counter did not move
    ({"rp_id": "evil.example"}, "RP ID"),
    ({"present": False}, "not present"),
])
def test_a_bad_assertion_is_refused_and_recorded(change, why):
    analyst = make_staff(Role.ANALYST, password=PASSWORD)
    key = SoftKey(sign_count=5)
    with_key(analyst, key)
    client = password_only(analyst)
    _options, answer = authenticate(client, key, **change)
    assert answer.status_code == 422 and why in answer.json()["error"]["message"]
    assert StaffSession.objects.get(session_key=client.session.session_key
                                    ).second_factor_at is None
    failed = AuditEntry.objects.get(action="STAFF_SIGN_IN_FAILED")
    assert failed.resource == f"staff:{analyst.id}" and "security key" in failed.metadata["reason"]
    assert client.get("/cases/").status_code == 302


def test_an_assertion_from_another_origin_or_by_someone_elses_key_is_refused():
    analyst, other = (make_staff(Role.ANALYST, password=PASSWORD) for _ in range(2))
    key, others = SoftKey(), SoftKey()
    with_key(analyst, key)
    with_key(other, others)
    client = password_only(analyst)
    options = post_json(client, "/account/verify/webauthn/options/").json()
    wrong_origin = post_json(client, "/account/verify/webauthn/",
                             {"credential": key.assert_(options, origin="https://evil.example")})
    assert wrong_origin.status_code == 422 and "origin" in wrong_origin.json()["error"]["message"]
    options = post_json(client, "/account/verify/webauthn/options/").json()
    not_yours = post_json(client, "/account/verify/webauthn/",
                          {"credential": others.assert_(options, origin=ORIGIN)})
    assert not_yours.status_code == 422 and "not registered to you" in not_yours.json()[
        "error"]["message"]


def test_the_ceremonies_are_csrf_protected_and_need_a_session():
    analyst = make_staff(Role.ANALYST)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(analyst)
    assert post_json(strict, "/account/factors/webauthn/options/").status_code == 403
    anonymous = post_json(Client(), "/account/factors/webauthn/options/")
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "not_authenticated"
    assert Client().get("/account/verify/webauthn/options/").status_code in (302, 405)
