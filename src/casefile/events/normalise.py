"""From a parsed record to an event row: field names, severities and timestamps made uniform.

Accepts the field names clients commonly use (`level`, `msg`, `@timestamp`, `host`, …), the
eight RFC 5424 severities by number or common name, OTLP severity numbers, and timestamps in ISO
8601 or epoch seconds, milliseconds, microseconds or nanoseconds (told apart by magnitude).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from casefile.core.ids import new_id
from casefile.core.schemas import MAX_INSTANT, MIN_INSTANT
from casefile.events.fingerprint import fingerprint as compute_fingerprint
from casefile.events.parsing import ParseError, any_value
from casefile.events.severity import Severity, from_otlp_number, parse_severity

ALIASES: dict[str, tuple[str, ...]] = {
    "occurred_at": ("occurred_at", "timestamp", "time", "ts", "@timestamp", "datetime", "date"),
    "severity": ("severity", "level", "severity_text", "loglevel", "log_level", "levelname"),
    "message": ("message", "msg", "body", "text", "content", "log"),
    "component": ("component", "logger", "module", "subsystem"),
    "service": ("service", "service.name", "app", "application"),
    "environment": ("environment", "env", "deployment.environment"),
    "system_id": ("system_id", "host", "hostname", "host.name", "device", "system"),
    "event_type": ("event_type", "type", "event", "event.name"),
    "fingerprint": ("fingerprint",),
    "event_id": ("event_id", "id", "uuid", "eventId"),
    "source": ("source",),
}
MAX_LENGTHS = {"component": 200, "service": 200, "environment": 100, "system_id": 200,
               "event_type": 200, "fingerprint": 64, "source": 100}
MAX_MESSAGE_CHARS = 64 * 1024
# Epoch values above these are milliseconds, microseconds, nanoseconds.
_EPOCH_SCALES = ((1e11, 1), (1e14, 1e3), (1e17, 1e6), (float("inf"), 1e9))
COLUMNS = ("id", "occurred_at", "ingested_at", "severity", "component", "service", "environment",
           "system_id", "event_type", "message", "raw_payload", "fingerprint", "source",
           "dedupe_key")


@dataclass(slots=True)
class EventRow:
    occurred_at: datetime
    severity: int
    component: str
    service: str
    environment: str
    system_id: str
    event_type: str
    message: str
    raw_json: str  # the payload as received, serialised once for COPY/INSERT
    fingerprint: str
    source: str
    dedupe_key: str

    def values(self, ingested_at: datetime) -> tuple:
        return (new_id("evt"), self.occurred_at, ingested_at, self.severity, self.component,
                self.service, self.environment, self.system_id, self.event_type, self.message,
                self.raw_json, self.fingerprint, self.source, self.dedupe_key)


def normalise(record: dict[str, Any], *, default_source: str,
              received_at: datetime) -> EventRow | ParseError:
    try:
        if record.get("_otlp") is True:
            fields, raw = _from_otlp(record)
        else:
            fields, raw = _pick(record), record
        return _row(fields, raw, default_source=default_source, received_at=received_at)
    except (ValueError, TypeError) as exc:  # TypeError: orjson's, for values JSON cannot hold
        return ParseError(str(exc))
    except RecursionError:
        return ParseError("nested too deeply")


def _pick(record: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name, aliases in ALIASES.items():
        for alias in aliases:
            if alias in record and record[alias] not in (None, ""):
                fields[name] = record[alias]
                break
    return fields


def _from_otlp(item: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    record, resource, attributes = item["record"], item["resource"], item["attributes"]
    fields: dict[str, Any] = {
        "message": any_value(record.get("body")),
        "service": resource.get("service.name"),
        "environment": resource.get("deployment.environment.name")
        or resource.get("deployment.environment"),
        "system_id": resource.get("host.name") or resource.get("host.id"),
        "component": attributes.get("component") or item["scope"],
        "event_type": record.get("eventName") or attributes.get("event.name"),
        "event_id": attributes.get("event.id") or attributes.get("log.record.uid"),
    }
    time = record.get("timeUnixNano") or record.get("observedTimeUnixNano")
    if time not in (None, "", "0", 0):
        fields["occurred_at"] = _epoch(int(time), scale=1e9)
    if record.get("severityNumber"):
        fields["severity"] = from_otlp_number(int(record["severityNumber"]))
    elif record.get("severityText"):
        fields["severity"] = record["severityText"]
    if not isinstance(fields["message"], str) and fields["message"] is not None:
        fields["message"] = orjson.dumps(fields["message"]).decode()
    raw = {"resource": resource, "scope": item["scope"], "logRecord": record}
    return {k: v for k, v in fields.items() if v not in (None, "")}, raw


def _row(fields: dict[str, Any], raw: dict[str, Any], *, default_source: str,
         received_at: datetime) -> EventRow:
    message = fields.get("message")
    if message is None:
        raise ValueError("missing message (or msg, body, text)")
    if not isinstance(message, str):
        raise ValueError(f"message must be a string, not {type(message).__name__}")
    if len(message) > MAX_MESSAGE_CHARS:
        raise ValueError(f"message longer than {MAX_MESSAGE_CHARS} characters")
    text = {name: _text(fields, name) for name in MAX_LENGTHS}
    occurred = fields.get("occurred_at")
    occurred_at = received_at if occurred is None else parse_timestamp(occurred)
    severity = Severity.INFO if "severity" not in fields else parse_severity(fields["severity"])
    raw_json = orjson.dumps(raw, option=orjson.OPT_SORT_KEYS).decode()
    if "\\u0000" in raw_json or "\x00" in message:
        raise ValueError("NUL characters are not accepted")
    source = text["source"] or default_source
    # The dedupe key is unique per source (the source is part of what is hashed), so two
    # sources may use the same event ids, or send the same payload, without one being dropped.
    if "event_id" in fields:
        key_material = f"id\x1f{source}\x1f{fields['event_id']}".encode()
    else:
        key_material = f"raw\x1f{source}\x1f".encode() + raw_json.encode()
    fingerprint = text["fingerprint"] or compute_fingerprint(
        message=message, component=text["component"], service=text["service"],
        event_type=text["event_type"])[0]
    return EventRow(
        occurred_at=occurred_at, severity=int(severity), component=text["component"],
        service=text["service"], environment=text["environment"], system_id=text["system_id"],
        event_type=text["event_type"], message=message, raw_json=raw_json,
        fingerprint=fingerprint, source=source,
        dedupe_key=hashlib.sha256(key_material).hexdigest()[:40],
    )


def _text(fields: dict[str, Any], name: str) -> str:
    value = fields.get(name)
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f"{name} must be a string, not {type(value).__name__}")
    value = str(value).strip()
    if len(value) > MAX_LENGTHS[name]:
        raise ValueError(f"{name} longer than {MAX_LENGTHS[name]} characters")
    return value


def parse_timestamp(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, bool):
        raise ValueError("timestamp must be ISO 8601 text or an epoch number")
    if isinstance(value, int | float):
        return _epoch(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return _epoch(float(text))
        except ValueError:
            pass
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise ValueError(f"unreadable timestamp {value!r} (use ISO 8601 or epoch)") from None
        try:
            moment = (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
        except OverflowError:
            raise ValueError(f"timestamp {value!r} is out of range") from None
        if not MIN_INSTANT <= moment < MAX_INSTANT:
            raise ValueError(f"timestamp {value!r} is out of range")
        return moment
    raise ValueError("timestamp must be ISO 8601 text or an epoch number")


def _epoch(value: float, scale: float | None = None) -> datetime:
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an integer too large for a float
        finite = False
    if not finite:
        raise ValueError("timestamp is out of range")
    if scale is None:
        scale = next(s for limit, s in _EPOCH_SCALES if abs(value) < limit)
    try:
        moment = datetime.fromtimestamp(value / scale, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise ValueError(f"timestamp {value} is out of range") from None
    if not MIN_INSTANT <= moment < MAX_INSTANT:
        raise ValueError(f"timestamp {value} is out of range")
    return moment
