"""OTLP/HTTP logs as an OpenTelemetry Collector's `otlphttp` exporter sends them by default:
protobuf (`application/x-protobuf`) or JSON, gzip-compressed or not.

A protobuf export is decoded with the official `opentelemetry-proto` messages and turned into
its OTLP JSON form (lowerCamelCase names, 64-bit integers as decimal strings, enums as
integers, trace and span ids in hex), which is what a collector sends with `encoding: json`.
Both encodings then go through the one JSON reader (`parsing.parse_otlp`), so an export gives
the same events, with the same raw payloads and dedupe keys, whichever way it came.
"""

from __future__ import annotations

import base64
import math
import zlib
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from casefile.core.errors import AppError, PayloadTooLarge
from casefile.events.parsing import UnusableInput

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
_GZIP_WBITS = 16 + zlib.MAX_WBITS  # a gzip header and trailer around deflate


class BadExport(AppError):
    """The request cannot be decoded, or does not follow the OTLP schema (the spec's 400)."""

    status = 400
    code = "bad_request"


class UnsupportedEncoding(AppError):
    status = 415
    code = "unsupported_media_type"


def decoded_body(body: bytes, content_encoding: str, *, limit: int) -> bytes:
    """Undo `Content-Encoding` (gzip or identity, in the order applied). The decompressed size
    is bounded by the same `limit` as a plain body, so a small bomb cannot fill the memory."""
    codings = [c.strip().lower() for c in content_encoding.split(",") if c.strip()]
    for coding in reversed(codings):
        if coding in ("gzip", "x-gzip"):
            body = _gunzip(body, limit)
        elif coding != "identity":
            raise UnsupportedEncoding(f"unsupported Content-Encoding {coding!r}",
                                      details={"supported": ["gzip", "identity"]})
    return body


def _gunzip(body: bytes, limit: int) -> bytes:
    out = bytearray()
    inflater = zlib.decompressobj(_GZIP_WBITS)
    pending = body
    try:
        while pending:
            out += inflater.decompress(pending, limit + 1 - len(out))
            if len(out) > limit:
                raise PayloadTooLarge("request body too large once decompressed",
                                      details={"limit_bytes": limit})
            if inflater.eof:  # gzip allows members one after another
                pending = inflater.unused_data
                if pending:
                    inflater = zlib.decompressobj(_GZIP_WBITS)
            else:
                pending = inflater.unconsumed_tail
    except zlib.error as exc:
        raise BadExport(f"Content-Encoding gzip, but the body is not valid gzip: {exc}") from None
    if not inflater.eof:
        raise BadExport("Content-Encoding gzip, but the body is not valid gzip: it ends early")
    return bytes(out)


def from_protobuf(body: bytes) -> dict[str, Any]:
    """An ExportLogsServiceRequest in protobuf → its OTLP JSON form: what protobuf's own JSON
    mapping gives (`MessageToDict` with enums as integers) with the ids in hex. Log records,
    attributes and values, nearly all of an export, are walked by hand (three times faster
    than `MessageToDict`); anything this code does not know, from a newer
    `opentelemetry-proto`, goes through `MessageToDict` so that it is kept all the same."""
    try:
        request = ExportLogsServiceRequest.FromString(body)
    except (DecodeError, RecursionError, ValueError) as exc:
        raise UnusableInput(f"not an ExportLogsServiceRequest: {exc}") from None
    resource_logs_out = []
    for resource_logs in request.resource_logs:
        scope_logs_out = []
        for scope_logs in resource_logs.scope_logs:
            scope: dict[str, Any] = {}
            if scope_logs.HasField("scope"):
                scope["scope"] = _to_dict(scope_logs.scope)
            if scope_logs.log_records:
                scope["logRecords"] = [_log_record(r) for r in scope_logs.log_records]
            if scope_logs.schema_url:
                scope["schemaUrl"] = scope_logs.schema_url
            scope_logs_out.append(scope)
        resource: dict[str, Any] = {}
        if resource_logs.HasField("resource"):
            resource["resource"] = _to_dict(resource_logs.resource)
        if scope_logs_out:
            resource["scopeLogs"] = scope_logs_out
        if resource_logs.schema_url:
            resource["schemaUrl"] = resource_logs.schema_url
        resource_logs_out.append(resource)
    return {"resourceLogs": resource_logs_out}


def _to_dict(message: Any) -> dict[str, Any]:
    return json_format.MessageToDict(message, use_integers_for_enums=True)


def _known(message: Any, *names: str) -> bool:
    return {f.name for f in message.DESCRIPTOR.fields} <= set(names)


_KNOWN_RECORD = _known(LogRecord, "time_unix_nano", "observed_time_unix_nano", "severity_number",
                       "severity_text", "body", "attributes", "dropped_attributes_count",
                       "flags", "trace_id", "span_id", "event_name")
_KEY_VALUE_EXTRA = [f.name for f in KeyValue.DESCRIPTOR.fields if f.name not in ("key", "value")]
_ANY_KINDS = {"string_value": "stringValue", "bool_value": "boolValue",
              "int_value": "intValue", "double_value": "doubleValue",
              "bytes_value": "bytesValue"}


def _log_record(record: LogRecord) -> dict[str, Any]:
    if not _KNOWN_RECORD:
        out = _to_dict(record)
        for name in ("traceId", "spanId"):  # protobuf's JSON has them in base64
            if name in out:
                out[name] = base64.b64decode(out[name]).hex()
        return out
    out = {}
    if record.time_unix_nano:
        out["timeUnixNano"] = str(record.time_unix_nano)
    if record.observed_time_unix_nano:
        out["observedTimeUnixNano"] = str(record.observed_time_unix_nano)
    if record.severity_number:
        out["severityNumber"] = record.severity_number
    if record.severity_text:
        out["severityText"] = record.severity_text
    if record.HasField("body"):
        out["body"] = _any_value(record.body)
    if record.attributes:
        out["attributes"] = [_key_value(kv) for kv in record.attributes]
    if record.dropped_attributes_count:
        out["droppedAttributesCount"] = record.dropped_attributes_count
    if record.flags:
        out["flags"] = record.flags
    if record.trace_id:
        out["traceId"] = record.trace_id.hex()
    if record.span_id:
        out["spanId"] = record.span_id.hex()
    if record.event_name:
        out["eventName"] = record.event_name
    return out


def _key_value(kv: KeyValue) -> dict[str, Any]:
    if not kv.key and any(getattr(kv, name) for name in _KEY_VALUE_EXTRA):
        return _to_dict(kv)  # a key by string-table index (profiles), not by name
    out: dict[str, Any] = {}
    if kv.key:
        out["key"] = kv.key
    if kv.HasField("value"):
        out["value"] = _any_value(kv.value)
    return out


def _any_value(value: AnyValue) -> dict[str, Any]:
    kind = value.WhichOneof("value")
    if kind is None:
        return {}
    if kind == "array_value":
        values = [_any_value(v) for v in value.array_value.values]
        return {"arrayValue": {"values": values} if values else {}}
    if kind == "kvlist_value":
        pairs = [_key_value(kv) for kv in value.kvlist_value.values]
        return {"kvlistValue": {"values": pairs} if pairs else {}}
    if kind not in _ANY_KINDS or kind == "double_value" and not math.isfinite(value.double_value):
        return _to_dict(value)  # NaN and infinities are strings in protobuf's JSON
    item = getattr(value, kind)
    if kind == "int_value":
        item = str(item)
    elif kind == "bytes_value":
        item = base64.b64encode(item).decode()
    return {_ANY_KINDS[kind]: item}


def export_response(*, rejected: int, error_message: str, protobuf: bool) -> bytes | dict:
    """The ExportLogsServiceResponse, in the encoding of the request; `partialSuccess` is
    filled only when records were rejected (empty means full success)."""
    if protobuf:
        response = ExportLogsServiceResponse()
        if rejected:
            response.partial_success.rejected_log_records = rejected
            response.partial_success.error_message = error_message
        return response.SerializeToString()
    partial = {"rejectedLogRecords": rejected, "errorMessage": error_message} if rejected else {}
    return {"partialSuccess": partial}
