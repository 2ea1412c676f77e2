"""Checkpoints as C2SP signed notes (tlog-checkpoint.md over signed-note.md).

    casefile/audit                       <- origin: names this log
    1042                                 <- tree size (entries 1..1042)
    Xq1r...base64 of the 32-byte root=   <- RFC 9162 MTH of the entries (casefile.audit.merkle)
                                         <- blank line: end of the signed text
    — casefile/audit AbCd...base64       <- key name, base64(4-byte key hash || Ed25519 signature)

The signature covers the text up to and including the root line's newline. The key hash is the
first 4 bytes of SHA-256(name || 0x0A || 0x01 || 32-byte public key), 0x01 being Ed25519's
signature type: it lets a verifier pick the key without trusting anything else in the note.
This is the format Go's checksum database, Sigstore and other transparency logs use, so the
checkpoint can be checked by tools that know nothing of Casefile.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

ORIGIN = "casefile/audit"  # the log's name in its checkpoints; also the signing key's name
_DASH = "\u2014"  # signature lines start with an em dash and a space
_ED25519 = b"\x01"


class NoteError(ValueError):
    """A note that is not a well-formed checkpoint, or whose signature is not trusted."""


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    text: str  # the signed text (body), ending with a newline
    signatures: tuple[tuple[str, bytes, bytes], ...]  # (key name, key hash, signature)


def _raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_hash(name: str, public: Ed25519PublicKey) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + _ED25519 + _raw(public)).digest()[:4]


def body(size: int, root: bytes, origin: str = ORIGIN) -> str:
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"


def sign(text: str, sign_bytes, public: Ed25519PublicKey, name: str = ORIGIN) -> str:
    """The signed note: `text`, a blank line, one signature line. `sign_bytes` signs raw bytes
    and returns the signature (hex, as `casefile.audit.signing.SigningKey.sign` does)."""
    signature = bytes.fromhex(sign_bytes(text.encode()))
    tag = base64.b64encode(key_hash(name, public) + signature).decode()
    return f"{text}\n{_DASH} {name} {tag}\n"


def parse(note: str) -> Checkpoint:
    """Split a signed checkpoint note into its parts; raises NoteError if malformed."""
    text, sep, sigs = note.rpartition("\n\n")
    if not sep:
        raise NoteError("a signed note has a blank line between its text and its signatures")
    text += "\n"
    lines = text.split("\n")[:-1]
    if len(lines) < 3:
        raise NoteError("a checkpoint has an origin, a tree size and a root hash")
    origin, size_text, root_text = lines[:3]
    if not origin or not size_text.isdigit() or (size_text != "0" and size_text[0] == "0"):
        raise NoteError("malformed checkpoint origin or tree size")
    try:
        root = base64.b64decode(root_text, validate=True)
    except binascii.Error as exc:
        raise NoteError("the root hash is not base64") from exc
    if len(root) != 32:
        raise NoteError("the root hash is not 32 bytes")
    signatures = []
    for line in sigs.split("\n"):
        if not line:
            continue
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != _DASH:
            raise NoteError("malformed signature line")
        try:
            raw = base64.b64decode(parts[2], validate=True)
        except binascii.Error as exc:
            raise NoteError("a signature is not base64") from exc
        if len(raw) < 5:
            raise NoteError("a signature is too short")
        signatures.append((parts[1], raw[:4], raw[4:]))
    if not signatures:
        raise NoteError("the note carries no signature")
    return Checkpoint(origin, int(size_text), root, text, tuple(signatures))


def signed_by(checkpoint: Checkpoint, keys: Iterable[Ed25519PublicKey]) -> bool:
    """Whether one of `keys` signed the note, under the name the signature line gives."""
    for name, khash, signature in checkpoint.signatures:
        for public in keys:
            if key_hash(name, public) != khash:
                continue
            try:
                public.verify(signature, checkpoint.text.encode())
            except InvalidSignature:
                continue
            return True
    return False


def open_note(note: str, keys: Iterable[Ed25519PublicKey], origin: str = ORIGIN) -> Checkpoint:
    """Parse a note and check it was signed by a trusted key for this log; raises NoteError."""
    checkpoint = parse(note)
    if checkpoint.origin != origin:
        raise NoteError(f"the checkpoint is for log {checkpoint.origin!r}, not {origin!r}")
    if not signed_by(checkpoint, list(keys)):
        raise NoteError("no trusted key signed this checkpoint")
    return checkpoint
