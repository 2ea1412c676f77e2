"""`casefile run` (what `make run` starts): the web app and the worker together, so a change's
ledger entry reaches write-once storage with no other command; one signal stops both; if
either dies, the other is stopped and the command fails."""

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.test_cli import _free_port

CLI = [sys.executable, "-m", "casefile"]


@pytest.fixture
def var(tmp_path) -> dict[str, str]:
    var = tmp_path / "var"
    env = {**os.environ, "CASEFILE_VAR_DIR": str(var),
           "DATABASE_URL": f"sqlite:///{var / 'db.sqlite3'}",
           "OBJECT_STORE_URL": f"file://{var / 'objects'}",
           # The shipping period is 30 s (tests/core/test_worker.py holds it under a minute);
           # here it is 1 s so the test does not wait.
           "PERIODIC_JOB_SECONDS": json.dumps({"audit_ship": 1})}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    subprocess.run([*CLI, "migrate", "-v0"], env=env, check=True, timeout=180)
    return env


def _start(env: dict[str, str]) -> tuple[subprocess.Popen, int, dict[str, int]]:
    port = _free_port()
    run = subprocess.Popen([*CLI, "run", "--port", str(port), "--workers", "1", "--threads", "2"],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert run.stdout is not None
    banner = run.stdout.readline()
    pids = {name: int(pid) for name, pid in re.findall(r"(web|worker) \(pid (\d+)\)", banner)}
    assert set(pids) == {"web", "worker"}, banner + (run.stderr.read() if run.stderr else "")
    for _ in range(150):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health") as r:
                if r.status == 200:
                    return run, port, pids
        except OSError:
            time.sleep(0.2)
    run.kill()
    pytest.fail("the web app never answered")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")  # a zombie is gone in all but name
    return not (stat.exists() and stat.read_text().split(") ", 1)[1].startswith("Z"))


def _shipped(var_dir: str) -> str:
    segments = Path(var_dir, "objects", "data", "audit", "segments")
    return "".join(p.read_text() for p in segments.glob("*.ndjson")) if segments.exists() else ""


def test_run_ships_a_change_to_write_once_storage_and_stops_on_sigterm(var):
    run, _, pids = _start(var)
    try:
        subprocess.run([*CLI, "user", "add", "new@example.com", "--role", "viewer"], env=var,
                       check=True, timeout=120, capture_output=True)
        deadline = time.monotonic() + 60
        while "new@example.com" not in _shipped(var["CASEFILE_VAR_DIR"]):
            assert time.monotonic() < deadline, "the change never reached the object store"
            assert run.poll() is None
            time.sleep(0.5)
    finally:
        run.send_signal(signal.SIGTERM)
        _, stderr = run.communicate(timeout=90)
    assert run.returncode == 0, stderr[-3000:]
    assert not _alive(pids["web"]) and not _alive(pids["worker"])


def test_when_the_worker_dies_run_stops_the_web_app_and_fails(var):
    run, port, pids = _start(var)
    try:
        os.kill(pids["worker"], signal.SIGKILL)
        run.wait(90)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode != 0
    assert run.stderr is not None and "worker process exited" in run.stderr.read()
    assert not _alive(pids["web"])
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=2)
