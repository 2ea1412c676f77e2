"""Time: always UTC, always timezone-aware, one textual form for hashing and export."""

from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)


def isoformat(value: datetime) -> str:
    """`2026-11-24T12:00:00.123456Z`: fixed width, so the text form of a timestamp is stable."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: Casefile stores aware UTC timestamps only")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError(f"timestamp without a timezone: {text!r}")
    return value.astimezone(UTC)
