"""Entries are chained after commit by the sequencer (`ledger.chain_pending`), not inside their
change's transaction: `seq`, `prev_hash` and `hash` start NULL, the append-only triggers let
exactly that one update through, and 0007's append function has no caller left."""

import importlib

from django.db import migrations, models

from casefile.audit.triggers import install_sql, uninstall_sql

_0007 = importlib.import_module("casefile.audit.migrations.0007_append_function")


def reinstall_triggers(apps, schema_editor):
    # On SQLite, altering a column rebuilds the table and drops its triggers with it.
    vendor = schema_editor.connection.vendor
    for statement in [*uninstall_sql(vendor), *install_sql(vendor)]:
        schema_editor.execute(statement, params=None)
    if vendor == "postgresql":
        schema_editor.execute(_0007.DROP, params=None)


def restore_append_function(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(_0007.CREATE, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0007_append_function")]

    operations = [
        migrations.AlterField(
            model_name="auditentry",
            name="hash",
            field=models.CharField(blank=True, max_length=64, null=True),
        ),
        migrations.AlterField(
            model_name="auditentry",
            name="prev_hash",
            field=models.CharField(blank=True, max_length=64, null=True),
        ),
        migrations.AlterField(
            model_name="auditentry",
            name="seq",
            field=models.BigIntegerField(blank=True, null=True, unique=True),
        ),
        migrations.AddIndex(
            model_name="auditentry",
            index=models.Index(condition=models.Q(("seq__isnull", True)),
                               fields=["created_at", "id"], name="audit_unchained"),
        ),
        migrations.RunPython(reinstall_triggers, restore_append_function),
    ]
