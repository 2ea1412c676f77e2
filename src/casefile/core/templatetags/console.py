"""Template filters of the console."""

from typing import Any

import orjson
from django import template

register = template.Library()


@register.filter
def as_json(value: Any) -> str:
    """A recorded value as the ledger holds it: text as is, anything else as JSON
    (true/false/null, objects), so a diff reads the same as an exported entry."""
    if isinstance(value, str):
        return value
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


@register.filter
def pretty_json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()
