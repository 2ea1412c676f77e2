"""Envelope encryption of evidence originals (DESIGN 9.2).

Each original is encrypted with its own fresh 256-bit data key (AES-256-GCM, a 96-bit random
nonce, the blob id as associated data, so a ciphertext moved under another blob's id does not
decrypt). The data key is kept only wrapped by a master key, through the small `KeyWrapper`
interface: `LocalKeyWrapper` wraps with AES key wrap (RFC 3394) under a 256-bit master key from
`EVIDENCE_MASTER_KEY`, or from a key file generated once under `CASEFILE_VAR_DIR`; a KMS
(wrap = Encrypt, unwrap = Decrypt, `key_id` = the key's ARN) fits the same interface.

Crypto-shredding destroys the wrapped data key. The ciphertext stays in write-once storage and
can no longer be decrypted by anyone, master key included.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import InvalidUnwrap, aes_key_unwrap, aes_key_wrap
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

CIPHER = "AES-256-GCM"
KEY_BYTES = 32
NONCE_BYTES = 12


class DecryptionFailed(Exception):
    """The wrapped key or the ciphertext is not what was written (tampered or damaged)."""


class KeyWrapper(Protocol):
    """Wraps and unwraps data keys under a master key that never leaves it."""

    key_id: str  # names the master key, stored with each blob
    algorithm: str  # how data keys are wrapped, stored with each blob

    def wrap(self, data_key: bytes) -> bytes: ...

    def unwrap(self, wrapped: bytes) -> bytes:
        """Raises DecryptionFailed if `wrapped` was not made by this key."""
        ...


class LocalKeyWrapper:
    """AES key wrap (RFC 3394, via `cryptography`) under a local 256-bit master key."""

    algorithm = "A256KW"

    def __init__(self, master_key: bytes):
        if len(master_key) != KEY_BYTES:
            raise ImproperlyConfigured("the evidence master key must be 32 bytes (256 bits)")
        self._key = master_key
        # Names the key without revealing anything about it (a hash of a 256-bit secret).
        self.key_id = "local:" + hashlib.sha256(b"casefile evidence key id\x00" + master_key
                                                ).hexdigest()[:16]

    def wrap(self, data_key: bytes) -> bytes:
        return aes_key_wrap(self._key, data_key)

    def unwrap(self, wrapped: bytes) -> bytes:
        try:
            return aes_key_unwrap(self._key, wrapped)
        except (InvalidUnwrap, ValueError) as exc:
            raise DecryptionFailed(f"the wrapped data key does not unwrap: {exc}") from None


@dataclass(frozen=True)
class Sealed:
    ciphertext: bytes  # AES-256-GCM output: the encrypted bytes followed by the 16-byte tag
    nonce: bytes
    wrapped_key: bytes
    key_id: str
    algorithm: str  # "AES-256-GCM+A256KW": the cipher, then how its key is wrapped


def seal(plaintext: bytes, *, blob_id: str, wrapper: KeyWrapper | None = None) -> Sealed:
    wrapper = wrapper or key_wrapper()
    data_key = AESGCM.generate_key(bit_length=256)
    nonce = secrets.token_bytes(NONCE_BYTES)
    ciphertext = AESGCM(data_key).encrypt(nonce, plaintext, blob_id.encode())
    return Sealed(ciphertext=ciphertext, nonce=nonce, wrapped_key=wrapper.wrap(data_key),
                  key_id=wrapper.key_id, algorithm=f"{CIPHER}+{wrapper.algorithm}")


def open_sealed(ciphertext: bytes, *, nonce: bytes, wrapped_key: bytes, blob_id: str,
                wrapper: KeyWrapper | None = None) -> bytes:
    """The plaintext, or DecryptionFailed when the key, nonce, id or ciphertext was altered."""
    wrapper = wrapper or key_wrapper()
    data_key = wrapper.unwrap(wrapped_key)
    try:
        return AESGCM(data_key).decrypt(nonce, ciphertext, blob_id.encode())
    except InvalidTag:
        raise DecryptionFailed("the ciphertext does not authenticate (AES-GCM tag mismatch)"
                               ) from None


# --- the configured master key ------------------------------------------------------------
@functools.cache
def key_wrapper() -> KeyWrapper:
    """The master key: `EVIDENCE_MASTER_KEY`, else the key file (created the first time)."""
    if settings.EVIDENCE_MASTER_KEY:
        return LocalKeyWrapper(decode_key(settings.EVIDENCE_MASTER_KEY, "EVIDENCE_MASTER_KEY"))
    path = Path(settings.EVIDENCE_MASTER_KEY_FILE)
    return LocalKeyWrapper(decode_key(load_or_create_key_file(path).decode(), str(path)))



def decode_key(text: str, where: str) -> bytes:
    text = text.strip()
    try:
        key = bytes.fromhex(text) if len(text) == 2 * KEY_BYTES else base64.b64decode(
            text, validate=True)
    except (ValueError, binascii.Error):
        raise ImproperlyConfigured(f"{where}: not base64 or hex") from None
    if len(key) != KEY_BYTES:
        raise ImproperlyConfigured(f"{where}: the master key must be 32 bytes, not {len(key)}")
    return key


def load_or_create_key_file(path: Path) -> bytes:
    """The key file's contents, creating it (0600) if there is none. An existing file is never
    replaced, even when it cannot be read as a key: that is reported, not repaired, since a new
    key would make every blob sealed under the old one unreadable. The new key is written to a
    temporary file and linked into place, so a racing process sees either no file or the whole
    key, and only one of them wins."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".evidence-key-", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(base64.b64encode(secrets.token_bytes(KEY_BYTES)) + b"\n")
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:  # another process created it first: use theirs
            pass
    finally:
        os.unlink(tmp)
    return path.read_bytes()
