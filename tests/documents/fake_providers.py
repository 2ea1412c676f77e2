"""Fake DocuSign, Dropbox Sign and DocuSeal servers on 127.0.0.1 for the e-sign adapters' tests
(and the webhook endpoint's): each checks the credentials and the request's shape the way the
vendor documents it, keeps what it was sent, serves a "signed" PDF, and builds webhook
deliveries signed exactly as the vendor signs them.

Use as context managers:

    with FakeDocuSign() as fake:
        provider = DocuSign.from_config(fake.config())
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SIGNED_SUFFIX = b"\n%% signed by the fake provider\n"


def signed_copy(pdf: bytes) -> bytes:
    return pdf + SIGNED_SUFFIX


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


@dataclass
class Reply:
    status: int
    body: bytes = b""
    content_type: str = "application/json"

    @classmethod
    def json(cls, status: int, data: Any) -> Reply:
        return cls(status, json.dumps(data).encode())


class FakeServer:
    """An HTTP server in a thread; `route` answers, `seen` keeps every request."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urllib.parse.urlsplit(self.path)
                seen = Seen(self.command, parts.path, urllib.parse.parse_qs(parts.query),
                            {k: v for k, v in self.headers.items()}, body)
                with fake.lock:
                    fake.seen.append(seen)
                    try:
                        reply = fake.route(seen)
                    except AssertionError as exc:  # a shape the vendor would refuse
                        reply = Reply.json(400, {"message": f"fake refused: {exc}"})
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            do_GET = do_POST = do_PUT = do_DELETE = _any  # noqa: N815 - http.server's names

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.02}, daemon=True)

    @property
    def origin(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FakeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def route(self, seen: Seen) -> Reply:  # pragma: no cover - overridden
        return Reply(404)

    def requests_to(self, method: str, pattern: str) -> list[Seen]:
        return [s for s in self.seen if s.method == method and re.fullmatch(pattern, s.path)]


def _multipart(seen: Seen) -> tuple[dict[str, str], dict[str, tuple[str, bytes]]]:
    head = f"Content-Type: {seen.headers.get('Content-Type', '')}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + seen.body)
    assert message.is_multipart(), "not multipart/form-data"
    fields: dict[str, str] = {}
    files: dict[str, tuple[str, bytes]] = {}
    for part in message.get_payload():
        assert isinstance(part, Message)
        name = part.get_param("name", header="content-disposition")
        filename = part.get_param("filename", header="content-disposition")
        payload = part.get_payload(decode=True)
        assert isinstance(name, str) and isinstance(payload, bytes)
        if filename:
            files[name] = (str(filename), payload)
        else:
            fields[name] = payload.decode()
    return fields, files


def multipart_body(fields: dict[str, str]) -> tuple[bytes, str]:
    boundary = "fake" + hashlib.sha256(json.dumps(fields).encode()).hexdigest()[:24]
    out = b""
    for name, value in fields.items():
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n"
                f"{value}\r\n").encode()
    out += f"--{boundary}--\r\n".encode()
    return out, f"multipart/form-data; boundary={boundary}"


# --- DocuSign ------------------------------------------------------------------------------


@dataclass
class DsEnvelope:
    envelope_id: str
    body: dict[str, Any]
    pdf: bytes
    status: str = "sent"
    voided_reason: str = ""


class FakeDocuSign(FakeServer):
    def __init__(self, *, account_id: str = "acc-1111", token: str = "ds-token",  # noqa: S107
                 hmac_keys: tuple[str, ...] = ("connect-key-1",)) -> None:
        super().__init__()
        self.account_id, self.token, self.hmac_keys = account_id, token, hmac_keys
        self.envelopes: dict[str, DsEnvelope] = {}
        self._ids = itertools.count(1)

    def config(self, **extra: Any) -> dict[str, Any]:
        return {"base_url": f"{self.origin}/restapi", "account_id": self.account_id,
                "access_token": self.token, "webhook_secrets": list(self.hmac_keys), **extra}

    def route(self, seen: Seen) -> Reply:
        if seen.headers.get("Authorization") != f"Bearer {self.token}":
            return Reply.json(401, {"errorCode": "AUTHORIZATION_INVALID_TOKEN",
                                    "message": "The access token provided is expired, revoked "
                                               "or malformed."})
        prefix = f"/restapi/v2.1/accounts/{self.account_id}/envelopes"
        if seen.method == "POST" and seen.path == prefix:
            return self._create(seen)
        match = re.fullmatch(re.escape(prefix) + r"/([\w-]+)(/documents/1)?", seen.path)
        if not match or match.group(1) not in self.envelopes:
            return Reply.json(404, {"errorCode": "ENVELOPE_DOES_NOT_EXIST"})
        envelope = self.envelopes[match.group(1)]
        if seen.method == "PUT" and not match.group(2):
            update = json.loads(seen.body)
            assert update.get("status") == "voided", "only voiding is faked"
            assert update.get("voidedReason"), "voidedReason is required to void"
            envelope.status, envelope.voided_reason = "voided", update["voidedReason"]
            return Reply.json(200, {"envelopeId": envelope.envelope_id})
        if seen.method == "GET" and match.group(2):
            return Reply(200, signed_copy(envelope.pdf), "application/pdf")
        return Reply(405)

    def _create(self, seen: Seen) -> Reply:
        assert seen.headers.get("Content-Type") == "application/json", "JSON body expected"
        body = json.loads(seen.body)
        assert body.get("status") == "sent", "status sent sends the envelope at once"
        documents = body["documents"]
        assert len(documents) == 1 and documents[0]["documentId"] == "1"
        pdf = base64.b64decode(documents[0]["documentBase64"], validate=True)
        assert pdf.startswith(b"%PDF-"), "documentBase64 is not a PDF"
        for signer in body["recipients"]["signers"]:
            for key in ("recipientId", "routingOrder", "roleName", "name", "email"):
                assert signer.get(key), f"signer without {key}"
            assert signer["tabs"]["signHereTabs"], "a signer needs a signHere tab"
        envelope_id = f"{next(self._ids):08d}-aaaa-bbbb-cccc-000000000000"
        self.envelopes[envelope_id] = DsEnvelope(envelope_id, body, pdf)
        return Reply.json(201, {"envelopeId": envelope_id, "status": "sent",
                                "uri": f"/envelopes/{envelope_id}"})

    # Connect deliveries, JSON SIM with the envelope summary included.
    def message(self, envelope_id: str, event: str, *, recipient_id: str | None = None,
                generated: str = "2026-03-01T10:00:00.1234567Z", retry_count: int = 0,
                voided_reason: str | None = None, declined_reason: str | None = None) -> bytes:
        envelope = self.envelopes[envelope_id]
        signers = []
        for signer in envelope.body["recipients"]["signers"]:
            row = {k: signer[k] for k in ("recipientId", "routingOrder", "roleName", "name",
                                          "email")}
            row["status"] = "completed" if event == "recipient-completed" else "sent"
            if declined_reason and signer["recipientId"] == recipient_id:
                row["declinedReason"] = declined_reason
            signers.append(row)
        data: dict[str, Any] = {
            "accountId": self.account_id, "userId": "user-1", "envelopeId": envelope_id,
            "envelopeSummary": {"status": envelope.status, "emailSubject":
                                envelope.body["emailSubject"], "recipients": {"signers": signers},
                                "customFields": envelope.body.get("customFields", {})}}
        if voided_reason is not None:
            data["envelopeSummary"]["voidedReason"] = voided_reason
        if recipient_id is not None:
            data["recipientId"] = recipient_id
        return json.dumps({
            "event": event, "apiVersion": "v2.1",
            "uri": f"/restapi/v2.1/accounts/{self.account_id}/envelopes/{envelope_id}",
            "retryCount": retry_count, "configurationId": 10501, "generatedDateTime": generated,
            "data": data}, indent=1).encode()  # line endings are part of what is signed

    @staticmethod
    def signature_headers(body: bytes, *keys: str) -> dict[str, str]:
        return {f"X-DocuSign-Signature-{n}":
                base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()
                for n, key in enumerate(keys, start=1)} | {
                    "X-Authorization-Digest": "HMACSHA256", "Content-Type": "application/json"}


# --- Dropbox Sign ----------------------------------------------------------------------------


@dataclass
class HsRequest:
    request_id: str
    fields: dict[str, str]
    pdf: bytes
    signatures: list[dict[str, Any]] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)
    is_complete: bool = False
    is_declined: bool = False
    expires_at: int | None = None
    canceled: bool = False


class FakeDropboxSign(FakeServer):
    def __init__(self, *, api_key: str = "hs-api-key-1") -> None:
        super().__init__()
        self.api_key = api_key
        self.requests: dict[str, HsRequest] = {}
        self.preparing = False
        self._ids = itertools.count(1)

    def config(self, **extra: Any) -> dict[str, Any]:
        return {"base_url": f"{self.origin}/v3", "api_key": self.api_key, **extra}

    def route(self, seen: Seen) -> Reply:
        expected = "Basic " + base64.b64encode(f"{self.api_key}:".encode()).decode()
        if seen.headers.get("Authorization") != expected:
            return Reply.json(401, {"error": {"error_msg": "Unauthorized api key",
                                              "error_name": "unauthorized"}})
        if seen.method == "POST" and seen.path == "/v3/signature_request/send":
            return self._send(seen)
        match = re.fullmatch(r"/v3/signature_request/(?:(cancel|files)/)?(\w+)", seen.path)
        if not match or match.group(2) not in self.requests:
            return Reply.json(404, {"error": {"error_msg": "Not found", "error_name": "not_found"}})
        request = self.requests[match.group(2)]
        if request.canceled:
            return Reply.json(410, {"error": {"error_msg": "This resource has been deleted",
                                              "error_name": "deleted"}})
        action = match.group(1)
        if seen.method == "POST" and action == "cancel":
            request.canceled = True
            return Reply(200, b"")
        if seen.method == "GET" and action == "files":
            assert seen.query.get("file_type") == ["pdf"], "file_type=pdf expected"
            if self.preparing:
                return Reply.json(409, {"error": {"error_msg": "Files are still being processed",
                                                  "error_name": "conflict"}})
            return Reply(200, signed_copy(request.pdf), "application/pdf")
        if seen.method == "GET" and action is None:
            return Reply.json(200, {"signature_request": self.state(request.request_id)})
        return Reply(405)

    def _send(self, seen: Seen) -> Reply:
        fields, files = _multipart(seen)
        assert set(files) == {"files[0]"}, "one file, as files[0]"
        filename, pdf = files["files[0]"]
        assert pdf.startswith(b"%PDF-") and filename.endswith(".pdf")
        assert fields.get("title"), "title expected"
        request_id = f"{next(self._ids):040x}"
        request = HsRequest(request_id, fields, pdf)
        for index in itertools.count():
            name = fields.get(f"signers[{index}][name]")
            if name is None:
                break
            request.signatures.append({
                "signature_id": f"sig{index}{request_id[:20]}", "signer_name": name,
                "signer_email_address": fields[f"signers[{index}][email_address]"],
                "order": int(fields[f"signers[{index}][order]"]), "signer_role": None,
                "status_code": "awaiting_signature", "signed_at": None, "last_viewed_at": None,
                "decline_reason": None})
        assert request.signatures, "at least one signer"
        request.metadata = {m.group(1): v for k, v in fields.items()
                            if (m := re.fullmatch(r"metadata\[(\w+)\]", k))}
        assert len(request.metadata) <= 10, "Dropbox Sign keeps at most 10 metadata keys"
        form_fields = json.loads(fields["form_fields_per_document"])
        assert {f["signer"] for f in form_fields} == {str(i) for i in
                                                      range(len(request.signatures))}
        self.requests[request_id] = request
        return Reply.json(200, {"signature_request": self.state(request_id)})

    def state(self, request_id: str) -> dict[str, Any]:
        request = self.requests[request_id]
        return {"signature_request_id": request_id, "title": request.fields["title"],
                "metadata": request.metadata, "is_complete": request.is_complete,
                "is_declined": request.is_declined, "has_error": False,
                "expires_at": request.expires_at, "test_mode": True,
                "signatures": [dict(s) for s in request.signatures]}

    def signer_did(self, request_id: str, index: int, status: str, *, at: int = 1772359200,
                   reason: str | None = None) -> str:
        """Move a signer as Dropbox Sign would; returns its signature_id."""
        request = self.requests[request_id]
        signature = request.signatures[index]
        if status == "viewed":
            signature["last_viewed_at"] = at
        else:
            signature["status_code"] = status
            signature["signed_at" if status == "signed" else "decline_reason"] = (
                at if status == "signed" else reason)
        request.is_declined = request.is_declined or status == "declined"
        request.is_complete = all(s["status_code"] == "signed" for s in request.signatures)
        return str(signature["signature_id"])

    def callback(self, event_type: str, request_id: str, *, signature_id: str | None = None,
                 event_time: int = 1772359200, key: str | None = None,
                 request_override: dict[str, Any] | None = None) -> tuple[bytes, dict[str, str]]:
        """A callback as Dropbox Sign posts it: multipart/form-data, the JSON in `json`."""
        event_hash = hmac.new((key or self.api_key).encode(),
                              f"{event_time}{event_type}".encode(), hashlib.sha256).hexdigest()
        state = (self.state(request_id) if request_id in self.requests
                 else {"signature_request_id": request_id})
        payload = {"event": {"event_type": event_type, "event_time": str(event_time),
                             "event_hash": event_hash,
                             "event_metadata": {"related_signature_id": signature_id,
                                                "reported_for_account_id": "acct",
                                                "reported_for_app_id": None}},
                   "account_guid": "acct", "signature_request": request_override or state}
        body, content_type = multipart_body({"json": json.dumps(payload)})
        return body, {"Content-Type": content_type, "User-Agent": "HelloSign API"}


# --- DocuSeal --------------------------------------------------------------------------------


@dataclass
class DsSubmission:
    submission_id: int
    body: dict[str, Any]
    pdf: bytes
    archived: bool = False
    submitters: list[dict[str, Any]] = field(default_factory=list)


class FakeDocuSeal(FakeServer):
    def __init__(self, *, api_key: str = "ds-api-key",
                 secrets: tuple[str, ...] = ("whsec_first",)) -> None:
        super().__init__()
        self.api_key, self.secrets = api_key, secrets
        self.submissions: dict[str, DsSubmission] = {}
        self._ids = itertools.count(1001)

    def config(self, **extra: Any) -> dict[str, Any]:
        return {"base_url": self.origin, "api_key": self.api_key,
                "webhook_secrets": list(self.secrets), **extra}

    def route(self, seen: Seen) -> Reply:
        file_match = re.fullmatch(r"/file/(\d+)\.pdf", seen.path)
        if file_match:
            # The download URL is a signed blob URL: DocuSeal wants no API token there, and we
            # must not leak it to storage.
            assert "X-Auth-Token" not in seen.headers, "API token sent to the download URL"
            return Reply(200, signed_copy(self.submissions[file_match.group(1)].pdf),
                         "application/pdf")
        if seen.headers.get("X-Auth-Token") != self.api_key:
            return Reply.json(401, {"error": "Not authenticated"})
        if seen.method == "POST" and seen.path == "/submissions/pdf":
            return self._create(seen)
        match = re.fullmatch(r"/submissions/(\d+)(/documents)?", seen.path)
        if not match or match.group(1) not in self.submissions:
            return Reply.json(404, {"error": "Not found"})
        submission = self.submissions[match.group(1)]
        if seen.method == "DELETE" and not match.group(2):
            submission.archived = True
            return Reply.json(200, {"id": submission.submission_id,
                                    "archived_at": "2026-03-01T10:00:00.000Z"})
        if seen.method == "GET" and match.group(2):
            return Reply.json(200, {"id": submission.submission_id, "documents": [
                {"name": "contract", "url": f"{self.origin}/file/{submission.submission_id}.pdf"}]})
        return Reply(405)

    def _create(self, seen: Seen) -> Reply:
        body = json.loads(seen.body)
        documents = body["documents"]
        assert len(documents) == 1, "one document"
        pdf = base64.b64decode(documents[0]["file"], validate=True)
        assert pdf.startswith(b"%PDF-"), "file is not a PDF"
        roles = {s["role"] for s in body["submitters"]}
        assert {f["role"] for f in documents[0]["fields"]} == roles, "a field for every role"
        submission_id = next(self._ids)
        submission = DsSubmission(submission_id, body, pdf)
        for index, submitter in enumerate(body["submitters"]):
            assert submitter.get("email") and submitter.get("role")
            submission.submitters.append({
                "id": submission_id * 10 + index, "submission_id": submission_id,
                "email": submitter["email"], "name": submitter.get("name"),
                "role": submitter["role"], "external_id": submitter.get("external_id"),
                "metadata": submitter.get("metadata", {}), "status": "awaiting",
                "embed_src": f"https://docuseal.example/s/{submission_id}{index}"})
        self.submissions[str(submission_id)] = submission
        return Reply.json(200, {"id": submission_id, "name": body.get("name"),
                                "submitters": submission.submitters})

    def form_event(self, submission_id: int, index: int, event_type: str, *,
                   timestamp: str = "2026-03-01T10:00:00.000Z",
                   decline_reason: str | None = None) -> bytes:
        submitter = dict(self.submissions[str(submission_id)].submitters[index])
        submitter.pop("embed_src")
        submitter["submission"] = {"id": submission_id, "status": "pending"}
        if decline_reason is not None:
            submitter["decline_reason"] = decline_reason
        return json.dumps({"event_type": event_type, "timestamp": timestamp,
                           "data": submitter}).encode()

    def submission_event(self, submission_id: int, event_type: str, *,
                         timestamp: str = "2026-03-01T10:00:00.000Z") -> bytes:
        submission = self.submissions[str(submission_id)]
        return json.dumps({"event_type": event_type, "timestamp": timestamp,
                           "data": {"id": submission_id, "submitters": submission.submitters,
                                    "status": event_type.split(".")[1]}}).encode()

    def signature_headers(self, body: bytes, *, secret: str | None = None,
                          ts: int | None = None) -> dict[str, str]:
        """As lib/webhook_urls/signatures.rb signs: `{ts}.{hex HMAC("{ts}.{body}")}`."""
        ts = int(time.time()) if ts is None else ts
        digest = hmac.new((secret or self.secrets[0]).encode(), f"{ts}.".encode() + body,
                          hashlib.sha256).hexdigest()
        return {"X-Docuseal-Signature": f"{ts}.{digest}", "Content-Type": "application/json",
                "User-Agent": "DocuSeal.com Webhook"}


FakeFactory = Callable[[], FakeServer]
