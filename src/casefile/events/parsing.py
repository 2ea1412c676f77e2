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
    with the resource and scope attributes beside the record's own.

    The whole export is checked against the OTLP schema before any record is yielded, so a
    part of the wrong type refuses the request (UnusableInput naming the path of the problem,
    `resourceLogs[0].scopeLogs[1].logRecords[3].timeUnixNano: not an integer`) and nothing of
    it is stored: the OTLP spec answers an undecodable request with 400, and a protobuf export
    cannot hold a wrong type at all, so the two encodings are refused alike. A record of the
    right shape that cannot become an event (no body, a value nested too deeply) is rejected
    on its own, in the record numbering where it stood."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise UnusableInput(f"not valid JSON: {_decode_reason(exc)}") from None
    check_otlp_logs(document)
    return _otlp_records(document)


def _otlp_records(document: dict[str, Any]) -> Iterator[Parsed]:
    number = 0
    for resource_logs in document["resourceLogs"] or ():
        resource_error = None
        try:
            resource = _attributes((resource_logs.get("resource") or {}).get("attributes"))
        except ValueError as exc:
            resource, resource_error = {}, ParseError(f"resource: {exc}")
        for scope_logs in resource_logs.get("scopeLogs") or ():
            scope = scope_logs.get("scope") or {}
            for record in scope_logs.get("logRecords") or ():
                number += 1
                if resource_error:
                    yield number, resource_error
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
                    "scope": scope.get("name") or "",
                    "attributes": attributes,
                }


class _Invalid(ValueError):
    pass


def check_otlp_logs(document: Any) -> None:
    """Raise UnusableInput naming the first part of `document` that does not follow the OTLP
    JSON encoding of an ExportLogsServiceRequest (lowerCamelCase names, 64-bit integers as
    numbers or decimal strings, trace and span ids in hex, enums as integers). Unknown fields
    are ignored, as the spec asks of receivers; null stands for an absent field."""
    try:
        if not isinstance(document, dict) or "resourceLogs" not in document:
            raise _Invalid("not an OTLP logs export: expected an object with resourceLogs")
        _check_fields(document, _REQUEST, "", 0)
    except _Invalid as exc:
        raise UnusableInput(str(exc)) from None


def _check_fields(value: Any, fields: dict[str, Any], where: str, depth: int) -> None:
    if not isinstance(value, dict):
        raise _Invalid(f"{where or 'the request'}: not an object")
    for name, check in fields.items():
        item = value.get(name)
        if item is not None:
            check(item, f"{where}.{name}" if where else name, depth)


def _repeated(check: Any) -> Any:
    def repeated(value: Any, where: str, depth: int) -> None:
        if not isinstance(value, list):
            raise _Invalid(f"{where}: not an array")
        for i, item in enumerate(value):
            check(item, f"{where}[{i}]", depth)
    return repeated


def _message(fields: dict[str, Any]) -> Any:
    return lambda value, where, depth: _check_fields(value, fields, where, depth)


def _string(value: Any, where: str, depth: int) -> None:
    if not isinstance(value, str):
        raise _Invalid(f"{where}: not a string")


def _boolean(value: Any, where: str, depth: int) -> None:
    if not isinstance(value, bool):
        raise _Invalid(f"{where}: not a boolean")


def _integer(low: int, high: int) -> Any:
    def integer(value: Any, where: str, depth: int) -> None:
        if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,20}", value):
            value = int(value)
        elif isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Invalid(f"{where}: not an integer")
        if not low <= value <= high:
            raise _Invalid(f"{where}: {value} is out of range for its type")
    return integer


def _double(value: Any, where: str, depth: int) -> None:
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            raise _Invalid(f"{where}: not a number") from None
    elif isinstance(value, bool) or not isinstance(value, int | float):
        raise _Invalid(f"{where}: not a number")


def _hex_id(size: int) -> Any:
    def hex_id(value: Any, where: str, depth: int) -> None:
        if not isinstance(value, str) or (value and not re.fullmatch(
                f"[0-9a-fA-F]{{{2 * size}}}", value)):
            raise _Invalid(f"{where}: not a {size}-byte id in hex")
    return hex_id


def _any_value(value: Any, where: str, depth: int) -> None:
    if depth > MAX_VALUE_DEPTH:
        return  # deeper still is the record's own problem (rejected, see any_value)
    _check_fields(value, _ANY_VALUE, where, depth + 1)


def _key_value(value: Any, where: str, depth: int) -> None:
    _check_fields(value, {"key": _string, "value": _any_value}, where, depth)
    if not value.get("key"):
        raise _Invalid(f"{where}.key: missing")


_UINT32, _INT32 = _integer(0, 2**32 - 1), _integer(-(2**31), 2**31 - 1)
_FIXED64, _INT64 = _integer(0, 2**64 - 1), _integer(-(2**63), 2**63 - 1)
_KEY_VALUES = _repeated(_key_value)
_ANY_VALUE: dict[str, Any] = {
    "stringValue": _string, "boolValue": _boolean, "intValue": _INT64, "doubleValue": _double,
    "arrayValue": _message({"values": _repeated(_any_value)}),
    "kvlistValue": _message({"values": _KEY_VALUES}), "bytesValue": _string,
}
_WITH_ATTRIBUTES = {"attributes": _KEY_VALUES, "droppedAttributesCount": _UINT32}
_LOG_RECORD = {
    "timeUnixNano": _FIXED64, "observedTimeUnixNano": _FIXED64, "severityNumber": _INT32,
    "severityText": _string, "body": _any_value, **_WITH_ATTRIBUTES, "flags": _UINT32,
    "traceId": _hex_id(16), "spanId": _hex_id(8), "eventName": _string,
}
_SCOPE_LOGS = {
    "scope": _message({"name": _string, "version": _string, **_WITH_ATTRIBUTES}),
    "logRecords": _repeated(_message(_LOG_RECORD)), "schemaUrl": _string,
}
_RESOURCE_LOGS = {
    "resource": _message(_WITH_ATTRIBUTES),
    "scopeLogs": _repeated(_message(_SCOPE_LOGS)), "schemaUrl": _string,
}
_REQUEST = {"resourceLogs": _repeated(_message(_RESOURCE_LOGS))}


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
