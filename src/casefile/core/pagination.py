"""Keyset pagination: stable under concurrent inserts (no gaps, no repeats), O(page) at any depth.

A cursor is the sort key of the last item served, opaque to clients (URL-safe base64 of JSON).
"""

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from django.db.models import Q, QuerySet

from casefile.core.errors import ValidationFailed

MAX_LIMIT = 500


@dataclass(frozen=True)
class Page:
    items: list[Any]
    next_cursor: str | None


def encode_cursor(values: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(values))).decode().rstrip("=")


def decode_cursor(cursor: str, width: int) -> list[Any]:
    try:
        values = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, orjson.JSONDecodeError) as exc:
        raise ValidationFailed("malformed cursor", details={"cursor": cursor}) from exc
    if not isinstance(values, list) or len(values) != width:
        raise ValidationFailed("malformed cursor", details={"cursor": cursor})
    return values


def keyset_page(
    queryset: QuerySet,
    *,
    keys: Sequence[str],
    cursor: str | None,
    limit: int,
    descending: bool = True,
    key_of=None,
) -> Page:
    """One page of `queryset` ordered by `keys` (all descending or all ascending; the last key
    must be unique). `key_of(item)` gives an item's key values for the cursor, as JSON values;
    by default the attributes named by `keys`."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(f"limit must be between 1 and {MAX_LIMIT}")
    prefix = "-" if descending else ""
    queryset = queryset.order_by(*(prefix + k for k in keys))
    if cursor:
        after = decode_cursor(cursor, len(keys))
        queryset = queryset.filter(_after(keys, after, descending))
    items = list(queryset[: limit + 1])
    more = len(items) > limit
    items = items[:limit]
    if not more:
        return Page(items, None)
    last = items[-1]
    values = key_of(last) if key_of else [getattr(last, k) for k in keys]
    return Page(items, encode_cursor(values))


def _after(keys: Sequence[str], values: Sequence[Any], descending: bool) -> Q:
    """(k1, k2, …) strictly after `values` in the chosen order, as OR-of-ANDs (index friendly)."""
    op = "lt" if descending else "gt"
    condition = Q()
    for i, key in enumerate(keys):
        clause = Q(**{f"{key}__{op}": values[i]})
        for prior, value in zip(keys[:i], values[:i], strict=False):
            clause &= Q(**{prior: value})
        condition |= clause
    return condition
