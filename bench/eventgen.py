"""Realistic event streams for benchmarks: Loghub templates (read from ../shared/data/loghub,
never copied into the repo) with their <*> slots filled by plausible values."""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
LOGHUB = ROOT.parent / "shared" / "data" / "loghub"
FALLBACK_TEMPLATES = [
    ("api", "Request <*> to <*> failed after <*> ms"),
    ("auth", "Failed password for <*> from <*> port <*> ssh2"),
    ("db", "connection <*> closed by peer after <*> queries"),
    ("cache", "cache miss for key user:<*>"),
]
LEVELS = ["info"] * 12 + ["debug"] * 4 + ["warning"] * 3 + ["error"] * 2 + ["critical"]
ENVIRONMENTS = ["prod"] * 6 + ["staging"] * 3 + ["dev"]


def templates(data_dir: Path = LOGHUB) -> list[tuple[str, str]]:
    found = []
    for path in sorted(data_dir.glob("*/*_templates_corrected.csv")):
        service = path.parent.name.lower()
        with path.open(newline="", encoding="utf-8") as f:
            found += [(service, row["EventTemplate"]) for row in csv.DictReader(f)]
    return found or FALLBACK_TEMPLATES


def _fill(template: str, rng: random.Random) -> str:
    parts = template.split("<*>")
    out = [parts[0]]
    for part in parts[1:]:
        kind = rng.random()
        if kind < 0.4:
            value = str(rng.randint(0, 100_000))
        elif kind < 0.6:
            value = f"{rng.randint(1, 254)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}." \
                    f"{rng.randint(1, 254)}"
        elif kind < 0.8:
            value = f"{rng.getrandbits(48):x}"
        else:
            value = rng.choice(["alice", "bob", "svc-batch", "root", "guest", "carol"])
        out += [value, part]
    return "".join(out)


def records(count: int, seed: int = 7, start: datetime | None = None) -> Iterator[dict]:
    rng = random.Random(seed)
    pool = templates()
    start = start or datetime(2026, 11, 1, tzinfo=UTC)
    step = timedelta(days=20) / max(count, 1)
    for i in range(count):
        service, template = pool[int(rng.paretovariate(1.2)) % len(pool)]
        yield {
            "event_id": f"bench-{seed}-{i}",
            "timestamp": (start + step * i).isoformat(),
            "level": rng.choice(LEVELS),
            "service": service,
            "component": f"{service}-{rng.randint(1, 8)}",
            "environment": rng.choice(ENVIRONMENTS),
            "host": f"node-{rng.randint(1, 200):03d}",
            "message": _fill(template, rng),
        }


def write_ndjson(path: Path, count: int, seed: int = 7) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        for record in records(count, seed):
            f.write(orjson.dumps(record) + b"\n")
    return path
