"""Ed25519 keys for the ledger's checkpoints: the one that signs, and the ones verify trusts.

The signing key comes from `AUDIT_SIGNING_KEY` (PEM) or, for the embedded default, a file under
`var/` generated the first time something is signed. It never enters the database.

Trust never comes from the private key on this host: whoever holds the host could replace it
and re-sign a rewritten history. Verify trusts only
- the public keys pinned in `AUDIT_TRUSTED_PUBLIC_KEYS` (production: required by a system
  check), or, when none are pinned,
- the public key recorded in the write-once store at the first ship (`audit/keys/`), the
  earliest one there; it is logged once for the operator to pin. A key recorded later — by a
  rotation, or by someone who replaced the key file — is not trusted until it is pinned, and
  shipping refuses to sign with it.
Verify never creates a key.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
from dataclasses import dataclass
from datetime import timedelta

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings

from casefile.core.errors import Conflict
from casefile.core.timeutil import now
from casefile.storage.base import ObjectExists, ObjectStore

log = logging.getLogger(__name__)
KEYS_PREFIX = "audit/keys/"


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


def pinned_keys() -> dict[str, Ed25519PublicKey]:
    """The public keys in AUDIT_TRUSTED_PUBLIC_KEYS (PEM blocks, one after another)."""
    keys = {}
    for block in settings.AUDIT_TRUSTED_PUBLIC_KEYS.split("-----END PUBLIC KEY-----"):
        if "BEGIN PUBLIC KEY" in block:
            public = serialization.load_pem_public_key((block + "-----END PUBLIC KEY-----\n")
                                                       .strip().encode())
            if isinstance(public, Ed25519PublicKey):
                keys[key_id(public)] = public
    return keys


def recorded_keys(store: ObjectStore) -> list[tuple[str, Ed25519PublicKey]]:
    """The public keys recorded in the store, earliest first."""
    found = []
    for object_key in store.list(KEYS_PREFIX):
        public = serialization.load_pem_public_key(store.get(object_key))
        if isinstance(public, Ed25519PublicKey):
            found.append((store.head(object_key).created_at, key_id(public), public))
    return [(kid, public) for _, kid, public in sorted(found, key=lambda f: (f[0], f[1]))]


_trusted: dict[tuple[str, str], dict[str, Ed25519PublicKey]] = {}


def trusted_keys(store: ObjectStore | None = None) -> dict[str, Ed25519PublicKey]:
    """The keys whose signatures verify accepts: the pinned ones, or else the first key the
    store recorded. Read once per process and store (checkpoints are checked by the thousand)."""
    from casefile.storage import get_store

    store = store or get_store()
    cache_key = (settings.AUDIT_TRUSTED_PUBLIC_KEYS, store.url)
    if cache_key not in _trusted:
        pinned = pinned_keys()
        if pinned:
            _trusted[cache_key] = pinned
        else:
            recorded = recorded_keys(store)
            _trusted[cache_key] = dict(recorded[:1])
    return _trusted[cache_key]


def record_public_key(store: ObjectStore) -> str | None:
    """Before anything is signed for the store: record the signing key's public half there if
    the store holds none yet (returns its PEM, logged for the operator to pin), and refuse to
    sign with a key verify would not trust."""
    key = signing_key()
    pinned = pinned_keys()
    recorded = recorded_keys(store)
    if pinned:
        if key.key_id not in pinned:
            raise Conflict(f"the signing key {key.key_id} is not among AUDIT_TRUSTED_PUBLIC_KEYS:"
                           " pin its public key, or sign with a pinned one")
        if recorded:
            return None
    elif recorded:
        if recorded[0][0] != key.key_id:
            raise Conflict(
                f"the signing key {key.key_id} is not the key first recorded in the store "
                f"({recorded[0][0]}): it may have been replaced. Pin the public keys to trust in "
                "AUDIT_TRUSTED_PUBLIC_KEYS (see docs/audit-ledger.md)")
        return None
    pem = public_pem(key.public)
    try:
        store.put(f"{KEYS_PREFIX}{key.key_id}.pem", pem.encode(), content_type="text/plain",
                  retain_until=now() + timedelta(days=settings.AUDIT_RETENTION_DAYS))
    except ObjectExists:
        return None
    _trusted.clear()
    log.warning("audit ledger: public key %s recorded in the write-once store. Keep it and pin "
                "it (AUDIT_TRUSTED_PUBLIC_KEYS) so verify trusts it from outside this host:\n%s",
                key.key_id, pem)
    return pem


def verify_signature(key: str, message: bytes, signature_hex: str,
                     store: ObjectStore | None = None) -> bool:
    public = trusted_keys(store).get(key)
    if public is None:
        return False
    try:
        public.verify(bytes.fromhex(signature_hex), message)
    except (InvalidSignature, ValueError):
        return False
    return True
