"""Signed checkpoints, and the database-backed Merkle tree they sign.

A checkpoint signs two things with the ledger's Ed25519 key:
- the chain head, canonical `{seq, hash, created_at}` (`statement`), as every checkpoint always
  has — so checkpoints made before the tree still verify as they did;
- the tree, as a C2SP signed checkpoint note (`casefile.audit.notes`) of size `seq` and the
  RFC 9162 root of entries 1..seq (`casefile.audit.merkle`).

The tree lives beside the entries as `AuditTreeChunk` rows, the roots of complete runs of 256
leaves, added whenever a checkpoint is made; `db_tree(size)` answers roots and proofs for any
size from them plus at most a few chunks' worth of entry hashes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from casefile.audit import merkle, notes
from casefile.audit.models import AuditCheckpoint, AuditEntry, AuditTreeChunk
from casefile.audit.signing import record_public_key, signing_key, trusted_keys, verify_signature
from casefile.core.canonical import canonical_json
from casefile.core.timeutil import isoformat, now, parse_iso
from casefile.storage import get_store

CHUNK = merkle.CHUNK


def statement(seq: int, hash_: str, created_at: datetime) -> bytes:
    """The bytes a checkpoint's chain-head signature covers."""
    return canonical_json({"seq": seq, "hash": hash_, "created_at": isoformat(created_at)})


def checkpoint_for(entry: AuditEntry) -> AuditCheckpoint:
    """Sign the ledger's state at `entry` — chain head and tree — and store the checkpoint
    (caller's transaction)."""
    seq, hash_ = entry.position()
    created_at = now()
    key = signing_key()
    record_public_key(get_store())  # nothing is signed with a key verify would not trust
    fill_chunks(seq)
    root = db_tree(seq).root()
    return AuditCheckpoint.objects.create(
        seq=seq,
        hash=hash_,
        created_at=created_at,
        key_id=key.key_id,
        signature=key.sign(statement(seq, hash_, created_at)),
        tree_size=seq,
        root_hash=root.hex(),
        note=sign_note(seq, root),
    )


def sign_note(size: int, root: bytes) -> str:
    key = signing_key()
    return notes.sign(notes.body(size, root), key.sign, key.public)


def checkpoint_document(checkpoint: AuditCheckpoint) -> dict[str, Any]:
    doc = {
        "seq": checkpoint.seq,
        "hash": checkpoint.hash,
        "created_at": isoformat(checkpoint.created_at),
        "key_id": checkpoint.key_id,
        "signature": checkpoint.signature,
    }
    if checkpoint.note:
        doc.update(tree_size=checkpoint.tree_size, root_hash=checkpoint.root_hash,
                   note=checkpoint.note)
    return doc


def document_is_authentic(doc: dict[str, Any]) -> bool:
    """The chain-head signature verifies with a trusted key and, where the checkpoint carries a
    tree note, the note does too and says the same size and root as the document."""
    try:
        message = statement(int(doc["seq"]), doc["hash"], parse_iso(doc["created_at"]))
        if not verify_signature(doc["key_id"], message, doc["signature"]):
            return False
    except (KeyError, TypeError, ValueError):
        return False
    if doc.get("note") is None:
        return doc.get("root_hash") is None and doc.get("tree_size") is None
    try:
        note = notes.open_note(doc["note"], trusted_public_keys())
    except notes.NoteError:
        return False
    return (note.size == doc.get("tree_size") == doc["seq"]
            and note.root.hex() == doc.get("root_hash"))


def checkpoint_is_authentic(checkpoint: AuditCheckpoint) -> bool:
    return document_is_authentic(checkpoint_document(checkpoint))


def trusted_public_keys() -> list[Ed25519PublicKey]:
    """The keys whose notes verify accepts: exactly those `signing.trusted_keys()` trusts."""
    return list(trusted_keys().values())


# --- The tree in the database ------------------------------------------------------------------

def _leaves(first_seq: int, last_seq: int) -> list[bytes]:
    """Leaf hashes of entries first_seq..last_seq (one query)."""
    hashes = AuditEntry.objects.filter(seq__gte=first_seq, seq__lte=last_seq).order_by(
        "seq").values_list("seq", "hash")
    out = []
    for expected, (seq, hash_) in enumerate(hashes, start=first_seq):
        if seq != expected or hash_ is None:
            raise LookupError(f"entry #{expected} is missing from the ledger")
        out.append(merkle.entry_leaf(hash_))
    if len(out) != last_seq - first_seq + 1:
        raise LookupError(f"the ledger ends before entry #{last_seq}")
    return out


def fill_chunks(size: int) -> int:
    """Store the roots of the complete chunks within the first `size` entries that are not
    stored yet; returns how many were added. Chunks are filled in order, so the stored ones are
    always 0..k-1."""
    have = AuditTreeChunk.objects.count()
    want = size // CHUNK
    if want <= have:
        return 0
    leaves = _leaves(have * CHUNK + 1, want * CHUNK)
    AuditTreeChunk.objects.bulk_create([
        AuditTreeChunk(index=have + i,
                       root=merkle.perfect_root(leaves[i * CHUNK:(i + 1) * CHUNK]).hex())
        for i in range(want - have)
    ])
    return want - have


class DbTree(merkle.ChunkedTree):
    """The tree of the first `size` entries: stored chunk roots (one query), chunks not stored
    yet computed from their entries (one query), and any chunk a range cuts through read when
    first needed (one query of at most 256 hashes)."""

    def __init__(self, size: int):
        complete = size // CHUNK
        roots = dict(AuditTreeChunk.objects.filter(index__lt=complete).values_list("index",
                                                                                     "root"))
        self._roots = {i: bytes.fromhex(r) for i, r in roots.items()}
        missing = [i for i in range(complete) if i not in self._roots]
        if missing:
            leaves = _leaves(missing[0] * CHUNK + 1, complete * CHUNK)
            base = missing[0]
            for i in missing:
                self._roots[i] = merkle.perfect_root(
                    leaves[(i - base) * CHUNK:(i - base + 1) * CHUNK])
        super().__init__(size, self._roots.__getitem__, self._read_chunk, chunk=CHUNK)

    def _read_chunk(self, index: int) -> Sequence[bytes]:
        return _leaves(index * CHUNK + 1, min((index + 1) * CHUNK, self.size))


def db_tree(size: int) -> DbTree:
    return DbTree(size)
