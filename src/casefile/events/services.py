"""Writes for events: ingestion, export (audited), retention."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import IO

import orjson
from django.conf import settings
from django.db import connection, transaction

from casefile.accounts.permissions import Perm
from casefile.audit import ledger
from casefile.audit.actor import Actor
from casefile.core.errors import ValidationFailed
from casefile.core.timeutil import isoformat, now
from casefile.events import parsing, partitions
from casefile.events.issues import templates_register
from casefile.events.models import Event
from casefile.events.normalise import ALIASES, EventRow, normalise
from casefile.events.parsing import ParseError, UnusableInput
from casefile.events.rollups import rollups_drop
from casefile.events.selectors import EventFilter, events
from casefile.events.severity import Severity
from casefile.events.store import store_batch

BATCH_SIZE = 5000
MAX_REPORTED_ERRORS = 1000


@dataclass
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    errors: list[dict] = field(default_factory=list)

    def reject(self, line: int, error: str) -> None:
        self.rejected += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append({"line": line, "error": error})

    def as_dict(self) -> dict:
        return {"accepted": self.accepted, "duplicates": self.duplicates,
                "rejected": self.rejected, "errors": self.errors}


def events_ingest(
    *,
    actor: Actor,
    data: bytes | IO[bytes],
    fmt: str = "auto",
    source: str = "api",
    progress: Callable[[int], None] | None = None,
) -> IngestResult:
    """Parse, normalise and store events. Good lines are stored; bad ones are reported with
    their line number (only the first 1,000 are listed). Raises UnusableInput when the input
    cannot be read at all. `progress(n)` is told after each batch how many lines were read."""
    actor.require(Perm.EVENTS_INGEST)
    if fmt not in parsing.FORMATS:
        raise ValidationFailed(f"unknown format {fmt!r}", details={"formats": parsing.FORMATS})
    records, has_content, fmt = _records(data, fmt)
    result = IngestResult()
    received_at = now()
    batch: list[EventRow] = []
    lines = 0
    for line, record in records:
        lines = line
        row = record if isinstance(record, ParseError) else normalise(
            record, default_source=source, received_at=received_at)
        if isinstance(row, ParseError):
            result.reject(line, row.message)
            continue
        batch.append(row)
        if len(batch) >= BATCH_SIZE:
            _flush(batch, result)
            if progress:
                progress(lines)
    _flush(batch, result)
    if progress:
        progress(lines)
    if has_content and fmt != "otlp" and not (
            result.accepted or result.duplicates or result.rejected):
        # Every byte is accounted for: a body with content but no event in it was most likely
        # sent in another format than the one it was read as. (An OTLP export is checked for
        # its structure as a whole, and one that holds no record is a valid empty batch:
        # exporters send them, and the OTLP spec wants them answered as a success.)
        raise UnusableInput(f"no event found in the input (read as {fmt}; set the Content-Type "
                            "or format to json, ndjson, csv or otlp)")
    return result


def _flush(batch: list[EventRow], result: IngestResult) -> None:
    if batch:
        # New templates get their issue first: a stored event's template always has one.
        templates_register(batch)
        stored = store_batch(batch)
        result.accepted += stored
        result.duplicates += len(batch) - stored
        batch.clear()


BOM = b"\xef\xbb\xbf"


def _records(data: bytes | IO[bytes], fmt: str) -> tuple[Iterator[parsing.Parsed], bool, str]:
    """Bytes (HTTP) or a buffered binary stream (CLI: files, stdin), read line by line where
    the format allows, so a large NDJSON or CSV file is never all in memory. Also tells whether
    there is anything but blanks to read. A UTF-8 byte-order mark (as spreadsheet programs
    write) is not part of the first line. Returns the records, whether there is content, and
    the format they are read as (`auto` resolved)."""
    if isinstance(data, bytes | bytearray):
        payload = bytes(data).removeprefix(BOM)
        fmt = parsing.detect_format(payload[:65536]) if fmt == "auto" else fmt
        return _parse(fmt, lambda: payload, lambda: iter(payload.splitlines(keepends=True))), \
            bool(payload.strip()), fmt
    stream = data
    if stream.peek(3)[:3] == BOM:  # type: ignore[attr-defined]  # BufferedReader
        stream.read(3)
    head = stream.peek(65536)[:65536]  # type: ignore[attr-defined]
    fmt = parsing.detect_format(head) if fmt == "auto" else fmt
    return _parse(fmt, stream.read, lambda: iter(stream)), bool(head.strip()), fmt


def _parse(fmt: str, read_all: Callable[[], bytes],
           lines: Callable[[], Iterator[bytes]]) -> Iterator[parsing.Parsed]:
    if fmt == "json":
        return parsing.parse_json(read_all())
    if fmt == "otlp":
        return parsing.parse_otlp(read_all())
    if fmt == "ndjson":
        return parsing.parse_ndjson(lines())
    return parsing.parse_csv(lines(), message_columns=ALIASES["message"])


EXPORT_COLUMNS = ("id", "occurred_at", "severity", "component", "service", "environment",
                  "system_id", "event_type", "fingerprint", "source", "message")


def events_export(*, actor: Actor, event_filter: EventFilter, fmt: str,
                  reason_code: str) -> Iterator[bytes]:
    """Record EXPORT_REQUESTED with the filter (committed first), then stream the events."""
    actor.require(Perm.EVENTS_EXPORT)
    if fmt not in ("csv", "ndjson"):
        raise ValidationFailed("export format must be csv or ndjson")
    with transaction.atomic(durable=True):
        ledger.record(actor=actor, action="EXPORT_REQUESTED", resource="export:events",
                      reason_code=reason_code,
                      metadata={"dataset": "events", "format": fmt,
                                "filter": event_filter.as_dict()})
    rows = events(event_filter).order_by("-occurred_at", "-id").iterator(chunk_size=2000)
    return _csv_lines(rows) if fmt == "csv" else _ndjson_lines(rows)


def _export_values(event: Event) -> dict:
    return {
        "id": event.id, "occurred_at": isoformat(event.occurred_at),
        "severity": Severity(event.severity).label, "component": event.component,
        "service": event.service, "environment": event.environment,
        "system_id": event.system_id, "event_type": event.event_type,
        "fingerprint": event.fingerprint, "source": event.source, "message": event.message,
    }


def _ndjson_lines(rows: Iterable[Event]) -> Iterator[bytes]:
    for event in rows:
        yield orjson.dumps(_export_values(event)) + b"\n"


def _csv_lines(rows: Iterable[Event]) -> Iterator[bytes]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_COLUMNS)
    writer.writeheader()
    for i, event in enumerate(rows):
        writer.writerow(_export_values(event))
        if i % 500 == 499:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()


@dataclass
class PurgeResult:
    deleted: int = 0  # events deleted one by one (SQLite)
    dropped: list[partitions.Dropped] = field(default_factory=list)  # months (PostgreSQL)
    busy: list[str] = field(default_factory=list)  # months left for the next run: table busy
    rollups_deleted: int = 0

    def as_dict(self) -> dict:
        return {"deleted": self.deleted,
                "dropped": [{"partition": d.partition, "kept": d.kept,
                             "dropped_about": d.dropped_about, "locked_ms": d.locked_ms}
                            for d in self.dropped],
                "busy": self.busy, "rollups_deleted": self.rollups_deleted}


def events_purge(*, older_than_days: int | None = None) -> PurgeResult:
    """Remove events older than the retention period. Casefile's own job.

    Events linked to a case are evidence and are kept. On PostgreSQL whole months go: each
    month that ended before the cutoff has its partition replaced by one holding only its
    linked rows (events.partitions), so events are kept up to a month longer than the
    retention period and a month costs a fraction of a second however many events it held.
    On SQLite the events before the cutoff are deleted in batches. The hourly rollups of what
    was removed go too."""
    days = older_than_days if older_than_days is not None else settings.EVENT_RETENTION_DAYS
    if days < 1:
        raise ValidationFailed("retention must be at least one day")
    cutoff = now() - timedelta(days=days)
    if connection.vendor == "postgresql":
        return _purge_partitions(cutoff)
    result = PurgeResult()
    while True:
        with transaction.atomic():
            ids = list(_purgeable(cutoff).values_list("id", flat=True)[:5000])
            if not ids:
                break
            result.deleted += Event.objects.filter(id__in=ids).delete()[0]
    # Only hours wholly before the cutoff: the hour it falls in still counts later events.
    whole_hours = cutoff.replace(minute=0, second=0, microsecond=0)
    result.rollups_deleted = rollups_drop(None, whole_hours)  # and their days and totals
    return result


def _purgeable(cutoff):
    return Event.objects.filter(occurred_at__lt=cutoff, case_links__isnull=True)


def _purge_partitions(cutoff: datetime) -> PurgeResult:
    result = PurgeResult()
    for partition in partitions.partitions_before(cutoff):
        try:
            dropped = partitions.partition_drop_keeping_linked(partition)
        except partitions.Busy:
            result.busy.append(partition.name)
            continue
        if dropped:
            result.dropped.append(dropped)
        # Also for a month dropped earlier: a no-op then, unless that run stopped in between.
        # Apart from the swap, which holds `event` locked, and as long as a month of hours.
        result.rollups_deleted += rollups_drop(partition.since, partition.until)
    return result


def events_partitions_ahead() -> list[str]:
    """Create the partitions of this month and the next two (PostgreSQL): the store creates a
    missing month itself, this keeps it off the ingest path. Returns those created."""
    return partitions.partitions_ahead(3)


__all__ = ["IngestResult", "PurgeResult", "UnusableInput", "events_export", "events_ingest",
           "events_partitions_ahead", "events_purge"]
