"""Validated types for everything that crosses the edge (API bodies, query strings, paths, console
forms), each length and range declared once here or read from the column it is stored in.

What they refuse would otherwise fail later as a 500 or be stored damaged: text longer than its
column (PostgreSQL refuses it, SQLite keeps it), NUL characters (PostgreSQL text cannot hold
them), integers beyond 64 bits (no column holds them), and JSON the audit ledger cannot
canonicalise (RFC 8785 allows integers only within ±(2**53 − 1) and no NaN or infinity).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from ninja import Schema as NinjaSchema
from pydantic import AfterValidator, ConfigDict, Field, GetCoreSchemaHandler
from pydantic_core import core_schema

from casefile.core.ids import PREFIXES
from casefile.core.pagination import MAX_LIMIT

if TYPE_CHECKING:
    from django.db.models import Model


class Schema(NinjaSchema):
    """The base of every API schema: unknown input fields are refused, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


# --- text ---------------------------------------------------------------------------------------
def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("NUL characters are not accepted")
    return value


@dataclass(frozen=True)
class Bounded:
    """`Annotated[str, Bounded(n)]`: at most `n` characters (PostgreSQL's varchar counts
    characters, as Python does), without NUL."""

    max_length: int
    min_length: int = 0
    pattern: str | None = None

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> Any:
        return core_schema.no_info_after_validator_function(
            _no_nul, core_schema.str_schema(max_length=self.max_length,
                                            min_length=self.min_length, pattern=self.pattern))


def Column(model: type[Model], field: str, *, min_length: int = 0) -> Bounded:  # noqa: N802
    """`Annotated[str, Column(Case, "title")]`: bounded by the column it is stored in, so the
    model declares the length once."""
    max_length = getattr(model._meta.get_field(field), "max_length", None)
    if max_length is None:
        raise ValueError(f"{model.__name__}.{field} has no max_length")
    return Bounded(max_length, min_length)


MAX_TEXT = 64 * 1024  # free text (notes, messages, descriptions) held in a TEXT column
MAX_QUERY_TEXT = 200  # a search term
NAME_LENGTH = 200
REASON_CODE_LENGTH = 64
TICKET_REF_LENGTH = 100
EMAIL_LENGTH = 254  # RFC 5321's limit, and Django's EmailField

LongText = Annotated[str, Bounded(MAX_TEXT)]
SearchText = Annotated[str, Bounded(MAX_QUERY_TEXT)]
Name = Annotated[str, Bounded(NAME_LENGTH)]
ReasonCode = Annotated[str, Bounded(REASON_CODE_LENGTH, min_length=1)]
TicketRef = Annotated[str, Bounded(TICKET_REF_LENGTH)]


def _email(value: str) -> str:
    value = value.strip()
    try:
        validate_email(value)
    except DjangoValidationError:
        raise ValueError("not a valid e-mail address") from None
    return value


Email = Annotated[str, Bounded(EMAIL_LENGTH), AfterValidator(_email)]


# --- identifiers ----------------------------------------------------------------------------------
ID_LENGTH = 40  # every id column: the prefix, "_", then a ULID (ours) or the platform's own key


def IdOf(prefix: str) -> Bounded:  # noqa: N802 - reads as a type
    """`<prefix>_<key>`: our ULIDs, or keys the platform chose (`ten_acme`), within the column."""
    if prefix not in PREFIXES:
        raise ValueError(f"unknown id prefix {prefix!r}")
    rest = ID_LENGTH - len(prefix) - 2
    return Bounded(ID_LENGTH, pattern=rf"^{prefix}_[0-9A-Za-z][0-9A-Za-z_-]{{0,{rest}}}$")


CaseId = Annotated[str, IdOf("cas")]
EventId = Annotated[str, IdOf("evt")]
TenantId = Annotated[str, IdOf("ten")]
PlatformUserId = Annotated[str, IdOf("usr")]
StaffId = Annotated[str, IdOf("stf")]
TokenId = Annotated[str, IdOf("tok")]
AuditId = Annotated[str, IdOf("aud")]
ApprovalId = Annotated[str, IdOf("apr")]
ImpersonationId = Annotated[str, IdOf("imp")]
CommandId = Annotated[str, IdOf("cmd")]
ActionId = Annotated[str, IdOf("act")]
IssueId = Annotated[str, IdOf("iss")]

# --- numbers ------------------------------------------------------------------------------------
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
JSON_SAFE_MAX = 2**53 - 1  # RFC 8785 (the ledger's canonical JSON) and every JSON client

Int64 = Annotated[int, Field(ge=INT64_MIN, le=INT64_MAX)]
PositiveInt64 = Annotated[int, Field(ge=1, le=INT64_MAX)]
Limit = Annotated[int, Field(ge=1, le=MAX_LIMIT)]  # a page's size: core.pagination's bound

# --- times -------------------------------------------------------------------------------------
# Every time the application accepts: wide enough for any real event, narrow enough that date
# arithmetic on it (a window and the one before it) stays within what Python and the databases
# can hold.
MIN_INSTANT = datetime(1970, 1, 1, tzinfo=UTC)
MAX_INSTANT = datetime(2200, 1, 1, tzinfo=UTC)


def _instant(value: datetime) -> datetime:
    """Times without an offset are UTC (the console shows UTC throughout). Every time is
    carried on in UTC: Python takes offsets up to ±23:59, PostgreSQL only to ±15:59."""
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    if not MIN_INSTANT <= value < MAX_INSTANT:
        raise ValueError(f"must be from {MIN_INSTANT.year} to {MAX_INSTANT.year - 1}")
    return value.astimezone(UTC)


Instant = Annotated[datetime, AfterValidator(_instant)]

# --- JSON objects -------------------------------------------------------------------------------
JSON_MAX_DEPTH = 16
JSON_MAX_ITEMS = 10_000  # values in the whole document, keys included
JSON_MAX_STRING = MAX_TEXT


def check_json(value: Any, *, depth: int = 0, budget: list[int] | None = None) -> None:
    """Raise ValueError unless `value` is JSON the ledger can hash and every database can store:
    integers within ±(2**53 − 1), finite numbers, strings without NUL, bounded depth and size."""
    budget = budget if budget is not None else [JSON_MAX_ITEMS]
    budget[0] -= 1
    if budget[0] < 0:
        raise ValueError(f"more than {JSON_MAX_ITEMS} values")
    if depth > JSON_MAX_DEPTH:
        raise ValueError(f"nested deeper than {JSON_MAX_DEPTH} levels")
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, int):
        if not -JSON_SAFE_MAX <= value <= JSON_SAFE_MAX:
            raise ValueError(f"integers must be within ±{JSON_SAFE_MAX}")
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("numbers must be finite")
        return
    if isinstance(value, str):
        if len(value) > JSON_MAX_STRING:
            raise ValueError(f"strings longer than {JSON_MAX_STRING} characters")
        _no_nul(value)
        return
    if isinstance(value, list | tuple):
        for item in value:
            check_json(item, depth=depth + 1, budget=budget)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError("object keys must be strings")
            check_json(key, depth=depth + 1, budget=budget)
            check_json(item, depth=depth + 1, budget=budget)
        return
    raise ValueError(f"{type(value).__name__} is not a JSON value")


def _json_object(value: dict[str, Any]) -> dict[str, Any]:
    check_json(value)
    return value


JsonObject = Annotated[dict[str, Any], AfterValidator(_json_object)]


# --- shared inputs ------------------------------------------------------------------------------
class ReasonIn(Schema):
    reason_code: ReasonCode
    ticket_ref: TicketRef | None = None
