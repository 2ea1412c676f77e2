"""The one small HTTP client the vendor adapters share (plain `urllib.request`, as
`casefile.trust.dsa` does): a base URL from settings, a timeout on every call, redirects refused
(a redirect would replay the credentials to another host), responses read up to a bound, and
every failure turned into `ProviderError` (retryable for network errors, timeouts, 429, 5xx).
"""

from __future__ import annotations

import secrets
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from casefile.documents.esign.base import ProviderError

# A signed contract is a few hundred kilobytes; a vendor's JSON far less. Larger is refused
# rather than held in memory.
MAX_RESPONSE_BYTES = 32 * 1024 * 1024
DEFAULT_TIMEOUT = 30.0


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any,
                         newurl: str) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        try:
            return orjson.loads(self.body)
        except orjson.JSONDecodeError as exc:
            raise ProviderError(f"provider answered {self.status} with a body that is not JSON",
                                status=self.status) from exc


def request(method: str, url: str, *, headers: Mapping[str, str] | None = None,
            body: bytes | None = None, timeout: float = DEFAULT_TIMEOUT,
            ok: Sequence[int] = (200, 201, 202, 204), what: str = "request") -> Response:
    """One call. A status outside `ok` raises ProviderError with the vendor's message."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ProviderError(f"{what}: refusing a non-http(s) URL")
    req = urllib.request.Request(url, data=body, method=method,  # noqa: S310 - scheme checked
                                 headers=dict(headers or {}))
    try:
        with _opener.open(req, timeout=timeout) as resp:
            payload = _bounded(resp)
            status, resp_headers = resp.status, dict(resp.headers.items())
    except urllib.error.HTTPError as exc:
        with exc:
            payload = _bounded(exc)
        status, resp_headers = exc.code, dict(exc.headers.items()) if exc.headers else {}
    except TimeoutError as exc:
        raise ProviderError(f"{what}: timed out", retryable=True) from exc
    except (urllib.error.URLError, ConnectionError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ProviderError(f"{what}: unreachable: {reason}", retryable=True) from exc
    if status not in ok:
        raise ProviderError(f"{what}: provider answered {status}: {_message(payload)}",
                            status=status, retryable=status == 429 or status >= 500)
    return Response(status=status, headers=resp_headers, body=payload)


def _bounded(resp: Any) -> bytes:
    payload: bytes = resp.read(MAX_RESPONSE_BYTES + 1)
    if len(payload) > MAX_RESPONSE_BYTES:
        raise ProviderError(f"provider response larger than {MAX_RESPONSE_BYTES} bytes")
    return payload


def _message(payload: bytes) -> str:
    # The vendor's own error text, shortened: it goes into logs and API errors, never a body.
    try:
        data = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return payload[:200].decode("utf-8", "replace")
    if isinstance(data, dict):
        for key in ("message", "error", "errorCode"):
            value = data.get(key)
            if isinstance(value, dict):
                value = value.get("error_msg") or value.get("message")
            if value:
                return str(value)[:200]
    return str(data)[:200]


def multipart(fields: Sequence[tuple[str, str]],
              files: Sequence[tuple[str, str, str, bytes]] = ()) -> tuple[bytes, str]:
    """A multipart/form-data body: `fields` as (name, value), `files` as (name, filename,
    content type, bytes). Returns the body and its Content-Type (with the boundary)."""
    boundary = "casefile-" + secrets.token_hex(16)
    out = bytearray()
    for name, value in fields:
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{_quote(name)}\"\r\n\r\n"
                ).encode()
        out += value.encode() + b"\r\n"
    for name, filename, content_type, data in files:
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{_quote(name)}\"; "
                f"filename=\"{_quote(filename)}\"\r\nContent-Type: {content_type}\r\n\r\n"
                ).encode()
        out += data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', "%22").replace("\r", " ").replace("\n", " ")
