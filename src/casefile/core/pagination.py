"""Keyset pagination: stable under concurrent inserts (no gaps, no repeats), O(page) at any depth.

A cursor is the sort key of the last item served, opaque to clients (URL-safe base64 of JSON).
"""

import base64
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q, QuerySet

from casefile.core.errors import ValidationFailed

MAX_LIMIT = 500


@dataclass(frozen=True)
class Page:
    items: list[Any]
    next_cursor: str | None


def encode_cursor(values: Sequence[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(list(values))).decode().rstrip("=")


MAX_CURSOR_LENGTH = 1024
_INT64 = (-(2**63), 2**63 - 1)


def decode_cursor(cursor: str, width: int) -> list[Any]:
    """The key values in `cursor`, or ValidationFailed. A cursor comes back from the client, so
    anything may be in it: only a list of `width` plain values (text without NUL, 64-bit
    integers, finite numbers) is let through to the query."""
    malformed = ValidationFailed("malformed cursor", details={"cursor": cursor[:100]})
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise malformed
    try:
        values = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, orjson.JSONDecodeError):
        raise malformed from None
    if not isinstance(values, list) or len(values) != width:
        raise malformed
    if not all(_plain(v) for v in values):
        raise malformed
    return values


def _plain(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return _INT64[0] <= value <= _INT64[1]
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, str) and "\x00" not in value


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
        after = _typed(queryset, keys, decode_cursor(cursor, len(keys)), cursor)
        queryset = queryset.filter(_after(keys, after, descending))
    items = list(queryset[: limit + 1])
    more = len(items) > limit
    items = items[:limit]
    if not more:
        return Page(items, None)
    last = items[-1]
    values = key_of(last) if key_of else [getattr(last, k) for k in keys]
    return Page(items, encode_cursor(values))


def _typed(queryset: QuerySet, keys: Sequence[str], values: list[Any], cursor: str) -> list[Any]:
    """Each value read as its column's type, so a cursor of the wrong shape is a 422 here rather
    than a database error later."""
    typed = []
    for key, value in zip(keys, values, strict=True):
        try:
            field = queryset.model._meta.get_field(key)
        except FieldDoesNotExist:  # an annotation: its value is compared as given
            typed.append(value)
            continue
        try:
            typed.append(field.to_python(value))
        except (DjangoValidationError, TypeError, ValueError):
            raise ValidationFailed("malformed cursor", details={"cursor": cursor[:100]}) from None
    return typed


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
