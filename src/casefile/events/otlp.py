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
import zlib
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)

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
    """An ExportLogsServiceRequest in protobuf → its OTLP JSON form."""
    try:
        request = ExportLogsServiceRequest.FromString(body)
    except (DecodeError, RecursionError, ValueError) as exc:
        raise UnusableInput(f"not an ExportLogsServiceRequest: {exc}") from None
    document = json_format.MessageToDict(request, use_integers_for_enums=True)
    # protobuf's JSON mapping writes bytes in base64; OTLP/JSON writes these two ids in hex.
    for resource_logs in document.get("resourceLogs", ()):
        for scope_logs in resource_logs.get("scopeLogs", ()):
            for record in scope_logs.get("logRecords", ()):
                for name in ("traceId", "spanId"):
                    if name in record:
                        record[name] = base64.b64decode(record[name]).hex()
    document.setdefault("resourceLogs", [])
    return document


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
