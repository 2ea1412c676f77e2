"""Risk score changes and verification moves refuse UPDATE, DELETE (and TRUNCATE on
PostgreSQL), as the audit ledger and the webhook log do."""

from django.db import migrations

from casefile.core.append_only import Guard
from casefile.trust import triggers

# The tables as they were at this migration (later ones guard their own: 0003_strikes).
_GUARD = Guard(function=triggers.GUARD.function, what=triggers.GUARD.what,
               tables=("trust_risk_score_change", "trust_verification_change"))
install_sql, uninstall_sql = _GUARD.install_sql, _GUARD.uninstall_sql


def install(apps, schema_editor):
    for statement in install_sql(schema_editor.connection.vendor):
        schema_editor.execute(statement, params=None)


def uninstall(apps, schema_editor):
    for statement in uninstall_sql(schema_editor.connection.vendor):
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("trust", "0001_initial")]

    operations = [migrations.RunPython(install, uninstall)]
