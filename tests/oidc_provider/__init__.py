"""The test OpenID Connect provider (provider.mjs, panva's oidc-provider on node) as a process
the tests start on 127.0.0.1, and a person's part of a sign-in at it (its login page).

`npm ci --prefix tests/oidc_provider` installs it (scripts/run-tests does). Without node or
that install the OIDC tests are skipped locally, and fail under CI=true.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import requests

HERE = Path(__file__).resolve().parent
CLIENT_ID = "casefile"
CLIENT_SECRET = "casefile-test-secret"
PASSWORD = "correct horse battery staple"


def require_node() -> str:
    """The node binary, or skip (fail under CI) with what is missing."""
    node = shutil.which("node")
    missing = None
    if node is None:
        missing = "node is not installed (apt-get install nodejs npm)"
    elif not (HERE / "node_modules" / "oidc-provider").is_dir():
        missing = "the test OIDC provider is not installed: npm ci --prefix tests/oidc_provider"
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(missing)
        pytest.skip(missing)
    assert node is not None
    return node


class TestProvider:
    """One provider process. `users(...)` says who exists at the IdP; `tamper(mode)` rewrites
    the next ID token (see provider.mjs)."""

    __test__ = False  # not a test class, whatever its name

    def __init__(self, *, redirect_uris: list[str]) -> None:
        node = require_node()
        env = {**os.environ, "CLIENT_ID": CLIENT_ID, "CLIENT_SECRET": CLIENT_SECRET,
               "REDIRECT_URIS": ",".join(redirect_uris), "NODE_ENV": "test"}
        self.process = subprocess.Popen(
            [node, str(HERE / "provider.mjs")], cwd=HERE, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.stderr: list[str] = []
        threading.Thread(target=self._drain_stderr, daemon=True).start()
        line = self._first_line(timeout=20)
        match = re.match(r"listening (http://127\.0\.0\.1:\d+)", line or "")
        if not match:
            self.stop()
            raise RuntimeError(f"the test provider did not start: {line!r} "
                               f"{''.join(self.stderr)[-2000:]}")
        self.issuer = match.group(1)
        self.http = requests.Session()

    def _drain_stderr(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.stderr.append(line)

    def _first_line(self, *, timeout: float) -> str | None:
        box: list[str] = []
        reader = threading.Thread(target=lambda: box.append(self.process.stdout.readline()),
                                  daemon=True)
        reader.start()
        reader.join(timeout)
        return box[0].strip() if box else None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def users(self, **users: dict) -> None:
        """`users(alice={"groups": [...], "email": ...})`: login name → account (password
        PASSWORD unless given; sub = the login name unless given)."""
        body = {login: {"password": PASSWORD, **spec} for login, spec in users.items()}
        self.http.put(f"{self.issuer}/__test__/users", json=body, timeout=10).raise_for_status()

    def tamper(self, mode: str | None) -> None:
        self.http.post(f"{self.issuer}/__test__/tamper", json={"mode": mode},
                       timeout=10).raise_for_status()

    def log_in(self, authorize_url: str, login: str, password: str = PASSWORD,
               *, cancel: bool = False) -> requests.Response:
        """What a person's browser does at the IdP: open the authorization URL, fill the login
        page (or cancel). Returns the last response: the redirect back to the relying party,
        or the IdP's own page when it refused."""
        browser = requests.Session()
        response = self._follow(browser, browser.get(authorize_url, allow_redirects=False,
                                                     timeout=10))
        form = re.search(r'<form method="post" action="([^"]+/login)"', response.text)
        if response.status_code != 200 or form is None:
            return response
        action = urljoin(self.issuer, form.group(1))
        if cancel:
            action = action.rsplit("/", 1)[0] + "/abort"
            response = browser.post(action, allow_redirects=False, timeout=10)
        else:
            response = browser.post(action, data={"login": login, "password": password},
                                    allow_redirects=False, timeout=10)
        return self._follow(browser, response)

    def _follow(self, browser: requests.Session, response: requests.Response):
        """Follow redirects while they stay at the IdP; stop at the one that leaves it."""
        for _ in range(10):
            if response.status_code not in (301, 302, 303, 307, 308):
                return response
            target = urljoin(response.url, response.headers["Location"])
            if not target.startswith(self.issuer):
                return response
            response = browser.get(target, allow_redirects=False, timeout=10)
        raise AssertionError("the IdP redirected too many times")


def back_to(response: requests.Response) -> str:
    """The relying party's callback the IdP sent the browser to, as a path with its query."""
    assert response.status_code in (302, 303), (response.status_code, response.text[:500])
    location = urlsplit(response.headers["Location"])
    return f"{location.path}?{location.query}"
