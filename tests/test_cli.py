import io
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from django.core.management import CommandError, call_command

from casefile.accounts.models import StaffUser
from tests.conftest import CommittingClient as Client


@pytest.mark.django_db
def test_user_add_token_create_then_me(capsys, monkeypatch):
    call_command("user", "add", "a@example.com", "--role", "admin", "--role", "analyst")
    assert StaffUser.objects.get(email="a@example.com").roles == {"admin", "analyst"}
    capsys.readouterr()
    call_command("token", "create", "a@example.com", "--name", "laptop")
    token = capsys.readouterr().out.strip()
    client = Client()
    assert client.get("/api/v1/me").status_code == 401
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["email"] == "a@example.com"


@pytest.mark.django_db
def test_user_add_reads_the_password_from_stdin(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("a long enough passphrase\n"))
    call_command("user", "add", "p@example.com", "--role", "viewer", "--password-stdin")
    assert StaffUser.objects.get(email="p@example.com").check_password("a long enough passphrase")


@pytest.mark.django_db
def test_cli_errors_are_one_line():
    call_command("user", "add", "d@example.com", "--role", "viewer")
    with pytest.raises(CommandError, match="exists"):
        call_command("user", "add", "d@example.com", "--role", "viewer")
    with pytest.raises(CommandError, match="no staff user"):
        call_command("token", "create", "ghost@example.com")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_fresh_install_migrates_and_serves_health(tmp_path):
    """What `make run` does, on an empty var directory: migrate, then the production server."""
    env = {**os.environ, "CASEFILE_VAR_DIR": str(tmp_path / "var"),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'var' / 'db.sqlite3'}",
           "OBJECT_STORE_URL": f"file://{tmp_path / 'var' / 'objects'}"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    cli = [sys.executable, "-m", "casefile"]
    subprocess.run([*cli, "migrate", "-v0"], env=env, check=True, timeout=120)
    port = _free_port()
    server = subprocess.Popen([*cli, "serve", "--port", str(port), "--workers", "1"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        body = b""
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health") as r:
                    body = r.read()
                break
            except OSError:
                time.sleep(0.2)
        assert b'"status":"ok"' in body
        assert (tmp_path / "var" / "secret_key").exists()
    finally:
        server.terminate()
        server.wait(timeout=30)
