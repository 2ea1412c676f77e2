"""A person signs in to the console through the IdP's own login page, in Chromium."""

from __future__ import annotations

import pytest

from casefile.accounts.models import StaffSession, StaffUser
from casefile.accounts.roles import Role
from tests.oidc_provider import CLIENT_ID, CLIENT_SECRET, PASSWORD, TestProvider


@pytest.fixture
def idp_for_live_server(live_server, settings):
    provider = TestProvider(redirect_uris=[f"{live_server.url}/login/oidc/callback/"])
    settings.OIDC_ISSUER = provider.issuer
    settings.OIDC_CLIENT_ID = CLIENT_ID
    settings.OIDC_CLIENT_SECRET = CLIENT_SECRET
    settings.OIDC_ROLE_MAP = "cf-analysts=analyst"
    settings.OIDC_PROVIDER_NAME = "Test IdP"
    yield provider
    provider.stop()


def test_signing_in_through_the_idps_page_lands_in_the_console(
        browser, live_server, audit_sequencer, idp_for_live_server, screenshot):
    idp = idp_for_live_server
    idp.users(dana={"email": "dana@corp.example", "name": "Dana", "groups": ["cf-analysts"]})
    context = browser.new_context(viewport={"width": 1200, "height": 800},
                                  base_url=live_server.url)
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        page.goto("/cases/")  # not signed in: to the login page, which offers the IdP
        page.wait_for_url("**/login/**")
        screenshot(page, "sign-in-with-idp")
        page.click("text=Sign in with Test IdP")
        page.wait_for_url(f"{idp.issuer}/interaction/**")
        page.fill("input[name=login]", "dana")
        page.fill("input[name=password]", PASSWORD)
        page.click("button:has-text('Continue')")
        page.wait_for_url(f"{live_server.url}/cases/**")
        assert "dana@corp.example" in page.inner_text("header")
        user = StaffUser.objects.get(oidc_issuer=idp.issuer, oidc_subject="dana")
        assert user.roles == {Role.ANALYST}
        assert StaffSession.objects.get(user=user).method == "oidc"
    finally:
        context.close()
