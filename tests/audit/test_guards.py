"""Database hardening where the database allows it (issue 10, item 6): PostgreSQL refuses DROP and
ALTER of the ledger's tables and triggers; the guards' state is readable for verify's report."""

import pytest
from django.db import DatabaseError, connection, transaction

from casefile.audit.models import AuditEntry
from casefile.audit.triggers import (
    APPEND_ONLY_TABLES,
    EVENT_TRIGGERS,
    ddl_guard_install_sql,
    guard_state,
)
from tests.audit.helpers import record_entries
from tests.audit.tamper import triggers_lifted

pytestmark = pytest.mark.django_db
postgres_only = pytest.mark.skipif("connection.vendor != 'postgresql'",
                                   reason="event triggers and replication roles are PostgreSQL's")


def test_the_append_only_triggers_are_reported_in_place():
    state = guard_state(connection)
    assert state["append_only"] is True
    assert all(state["tables"][table] for table in APPEND_ONLY_TABLES)


def test_lifted_triggers_are_reported():
    with triggers_lifted():
        state = guard_state(connection)
        assert state["append_only"] is False
        assert state["tables"]["audit_entry"] == []


@postgres_only
def test_a_session_bypassing_triggers_is_reported():
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        try:
            assert guard_state(connection)["session_replication_role"] == "replica"
        finally:
            cursor.execute("RESET session_replication_role")
    assert guard_state(connection)["session_replication_role"] == "origin"


@postgres_only
@pytest.mark.parametrize("statement", [
    "DROP TABLE audit_segment",
    "DROP TABLE audit_entry CASCADE",
    "ALTER TABLE audit_entry DISABLE TRIGGER ALL",
    "ALTER TABLE audit_checkpoint RENAME TO audit_checkpoint_old",
    "ALTER TABLE audit_entry ADD COLUMN note text",
    "DROP TRIGGER audit_entry_append_only ON audit_entry",
])
def test_ddl_on_the_ledger_is_refused(statement):
    record_entries(2)
    with transaction.atomic():
        with connection.cursor() as cursor:
            if _guard_absent():  # installed by migration where the migrating role could
                for sql in ddl_guard_install_sql():
                    cursor.execute(sql)
        state = guard_state(connection)
        assert set(state["ddl_guard"].values()) == {"enabled"}, state
        with pytest.raises(DatabaseError, match="audit ledger"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(statement)
        assert AuditEntry.objects.count() == 2
        assert guard_state(connection)["append_only"] is True
        transaction.set_rollback(True)  # leave the test database as the migrations made it


@postgres_only
def test_other_tables_are_not_guarded():
    with transaction.atomic():
        with connection.cursor() as cursor:
            if _guard_absent():
                for sql in ddl_guard_install_sql():
                    cursor.execute(sql)
            cursor.execute("CREATE TABLE scratch (id int)")
            cursor.execute("ALTER TABLE scratch ADD COLUMN note text")
            cursor.execute("DROP TABLE scratch")
        transaction.set_rollback(True)


def _guard_absent() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_event_trigger WHERE evtname = ANY(%s)",
                       [list(EVENT_TRIGGERS)])
        return cursor.fetchone()[0] == 0
