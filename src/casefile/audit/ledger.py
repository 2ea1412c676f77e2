"""Writing to the audit ledger: `record(...)`, the one entry point.

`record` runs inside the caller's transaction, so the entry commits or rolls back with the change
it describes. Under the chain head's lock (on PostgreSQL a transaction-scoped advisory lock taken
by `casefile_audit_append`, which also reads, hashes and inserts in one round trip; on SQLite the
write lock every transaction holds from BEGIN IMMEDIATE) it reads the last entry's seq and hash
and appends seq + 1 chained to it: gapless and totally ordered under any number of concurrent
writers.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import decimal
import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from django.db import connection

from casefile.accounts.roles import is_machine
from casefile.audit.actor import Actor
from casefile.audit.models import HASHED_FIELDS, AuditEntry
from casefile.audit.registry import Risk, action_type, check_reason_code, system_reason
from casefile.core.canonical import canonical_json_fast
from casefile.core.errors import ValidationFailed
from casefile.core.ids import new_id
from casefile.core.timeutil import isoformat, now

GENESIS_HASH = "0" * 64
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
    if connection.vendor == "postgresql":
        return _append_postgresql(fields)
    seq, prev_hash = _lock_chain_head()
    fields |= {"seq": seq, "prev_hash": prev_hash}
    fields["hash"] = entry_hash(document(fields))
    return AuditEntry.objects.create(**fields)


def _append_postgresql(fields: dict[str, Any]) -> AuditEntry:
    """Everything but the chain head is prepared before the lock: the function takes the lock,
    reads the head, hashes and inserts in one round trip, so the lock is held for that and the
    commit only — not while Python works (migration 0007)."""
    before_prev, before_seq, after_seq = hash_parts(fields)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT seq, prev_hash, hash FROM casefile_audit_append(%s, %s, %s, %s, %s, %s, %s, "
            "%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s::jsonb)",
            [_CHAIN_LOCK_KEY, before_prev, before_seq, after_seq, fields["id"],
             fields["created_at"], fields["actor_user_id"], fields["actor_email"],
             fields["actor_role"], fields["ip_address"], fields["user_agent"], fields["action"],
             fields["risk"], fields["resource"], fields["target_tenant_id"],
             fields["target_user_id"], fields["reason_code"], fields["ticket_ref"],
             orjson.dumps(fields["details"]).decode(), orjson.dumps(fields["metadata"]).decode()])
        seq, prev_hash, hash_ = cursor.fetchone()
    entry = AuditEntry(**fields, seq=seq, prev_hash=prev_hash, hash=hash_)
    entry._state.adding, entry._state.db = False, connection.alias
    return entry


def hash_parts(fields: dict[str, Any]) -> tuple[bytes, bytes, bytes]:
    """The entry's RFC 8785 form in three pieces around `prev_hash` and `seq`, which only the
    chain head decides: the full form is `before_prev + prev_hash + before_seq + str(seq) +
    after_seq`. RFC 8785 writes an object's members one after another in key order, each value
    on its own, so the pieces join into exactly the bytes `entry_hash` hashes (tested)."""
    doc = document({**fields, "seq": 0, "prev_hash": ""})
    try:
        members = {key: b'"' + key.encode() + b'":' + canonical_json_fast(value, float_free=True)
                   for key, value in doc.items() if key not in ("seq", "prev_hash")}
    except Exception as exc:  # noqa: BLE001 - as entry_hash: e.g. an integer beyond JSON's range
        raise ValidationFailed(f"not canonicalisable as RFC 8785 JSON: {exc}") from exc
    keys = sorted(doc)  # ASCII names: code-point order is RFC 8785's UTF-16 order

    def joined(names: list[str]) -> bytes:
        return b",".join(members[name] for name in names)

    at_prev, at_seq = keys.index("prev_hash"), keys.index("seq")
    before = joined(keys[:at_prev])
    between = joined(keys[at_prev + 1:at_seq])
    after = joined(keys[at_seq + 1:])
    return (b"{" + before + (b"," if before else b"") + b'"prev_hash":"',
            b'",' + between + (b"," if between else b"") + b'"seq":',
            (b"," + after if after else b"") + b"}")


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


def _lock_chain_head() -> tuple[int, str]:
    """SQLite: the transaction holds the write lock since BEGIN IMMEDIATE; read the head.
    (PostgreSQL locks and reads inside `casefile_audit_append`.)"""
    with connection.cursor() as cursor:
        cursor.execute("SELECT seq, hash FROM audit_entry ORDER BY seq DESC LIMIT 1")
        row = cursor.fetchone()
    return (1, GENESIS_HASH) if row is None or row[0] is None else (row[0] + 1, row[1])


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
    if isinstance(value, dict):
        return {k: _floats_to_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_floats_to_text(v) for v in value]
    return value


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
