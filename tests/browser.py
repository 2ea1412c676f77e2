"""Browser fixtures: Debian's Chromium driven by Playwright against Django's live server.

A plugin (tests/conftest.py's `pytest_plugins`), so that every directory's browser tests share
the one session-wide Playwright: two would each start an event loop on the same thread.

`.ci/run` installs the `chromium` package; without it the browser tests are skipped locally and
fail under CI=true. Screenshots go to CASEFILE_SCREENSHOT_DIR (default var/screenshots;
`make screenshots` writes the ones committed under docs/screenshots/).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from casefile.audit import ledger

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(os.environ.get("CASEFILE_SCREENSHOT_DIR", "var/screenshots"))


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI needs {CHROMIUM} (apt-get install chromium)")
        pytest.skip(f"no {CHROMIUM}: install Debian's chromium to run the browser tests")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop on this thread; the test's own database set-up
    # is ordinary synchronous code, so Django's async-safety guard does not apply to it.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def audit_sequencer(settings):
    """The worker's audit sequencer, on a thread, as beside any production web server: pages
    show chained entries, and chaining is the worker's job, not the request's."""
    settings.AUDIT_SEQUENCE_MS = 50
    stop = threading.Event()
    thread = threading.Thread(target=ledger.sequence_until, args=(stop,), daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(10)


@pytest.fixture
def open_browser(browser, live_server, audit_sequencer):
    """`open_browser(user)` → a page signed in as `user` (through the sign-in form)."""
    contexts = []

    def sign_in(user, password: str):
        """In full: the password, then a code from an authenticator app (enrolled for the
        person here), which also counts as the step-up of the next few minutes."""
        from tests.accounts.helpers import enrol_totp, totp_code

        device = enrol_totp(user)
        context = browser.new_context(viewport={"width": 1400, "height": 900},
                                      base_url=live_server.url)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        page.goto("/login/")
        page.fill("input[name=username]", user.email)
        page.fill("input[name=password]", password)
        page.click("button:has-text('Sign in')")
        page.wait_for_url("**/account/verify/**")
        page.fill("input[name=code]", totp_code(device))
        page.click("button:has-text('Verify')")
        page.wait_for_url("**/cases/**")
        return page

    yield sign_in
    for context in contexts:
        context.close()


@pytest.fixture
def screenshot():
    def take(page, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    return take
