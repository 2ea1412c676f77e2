"""Witnesses: every checkpoint is also given to parties the ledger's operator does not control.

Whoever holds the database, the host and the primary store can hide a suffix of the ledger or
fork it (show one history to one verifier and another to the next). A witness keeps its own copy
of the newest checkpoint it has seen, so a verifier can compare what the store says with what the
witnesses hold (`witness_newest`). `AUDIT_WITNESS_URLS` (comma-separated) names them; two kinds:

- **A second object store** (`file://DIR`, `s3://BUCKET[/PREFIX]`, ideally in another account,
  under its own Object Lock): each checkpoint is written once as
  `audit/witness/checkpoints/<tree size, 12 digits>.json` (the checkpoint document) and `.note`
  (its signed note text). The store checks nothing; it only remembers. An S3 witness takes the
  endpoint and region in the query: `s3://bucket/prefix?endpoint=https://…&region=eu-west-1`;
  credentials come from boto3's environment, as for the primary store.
- **An HTTP witness** (`http(s)://host/path`): it checks before it signs. The client POSTs
  `{"checkpoint": doc, "previous": doc | null, "proof": [base64, …] | null}` to
  `<url>/add-checkpoint`; the witness verifies the log's signature on the checkpoint's note,
  requires `previous` to be the checkpoint it holds, checks the RFC 9162 consistency proof from
  that one to the new one, and only then replaces what it holds and countersigns: an Ed25519
  signature line over the note's signed text, in signed-note form, so appending the line to the
  note gives a note signed by the log and the witness. It answers 409 with the checkpoint it holds
  when `previous` is not that one (the client retries once with a proof from it, if the caller
  can give one), 422 when the proof does not hold (a fork, or a rewritten history), 403 when
  the log's signature does not verify. `GET <url>/checkpoint` returns what it holds. A witness
  key may be pinned in the URL's fragment, `https://w.example/log#ed25519=<base64 raw key>`; the
  client then checks the countersignature and reports a bad one as a failure.

Proof hashes travel as standard base64 (`encode_proof`), as in C2SP's tlog-witness protocol;
this protocol is JSON rather than C2SP's text form so that it can carry Casefile's whole
checkpoint document (chain head and tree note).

Nothing here raises into the caller: shipping commits whatever the witnesses say, and each
failure is a `WitnessResult` with `ok=False` and the reason, logged.

`ReferenceWitness` and `serve_witness` are a small, complete HTTP witness holding its state in
memory: the tests run it on 127.0.0.1, and it shows what a real witness must check.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings

from casefile.audit import merkle, notes
from casefile.core.timeutil import now
from casefile.storage import ObjectExists, ObjectStore, store_for_url

log = logging.getLogger(__name__)

WITNESS_PREFIX = "audit/witness/checkpoints/"
DEFAULT_TIMEOUT = 5.0  # seconds; shipping waits this long at most per witness and request
_MAX_BODY = 1 << 20

ConsistencyCheck = Callable[[int, int, bytes, bytes, Sequence[bytes]], bool]


@dataclass(frozen=True)
class WitnessResult:
    url: str  # as configured, without a pinned key
    ok: bool
    error: str | None = None
    countersignature: str | None = None  # HTTP witnesses: one signed-note signature line
    held: dict | None = None  # on a refusal, the checkpoint the witness says it holds

    def as_dict(self) -> dict:
        return {"url": self.url, "ok": self.ok, "error": self.error,
                "countersignature": self.countersignature,
                "held_size": checkpoint_size(self.held) if self.held else None}


@dataclass(frozen=True)
class WitnessRead:
    url: str
    checkpoint: dict | None  # the newest checkpoint the witness holds; None if none or error
    error: str | None = None  # the witness could not be read


class WitnessError(Exception):
    pass


# --- Configuration and helpers -----------------------------------------------------------------

def witness_urls() -> list[str]:
    raw = getattr(settings, "AUDIT_WITNESS_URLS", "") or ""
    if not isinstance(raw, str):  # a list in settings is fine too
        raw = ",".join(raw)
    return [u.strip() for u in raw.split(",") if u.strip()]


def encode_proof(proof: Iterable[bytes]) -> list[str]:
    """A consistency proof (merkle.consistency_proof) in the form witnesses take."""
    return [base64.b64encode(h).decode() for h in proof]


def decode_proof(proof: Iterable[str]) -> list[bytes]:
    out = []
    for h in proof:
        raw = base64.b64decode(h, validate=True)
        if len(raw) != 32:
            raise ValueError("a proof hash is 32 bytes")
        out.append(raw)
    return out


def checkpoint_size(doc: dict) -> int:
    """The tree size a checkpoint document commits to (its seq, for one without a tree)."""
    size = doc.get("tree_size", doc.get("seq"))
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ValueError("the checkpoint has no tree size")
    return size


def witness_key(size: int) -> str:
    return f"{WITNESS_PREFIX}{size:012d}.json"


def _public_url(url: str) -> str:
    return urlunsplit(urlsplit(url)._replace(fragment=""))


def _retention_days() -> int:
    return int(getattr(settings, "AUDIT_RETENTION_DAYS", 7 * 366))


def _timeout() -> float:
    return float(getattr(settings, "AUDIT_WITNESS_TIMEOUT", DEFAULT_TIMEOUT))


def _store(url: str) -> ObjectStore:
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    base = urlunsplit(parts._replace(query="", fragment=""))
    endpoint = query.get("endpoint", [None])[0]
    region = query.get("region", [""])[0] or str(getattr(settings, "OBJECT_STORE_REGION",
                                                         "us-east-1"))
    return store_for_url(base, endpoint, region)


def _kind(url: str) -> str:
    scheme = urlsplit(url).scheme
    if scheme in ("file", "s3"):
        return "store"
    if scheme in ("http", "https"):
        return "http"
    raise WitnessError(f"witness {url!r}: use file://, s3://, http:// or https://")


# --- Writing a checkpoint to the witnesses -----------------------------------------------------

def witness_checkpoint(checkpoint_doc: dict, *, previous: dict | None,
                       proof: list[str] | None,
                       proof_from: Callable[[int], list[str]] | None = None,
                       urls: list[str] | None = None) -> list[WitnessResult]:
    """Give `checkpoint_doc` to every configured witness; one result per witness, never raises.

    `previous` is the checkpoint before it (the one the witnesses should hold) and `proof` the
    consistency proof from `previous` to it, base64 (`encode_proof`); both None for the first.
    `proof_from(size)`, if given, returns the proof from an older tree size: used when an HTTP
    witness holds an older checkpoint than `previous` (it was down for a while), so it can
    catch up in one step instead of refusing every checkpoint from then on."""
    results = []
    for url in witness_urls() if urls is None else urls:
        try:
            if _kind(url) == "store":
                result = _to_store(url, checkpoint_doc)
            else:
                result = _to_http(url, checkpoint_doc, previous, proof, proof_from)
        except Exception as exc:  # noqa: BLE001 - a witness's failure is reported, not raised
            result = WitnessResult(_public_url(url), False, f"{type(exc).__name__}: {exc}")
        if not result.ok:
            log.warning("audit witness %s did not take checkpoint %s: %s", result.url,
                        checkpoint_doc.get("tree_size", checkpoint_doc.get("seq")), result.error)
        results.append(result)
    return results


def _to_store(url: str, doc: dict) -> WitnessResult:
    store = _store(url)
    size = checkpoint_size(doc)
    body = orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)
    retain_until = now() + timedelta(days=_retention_days())
    key = witness_key(size)
    try:
        store.put(key, body, retain_until=retain_until, content_type="application/json")
    except ObjectExists:
        # Written already (a retried ship) is fine; a *different* checkpoint of the same size
        # means the log showed two histories: that is the fork a witness exists to catch.
        held = orjson.loads(store.get(key))
        if _same_tree(held, doc):
            return WitnessResult(_public_url(url), True)
        return WitnessResult(_public_url(url), False,
                             f"the witness already holds a different checkpoint of size {size}",
                             held=held)
    if doc.get("note"):
        try:
            store.put(key.removesuffix(".json") + ".note", str(doc["note"]).encode(),
                      retain_until=retain_until, content_type="text/plain; charset=utf-8")
        except ObjectExists:
            pass  # the .json decides; the note is a convenience for tools that read notes
    return WitnessResult(_public_url(url), True)


def _same_tree(a: dict, b: dict) -> bool:
    if a.get("note") or b.get("note"):
        return (checkpoint_size(a), a.get("root_hash")) == (checkpoint_size(b), b.get("root_hash"))
    return (a.get("seq"), a.get("hash")) == (b.get("seq"), b.get("hash"))


def _pinned_witness_key(url: str) -> Ed25519PublicKey | None:
    fragment = urlsplit(url).fragment
    if not fragment:
        return None
    # Read by hand, not as a query string: base64's "+" would become a space.
    name, _, raw = fragment.partition("=")
    if name != "ed25519":
        raise WitnessError(f"unknown witness key in {url!r}: use #ed25519=<base64 key>")
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(raw, validate=True))


def _http(method: str, url: str, body: dict | None = None) -> tuple[int, dict]:
    if urlsplit(url).scheme not in ("http", "https"):
        raise WitnessError(f"not an HTTP URL: {url!r}")
    data = orjson.dumps(body) if body is not None else None
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        url, data=data, method=method,
        headers={"Content-Type": "application/json", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=_timeout()) as response:  # noqa: S310
            return response.status, _json(response.read(_MAX_BODY))
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, _json(exc.read(_MAX_BODY))


def _json(raw: bytes) -> dict:
    try:
        value = json.loads(raw or b"{}")
    except ValueError:
        return {"error": raw[:200].decode(errors="replace")}
    return value if isinstance(value, dict) else {"error": "not a JSON object"}


def _to_http(url: str, doc: dict, previous: dict | None, proof: list[str] | None,
             proof_from: Callable[[int], list[str]] | None) -> WitnessResult:
    base = _public_url(url).rstrip("/")
    pinned = _pinned_witness_key(url)  # a malformed pin fails before the witness is asked
    status, answer = _http("POST", f"{base}/add-checkpoint",
                           {"checkpoint": doc, "previous": previous, "proof": proof})
    held = answer.get("held")
    if (status == 409 and proof_from is not None and isinstance(held, dict)
            and held != previous):
        # The witness holds an older (or no) checkpoint than the caller thought: prove the new
        # one from that. The witness checks the proof itself, so nothing here is trusted.
        held_size = checkpoint_size(held)
        if 0 < held_size < checkpoint_size(doc):
            status, answer = _http("POST", f"{base}/add-checkpoint",
                                   {"checkpoint": doc, "previous": held,
                                    "proof": proof_from(held_size)})
            held = answer.get("held")
    if status != 200:
        return WitnessResult(base, False,
                             f"HTTP {status}: {answer.get('error', 'refused')}",
                             held=held if isinstance(held, dict) else None)
    cosig = answer.get("countersignature")
    if not isinstance(cosig, str) or not cosig.startswith(notes._DASH + " "):
        return WitnessResult(base, False, "the witness answered without a countersignature")
    if pinned is not None and not countersignature_valid(doc, cosig, [pinned]):
        return WitnessResult(base, False, "the countersignature does not verify with the "
                             "witness key pinned in its URL", countersignature=cosig)
    return WitnessResult(base, True, countersignature=cosig)


def countersignature_valid(doc: dict, countersignature: str,
                           witness_keys: Iterable[Ed25519PublicKey]) -> bool:
    """Whether `countersignature` (a signature line) is one of `witness_keys` over `doc`'s note."""
    try:
        cosigned = notes.parse(str(doc["note"]).rstrip("\n") + "\n" +
                               countersignature.rstrip("\n") + "\n")
        witness_only = notes.Checkpoint(cosigned.origin, cosigned.size, cosigned.root,
                                        cosigned.text, cosigned.signatures[-1:])
    except (KeyError, notes.NoteError):
        return False
    return notes.signed_by(witness_only, list(witness_keys))


# --- Reading what the witnesses hold -----------------------------------------------------------

def read_witnesses(urls: list[str] | None = None) -> list[WitnessRead]:
    """The newest checkpoint each witness holds, or why it could not be read. Never raises.
    Verify must still check each document's signatures: a witness's copy is evidence of what
    the log published, not a trusted statement."""
    out = []
    for url in witness_urls() if urls is None else urls:
        try:
            out.append(WitnessRead(_public_url(url), _newest(url)))
        except Exception as exc:  # noqa: BLE001 - a witness that cannot be read is reported
            log.warning("audit witness %s could not be read: %s", _public_url(url), exc)
            out.append(WitnessRead(_public_url(url), None, f"{type(exc).__name__}: {exc}"))
    return out


def witness_newest(urls: list[str] | None = None) -> list[tuple[str, dict | None]]:
    """`(url, newest checkpoint document or None)` per witness; None also when it is down
    (`read_witnesses` says which)."""
    return [(r.url, r.checkpoint) for r in read_witnesses(urls)]


def _newest(url: str) -> dict | None:
    if _kind(url) == "store":
        store = _store(url)
        keys = [k for k in store.list(WITNESS_PREFIX) if k.endswith(".json")]
        return orjson.loads(store.get(keys[-1])) if keys else None  # zero-padded: last is newest
    status, answer = _http("GET", f"{_public_url(url).rstrip('/')}/checkpoint")
    if status == 404:
        return None
    if status != 200 or not isinstance(answer.get("checkpoint"), dict):
        raise WitnessError(f"HTTP {status}: {answer.get('error', 'no checkpoint')}")
    return answer["checkpoint"]


# --- A reference HTTP witness ------------------------------------------------------------------

class ReferenceWitness:
    """An HTTP witness's logic, its state in memory: the newest checkpoint it countersigned.

    `log_keys` are the log's public keys (the witness verifies the checkpoint note with them);
    `key` is the witness's own signing key, `name` the name in its signature lines.
    `verify_consistency` is injected (RFC 9162 2.1.4.2 by default) so the check can be stubbed."""

    def __init__(self, log_keys: Iterable[Ed25519PublicKey], key: Ed25519PrivateKey, *,
                 name: str = "casefile-witness", origin: str = notes.ORIGIN,
                 verify_consistency: ConsistencyCheck = merkle.verify_consistency):
        self.log_keys = list(log_keys)
        self.key = key
        self.name = name
        self.origin = origin
        self.verify_consistency = verify_consistency
        self.held: dict | None = None
        self._held_note: notes.Checkpoint | None = None
        self._lock = threading.Lock()

    def countersign(self, text: str) -> str:
        signature = self.key.sign(text.encode())
        tag = base64.b64encode(notes.key_hash(self.name, self.key.public_key()) + signature)
        return f"{notes._DASH} {self.name} {tag.decode()}\n"

    def add_checkpoint(self, body: Any) -> tuple[int, dict]:
        if not isinstance(body, dict) or not isinstance(body.get("checkpoint"), dict):
            return 400, {"error": "the body is {checkpoint, previous, proof}"}
        doc, previous, proof = body["checkpoint"], body.get("previous"), body.get("proof") or []
        try:
            new = notes.open_note(str(doc.get("note", "")), self.log_keys, self.origin)
        except notes.NoteError as exc:
            return 403, {"error": f"the checkpoint's note does not verify: {exc}"}
        try:
            proof_hashes = decode_proof(proof) if isinstance(proof, list) else None
        except (binascii.Error, ValueError, TypeError):
            proof_hashes = None
        if proof_hashes is None:
            return 400, {"error": "the proof is a list of base64 SHA-256 hashes"}
        with self._lock:  # one checkpoint at a time: the check and the update are one step
            held = self._held_note
            if held is not None:
                if (new.size, new.root) == (held.size, held.root):  # a retry: sign it again
                    return 200, {"countersignature": self.countersign(new.text),
                                 "witness": self.name}
                if new.size == held.size:
                    return 422, {"error": f"a different tree of size {held.size} than the one "
                                          "this witness holds: the log forked"}
                if new.size < held.size:
                    return 409, {"error": f"the witness holds a newer tree (size {held.size})",
                                 "held": self.held}
                if _tree_of(previous) != (held.size, held.root):
                    return 409, {"error": "previous is not the checkpoint this witness holds",
                                 "held": self.held}
                if not self.verify_consistency(held.size, new.size, held.root, new.root,
                                               proof_hashes):
                    return 422, {"error": f"the tree of size {new.size} is not consistent with "
                                          f"the tree of size {held.size} this witness holds"}
            # Nothing held: the first checkpoint is taken on trust (as C2SP witnesses do).
            self.held, self._held_note = doc, new
            return 200, {"countersignature": self.countersign(new.text), "witness": self.name}

    def get_checkpoint(self) -> tuple[int, dict]:
        with self._lock:
            if self.held is None:
                return 404, {"error": "this witness holds no checkpoint yet"}
            return 200, {"checkpoint": self.held}


def _tree_of(doc: Any) -> tuple[int, bytes] | None:
    """(size, root) a checkpoint document's note states; its signature is not checked here, as
    it is only compared with the checkpoint the witness verified when it took it."""
    if not isinstance(doc, dict):
        return None
    try:
        note = notes.parse(str(doc.get("note", "")))
    except notes.NoteError:
        return None
    return note.size, note.root


def serve_witness(witness: ReferenceWitness, host: str = "127.0.0.1",
                  port: int = 0) -> ThreadingHTTPServer:
    """An HTTP server for `witness` (POST /add-checkpoint, GET /checkpoint), serving in a
    daemon thread; `server.server_address` has the port, `server.shutdown()` stops it."""

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: dict) -> None:
            raw = orjson.dumps(body)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if self.path.rstrip("/").endswith("/checkpoint"):
                self._answer(*witness.get_checkpoint())
            else:
                self._answer(404, {"error": "not found"})

        def do_POST(self) -> None:  # noqa: N802
            if not self.path.rstrip("/").endswith("/add-checkpoint"):
                self._answer(404, {"error": "not found"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > _MAX_BODY:
                self._answer(413, {"error": "too large"})
                return
            try:
                body = json.loads(self.rfile.read(length) or b"null")
            except ValueError:
                self._answer(400, {"error": "not JSON"})
                return
            self._answer(*witness.add_checkpoint(body))

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass  # quiet in tests; a real witness would log

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                     daemon=True).start()
    return server
