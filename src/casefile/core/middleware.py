import io
from http import HTTPStatus
from urllib.parse import unquote_to_bytes

from django.conf import settings
from django.core.handlers.wsgi import LimitedStream
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from casefile.core.errors import (
    AppError,
    LengthRequired,
    PayloadTooLarge,
    UriTooLong,
    ValidationFailed,
)
from casefile.core.http import error_response, json_error

MAX_URI_BYTES = 4096  # below gunicorn's own request-line limit, so the answer is ours


class RequestSizeLimitMiddleware:
    """The edge of every request, before anything reads it:

    - a URI over `MAX_URI_BYTES` is a 414, and a NUL in the path or the query string a 400
      (PostgreSQL text cannot hold one; without this check it fails deep in a query);
    - a body over `MAX_REQUEST_BYTES` is a 413, whether its size is declared or not. Under WSGI
      a body sent without Content-Length (chunked) reads as empty to Django, so it would be
      answered as if nothing had been sent: it is read here, bounded, and handed on with its
      length;
    - under /api/, every 4xx that Django answers outside the API's handlers (405, 404 of an
      unknown path, 400 of a bad host, …) is put in the one error shape.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            self._check(request)
        except AppError as exc:
            if request.path.startswith("/api/"):
                return error_response(exc)
            return render(request, "400.html", {"error": exc}, status=exc.status)
        response = self.get_response(request)
        if request.path.startswith("/api/"):
            return _shaped(response)
        return response

    def _check(self, request: HttpRequest) -> None:
        query = request.META.get("QUERY_STRING", "")
        if len(request.get_full_path().encode()) > MAX_URI_BYTES:
            raise UriTooLong("the URI is too long",
                             details={"limit_bytes": MAX_URI_BYTES})
        if "\x00" in request.path or b"\x00" in unquote_to_bytes(query.replace("+", " ")):
            raise ValidationFailed("NUL characters are not accepted in the path or query")
        limit = settings.MAX_REQUEST_BYTES
        declared = request.META.get("CONTENT_LENGTH")
        if declared:
            if declared.isdigit() and int(declared) > limit:
                raise PayloadTooLarge("request body too large",
                                      details={"limit_bytes": limit,
                                               "declared_bytes": int(declared)})
            return
        if "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
            _read_chunked(request, limit)


def _read_chunked(request: HttpRequest, limit: int) -> None:
    """Read a body of undeclared length, at most `limit` bytes, and let Django see it as a body
    of that length."""
    if not request.META.get("wsgi.input_terminated"):
        # The server does not mark the end of the body: reading could wait forever.
        raise LengthRequired("send a Content-Length with the body")
    stream = request.META["wsgi.input"]
    chunks, size = [], 0
    while size <= limit:
        chunk = stream.read(min(65536, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > limit:
        raise PayloadTooLarge("request body too large", details={"limit_bytes": limit})
    body = b"".join(chunks)
    request.META["CONTENT_LENGTH"] = str(len(body))
    request._stream = LimitedStream(io.BytesIO(body), len(body))  # type: ignore[assignment]


_CODES = {400: "bad_request", 401: "not_authenticated", 403: "forbidden", 404: "not_found",
          405: "method_not_allowed", 409: "conflict", 411: "length_required",
          413: "payload_too_large", 414: "uri_too_long", 415: "unsupported_media_type",
          422: "validation_error", 429: "throttled"}


def _shaped(response: HttpResponse) -> HttpResponse:
    if not 400 <= response.status_code < 500:
        return response
    if response.get("Content-Type", "").startswith("application/json"):
        return response
    status = response.status_code
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "error"
    details = None
    if status == 405 and response.has_header("Allow"):
        details = {"allowed": [m.strip() for m in response["Allow"].split(",")]}
    shaped = json_error(status, _CODES.get(status, "http_error"), phrase.lower(), details)
    for header in ("Allow", "Retry-After", "WWW-Authenticate"):
        if response.has_header(header):
            shaped[header] = response[header]
    return shaped


class SecurityHeadersMiddleware:
    """Content-Security-Policy and Permissions-Policy on every response (Django 5.2 has no CSP
    of its own; SecurityMiddleware sets the others)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        response.headers.setdefault("Permissions-Policy",
                                    "camera=(), microphone=(), geolocation=(), payment=()")
        return response
