"""Ed25519 keys for the ledger's checkpoints.

The signing key comes from `AUDIT_SIGNING_KEY` (PEM) or, for the embedded default, a file under
`var/` generated on first use. It never enters the database, which is what lets a checkpoint
prove the chain to someone who does not trust the database administrator.
"""

from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings


@dataclass(frozen=True)
class SigningKey:
    private: Ed25519PrivateKey

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    @property
    def key_id(self) -> str:
        return key_id(self.public)

    def sign(self, message: bytes) -> str:
        return self.private.sign(message).hex()


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_pem(public: Ed25519PublicKey) -> str:
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


@functools.cache
def signing_key() -> SigningKey:
    if settings.AUDIT_SIGNING_KEY:
        pem = settings.AUDIT_SIGNING_KEY.encode()
    else:
        pem = _load_or_create(settings.AUDIT_SIGNING_KEY_FILE)
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("AUDIT_SIGNING_KEY must be an Ed25519 private key")
    return SigningKey(key)


def _load_or_create(path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process won the race: use its key
            return path.read_bytes()
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        return pem


def trusted_keys() -> dict[str, Ed25519PublicKey]:
    """Every public key verify accepts: the current one and any retired ones in settings."""
    keys = {signing_key().key_id: signing_key().public}
    for block in settings.AUDIT_TRUSTED_PUBLIC_KEYS.split("-----END PUBLIC KEY-----"):
        if "BEGIN PUBLIC KEY" in block:
            public = serialization.load_pem_public_key((block + "-----END PUBLIC KEY-----\n")
                                                       .strip().encode())
            if isinstance(public, Ed25519PublicKey):
                keys[key_id(public)] = public
    return keys


def verify_signature(key: str, message: bytes, signature_hex: str) -> bool:
    public = trusted_keys().get(key)
    if public is None:
        return False
    try:
        public.verify(bytes.fromhex(signature_hex), message)
    except (InvalidSignature, ValueError):
        return False
    return True
