"""Risk score changes and verification moves refuse UPDATE, DELETE (and TRUNCATE on
PostgreSQL), as the audit ledger and the webhook log do."""

from django.db import migrations

from casefile.trust.triggers import install_sql, uninstall_sql


def install(apps, schema_editor):
    for statement in install_sql(schema_editor.connection.vendor):
        schema_editor.execute(statement, params=None)


def uninstall(apps, schema_editor):
    for statement in uninstall_sql(schema_editor.connection.vendor):
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("trust", "0001_initial")]

    operations = [migrations.RunPython(install, uninstall)]
