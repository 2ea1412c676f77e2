"""Verifying the ledger: recompute the chain, check the signed checkpoints and, with `worm`,
compare the database with the segments shipped to write-once storage.

The report names the first bad `seq` and the kind of break:

| kind | what was found |
|---|---|
| modified | an entry no longer matches its hash; or, re-hashed, no longer links to the next; |
|          | or the chain disagrees with a signed checkpoint |
| missing | entries were deleted (a gap in seq, or the rest renumbered to close it) |
| inserted | an entry was added (and the rest renumbered to make room) |
| reordered | entries were swapped: an entry links to one that now comes after it |
| truncated | the ledger ends before a signed checkpoint or the shipped segments do |
| worm_mismatch | the database and the shipped copy differ at this entry |
| bad_checkpoint | a checkpoint's signature does not verify with any trusted key |
| inconsistent_checkpoint | a checkpoint's signed tree is not the database's tree at its size, or |
|          | not an extension of the previous checkpoint's (RFC 9162 consistency proof) |
| missing_table | a ledger table is gone (seq 1: nothing of the ledger can be vouched for) |
| worm_missing | the write-once copy ends before what the database, another checkpoint or a |
|          | witness says was shipped: its tail was hidden or removed |
| worm_stale | entries older than the shipping window are not in the write-once copy |
| worm_versions | the store holds a delete marker or a second version over a ledger object |

Besides the first break, the report says how many committed entries the sequencer has not
chained yet (`unchained`: normally 0, as they are chained on commit), how many entries are not
shipped yet (`unshipped`),
the newest signed checkpoint each source holds (`newest`: database, store, heartbeat,
witnesses), and the state of the database's guards (`guards`: triggers, and on PostgreSQL the
DDL guard and the session's replication role).

A chain without a secret can be recomputed by whoever can write the table; what they cannot do
is sign a checkpoint or rewrite a COMPLIANCE-locked object. So verify with `--worm` catches any
change up to the last shipped entry, and without it any change up to the last checkpoint and any
change after it that was not re-hashed.

The walk also rebuilds the Merkle tree from the entries (leaf = the entry's hash, RFC 9162), and
at each checkpoint that signed a tree it checks the signed root against the database's root at
that size and a consistency proof, generated from the database, from the previous checkpoint's
tree to this one: two signed tree heads that disagree about history cannot both stand.
"""

from __future__ import annotations

import datetime as dt
import itertools
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson
from django.conf import settings
from django.db import DatabaseError, connection, transaction

from casefile.audit import merkle
from casefile.audit.checkpoints import checkpoint_is_authentic, document_is_authentic
from casefile.audit.ledger import GENESIS_HASH, entry_hash
from casefile.audit.models import (
    HASHED_FIELDS,
    AuditCheckpoint,
    AuditEntry,
    AuditSegment,
    AuditTreeChunk,
    VerifyRun,
)
from casefile.audit.shipping import (
    CHECKPOINT_PREFIX,
    SEGMENT_PREFIX,
    checkpoint_key,
    newest_heartbeat,
    parse_segment_key,
)
from casefile.audit.triggers import guard_state
from casefile.audit.witness import read_witnesses
from casefile.core.errors import ValidationFailed
from casefile.core.timeutil import isoformat, now, parse_iso
from casefile.storage import ObjectNotFound, ObjectStore, ObjectStoreError, get_store

LOOKAHEAD = 1000  # entries read past a break to tell a reorder or renumbering from a change
MAX_SHIFT = 64  # how far a renumbered entry is searched for

_COLUMNS = ", ".join((*HASHED_FIELDS, "hash"))
# PostgreSQL formats created_at itself (as isoformat() does): no datetime objects per row.
_PG_COLUMNS = _COLUMNS.replace(
    "created_at", """to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')""", 1)
_JSON_FIELDS = ("details", "metadata")
LEDGER_TABLES = ("audit_entry", "audit_checkpoint", "audit_segment")


@dataclass(frozen=True)
class Break:
    seq: int
    kind: str
    message: str


@dataclass
class VerifyReport:
    ok: bool
    entries: int = 0
    last_seq: int | None = None
    last_hash: str | None = None
    checkpoints: int = 0
    segments: int | None = None
    worm: bool = False
    elapsed_s: float = 0.0
    entries_per_s: float = 0.0
    first_bad: Break | None = None
    unshipped: int | None = None
    unchained: int = 0
    newest: dict[str, int | None] = field(default_factory=dict)
    guards: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        bad = out.pop("first_bad")
        if bad:
            out.update({"seq": bad["seq"], "kind": bad["kind"], "message": bad["message"]})
        return out


def audit_verify(*, worm: bool = False, store: ObjectStore | None = None,
                 record_run: bool = True) -> VerifyReport:
    started, t0 = now(), time.perf_counter()
    report = VerifyReport(ok=True, worm=worm)
    breaks: list[Break] = []
    try:
        missing = _missing_tables()
        if not missing:
            _verify(report, breaks, worm, store)
    except DatabaseError:
        missing = _missing_tables()  # dropped while we read: report it; anything else is a bug
        if not missing:
            raise
    if missing:
        breaks = [Break(1, "missing_table",
                        f"ledger table{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
                        "missing: the ledger cannot be verified")]
    if breaks:
        report.ok = False
        report.first_bad = min(breaks, key=lambda b: b.seq)
    report.elapsed_s = round(time.perf_counter() - t0, 3)
    report.entries_per_s = round(report.entries / report.elapsed_s) if report.elapsed_s else 0
    if record_run:
        try:
            with transaction.atomic():
                VerifyRun.objects.create(started_at=started, finished_at=now(), worm=worm,
                                         ok=report.ok, entries=report.entries,
                                         report=report.as_dict())
        except DatabaseError as exc:  # the report matters more than its record
            report.notes.append(f"this run was not recorded: {exc}")
    return report


def _missing_tables() -> list[str]:
    with connection.cursor() as cursor:
        present = set(connection.introspection.table_names(cursor))
    return [t for t in LEDGER_TABLES if t not in present]


def _verify(report: VerifyReport, breaks: list[Break], worm: bool,
            store: ObjectStore | None) -> None:
    checkpoints: dict[int, AuditCheckpoint] = {}
    for cp in AuditCheckpoint.objects.order_by("seq"):
        if not checkpoint_is_authentic(cp):
            breaks.append(Break(cp.seq, "bad_checkpoint",
                                f"checkpoint #{cp.seq} has a signature no trusted key made"))
        else:
            checkpoints[cp.seq] = cp
    report.checkpoints = len(checkpoints)

    store = store or get_store()
    shipped: WormReader | None = None
    if worm:
        shipped = WormReader(store, dict(AuditSegment.objects.values_list("object_key",
                                                                          "version_id")))
        report.segments = shipped.segment_count

    tree = RunningTree(_stored_chunks())
    report.unchained = AuditEntry.objects.filter(seq__isnull=True).count()
    with transaction.atomic():  # one snapshot; server-side cursors need a transaction
        last_seq, last_hash, walked_to_end = _walk(report, _stream(), checkpoints, shipped,
                                                   breaks, tree)

    if shipped is not None:
        breaks.extend(shipped.breaks)
    if shipped is not None and walked_to_end:
        if shipped.error:
            breaks.append(shipped.error)
        elif (extra := shipped.next_seq()) is not None:
            breaks.append(Break(extra, "truncated",
                                f"the shipped segments hold entry #{extra} but the database "
                                f"ends at #{last_seq or 0}"))
    if walked_to_end and checkpoints and max(checkpoints) > (last_seq or 0):
        breaks.append(Break((last_seq or 0) + 1, "truncated",
                            f"checkpoint #{max(checkpoints)} was signed but the database ends "
                            f"at #{last_seq or 0}"))
    if walked_to_end:
        _tail_checks(report, breaks, checkpoints, shipped, store, last_seq or 0)
    report.guards = _guards()
    if walked_to_end and tree.stale_chunks:
        report.notes.append(
            f"stored tree chunks {tree.stale_chunks[:5]} differ from the entries: receipts "
            "built on them will not verify (the chunk table is a cache; verify ignores it)")
    report.last_seq, report.last_hash = last_seq, last_hash


def _tail_checks(report: VerifyReport, breaks: list[Break],
                 checkpoints: dict[int, AuditCheckpoint], shipped: WormReader | None,
                 store: ObjectStore, last_seq: int) -> None:
    """Whether the ledger, or its write-once copy, ends before what others saw signed."""
    newest: dict[str, int | None] = {"database": max(checkpoints, default=None)}
    signed_elsewhere: dict[str, dict[str, Any]] = {}
    if shipped is not None:
        in_store_doc = _newest_in_store(store)
        newest["store"] = in_store_doc["seq"] if in_store_doc else None
        beat = _authentic_or_none(_quietly(lambda: newest_heartbeat(store)))
        newest["heartbeat"] = beat["seq"] if beat else None
        signed_elsewhere |= {k: d for k, d in (("store", in_store_doc), ("heartbeat", beat)) if d}
        if beat is None:
            report.notes.append("no heartbeat in the store yet: the worker signs the shipped "
                                "head every AUDIT_CHECKPOINT_SECONDS; is it running?")
        elif _age_s(beat["created_at"]) > 3 * settings.AUDIT_CHECKPOINT_SECONDS:
            report.notes.append(f"the newest heartbeat is from {beat['created_at']}, over three "
                                "AUDIT_CHECKPOINT_SECONDS ago: is the worker shipping?")
    for read in _quietly(read_witnesses) or []:
        doc = _authentic_or_none(read.checkpoint)
        newest[f"witness {read.url}"] = doc["seq"] if doc else None
        if doc:
            signed_elsewhere[f"witness {read.url}"] = doc
        if read.error:
            report.notes.append(f"witness {read.url} could not be read: {read.error}")
    report.newest = newest
    # A history rewritten with every hash recomputed (and the database's checkpoints deleted)
    # still differs, at the seq they signed, from what the store and the witnesses hold.
    for source, doc in signed_elsewhere.items():
        seq = int(doc["seq"])
        if seq <= last_seq:
            here = AuditEntry.objects.filter(seq=seq).values_list("hash", flat=True).first()
            if here != doc["hash"]:
                breaks.append(Break(seq, "modified",
                                    f"entries up to #{seq} were rewritten: the {source} holds a "
                                    f"checkpoint over #{seq} with hash {doc['hash'][:12]}…, the "
                                    f"ledger has {str(here)[:12]}…"))
    held = [(seq, source) for source, seq in newest.items() if seq]
    if held and max(held)[0] > last_seq:
        seq, source = max(held)
        breaks.append(Break(last_seq + 1, "truncated",
                            f"the {source} holds a checkpoint over #{seq} but the database ends "
                            f"at #{last_seq}"))
    if shipped is None:
        return
    in_store = shipped.last_seq if shipped.error is None else shipped.error.seq - 1
    claimed = [(seq, source) for source, seq in newest.items()
               if seq and source != "database"]
    recorded = AuditSegment.objects.order_by("-last_seq").values_list("last_seq", flat=True)
    if (db_shipped := recorded.first()) is not None:
        claimed.append((db_shipped, "database's record of shipped segments"))
    if claimed and max(claimed)[0] > in_store:
        seq, source = max(claimed)
        breaks.append(Break(in_store + 1, "worm_missing",
                            f"the write-once copy ends at #{in_store} but the {source} says "
                            f"#{seq} was shipped"))
    report.unshipped = max(last_seq - in_store, 0)
    grace = max(60, 12 * settings.AUDIT_SHIP_SECONDS)
    waiting = (AuditEntry.objects.filter(seq__isnull=True).order_by("created_at")
               .values_list("created_at", flat=True).first())
    if waiting is not None and (now() - waiting).total_seconds() > grace:
        breaks.append(Break(last_seq + 1, "worm_stale",
                            f"{report.unchained} entries recorded since {isoformat(waiting)} are "
                            f"not chained after {grace} s: the sequencer has not run"))
    if report.unshipped:
        first = AuditEntry.objects.filter(seq=in_store + 1).values_list("created_at",
                                                                      flat=True).first()
        if first is not None and (now() - first).total_seconds() > grace:
            breaks.append(Break(in_store + 1, "worm_stale",
                                f"{report.unshipped} entries from #{in_store + 1} on are older "
                                f"than {grace} s and not in the write-once copy"))
    versions = _quietly(lambda: store.list_versions("audit/"))
    if versions is not None and not versions.ok:
        touched = sorted(set(versions.delete_marked) | set(versions.multiple_versions))
        seqs = [parse_segment_key(k)[0] for k in touched if k.startswith(SEGMENT_PREFIX)]
        breaks.append(Break(min(seqs, default=1), "worm_versions",
                            f"objects written over or hidden in the store: {touched[:5]}"))


def _newest_in_store(store: ObjectStore) -> dict[str, Any] | None:
    keys = sorted(k for k in _quietly(lambda: list(store.list(CHECKPOINT_PREFIX))) or []
                  if k.endswith(".json"))
    for key in reversed(keys):
        doc = _authentic_or_none(_quietly(lambda k=key: orjson.loads(store.get(k))))
        if doc:
            return doc
    return None


def _authentic_or_none(doc: Any) -> dict[str, Any] | None:
    return doc if isinstance(doc, dict) and document_is_authentic(doc) else None


def _quietly(read):
    """A read of the store or a witness for the tail checks: what cannot be read counts as
    holding nothing (the segment walk reports an unreadable store)."""
    try:
        return read()
    except (ObjectStoreError, ValueError, OSError):
        return None


def _age_s(created_at: str) -> float:
    return (now() - parse_iso(created_at)).total_seconds()


def _guards() -> dict[str, Any]:
    try:
        return guard_state(connection)
    except DatabaseError as exc:
        return {"error": str(exc)}


def _stored_chunks() -> dict[int, str]:
    try:
        with transaction.atomic():
            return dict(AuditTreeChunk.objects.values_list("index", "root"))
    except DatabaseError:  # the cache is gone: nothing to compare, receipts will rebuild it
        return {}


class RunningTree:
    """The Merkle tree of the entries walked so far: roots of complete chunks, the leaves of
    the chunk being filled, and the leaves of the chunk where the previous checkpoint ended
    (its consistency proof cuts through it). Enough for any root or consistency proof up to
    the current size, in memory proportional to size/256."""

    def __init__(self, stored_chunks: dict[int, str]):
        self.size = 0
        self.chunk_roots: list[bytes] = []
        self.current: list[bytes] = []
        self.kept: dict[int, list[bytes]] = {}
        self.memo: dict[tuple[int, int], bytes] = {}
        self.stored = stored_chunks
        self.stale_chunks: list[int] = []

    def add(self, entry_hash_hex: str) -> None:
        self.current.append(merkle.leaf_hash(bytes.fromhex(entry_hash_hex)))
        self.size += 1
        if len(self.current) == merkle.CHUNK:
            index = len(self.chunk_roots)
            root = merkle.perfect_root(self.current)
            self.chunk_roots.append(root)
            stored = self.stored.get(index)
            if stored is not None and stored != root.hex():
                self.stale_chunks.append(index)
            if index in self.kept:
                self.kept[index] = self.current
            self.current = []

    def keep_chunk_of(self, size: int) -> None:
        """Hold on to the leaves around `size`, which the next consistency proof needs."""
        index = size // merkle.CHUNK
        self.kept = {index: self.current} if size % merkle.CHUNK else {}

    def at(self, size: int) -> merkle.ChunkedTree:
        return merkle.ChunkedTree(size, self.chunk_roots.__getitem__, self._leaves,
                                  chunk=merkle.CHUNK, memo=self.memo)

    def _leaves(self, index: int) -> list[bytes]:
        return self.current if index == len(self.chunk_roots) else self.kept[index]


def _walk(report, rows, checkpoints, shipped, breaks, tree: RunningTree,
          ) -> tuple[int | None, str | None, bool]:
    """Check every entry in order; stop at the first break. Returns the last good entry's seq
    and hash, and whether the walk reached the end of the ledger."""
    expected, prev_hash, prevprev_hash = 1, GENESIS_HASH, None
    good_checkpoint = 0
    previous_tree: tuple[int, bytes] | None = None  # size and signed root of the last checkpoint
    for doc, stored in rows:
        seq = doc["seq"]
        if seq != expected or doc["prev_hash"] != prev_hash or _hash(doc) != stored:
            window = [(doc, stored), *itertools.islice(rows, LOOKAHEAD)]
            breaks.append(classify(expected, prevprev_hash, window))
            return expected - 1 or None, prev_hash, False
        if shipped is not None and shipped.error is None and seq <= shipped.last_seq:
            copy = shipped.entry(seq)
            if copy is None and shipped.error is not None:  # the copy itself is broken here
                breaks.append(shipped.error)
                shipped = None
            elif copy is None or copy != {**doc, "hash": stored}:
                breaks.append(Break(seq, "worm_mismatch",
                                    f"entry #{seq} differs from its shipped copy"
                                    if copy else f"entry #{seq} is not in the shipped segments"))
                shipped = None
        tree.add(stored)
        checkpoint = checkpoints.get(seq)
        if checkpoint is not None:
            if checkpoint.hash != stored:
                breaks.append(Break(
                    good_checkpoint + 1, "modified",
                    f"entries #{good_checkpoint + 1}..#{seq} were rewritten: checkpoint #{seq} "
                    f"signed hash {checkpoint.hash[:12]}…, the ledger has {stored[:12]}…"))
                return expected - 1 or None, prev_hash, False
            if checkpoint.root_hash is not None:
                problem = _tree_problem(tree, seq, bytes.fromhex(checkpoint.root_hash),
                                        previous_tree)
                if problem:
                    breaks.append(Break(good_checkpoint + 1, "inconsistent_checkpoint",
                                        f"checkpoint #{seq}: {problem}"))
                    return expected - 1 or None, prev_hash, False
                previous_tree = (seq, bytes.fromhex(checkpoint.root_hash))
                tree.keep_chunk_of(seq)
            good_checkpoint = seq
        report.entries += 1
        expected, prevprev_hash, prev_hash = seq + 1, prev_hash, stored
    return (expected - 1 or None), (prev_hash if expected > 1 else None), True


def _tree_problem(tree: RunningTree, size: int, signed_root: bytes,
                  previous: tuple[int, bytes] | None) -> str | None:
    """Why the checkpoint's signed tree (size, root) cannot stand beside the database and the
    previous checkpoint, or None."""
    here = tree.at(size)
    if here.root() != signed_root:
        return (f"its signed tree root {signed_root.hex()[:12]}… is not the root of entries "
                f"#1..#{size} ({here.root().hex()[:12]}…)")
    if previous is not None:
        first, first_root = previous
        proof = here.consistency_proof(first)
        if not merkle.verify_consistency(first, size, first_root, signed_root, proof):
            return (f"its tree is not an extension of checkpoint #{first}'s (RFC 9162 "
                    "consistency proof fails)")
    return None


def classify(expected: int, prevprev_hash: str | None,
             window: list[tuple[dict[str, Any], str]]) -> Break:
    """Name the break at the first entry that fails, looking at the entries after it."""
    doc, stored = window[0]
    seq = doc["seq"]
    if seq > expected:
        return Break(expected, "missing", f"entries #{expected}..#{seq - 1} are missing")
    later = {h for _, h in window[1:]}
    if doc["prev_hash"] in later:
        return Break(seq, "reordered",
                     f"entry #{seq} links to an entry that now comes after it")
    if _hash(doc) != stored:
        shift = _renumbered_by(doc, stored)
        if shift is not None and shift > 0:
            return Break(seq, "missing", f"{shift} entr{'y' if shift == 1 else 'ies'} before "
                         f"#{seq + shift} (now #{seq}) were deleted and the rest renumbered")
        if shift is not None and shift < 0:
            return Break(seq + shift, "inserted",
                         f"entries were inserted at #{seq + shift} and the rest renumbered")
        if len(window) > 1 and _renumbered_by(*window[1]) == -1:
            return Break(seq, "inserted", f"entry #{seq} was inserted and the rest renumbered")
        return Break(seq, "modified", f"entry #{seq} does not match its hash")
    if seq > 1 and doc["prev_hash"] == prevprev_hash:
        return Break(seq - 1, "inserted",
                     f"entry #{seq - 1} was inserted: #{seq} links to #{seq - 2}")
    if seq == 1:
        return Break(1, "modified", "the first entry does not start the chain")
    return Break(seq - 1, "modified",
                 f"entry #{seq - 1} was changed and re-hashed: #{seq} no longer links to it")


def _renumbered_by(doc: dict[str, Any], stored: str) -> int | None:
    """The shift d for which the entry hashes correctly as seq + d, if any (d != 0)."""
    for distance in range(1, MAX_SHIFT + 1):
        for d in (distance, -distance):
            if doc["seq"] + d >= 1 and _hash({**doc, "seq": doc["seq"] + d}) == stored:
                return d
    return None


def _hash(doc: dict[str, Any]) -> str | None:
    """The entry's hash, or None if its content cannot be canonicalised (so it matches nothing)."""
    try:
        return entry_hash(doc)
    except ValidationFailed:
        return None


def _stream(batch: int = 5000) -> Iterator[tuple[dict[str, Any], str]]:
    cursor = connection.chunked_cursor()
    columns = _PG_COLUMNS if connection.vendor == "postgresql" else _COLUMNS
    try:
        cursor.execute(f"SELECT {columns} FROM audit_entry "  # noqa: S608
                       "WHERE seq IS NOT NULL ORDER BY seq")
        while rows := cursor.fetchmany(batch):
            for row in rows:
                yield _doc(row)
    finally:
        cursor.close()


def _first_unchained(lines: list[dict[str, Any]], prev_hash: str) -> int | None:
    """The seq of the first shipped line that does not match its own hash or does not link to
    the line before it, if any."""
    for line in lines:
        doc = {k: v for k, v in line.items() if k != "hash"}
        if line.get("prev_hash") != prev_hash or _hash(doc) != line.get("hash"):
            return int(line["seq"])
        prev_hash = line["hash"]
    return None


def _doc(row) -> tuple[dict[str, Any], str]:
    doc = dict(zip(HASHED_FIELDS, row, strict=False))
    created = doc["created_at"]
    if not isinstance(created, str) or not created.endswith("Z"):
        if isinstance(created, str):
            created = dt.datetime.fromisoformat(created)
        if created.tzinfo is None:  # SQLite keeps naive UTC
            created = created.replace(tzinfo=dt.UTC)
        doc["created_at"] = created.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    for name in _JSON_FIELDS:
        if isinstance(doc[name], str | bytes):
            doc[name] = orjson.loads(doc[name])
    return doc, row[-1]


class WormReader:
    """The shipped copy of the ledger, entry by entry in seq order, checked as it is read:
    segments contiguous, each with an authentic checkpoint over its last entry.

    A segment that does not match its signed checkpoint is still read, so the walk can name the
    first entry where the database and the shipped copy differ, and the segment's own chain is
    checked line by line to find where the copy itself was altered: the report names that seq,
    not the segment's first (only a segment rewritten consistently all through, whose copy
    agrees with the database, is named by its first entry: the change is somewhere in it)."""

    def __init__(self, store: ObjectStore, recorded: dict[str, str | None] | None = None):
        """`recorded`: the segments the database says were shipped, with the version each was
        shipped as. Those are read by that version, and read even if a delete marker now hides
        them from the listing (the versions check reports the marker)."""
        self.store = store
        self.recorded = recorded or {}
        self.keys = sorted(set(store.list(SEGMENT_PREFIX)) | set(self.recorded))
        self.segment_count = len(self.keys)
        self.last_seq = parse_segment_key(self.keys[-1])[1] if self.keys else 0
        self.error: Break | None = None
        self.breaks: list[Break] = []
        self._entries = self._read()
        self._pending: dict[str, Any] | None = None

    def _read(self) -> Iterator[dict[str, Any]]:
        expected, prev_hash = 1, GENESIS_HASH
        for key in self.keys:
            first, last = parse_segment_key(key)
            if first != expected:
                self.error = Break(expected, "worm_mismatch",
                                   f"shipped segments skip from #{expected - 1} to #{first}")
                return
            try:
                body = self._body(key)
                lines = [orjson.loads(line) for line in body.splitlines()]
                checkpoint = orjson.loads(self.store.get(checkpoint_key(last)))
            except ObjectNotFound:
                self.error = Break(first, "worm_missing",
                                   f"segment {key}, shipped, is gone from the store")
                return
            except (ObjectStoreError, orjson.JSONDecodeError) as exc:
                self.error = Break(first, "worm_mismatch", f"segment {key} unreadable: {exc}")
                return
            if [d.get("seq") if isinstance(d, dict) else None
                    for d in lines] != list(range(first, last + 1)):
                self.error = Break(first, "worm_mismatch",
                                   f"segment {key} does not hold entries #{first}..#{last}")
                return
            if not document_is_authentic(checkpoint) or checkpoint.get("hash") != lines[-1].get(
                    "hash") or checkpoint.get("seq") != last:
                altered = _first_unchained(lines, prev_hash)
                self.breaks.append(Break(
                    first if altered is None else altered, "worm_mismatch",
                    f"segment {key} does not match its signed checkpoint "
                    f"({CHECKPOINT_PREFIX}{last:012d}.json)"
                    + ("" if altered is None else f": its entry #{altered} was altered")))
            yield from lines
            expected, prev_hash = last + 1, str(lines[-1].get("hash"))

    def _body(self, key: str) -> bytes:
        """The segment as shipped: its recorded version; if that version is gone (a `file://`
        object rewritten in place has a new one), what is there now, which the comparison with
        the database and the signed checkpoint then judges entry by entry."""
        version = self.recorded.get(key)
        if version:
            try:
                return self.store.get(key, version_id=version)
            except ObjectNotFound:
                pass
        return self.store.get(key)

    def entry(self, seq: int) -> dict[str, Any] | None:
        doc = self._pending or next(self._entries, None)
        self._pending = None
        if doc is None or doc.get("seq") != seq:
            return None
        return doc

    def next_seq(self) -> int | None:
        doc = next(self._entries, None)
        if doc is None:
            return None
        self._pending = doc
        return doc.get("seq")
