"""The security-key pages in a browser: Chromium's virtual authenticator (DevTools' WebAuthn
domain) answers the page's script, which registers a key and then proves it at sign-in —
the JSON endpoints, the CSRF header and the base64url conversions as a browser exercises them."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from casefile.accounts.models import StaffSession, WebAuthnCredential
from casefile.accounts.roles import Role
from tests.conftest import make_staff

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "correct horse battery staple 42"


def test_a_security_key_is_registered_then_proves_the_sign_in(open_browser, screenshot):
    admin = make_staff(Role.ADMIN, email="key@example.com", password=PASSWORD)
    page = open_browser(admin, PASSWORD)  # password, then an authenticator-app code
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "usb", "hasResidentKey": False,
        "hasUserVerification": False, "automaticPresenceSimulation": True}})

    page.goto("/account/factors/")
    page.fill("#webauthn-register input[name=name]", "Virtual key")
    page.click("button:has-text('Add a security key')")
    expect(page.locator(".messages")).to_contain_text("Security key registered")
    expect(page.locator("#security-keys")).to_contain_text("Virtual key")
    screenshot(page, "second-factors")
    key = WebAuthnCredential.objects.get(user=admin)

    page.click("button:has-text('Sign out')")
    page.goto("/login/")
    page.fill("input[name=username]", admin.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_url("**/account/verify/**")
    screenshot(page, "second-factor-verify")
    page.click("button:has-text('Use a security key')")
    page.wait_for_url("**/cases/**")
    key.refresh_from_db()
    assert key.last_used_at is not None
    session = StaffSession.objects.filter(user=admin).latest("created_at")
    assert session.second_factor == "webauthn"
