"""Receipts: proof, checkable offline with only the ledger's public key, that an entry is in
the ledger.

    {
      "entry": {...},            the entry as shipped (ledger.entry_document), hash included
      "leaf_index": seq - 1,     its place in the Merkle tree (casefile.audit.merkle)
      "tree_size": n,
      "inclusion_proof": [hex],  RFC 9162 PATH(leaf_index, D[n])
      "checkpoint": "..."        the C2SP signed checkpoint note of size n (casefile.audit.notes)
    }

The checkpoint is the newest one that includes the entry or, if none does yet, one signed now
over the current head and kept like any other (shipped with the next segment), so every tree
head a receipt shows is one that verify checks for consistency. `verify_receipt` needs no
database: the entry's hash is recomputed from its document, the proof leads from its leaf to the
signed root, and the note's signature is checked with the given public keys.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from django.db import transaction

from casefile.audit import merkle, notes
from casefile.audit.checkpoints import DbTree, checkpoint_for, db_tree
from casefile.audit.ledger import chain_pending, entry_document, entry_hash
from casefile.audit.models import AuditCheckpoint, AuditEntry
from casefile.core.errors import Conflict


def receipt_for(entry: AuditEntry) -> dict[str, Any]:
    if entry.seq is None:  # committed, not chained yet: chain it now rather than refuse
        chain_pending()
        entry.refresh_from_db()
    if entry.seq is None:
        raise Conflict(f"audit entry {entry.id} is not in the chain yet; try again")
    seq, _ = entry.position()
    checkpoint = (AuditCheckpoint.objects.filter(seq__gte=seq, note__isnull=False)
                  .order_by("-seq").first())
    if checkpoint is None:
        with transaction.atomic():
            head = AuditEntry.objects.filter(seq__isnull=False).order_by("-seq").first()
            assert head is not None  # noqa: S101 - `entry` is in the ledger
            checkpoint = (AuditCheckpoint.objects.filter(seq=head.position()[0]).first()
                          or checkpoint_for(head))
    size = checkpoint.tree_size or checkpoint.seq
    proof = _tree(size, checkpoint.root_hash).inclusion_proof(seq - 1)
    return {
        "entry": entry_document(entry),
        "leaf_index": entry.seq - 1,
        "tree_size": size,
        "inclusion_proof": [p.hex() for p in proof],
        "checkpoint": checkpoint.note,
    }


_TREES: OrderedDict[tuple[int, str], DbTree] = OrderedDict()
_KEEP = 4


def _tree(size: int, root_hex: str | None) -> DbTree:
    """The tree the receipt's checkpoint signed, kept for the next receipts of the same
    checkpoint: its chunk roots and inner nodes are read and hashed once, not per receipt.
    Keyed by the signed root, so a kept tree is only ever used for the very tree it is (and a
    tree whose root is not the signed one is never kept)."""
    key = (size, root_hex or "")
    tree = _TREES.get(key)
    if tree is None:
        tree = db_tree(size)
        if root_hex is None or tree.root().hex() != root_hex:
            return tree  # the receipt will not verify; nothing worth keeping
        _TREES[key] = tree
        while len(_TREES) > _KEEP:
            _TREES.popitem(last=False)
    _TREES.move_to_end(key)
    return tree


class ReceiptInvalid(ValueError):
    """Why a receipt does not prove what it claims."""


def verify_receipt(receipt: Any, keys: Iterable[Ed25519PublicKey]) -> dict[str, Any]:
    """Check a receipt offline; returns a summary, raises ReceiptInvalid with the reason."""
    try:
        doc = dict(receipt["entry"])
        index, size = receipt["leaf_index"], receipt["tree_size"]
        proof = [bytes.fromhex(p) for p in receipt["inclusion_proof"]]
        note = receipt["checkpoint"]
        claimed = doc.pop("hash")
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ReceiptInvalid(f"malformed receipt: {exc!r}") from None
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (index, size)):
        raise ReceiptInvalid("leaf_index and tree_size must be integers")
    if not isinstance(claimed, str):
        raise ReceiptInvalid("the entry carries no hash")
    if not isinstance(note, str):
        raise ReceiptInvalid("the receipt carries no signed checkpoint")
    try:
        actual = entry_hash(doc)
    except Exception as exc:  # noqa: BLE001 - not canonical JSON: matches nothing
        raise ReceiptInvalid(f"the entry cannot be hashed: {exc}") from None
    if actual != claimed:
        raise ReceiptInvalid(f"the entry does not match its hash ({claimed[:12]}…)")
    if doc.get("seq") != index + 1:
        raise ReceiptInvalid(f"entry #{doc.get('seq')} is not leaf {index} (leaf = seq - 1)")
    try:
        checkpoint = notes.open_note(note, keys)
    except notes.NoteError as exc:
        raise ReceiptInvalid(f"checkpoint: {exc}") from None
    if checkpoint.size != size:
        raise ReceiptInvalid(f"the checkpoint is for size {checkpoint.size}, not {size}")
    if not merkle.verify_inclusion(index, size, merkle.entry_leaf(claimed), proof,
                                   checkpoint.root):
        raise ReceiptInvalid("the inclusion proof does not lead to the signed root")
    return {"ok": True, "seq": doc["seq"], "id": doc.get("id"), "hash": claimed,
            "tree_size": size, "root_hash": checkpoint.root.hex(), "origin": checkpoint.origin}
