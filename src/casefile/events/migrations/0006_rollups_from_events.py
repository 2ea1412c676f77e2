"""The hourly rollups of the events stored before ingest kept them (events.rollups).

Counted from the events in one statement per database, written out here rather than calling
events.rollups.rollups_rebuild, so this migration means the same thing whatever that module
becomes. It reads the whole table once (on PostgreSQL through the covering `event_window`
index); at 5 million events, about a minute. Backwards: the rollups go, as before 0006.
"""

from django.db import migrations

HOUR = {
    "postgresql": "date_trunc('hour', occurred_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'",
    "sqlite": "strftime('%Y-%m-%d %H:00:00', occurred_at)",
}


def forward(apps, schema_editor):
    execute = schema_editor.execute
    execute("DELETE FROM event_rollup")
    execute("INSERT INTO event_rollup (hour, fingerprint, severity, count, first_seen, last_seen) "  # noqa: S608
            f"SELECT {HOUR[schema_editor.connection.vendor]}, fingerprint, severity, count(*), "
            "min(occurred_at), max(occurred_at) FROM event GROUP BY 1, 2, 3")


def backward(apps, schema_editor):
    schema_editor.execute("DELETE FROM event_rollup")


class Migration(migrations.Migration):
    dependencies = [("events", "0005_partitions")]

    operations = [migrations.RunPython(forward, backward)]
