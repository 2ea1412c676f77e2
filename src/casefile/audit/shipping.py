"""Shipping the ledger to write-once storage: NDJSON segments, each with its signed checkpoint.

`audit/segments/<first>-<last>.ndjson` holds entries first..last (one JSON document per line,
hash included); `audit/checkpoints/<last>.json` holds the checkpoint signed over entry `last`.
Every checkpoint signed within the segment (the one over `last`, and any made in between, e.g. for
a receipt) is also written as its C2SP signed note, `audit/checkpoints/<seq>.note`, so the store
keeps every tree head the ledger ever signed. All are stored under COMPLIANCE retention, so not
even the bucket's owner can delete or change them before it expires. Shipping is idempotent: if a
run dies after writing an object but before recording it, the next run finds the object, checks it
is the same, and adopts it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

import orjson
from django.conf import settings
from django.db import connection, transaction

from casefile.audit.checkpoints import (
    checkpoint_document,
    checkpoint_for,
    db_tree,
    document_is_authentic,
    fill_chunks,
    sign_note,
    statement,
)
from casefile.audit.ledger import chain_pending, entry_document
from casefile.audit.models import AuditCheckpoint, AuditEntry, AuditSegment
from casefile.audit.signing import record_public_key, signing_key
from casefile.audit.witness import encode_proof, witness_checkpoint, witness_urls
from casefile.core.timeutil import isoformat, now, parse_iso
from casefile.storage import ObjectExists, ObjectStore, get_store

SEGMENT_PREFIX = "audit/segments/"
CHECKPOINT_PREFIX = "audit/checkpoints/"
HEARTBEAT_PREFIX = "audit/heartbeats/"
_SHIP_LOCK_KEY = 0x7368_6970  # "ship"


def segment_key(first: int, last: int) -> str:
    return f"{SEGMENT_PREFIX}{first:012d}-{last:012d}.ndjson"


def checkpoint_key(seq: int) -> str:
    return f"{CHECKPOINT_PREFIX}{seq:012d}.json"


def note_key(seq: int) -> str:
    return f"{CHECKPOINT_PREFIX}{seq:012d}.note"


def parse_segment_key(key: str) -> tuple[int, int]:
    name = key.removeprefix(SEGMENT_PREFIX).removesuffix(".ndjson")
    first, last = name.split("-")
    return int(first), int(last)


def encode_segment(entries) -> bytes:
    return b"".join(
        orjson.dumps(entry_document(e), option=orjson.OPT_SORT_KEYS) + b"\n" for e in entries
    )


@dataclass(frozen=True)
class ShipResult:
    segments: list[AuditSegment]

    @property
    def entries(self) -> int:
        return sum(s.last_seq - s.first_seq + 1 for s in self.segments)

    def as_dict(self) -> dict:
        return {
            "segments": [s.object_key for s in self.segments],
            "entries": self.entries,
            "last_seq": self.segments[-1].last_seq if self.segments else None,
        }


def audit_ship(*, store: ObjectStore | None = None, max_entries: int | None = None) -> ShipResult:
    """Ship every entry not yet shipped, one segment at a time. Casefile's own job: no actor."""
    store = store or get_store()
    max_entries = max_entries or settings.AUDIT_SEGMENT_MAX_ENTRIES
    record_public_key(store)  # verify trusts what the store recorded first, not this host
    chain_pending()  # what a failed after-commit pass left behind
    shipped = []
    while (segment := _ship_one(store, max_entries)) is not None:
        shipped.append(segment)
    return ShipResult(shipped)


def _ship_one(store: ObjectStore, max_entries: int) -> AuditSegment | None:
    with transaction.atomic():
        if connection.vendor == "postgresql":  # one shipper at a time; SQLite: BEGIN IMMEDIATE
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_SHIP_LOCK_KEY])
        last = AuditSegment.objects.order_by("-last_seq").values_list("last_seq", flat=True)
        first = (last.first() or 0) + 1
        entries = list(
            AuditEntry.objects.filter(seq__gte=first).order_by("seq")[:max_entries]
        )
        if not entries:
            return None
        tail = entries[-1]
        last_seq, _ = tail.position()
        body = encode_segment(entries)
        retain_until = now() + timedelta(days=settings.AUDIT_RETENTION_DAYS)
        key = segment_key(first, last_seq)
        info = _put_or_adopt(store, key, body, retain_until)

        ckp_key = checkpoint_key(last_seq)
        checkpoint = AuditCheckpoint.objects.filter(seq=last_seq).first()
        if checkpoint is None:
            checkpoint = _adopt_checkpoint(store, ckp_key, tail) or checkpoint_for(tail)
        ckp_body = orjson.dumps(
            {**checkpoint_document(checkpoint), "segment": key, "segment_sha256": info.sha256},
            option=orjson.OPT_SORT_KEYS,
        )
        _put_or_adopt(store, ckp_key, ckp_body, retain_until, must_match=False)
        # Witnesses hear of it once it is committed, and a slow one cannot hold the ship lock.
        doc = checkpoint_document(checkpoint)
        transaction.on_commit(lambda: witness_signed(doc))
        for signed in AuditCheckpoint.objects.filter(
                seq__gte=first, seq__lte=last_seq, note__isnull=False).order_by("seq"):
            _put_or_adopt(store, note_key(signed.seq), (signed.note or "").encode(), retain_until,
                          must_match=False, content_type="text/plain; charset=utf-8")
        return AuditSegment.objects.create(
            first_seq=first,
            last_seq=last_seq,
            object_key=key,
            checkpoint_key=ckp_key,
            sha256=info.sha256,
            size=info.size,
            retain_until=retain_until,
            shipped_at=now(),
            version_id=info.version_id,
        )


def _put_or_adopt(store, key, body, retain_until, *, must_match: bool = True,
                  content_type: str = "application/x-ndjson"):
    try:
        return store.put(key, body, retain_until=retain_until, content_type=content_type)
    except ObjectExists:
        info = store.head(key)
        if must_match and info.sha256 != hashlib.sha256(body).hexdigest():
            raise RuntimeError(
                f"{key} already exists in the object store with different content: the ledger "
                "and its shipped copy disagree; run `casefile audit verify --worm`"
            ) from None
        return info


def _adopt_checkpoint(store, key, tail: AuditEntry) -> AuditCheckpoint | None:
    """A checkpoint object left by a run that died before committing: reuse it if genuine."""
    try:
        doc = orjson.loads(store.get(key))
    except Exception:  # noqa: BLE001 - absent or unreadable: sign a new one
        return None
    if doc.get("seq") != tail.seq or doc.get("hash") != tail.hash or not document_is_authentic(doc):
        return None
    return AuditCheckpoint.objects.create(
        seq=doc["seq"], hash=doc["hash"], created_at=parse_iso(doc["created_at"]),
        key_id=doc["key_id"], signature=doc["signature"], tree_size=doc.get("tree_size"),
        root_hash=doc.get("root_hash"), note=doc.get("note"),
    )


def witness_signed(doc: dict) -> None:
    """Send a signed checkpoint to the configured witnesses, with the consistency proof from the
    one they last saw. Failures are logged by the witness module, never raised: shipping goes
    on, and verify reports a witness that holds nothing or disagrees."""
    if not witness_urls():
        return
    size = int(doc["tree_size"]) if doc.get("tree_size") else None
    if size is None:
        return
    tree = db_tree(size)
    previous = (AuditCheckpoint.objects.filter(tree_size__lt=size, note__isnull=False)
                .order_by("-tree_size").first())
    witness_checkpoint(
        doc, previous=checkpoint_document(previous) if previous else None,
        proof=encode_proof(tree.consistency_proof(previous.tree_size))
        if previous and previous.tree_size else None,
        proof_from=lambda held: encode_proof(tree.consistency_proof(held)))


def heartbeat_key(moment, seq: int) -> str:
    """One folder a day, so verify finds the newest by listing a day or two, not the years."""
    return f"{HEARTBEAT_PREFIX}{moment:%Y/%m/%d/%H%M%S}-{seq:012d}.json"


def audit_heartbeat(*, store: ObjectStore | None = None) -> str | None:
    """Sign the shipped head again, now, and store it (and tell the witnesses): on a quiet
    ledger the store still gains a fresh signed statement every AUDIT_CHECKPOINT_SECONDS, so a
    copy that stopped — a halted shipper, a hidden tail — shows as stale to verify."""
    store = store or get_store()
    record_public_key(store)
    last = AuditSegment.objects.order_by("-last_seq").first()
    if last is None:
        return None
    tail_seq, tail_hash = AuditEntry.objects.get(seq=last.last_seq).position()
    moment, key = now(), signing_key()
    with transaction.atomic():
        fill_chunks(tail_seq)
    root = db_tree(tail_seq).root()
    doc = {"seq": tail_seq, "hash": tail_hash, "created_at": isoformat(moment),
           "key_id": key.key_id, "signature": key.sign(statement(tail_seq, tail_hash, moment)),
           "tree_size": tail_seq, "root_hash": root.hex(), "note": sign_note(tail_seq, root),
           "heartbeat": True}
    object_key = heartbeat_key(moment, tail_seq)
    store.put(object_key, orjson.dumps(doc, option=orjson.OPT_SORT_KEYS),
              retain_until=moment + timedelta(days=settings.AUDIT_RETENTION_DAYS),
              content_type="application/json")
    witness_signed(doc)
    return object_key


def newest_heartbeat(store: ObjectStore, *, days: int = 2) -> dict | None:
    """The newest heartbeat in the last `days` days' folders, or None."""
    today = now()
    for back in range(days):
        day = today - timedelta(days=back)
        keys = sorted(store.list(f"{HEARTBEAT_PREFIX}{day:%Y/%m/%d}/"))
        if keys:
            return orjson.loads(store.get(keys[-1]))
    return None
