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

A chain without a secret can be recomputed by whoever can write the table; what they cannot do
is sign a checkpoint or rewrite a COMPLIANCE-locked object. So verify with `--worm` catches any
change up to the last shipped entry, and without it any change up to the last checkpoint and any
change after it that was not re-hashed.
"""

from __future__ import annotations

import datetime as dt
import itertools
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson
from django.db import connection, transaction

from casefile.audit.checkpoints import checkpoint_is_authentic, document_is_authentic
from casefile.audit.ledger import GENESIS_HASH, entry_hash
from casefile.audit.models import HASHED_FIELDS, AuditCheckpoint, VerifyRun
from casefile.audit.shipping import (
    CHECKPOINT_PREFIX,
    SEGMENT_PREFIX,
    checkpoint_key,
    parse_segment_key,
)
from casefile.core.errors import ValidationFailed
from casefile.core.timeutil import now
from casefile.storage import ObjectStore, ObjectStoreError, get_store

LOOKAHEAD = 1000  # entries read past a break to tell a reorder or renumbering from a change
MAX_SHIFT = 64  # how far a renumbered entry is searched for

_COLUMNS = ", ".join((*HASHED_FIELDS, "hash"))
# PostgreSQL formats created_at itself (as isoformat() does): no datetime objects per row.
_PG_COLUMNS = _COLUMNS.replace(
    "created_at", """to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')""", 1)
_JSON_FIELDS = ("details", "metadata")


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

    checkpoints = {}
    for cp in AuditCheckpoint.objects.order_by("seq"):
        if not checkpoint_is_authentic(cp):
            breaks.append(Break(cp.seq, "bad_checkpoint",
                                f"checkpoint #{cp.seq} has a signature no trusted key made"))
        else:
            checkpoints[cp.seq] = cp.hash
    report.checkpoints = len(checkpoints)

    shipped: WormReader | None = None
    if worm:
        shipped = WormReader(store or get_store())
        report.segments = shipped.segment_count

    with transaction.atomic():  # one snapshot; server-side cursors need a transaction
        last_seq, last_hash, walked_to_end = _walk(report, _stream(), checkpoints, shipped,
                                                   breaks)

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

    report.last_seq, report.last_hash = last_seq, last_hash
    if breaks:
        report.ok = False
        report.first_bad = min(breaks, key=lambda b: b.seq)
    report.elapsed_s = round(time.perf_counter() - t0, 3)
    report.entries_per_s = round(report.entries / report.elapsed_s) if report.elapsed_s else 0
    if record_run:
        VerifyRun.objects.create(started_at=started, finished_at=now(), worm=worm, ok=report.ok,
                                 entries=report.entries, report=report.as_dict())
    return report


def _walk(report, rows, checkpoints, shipped, breaks) -> tuple[int | None, str | None, bool]:
    """Check every entry in order; stop at the first break. Returns the last good entry's seq
    and hash, and whether the walk reached the end of the ledger."""
    expected, prev_hash, prevprev_hash = 1, GENESIS_HASH, None
    good_checkpoint = 0
    for doc, stored in rows:
        seq = doc["seq"]
        if seq != expected or doc["prev_hash"] != prev_hash or _hash(doc) != stored:
            window = [(doc, stored), *itertools.islice(rows, LOOKAHEAD)]
            breaks.append(classify(expected, prevprev_hash, window))
            return expected - 1 or None, prev_hash, False
        if shipped is not None and shipped.error is None and seq <= shipped.last_seq:
            copy = shipped.entry(seq)
            if copy is None or copy != {**doc, "hash": stored}:
                breaks.append(Break(seq, "worm_mismatch",
                                    f"entry #{seq} differs from its shipped copy"
                                    if copy else f"entry #{seq} is not in the shipped segments"))
                shipped = None
        signed = checkpoints.get(seq)
        if signed is not None:
            if signed != stored:
                breaks.append(Break(
                    good_checkpoint + 1, "modified",
                    f"entries #{good_checkpoint + 1}..#{seq} were rewritten: checkpoint #{seq} "
                    f"signed hash {signed[:12]}…, the ledger has {stored[:12]}…"))
                return expected - 1 or None, prev_hash, False
            good_checkpoint = seq
        report.entries += 1
        expected, prevprev_hash, prev_hash = seq + 1, prev_hash, stored
    return (expected - 1 or None), (prev_hash if expected > 1 else None), True


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
        cursor.execute(f"SELECT {columns} FROM audit_entry ORDER BY seq")  # noqa: S608
        while rows := cursor.fetchmany(batch):
            for row in rows:
                yield _doc(row)
    finally:
        cursor.close()


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
    segments contiguous, each with an authentic checkpoint over its last entry."""

    def __init__(self, store: ObjectStore):
        self.store = store
        self.keys = sorted(store.list(SEGMENT_PREFIX))
        self.segment_count = len(self.keys)
        self.last_seq = parse_segment_key(self.keys[-1])[1] if self.keys else 0
        self.error: Break | None = None
        self._entries = self._read()
        self._pending: dict[str, Any] | None = None

    def _read(self) -> Iterator[dict[str, Any]]:
        expected = 1
        for key in self.keys:
            first, last = parse_segment_key(key)
            if first != expected:
                self.error = Break(expected, "worm_mismatch",
                                   f"shipped segments skip from #{expected - 1} to #{first}")
                return
            try:
                lines = [orjson.loads(line) for line in self.store.get(key).splitlines()]
                checkpoint = orjson.loads(self.store.get(checkpoint_key(last)))
            except (ObjectStoreError, orjson.JSONDecodeError) as exc:
                self.error = Break(first, "worm_mismatch", f"segment {key} unreadable: {exc}")
                return
            if (not document_is_authentic(checkpoint) or not lines
                    or checkpoint.get("hash") != lines[-1].get("hash")
                    or [d.get("seq") for d in lines] != list(range(first, last + 1))):
                self.error = Break(first, "worm_mismatch",
                                   f"segment {key} does not match its signed checkpoint "
                                   f"({CHECKPOINT_PREFIX}{last:012d}.json)")
                return
            yield from lines
            expected = last + 1

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
