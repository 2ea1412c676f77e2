"""Legal holds are append-mostly: triggers refuse DELETE, and any UPDATE but the release."""

from django.db import migrations

from casefile.holds.triggers import install_sql, uninstall_sql


def install(apps, schema_editor):
    for statement in install_sql(schema_editor.connection.vendor):
        schema_editor.execute(statement, params=None)


def uninstall(apps, schema_editor):
    for statement in uninstall_sql(schema_editor.connection.vendor):
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("holds", "0001_initial")]

    operations = [migrations.RunPython(install, uninstall)]
