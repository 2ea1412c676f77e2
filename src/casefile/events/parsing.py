"""Reading events out of what clients send: JSON, NDJSON, OTLP/HTTP JSON logs, CSV.

Each parser yields `(line, record)` or `(line, ParseError)` so that good lines are kept and bad
ones reported with where they were. `line` is the 1-based line of the input (NDJSON, CSV), or the
1-based position of the item (a JSON array, OTLP log records).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson

FORMATS = ("auto", "ndjson", "json", "otlp", "csv")
MAX_LINE_BYTES = 1024 * 1024


class UnusableInput(ValueError):
    """The input as a whole cannot be read (not one line of it could be tried)."""


@dataclass(frozen=True)
class ParseError:
    message: str


Parsed = tuple[int, dict[str, Any] | ParseError]


def detect_format(head: bytes) -> str:
    """Guess from the first bytes: JSON starts with { or [ (an OTLP export is a JSON object
    with resourceLogs), a JSON line followed by another is NDJSON, anything else is CSV."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"["):
        return "json"
    if text.startswith(b"{"):
        if b'"resourceLogs"' in text[:4096]:
            return "otlp"
        first, _, rest = text.partition(b"\n")
        if rest.strip():
            try:
                orjson.loads(first)
                return "ndjson"
            except orjson.JSONDecodeError:
                return "json"  # a pretty-printed object spans lines
        return "json"
    if not text:
        return "ndjson"
    return "csv"


def parse_ndjson(lines: Iterable[bytes]) -> Iterator[Parsed]:
    for number, line in enumerate(lines, start=1):
        if len(line) > MAX_LINE_BYTES:
            yield number, ParseError(f"line longer than {MAX_LINE_BYTES} bytes")
            continue
        stripped = line.strip()
        if not stripped:
            continue
        yield number, _object(stripped)


def parse_json(body: bytes) -> Iterator[Parsed]:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise UnusableInput(f"not valid JSON: {_decode_reason(exc)}") from None
    items = document if isinstance(document, list) else [document]
    for number, item in enumerate(items, start=1):
        yield number, item if isinstance(item, dict) else ParseError(
            f"expected a JSON object, got {_json_type(item)}")


def parse_otlp(body: bytes) -> Iterator[Parsed]:
    """OTLP/HTTP JSON logs: resourceLogs → scopeLogs → logRecords, flattened into plain records
    with the resource and scope attributes beside the record's own."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise UnusableInput(f"not valid JSON: {_decode_reason(exc)}") from None
    if not isinstance(document, dict) or not isinstance(document.get("resourceLogs"), list):
        raise UnusableInput("not an OTLP logs export: expected an object with resourceLogs")
    number = 0
    for resource_logs in document["resourceLogs"]:
        resource = _attributes((resource_logs.get("resource") or {}).get("attributes"))
        for scope_logs in resource_logs.get("scopeLogs") or []:
            scope = scope_logs.get("scope") or {}
            for record in scope_logs.get("logRecords") or []:
                number += 1
                if not isinstance(record, dict):
                    yield number, ParseError("expected a logRecord object")
                    continue
                yield number, {
                    "_otlp": True,
                    "record": record,
                    "resource": resource,
                    "scope": scope.get("name", ""),
                    "attributes": _attributes(record.get("attributes")),
                }


def parse_csv(lines: Iterable[bytes]) -> Iterator[Parsed]:
    text = io.TextIOWrapper(io.BufferedReader(_Chain(lines)), encoding="utf-8",
                            errors="replace", newline="")
    reader = csv.DictReader(text)
    if not reader.fieldnames:
        raise UnusableInput("CSV without a header row")
    for row in reader:
        number = reader.line_num
        if None in row:
            yield number, ParseError("more values than header columns")
            continue
        yield number, {k.strip(): v for k, v in row.items() if k and v not in (None, "")}


def _object(raw: bytes) -> dict[str, Any] | ParseError:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return ParseError(f"not valid JSON: {_decode_reason(exc)}")
    if not isinstance(value, dict):
        return ParseError(f"expected a JSON object, got {_json_type(value)}")
    return value


def _decode_reason(exc: orjson.JSONDecodeError) -> str:
    message = str(exc)
    if "utf-8" in message.lower() or "surrogate" in message.lower():
        return "not valid UTF-8"
    return message.split(":")[0]


def _json_type(value: Any) -> str:
    return {list: "an array", str: "a string", int: "a number", float: "a number",
            bool: "a boolean", type(None): "null"}.get(type(value), type(value).__name__)


def _attributes(items: Any) -> dict[str, Any]:
    """OTLP KeyValue list → plain dict (`{"key": k, "value": {"stringValue": v}}` → `{k: v}`)."""
    out: dict[str, Any] = {}
    for item in items or []:
        if isinstance(item, dict) and "key" in item:
            out[item["key"]] = any_value(item.get("value"))
    return out


def any_value(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    for kind in ("stringValue", "boolValue", "doubleValue"):
        if kind in value:
            return value[kind]
    if "intValue" in value:
        try:
            return int(value["intValue"])
        except (TypeError, ValueError):
            return value["intValue"]
    if "arrayValue" in value:
        return [any_value(v) for v in (value["arrayValue"] or {}).get("values") or []]
    if "kvlistValue" in value:
        return _attributes((value["kvlistValue"] or {}).get("values"))
    if "bytesValue" in value:
        return value["bytesValue"]
    return None


class _Chain(io.RawIOBase):
    """Bytes lines as a binary stream (for TextIOWrapper/csv without reading all into memory)."""

    def __init__(self, lines: Iterable[bytes]):
        self._lines = iter(lines)
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending:
            try:
                self._pending = next(self._lines)
            except StopIteration:
                return 0
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n
