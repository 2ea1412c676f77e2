"""PostgreSQL: take the chain-head lock and read the head in one round trip.

A VOLATILE PL/pgSQL function takes a fresh snapshot for each statement it runs, so the SELECT
after the lock sees the entry committed by the previous holder of the lock. (A single plain
statement would not: its snapshot is taken before it waits for the lock.)
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION casefile_audit_lock_head(lock_key bigint,
                                                    OUT seq bigint, OUT hash text)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(lock_key);
  SELECT e.seq, e.hash INTO seq, hash FROM audit_entry e ORDER BY e.seq DESC LIMIT 1;
END
$$;
"""
DROP = "DROP FUNCTION IF EXISTS casefile_audit_lock_head(bigint);"


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_append_only_triggers")]

    operations = [migrations.RunPython(forwards, backwards)]
