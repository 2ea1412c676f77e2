"""Shared set-up for benchmarks: a fresh PostgreSQL database of their own, migrated, and a
gunicorn serving it."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/casefile_bench"


def fresh_database(name_suffix: str = "") -> str:
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL) + name_suffix
    base, _, dbname = url.rpartition("/")
    admin_url = (base + "/postgres").replace("postgres://", "postgresql://", 1)
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{dbname}"')
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("CASEFILE_VAR_DIR", str(ROOT / "var" / "bench"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "casefile.settings")
    sys.path.insert(0, str(ROOT / "src"))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return url


def latency(client, url: str, repeat: int) -> tuple[float, float]:
    """(p50, p95) in ms of `repeat` GETs of `url` after one warm-up; every answer must be 200."""
    import statistics
    import time

    client.get(url)  # warm-up: plan caches, first connection
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = client.get(url)
        timings.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (url, response.status_code, response.content[:300])
    timings.sort()
    return statistics.median(timings), timings[min(len(timings) - 1, int(0.95 * len(timings)))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(port: int) -> None:
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


@contextmanager
def gunicorn(url: str, *, workers: int, threads: int = 1,
             env: dict[str, str] | None = None) -> Iterator[int]:
    """gunicorn serving Casefile on a free port, stopped afterwards: `casefile serve`'s server
    and settings (access log, timeout, request line), started without its production checks,
    which ask for secrets (signing and master keys, allowed hosts) a bench does not have."""
    from django.db import connections

    connections.close_all()
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "casefile.wsgi:application",
         "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--threads", str(threads),
         "--access-logfile", "-", "--timeout", "120", "--limit-request-line", "8190"],
        env={**os.environ, "DATABASE_URL": url, **(env or {})}, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    try:
        wait_for(port)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=60)
