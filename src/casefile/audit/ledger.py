"""Writing to the audit ledger: `record(...)`, the one entry point.

`record` runs inside the caller's transaction, so the entry commits or rolls back with the change
it describes. It inserts the entry without its place in the chain. The sequencer,
`chain_pending`, run by the worker every AUDIT_SEQUENCE_MS (as Trillian's log signer integrates
queued leaves), gives each committed entry waiting the next `seq` and chains it to the one
before, in batches under the chain lock: gapless and totally ordered under any number of
concurrent writers, which never wait for one another.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime as dt
import decimal
import hashlib
import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from django.conf import settings
from django.db import connection, transaction

from casefile.accounts.roles import is_machine
from casefile.audit.actor import Actor
from casefile.audit.models import HASHED_FIELDS, AuditEntry
from casefile.audit.registry import Risk, action_type, check_reason_code, system_reason
from casefile.audit.triggers import CONTENT_COLUMNS
from casefile.core.canonical import canonical_json_fast
from casefile.core.errors import ValidationFailed
from casefile.core.ids import new_id
from casefile.core.timeutil import isoformat, now

GENESIS_HASH = "0" * 64
CHAIN_BATCH = 1000
logger = logging.getLogger(__name__)
_CHAIN_LOCK_KEY = 0x6361_7365_6669_6C65 & 0x7FFF_FFFF_FFFF_FFFF  # "casefile", as a bigint


def record(
    *,
    actor: Actor,
    action: str,
    resource: str,
    reason_code: str | None = None,
    ticket_ref: str | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    target_tenant_id: str | None = None,
    target_user_id: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry. `before`/`after` are snapshots of the resource; the diff is computed.

    A person gives `reason_code`; a machine (Casefile itself, the CLI, a machine identity) gives
    none and records the action's system reason from the registry."""
    if not connection.in_atomic_block:
        raise RuntimeError("audit.record must run inside the transaction of the change it records")
    kind = action_type(action)
    if actor.user is None or is_machine(actor.roles):
        declared = system_reason(kind)
        if reason_code not in (None, declared):
            raise ValueError(f"machines do not choose a reason: {action} records {declared}")
        reason_code = declared
    else:
        reason_code = check_reason_code(reason_code)
    if kind.risk is Risk.CRITICAL and not ticket_ref:
        raise ValidationFailed(f"{action} is CRITICAL: a ticket reference is required")
    if not resource.startswith(kind.resource_type + ":"):
        raise ValueError(f"{action} records a {kind.resource_type}, not {resource!r}")

    details: dict[str, Any] = {}
    if before is not None:
        details["before"] = normalise(before)
    if after is not None:
        details["after"] = normalise(after)
    if before is not None and after is not None:
        details["diff"] = diff(details["before"], details["after"])
    meta = normalise({**actor.context, **(metadata or {})})
    if _previewing.get():
        raise _Previewed(Preview(action, kind.risk.value, resource, details, meta))

    fields: dict[str, Any] = {
        "id": new_id("aud"),
        "created_at": now(),
        **actor.snapshot(),
        "ip_address": actor.ip_address,
        "user_agent": actor.user_agent,
        "action": action,
        "risk": kind.risk.value,
        "resource": resource,
        "target_tenant_id": target_tenant_id,
        "target_user_id": target_user_id,
        "reason_code": reason_code,
        "ticket_ref": ticket_ref or None,
        "details": details,
        "metadata": meta,
    }
    # Refuse now what could not be chained later: the sequencer hashes this same content.
    entry_hash(document({**fields, "seq": 0, "prev_hash": GENESIS_HASH}))
    return _insert(fields)


def _insert(fields: dict[str, Any]) -> AuditEntry:
    """One INSERT of the entry's content columns. Written out rather than through the ORM's
    `create`, whose query compilation costs more than the insert on the path every audited
    action takes; the values go in as the ORM would store them."""
    postgres = connection.vendor == "postgresql"
    params = [fields[c] for c in CONTENT_COLUMNS]
    for i, column in enumerate(CONTENT_COLUMNS):
        if column in ("details", "metadata"):
            params[i] = orjson.dumps(params[i]).decode()
        elif column == "created_at" and not postgres:
            params[i] = connection.ops.adapt_datetimefield_value(params[i])
    with connection.cursor() as cursor:
        cursor.execute(_INSERT_SQL[postgres], params)
    entry = AuditEntry(**fields)
    entry._state.adding, entry._state.db = False, connection.alias
    return entry


def _insert_sql(*, postgres: bool) -> str:
    values = ", ".join("%s::jsonb" if postgres and c in ("details", "metadata") else "%s"
                       for c in CONTENT_COLUMNS)
    # Only this module's column names are spliced in; every value is a parameter.
    return f"INSERT INTO audit_entry ({', '.join(CONTENT_COLUMNS)}) VALUES ({values})"  # noqa: S608


_INSERT_SQL = {postgres: _insert_sql(postgres=postgres) for postgres in (False, True)}


def chain_pending(*, batch: int = CHAIN_BATCH) -> int:
    """The sequencer: give every committed entry still without one its `seq`, `prev_hash` and
    `hash`, in the order they were recorded, in batches. Returns how many it chained.

    Entries are inserted in their change's transaction without a place in the chain; placing
    them happens here, after commit, under the chain lock: the worker's sequencer, the ship job
    and a receipt for a waiting entry call it. Writers therefore never wait for one another,
    and the chain costs one short transaction per batch. The hash is computed
    from the row as stored, exactly as verify recomputes it. Triggers allow an entry's row to
    change only this way: the three columns, once, from NULL.

    On PostgreSQL the lock is tried, not waited for: a caller that finds it taken leaves the
    waiting entries to the holder, who looks for them again after letting go — so an entry
    committed before a failed try is always seen by a pass that starts after it. On SQLite the
    write lock every transaction takes at BEGIN IMMEDIATE is the chain lock."""
    chained = 0
    while True:
        with _chain_lock() as held:
            if not held:
                return chained
            while (placed := _chain_batch(batch)) == batch:
                chained += placed
            chained += placed
        if connection.vendor != "postgresql" or not AuditEntry.objects.filter(
                seq__isnull=True).exists():
            return chained


@contextlib.contextmanager
def _chain_lock() -> Iterator[bool]:
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [_CHAIN_LOCK_KEY])
        held = cursor.fetchone()[0]
    try:
        yield held
    finally:
        if held:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [_CHAIN_LOCK_KEY])


def _chain_batch(batch: int) -> int:
    with transaction.atomic(durable=True):
        pending = list(AuditEntry.objects.filter(seq__isnull=True)
                       .order_by("created_at", "id").values_list(*HASHED_FIELDS)[:batch])
        if not pending:
            return 0
        head = AuditEntry.objects.filter(seq__isnull=False).order_by("-seq").first()
        seq, prev_hash = head.position() if head else (0, GENESIS_HASH)
        ids, seqs, prev_hashes, hashes = [], [], [], []
        for row in pending:
            seq += 1
            doc = document(dict(zip(HASHED_FIELDS, row, strict=True)))
            doc["seq"], doc["prev_hash"] = seq, prev_hash
            ids.append(doc["id"])
            seqs.append(seq)
            prev_hashes.append(prev_hash)
            prev_hash = entry_hash(doc)
            hashes.append(prev_hash)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":  # one statement for the batch
                cursor.execute(
                    "UPDATE audit_entry e SET seq = v.seq, prev_hash = v.prev_hash, "
                    "hash = v.hash FROM unnest(%s::text[], %s::bigint[], %s::text[], "
                    "%s::text[]) AS v(id, seq, prev_hash, hash) WHERE e.id = v.id",
                    [ids, seqs, prev_hashes, hashes])
            else:
                cursor.executemany(
                    "UPDATE audit_entry SET seq = %s, prev_hash = %s, hash = %s WHERE id = %s",
                    list(zip(seqs, prev_hashes, hashes, ids, strict=True)))
    return len(pending)


def sequence_until(stop: threading.Event) -> None:
    """The sequencer's loop, as the worker runs it on a thread of its own (so the queue's tasks
    never delay it): a pass every AUDIT_SEQUENCE_MS until `stop` is set. Several workers may
    run one each: the chain lock lets one pass at a time through and the others return."""
    while not stop.wait(settings.AUDIT_SEQUENCE_MS / 1000):
        try:
            chain_pending()
        except Exception:  # a database restart, say: log it, reconnect on the next tick
            logger.exception("audit sequencer: pass failed")
            connection.close()
    connection.close()


def pending_count() -> int:
    """Entries not yet placed in the chain (normally those of the last AUDIT_SEQUENCE_MS)."""
    return AuditEntry.objects.filter(seq__isnull=True).count()


@dataclass(frozen=True)
class Preview:
    """The entry a change would record, had it been made."""

    action: str
    risk: str
    resource: str
    details: dict[str, Any]
    metadata: dict[str, Any]


class _Previewed(Exception):  # noqa: N818 - control flow, never seen outside `preview`
    def __init__(self, preview: Preview):
        self.preview = preview


_previewing = contextvars.ContextVar("audit_previewing", default=False)
T = TypeVar("T")


def preview(change: Callable[[], T]) -> Preview | None:
    """Run `change` (a service call) up to the moment it would write its audit entry, and
    return that entry instead of writing it. The exception raised there rolls back the
    service's own transaction, so nothing changes: the console shows staff exactly the
    before/after that applying the change will record. A service that refuses the change
    raises its error as usual; one that records nothing returns None."""
    token = _previewing.set(True)
    try:
        change()
    except _Previewed as captured:
        return captured.preview
    finally:
        _previewing.reset(token)
    return None


def document(fields: dict[str, Any]) -> dict[str, Any]:
    """The JSON document an entry's hash is computed over: every field but `hash`."""
    doc = {name: fields[name] for name in HASHED_FIELDS}
    created = doc["created_at"]
    if isinstance(created, dt.datetime):
        if created.tzinfo is None:  # SQLite hands back naive UTC
            created = created.replace(tzinfo=dt.UTC)
        doc["created_at"] = isoformat(created)
    return doc


def entry_hash(doc: dict[str, Any]) -> str:
    """SHA-256 of the RFC 8785 form. Ledger documents are float-free by construction
    (`normalise`); one that is not was not written by Casefile, and its hash will not match."""
    try:
        return hashlib.sha256(canonical_json_fast(doc, float_free=True)).hexdigest()
    except Exception as exc:  # noqa: BLE001 - e.g. an integer outside JSON's safe range
        raise ValidationFailed(f"not canonicalisable as RFC 8785 JSON: {exc}") from exc


def entry_document(entry: AuditEntry) -> dict[str, Any]:
    """An entry as exported and shipped: its hashed document plus its hash."""
    doc = document({name: getattr(entry, name) for name in HASHED_FIELDS})
    doc["hash"] = entry.hash
    return doc


def normalise(value: Any) -> Any:
    """Plain JSON for the ledger: Decimal, datetime, UUID and sets become text or lists, and
    floats become the text of their shortest repr — the ledger is float-free so its canonical
    form never depends on number formatting (and money is never a float)."""
    try:
        return _floats_to_text(orjson.loads(orjson.dumps(value, default=_json_default,
                                                         option=orjson.OPT_NON_STR_KEYS)))
    except TypeError as exc:
        raise ValidationFailed(f"audit details must be JSON: {exc}") from exc


def _json_default(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        return isoformat(value) if value.tzinfo else value.isoformat()
    if isinstance(value, dt.date | uuid.UUID):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _floats_to_text(value: Any) -> Any:
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        _no_nul(value)
        return value
    if isinstance(value, dict):
        return {_no_nul(k): _floats_to_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_floats_to_text(v) for v in value]
    return value


def _no_nul(text: str) -> str:
    # PostgreSQL's JSON and text types cannot hold U+0000; refused on every database alike.
    if "\x00" in text:
        raise ValidationFailed("audit details cannot contain the NUL character")
    return text


def diff(before: dict[str, Any], after: dict[str, Any], _path: str = "") -> dict[str, Any]:
    """Changed keys as `{"path": {"from": old, "to": new}}`; nested objects by dotted path."""
    changes: dict[str, Any] = {}
    for key in sorted(set(before) | set(after), key=str):
        old, new = before.get(key), after.get(key)
        path = f"{_path}{key}"
        if isinstance(old, dict) and isinstance(new, dict):
            changes.update(diff(old, new, path + "."))
        elif old != new or (key in before) != (key in after):
            changes[path] = {"from": old, "to": new}
    return changes
