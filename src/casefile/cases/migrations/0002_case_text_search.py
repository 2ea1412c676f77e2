"""Text search over a case's title, summary and description.

PostgreSQL: one trigram GIN index on the three joined, which serves `ILIKE '%term%'` on that same
expression (`selectors.cases`). SQLite scans, which is fine at its scale.
"""

from django.db import migrations

TEXT = "(title || ' ' || summary || ' ' || description)"


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm;")
        schema_editor.execute(f"CREATE INDEX case_text_trgm ON case_file USING gin ({TEXT} "
                              "gin_trgm_ops);")


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS case_text_trgm;")


class Migration(migrations.Migration):
    dependencies = [("cases", "0001_initial")]

    operations = [migrations.RunPython(forward, backward)]
