"""Audited reads of the ledger itself."""

from collections.abc import Iterator

import orjson
from django.db import transaction

from casefile.accounts.permissions import Perm
from casefile.audit import ledger
from casefile.audit.actor import Actor
from casefile.audit.ledger import entry_document
from casefile.audit.selectors import AuditFilter, audit_entries


def audit_export(*, actor: Actor, audit_filter: AuditFilter, reason_code: str) -> Iterator[bytes]:
    """Record the export (EXPORT_REQUESTED, with the filter), then stream NDJSON lines.

    The entry commits before the first byte leaves, so there is no export without its record.
    """
    actor.require(Perm.AUDIT_EXPORT)
    actor.reason(reason_code)
    with transaction.atomic(durable=True):
        ledger.record(
            actor=actor, action="EXPORT_REQUESTED", resource="export:audit",
            reason_code=reason_code,
            metadata={"dataset": "audit", "format": "ndjson", "filter": audit_filter.as_dict()},
        )
    return (
        orjson.dumps(entry_document(e), option=orjson.OPT_SORT_KEYS) + b"\n"
        for e in audit_entries(audit_filter).order_by("seq").iterator(chunk_size=2000)
    )
