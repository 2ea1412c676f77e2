"""What a database administrator could do to the ledger: lift the triggers and edit rows."""

from contextlib import contextmanager

from django.db import connection

from casefile.audit.triggers import install_sql, uninstall_sql


@contextmanager
def triggers_lifted():
    with connection.cursor() as cursor:
        for statement in uninstall_sql(connection.vendor):
            cursor.execute(statement)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            for statement in install_sql(connection.vendor):
                cursor.execute(statement)


def sql(statement: str, params=()) -> None:
    with triggers_lifted(), connection.cursor() as cursor:
        cursor.execute(statement, params)


def renumber(where: str, delta: int) -> None:
    """Shift seq for rows matching `where` by `delta` (via negative values: seq is unique)."""
    with triggers_lifted(), connection.cursor() as cursor:
        cursor.execute(f"UPDATE audit_entry SET seq = -(seq + %s) WHERE {where}", [delta])  # noqa: S608
        cursor.execute("UPDATE audit_entry SET seq = -seq WHERE seq < 0")
