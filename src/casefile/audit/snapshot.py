"""Before/after states for the ledger, from the model itself (as NetBox's change logging does).

Every concrete field of the row is recorded, so a field added to a model later is in the audit
from its first migration on, with nobody having to remember a hand-written list. Foreign keys
are recorded by their key (`assigned_to: "stf_…"`). Fields a model names in `AUDIT_DIGESTED`
hold sensitive data: the ledger keeps their SHA-256, which shows that and when they changed
without copying them into a record that ops and admins read. `updated_at` is left out: every
change moves it, and the entry's own time already says when.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from django.db import models

from casefile.audit.ledger import normalise


def snapshot(instance: models.Model) -> dict[str, Any]:
    digested = set(getattr(instance, "AUDIT_DIGESTED", ()))
    state: dict[str, Any] = {}
    for field in instance._meta.concrete_fields:
        if field.name == "updated_at":
            continue
        value = getattr(instance, field.attname)
        if field.name in digested:
            value = {"sha256": digest(value)}
        state[field.name] = value
    return normalise(state)


def digest(value: Any) -> str:
    return hashlib.sha256(orjson.dumps(normalise(value), option=orjson.OPT_SORT_KEYS)).hexdigest()
