"""Reading events out of what clients send: JSON, NDJSON, OTLP/HTTP JSON logs, CSV.

Each parser yields `(line, record)` or `(line, ParseError)` so that good lines are kept and bad
ones reported with where they were. `line` is the 1-based line of the input (NDJSON, CSV), or the
1-based position of the item (a JSON array, OTLP log records).
"""

from __future__ import annotations

import csv
import io
import re
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
    with the resource and scope attributes beside the record's own. A part of the wrong shape
    is reported in the record numbering where it stood, and the rest is still read."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise UnusableInput(f"not valid JSON: {_decode_reason(exc)}") from None
    if not isinstance(document, dict) or not isinstance(document.get("resourceLogs"), list):
        raise UnusableInput("not an OTLP logs export: expected an object with resourceLogs")
    number = 0
    for r, resource_logs in enumerate(document["resourceLogs"]):
        where = f"resourceLogs[{r}]"
        try:
            _object_at(resource_logs, where)
            resource = _attributes(_object_at(resource_logs.get("resource"), f"{where}.resource",
                                              optional=True).get("attributes"))
            scopes = _list_at(resource_logs.get("scopeLogs"), f"{where}.scopeLogs")
        except ValueError as exc:
            number += 1
            yield number, ParseError(str(exc))
            continue
        for s, scope_logs in enumerate(scopes):
            where = f"resourceLogs[{r}].scopeLogs[{s}]"
            try:
                _object_at(scope_logs, where)
                scope = _object_at(scope_logs.get("scope"), f"{where}.scope", optional=True)
                records = _list_at(scope_logs.get("logRecords"), f"{where}.logRecords")
            except ValueError as exc:
                number += 1
                yield number, ParseError(str(exc))
                continue
            for record in records:
                number += 1
                if not isinstance(record, dict):
                    yield number, ParseError("expected a logRecord object")
                    continue
                try:
                    attributes = _attributes(record.get("attributes"))
                except ValueError as exc:
                    yield number, ParseError(str(exc))
                    continue
                yield number, {
                    "_otlp": True,
                    "record": record,
                    "resource": resource,
                    "scope": scope.get("name", ""),
                    "attributes": attributes,
                }


def _object_at(value: Any, where: str, *, optional: bool = False) -> dict[str, Any]:
    if value is None and optional:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{where} must be an object, not {_json_type(value)}")
    return value


def _list_at(value: Any, where: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ValueError(f"{where} must be an array, not {_json_type(value)}")
    return value


def parse_csv(lines: Iterable[bytes], *, message_columns: Iterable[str] = ()) -> Iterator[Parsed]:
    """CSV with a header row. Bytes that are not UTF-8 reject their row (surrogateescape keeps
    them apart from real text) instead of being stored as replacement characters. With
    `message_columns`, a header holding none of them is refused as a whole: the body is most
    likely not CSV at all (JSON sent as text/csv), and every row would be rejected anyway."""
    text = io.TextIOWrapper(io.BufferedReader(_Chain(lines)), encoding="utf-8",
                            errors="surrogateescape", newline="")
    reader = csv.DictReader(text)
    try:
        header = reader.fieldnames
    except csv.Error as exc:
        raise UnusableInput(f"not readable as CSV: {exc}") from None
    if not header:
        raise UnusableInput("CSV without a header row")
    if any(_NOT_UTF8.search(name) for name in header):
        raise UnusableInput("the CSV header row is not valid UTF-8")
    names = {name.strip() for name in header if name}
    wanted = tuple(message_columns)
    if wanted and not names & set(wanted):
        first = ",".join(header)[:80]
        looks = " (it looks like JSON: send application/json or ?format=)" if first.lstrip(
            ).startswith(("{", "[")) else ""
        raise UnusableInput(f"the CSV header has no message column ({', '.join(wanted)}): "
                            f"{first!r}{looks}")
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # the reader cannot go on: say where it stopped
            yield reader.line_num, ParseError(f"not readable as CSV from here on: {exc}")
            return
        number = reader.line_num
        if None in row:
            yield number, ParseError("more values than header columns")
            continue
        if any(isinstance(v, str) and _NOT_UTF8.search(v) for v in row.values()):
            yield number, ParseError("not valid UTF-8")
            continue
        yield number, {k.strip(): v for k, v in row.items() if k and v not in (None, "")}


# What surrogateescape makes of bytes that are not UTF-8 (valid UTF-8 never decodes to these).
_NOT_UTF8 = re.compile("[\udc80-\udcff]")


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


MAX_VALUE_DEPTH = 32


def _attributes(items: Any, depth: int = 0) -> dict[str, Any]:
    """OTLP KeyValue list → plain dict (`{"key": k, "value": {"stringValue": v}}` → `{k: v}`)."""
    out: dict[str, Any] = {}
    for item in _list_at(items, "attributes"):
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            raise ValueError("attributes must be {key, value} objects with a string key")
        out[item["key"]] = any_value(item.get("value"), depth + 1)
    return out


def any_value(value: Any, depth: int = 0) -> Any:
    if depth > MAX_VALUE_DEPTH:
        raise ValueError(f"attribute values nested deeper than {MAX_VALUE_DEPTH} levels")
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
        inner = _object_at(value["arrayValue"], "arrayValue", optional=True)
        return [any_value(v, depth + 1) for v in _list_at(inner.get("values"), "values")]
    if "kvlistValue" in value:
        inner = _object_at(value["kvlistValue"], "kvlistValue", optional=True)
        return _attributes(inner.get("values"), depth + 1)
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
