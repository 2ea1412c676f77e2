"""Signed checkpoints: `{seq, hash, created_at}` of one entry, signed with the ledger's key."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from casefile.audit.models import AuditCheckpoint, AuditEntry
from casefile.audit.signing import record_public_key, signing_key, verify_signature
from casefile.core.canonical import canonical_json
from casefile.core.timeutil import isoformat, now, parse_iso
from casefile.storage import get_store


def statement(seq: int, hash_: str, created_at: datetime) -> bytes:
    """The bytes a checkpoint signs."""
    return canonical_json({"seq": seq, "hash": hash_, "created_at": isoformat(created_at)})


def checkpoint_for(entry: AuditEntry) -> AuditCheckpoint:
    """Sign the ledger's state at `entry` and store the checkpoint (caller's transaction)."""
    created_at = now()
    key = signing_key()
    record_public_key(get_store())  # nothing is signed with a key verify would not trust
    return AuditCheckpoint.objects.create(
        seq=entry.seq,
        hash=entry.hash,
        created_at=created_at,
        key_id=key.key_id,
        signature=key.sign(statement(entry.seq, entry.hash, created_at)),
    )


def checkpoint_document(checkpoint: AuditCheckpoint) -> dict[str, Any]:
    return {
        "seq": checkpoint.seq,
        "hash": checkpoint.hash,
        "created_at": isoformat(checkpoint.created_at),
        "key_id": checkpoint.key_id,
        "signature": checkpoint.signature,
    }


def document_is_authentic(doc: dict[str, Any]) -> bool:
    try:
        message = statement(int(doc["seq"]), doc["hash"], parse_iso(doc["created_at"]))
        return verify_signature(doc["key_id"], message, doc["signature"])
    except (KeyError, TypeError, ValueError):
        return False


def checkpoint_is_authentic(checkpoint: AuditCheckpoint) -> bool:
    return document_is_authentic(checkpoint_document(checkpoint))
