"""API authentication: `Authorization: Bearer <token>`."""

from typing import Any

from django.db import connection
from django.db.models import Model
from django.http import HttpRequest
from ninja.security import HttpBearer

from casefile.accounts.models import ApiToken, StaffUser
from casefile.accounts.services import api_token_touch, hash_token

_TOKEN_FIELDS = ApiToken._meta.concrete_fields
_USER_FIELDS = StaffUser._meta.concrete_fields
# The token and its user in one row, every column of both. Looked up on every API request, and
# never cached: a revoked token, or a deactivated user, is refused by the next request.
_LOOKUP_SQL = (  # only the models' own table and column names are spliced in
    "SELECT " + ", ".join([f"t.{f.column}" for f in _TOKEN_FIELDS]  # noqa: S608
                          + [f"u.{f.column}" for f in _USER_FIELDS])
    + f" FROM {ApiToken._meta.db_table} t JOIN {StaffUser._meta.db_table} u ON u.id = t.user_id"
    " WHERE t.key_hash = %s AND t.revoked_at IS NULL AND u.is_active = %s")


def token_lookup(token: str) -> ApiToken | None:
    """The live token (its `user` loaded) whose hash is `token`'s, else None. Plain SQL with the
    values converted as the ORM converts them: building the same select_related query through
    the ORM cost several times running it."""
    with connection.cursor() as cursor:
        cursor.execute(_LOOKUP_SQL, [hash_token(token), True])
        row = cursor.fetchone()
    if row is None:
        return None
    found = _instance(ApiToken, _TOKEN_FIELDS, row[:len(_TOKEN_FIELDS)])
    found.user = _instance(StaffUser, _USER_FIELDS, row[len(_TOKEN_FIELDS):])
    return found


def _instance(model: type[Model], fields: Any, values: tuple) -> Any:
    converted = list(values)
    for i, convert, col in _converters(model, fields):
        converted[i] = convert(converted[i], col, connection)
    return model.from_db(connection.alias, [f.attname for f in fields], converted)


_CONVERTERS: dict[tuple[str, type[Model]], list[tuple[int, Any, Any]]] = {}


def _converters(model: type[Model], fields: Any) -> list[tuple[int, Any, Any]]:
    """(column index, converter, column) as the ORM's compiler lists them for these fields.
    Kept per alias: the converters depend on the backend and its settings (time zone), which
    every connection of an alias shares."""
    key = (connection.alias, model)
    found = _CONVERTERS.get(key)
    if found is None:
        found = []
        for i, field in enumerate(fields):
            col = field.get_col(model._meta.db_table)
            for convert in (connection.ops.get_db_converters(col)
                            + col.get_db_converters(connection)):
                found.append((i, convert, col))
        _CONVERTERS[key] = found
    return found


class BearerToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str):
        found = token_lookup(token)
        if found is None:
            return None
        api_token_touch(found)
        request.user = found.user
        request.api_token = found  # type: ignore[attr-defined]
        return found.user
