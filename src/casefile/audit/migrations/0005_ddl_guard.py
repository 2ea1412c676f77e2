"""PostgreSQL: event triggers refusing DROP and ALTER of the ledger's tables and triggers.

Only a superuser may create event triggers. Where the migrating role is not one, this step is
skipped with a warning and `casefile audit verify` reports the guard absent; docs/audit-ledger.md
gives the statements for the database's superuser to run.
"""

import logging

from django.db import migrations

from casefile.audit.triggers import (
    ddl_guard_install_sql,
    ddl_guard_switch_sql,
    ddl_guard_uninstall_sql,
)

log = logging.getLogger(__name__)


def install(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        row = cursor.fetchone()
    if not (row and row[0]):
        log.warning("audit ledger DDL guard not installed: creating event triggers needs a "
                    "superuser (see docs/audit-ledger.md)")
        return
    for statement in ddl_guard_install_sql():
        schema_editor.execute(statement, params=None)
    # Off until this `migrate` ends (post_migrate switches it on, casefile.audit.apps), so the
    # migrations after this one may still alter the ledger's tables.
    schema_editor.execute(ddl_guard_switch_sql(enable=False), params=None)


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in ddl_guard_uninstall_sql():
            schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0004_merkle_tree_checkpoint_notes")]

    operations = [migrations.RunPython(install, uninstall)]
