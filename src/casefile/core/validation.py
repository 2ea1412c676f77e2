"""Validating a plain mapping (a JSON body's part, a console form, a query string) against one of
the edge schemas, with the failure as the application's 422."""

from __future__ import annotations

from collections.abc import Mapping
from types import UnionType
from typing import Annotated, Any, TypeVar, Union, get_args, get_origin

from django.http import QueryDict
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from casefile.core.errors import ValidationFailed

S = TypeVar("S", bound=BaseModel)


def validated(schema: type[S], data: Mapping[str, Any], *, what: str = "the input",
              strict: bool = False) -> S:
    """`strict` for JSON, whose numbers are numbers; forms and query strings carry text, read
    as the type the schema declares."""
    try:
        return schema.model_validate(dict(data), strict=strict or None)
    except PydanticValidationError as exc:
        problems = exc.errors(include_url=False, include_context=False, include_input=False)
        where = ".".join(str(part) for part in problems[0]["loc"]) if problems else ""
        said = problems[0]["msg"] if problems else "not valid"
        message = f"{what}: {where + ': ' if where else ''}{said}"
        raise ValidationFailed(message, details=problems) from None


def from_query(schema: type[S], query: QueryDict) -> S:
    """A console's query string read by the API's schema: list fields take every value given,
    other fields the last; empty values count as absent, as a blank form field means."""
    data: dict[str, Any] = {}
    for name, field in schema.model_fields.items():
        values = [v for v in query.getlist(name) if v != ""]
        if not values:
            continue
        data[name] = values if _is_list(field.annotation) else values[-1]
    return validated(schema, data, what="the filter")


def _is_list(annotation: Any) -> bool:
    """`list[X]`, also inside `Optional`/`Union`/`Annotated`."""
    origin = get_origin(annotation)
    if origin is list:
        return True
    if origin is Annotated:
        return _is_list(get_args(annotation)[0])
    if origin in (Union, UnionType):
        return any(_is_list(arg) for arg in get_args(annotation))
    return False
