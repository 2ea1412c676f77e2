"""Shared set-up for benchmarks: a fresh PostgreSQL database of their own, migrated."""

import os
import sys
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
