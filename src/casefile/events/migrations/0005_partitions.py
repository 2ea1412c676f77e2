"""PostgreSQL: `event` becomes a table partitioned by month of occurred_at (SQLite is untouched).

Retention then drops whole months instead of deleting rows one by one (events.services
.events_purge), and a month's indexes stay the size of a month. The table is rebuilt: renamed
aside, a partitioned `event` created with the same columns, one partition per month that holds
rows (and this month and the next two), the rows copied, then the keys and indexes built once
over the loaded partitions, and the old table dropped. It takes the time of a copy of the table
and holds it locked meanwhile.

A partitioned table's primary key and unique constraints must include the partition key, so
the primary key is (id, occurred_at) and the dedupe key is unique per (dedupe_key,
occurred_at); the store's look-up before each COPY finds a key in any month
(events.store). Every index of the model's Meta and 0002's trigram index are rebuilt under
their names; Django's two `varchar_pattern_ops` copies of id and dedupe_key are not: nothing
filters those columns by prefix, and the database's C collation serves a prefix LIKE from
the plain index anyway.

Reversible: the way back builds an unpartitioned table with the old keys and indexes. It
fails (and changes nothing) if the same dedupe key was stored in two months meanwhile.
"""

from datetime import UTC, datetime

from django.db import migrations

# The model's Meta indexes (0001, 0003) and the trigram index (0002), as Django created them.
INDEXES = [
    "CREATE INDEX event_occurred ON event (occurred_at DESC, id DESC)",
    "CREATE INDEX event_severity ON event (severity, occurred_at DESC)",
    "CREATE INDEX event_component ON event (component, occurred_at DESC)",
    "CREATE INDEX event_service ON event (service, occurred_at DESC)",
    "CREATE INDEX event_environment ON event (environment, occurred_at DESC)",
    "CREATE INDEX event_system ON event (system_id, occurred_at DESC)",
    "CREATE INDEX event_type ON event (event_type, occurred_at DESC)",
    "CREATE INDEX event_fingerprint ON event (fingerprint, occurred_at DESC)",
    "CREATE INDEX event_window ON event (occurred_at) INCLUDE (fingerprint, severity, service, "
    "component, environment, system_id, event_type)",
    "CREATE INDEX event_message_trgm ON event USING gin (message gin_trgm_ops)",
]
# What 0001 made of `id` (primary key) and `dedupe_key` (unique), restored on the way back.
UNPARTITIONED_KEYS = [
    "ALTER TABLE event ADD CONSTRAINT event_pkey PRIMARY KEY (id)",
    "ALTER TABLE event ADD CONSTRAINT event_dedupe_key_key UNIQUE (dedupe_key)",
    "CREATE INDEX event_id_7fab64e3_like ON event (id varchar_pattern_ops)",
    "CREATE INDEX event_dedupe_key_3422e22b_like ON event (dedupe_key varchar_pattern_ops)",
]
PARTITIONED_KEYS = [
    "ALTER TABLE event ADD CONSTRAINT event_pkey PRIMARY KEY (id, occurred_at)",
    "ALTER TABLE event ADD CONSTRAINT event_dedupe_key_key UNIQUE (dedupe_key, occurred_at)",
]


def _month_add(month: datetime, n: int) -> datetime:
    index = month.year * 12 + month.month - 1 + n
    return month.replace(year=index // 12, month=index % 12 + 1)


def _set_aside(execute, cursor, name: str) -> None:
    """Rename `event` to `name` and drop its constraints and indexes, freeing their names."""
    execute(f"ALTER TABLE event RENAME TO {name}")
    cursor.execute("SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass "
                   "AND contype IN ('p', 'u')", [name])
    for (constraint,) in cursor.fetchall():
        execute(f'ALTER TABLE {name} DROP CONSTRAINT "{constraint}"')
    cursor.execute("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
                   "AND tablename = %s", [name])
    for (index,) in cursor.fetchall():
        execute(f'DROP INDEX "{index}"')


def forward(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    execute = schema_editor.execute
    with connection.cursor() as cursor:
        _set_aside(execute, cursor, "event_unpartitioned")
        execute("CREATE TABLE event (LIKE event_unpartitioned INCLUDING DEFAULTS "
                "INCLUDING STORAGE INCLUDING COMPRESSION) PARTITION BY RANGE (occurred_at)")
        cursor.execute("SELECT DISTINCT date_trunc('month', occurred_at AT TIME ZONE 'UTC') "
                       "FROM event_unpartitioned")
        months = {m.replace(tzinfo=UTC) for (m,) in cursor.fetchall()}
        this_month = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0,
                                               microsecond=0)
        months |= {_month_add(this_month, n) for n in range(3)}
        for month in sorted(months):
            # The same name and bounds as events.partitions gives them.
            name = f"event_y{month.year:04d}m{month.month:02d}"
            execute(f"CREATE TABLE {name} PARTITION OF event FOR VALUES FROM "
                    f"('{month.isoformat()}') TO ('{_month_add(month, 1).isoformat()}')")
        execute("INSERT INTO event SELECT * FROM event_unpartitioned")
        execute("DROP TABLE event_unpartitioned")
    for statement in PARTITIONED_KEYS + INDEXES:
        execute(statement)


def backward(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    execute = schema_editor.execute
    with connection.cursor() as cursor:
        _set_aside(execute, cursor, "event_partitioned")
        execute("CREATE TABLE event (LIKE event_partitioned INCLUDING DEFAULTS "
                "INCLUDING STORAGE INCLUDING COMPRESSION)")
        execute("INSERT INTO event SELECT * FROM event_partitioned")
        execute("DROP TABLE event_partitioned")  # and its partitions
    for statement in UNPARTITIONED_KEYS + INDEXES:
        execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0004_issues_and_rollups"),
        # case_event's foreign key to event goes first: none may point at a partitioned table.
        ("cases", "0004_event_link_without_constraint"),
    ]

    operations = [migrations.RunPython(forward, backward)]
