"""Text search on the message: substring semantics on both databases.

PostgreSQL: a trigram GIN index (pg_trgm), which serves `ILIKE '%term%'`.
SQLite: an FTS5 table with the trigram tokenizer, kept in step by triggers.
"""

from django.db import migrations

PG_FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm;",
    "CREATE INDEX event_message_trgm ON event USING gin (message gin_trgm_ops);",
]
PG_BACKWARD = ["DROP INDEX IF EXISTS event_message_trgm;"]

SQLITE_FORWARD = [
    "CREATE VIRTUAL TABLE event_fts USING fts5(message, content='event', content_rowid='rowid', "
    "tokenize='trigram');",
    "CREATE TRIGGER event_fts_insert AFTER INSERT ON event BEGIN "
    "INSERT INTO event_fts(rowid, message) VALUES (new.rowid, new.message); END;",
    "CREATE TRIGGER event_fts_delete AFTER DELETE ON event BEGIN "
    "INSERT INTO event_fts(event_fts, rowid, message) VALUES ('delete', old.rowid, old.message);"
    " END;",
    "CREATE TRIGGER event_fts_update AFTER UPDATE OF message ON event BEGIN "
    "INSERT INTO event_fts(event_fts, rowid, message) VALUES ('delete', old.rowid, old.message);"
    " INSERT INTO event_fts(rowid, message) VALUES (new.rowid, new.message); END;",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS event_fts_insert;",
    "DROP TRIGGER IF EXISTS event_fts_delete;",
    "DROP TRIGGER IF EXISTS event_fts_update;",
    "DROP TABLE IF EXISTS event_fts;",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("events", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"postgresql": PG_FORWARD, "sqlite": SQLITE_FORWARD}),
            _run({"postgresql": PG_BACKWARD, "sqlite": SQLITE_BACKWARD}),
        )
    ]
