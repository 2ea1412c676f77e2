"""Rollups per day, per hour and severity alone, and the fingerprints counted without a template
(events.rollups), filled from the hourly rollups (0006) and the templates (0007): a few
seconds at a few million events. The hourly rollups get an index by fingerprint, the
templates one by source.
"""

from django.db import migrations, models

DAY = {
    "postgresql": "date_trunc('day', hour AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'",
    "sqlite": "strftime('%Y-%m-%d 00:00:00', hour)",
}


def forward(apps, schema_editor):
    execute = schema_editor.execute
    execute("INSERT INTO event_rollup_day (day, fingerprint, severity, count, first_seen, "  # noqa: S608
            f"last_seen) SELECT {DAY[schema_editor.connection.vendor]}, fingerprint, severity, "
            "sum(count), min(first_seen), max(last_seen) FROM event_rollup GROUP BY 1, 2, 3")
    execute("INSERT INTO event_rollup_total (hour, severity, count) "
            "SELECT hour, severity, sum(count) FROM event_rollup GROUP BY hour, severity")
    execute("INSERT INTO event_rollup_unplaced (fingerprint, first_hour, last_hour) "
            "SELECT r.fingerprint, min(r.hour), max(r.hour) FROM event_rollup r "
            "WHERE NOT EXISTS (SELECT 1 FROM event_template t WHERE t.fingerprint = r.fingerprint) "
            "GROUP BY r.fingerprint")


class Migration(migrations.Migration):

    dependencies = [
        ('events', '0007_issues_from_events'),
    ]

    operations = [
        migrations.CreateModel(
            name='EventRollupDay',
            fields=[
                ('pk', models.CompositePrimaryKey('day', 'fingerprint', 'severity', blank=True, editable=False, primary_key=True, serialize=False)),
                ('day', models.DateTimeField()),
                ('fingerprint', models.CharField(max_length=64)),
                ('severity', models.SmallIntegerField()),
                ('count', models.BigIntegerField()),
                ('first_seen', models.DateTimeField()),
                ('last_seen', models.DateTimeField()),
            ],
            options={
                'db_table': 'event_rollup_day',
            },
        ),
        migrations.CreateModel(
            name='EventRollupTotal',
            fields=[
                ('pk', models.CompositePrimaryKey('hour', 'severity', blank=True, editable=False, primary_key=True, serialize=False)),
                ('hour', models.DateTimeField()),
                ('severity', models.SmallIntegerField()),
                ('count', models.BigIntegerField()),
            ],
            options={
                'db_table': 'event_rollup_total',
            },
        ),
        migrations.CreateModel(
            name='UnplacedFingerprint',
            fields=[
                ('fingerprint', models.CharField(max_length=64, primary_key=True, serialize=False)),
                ('first_hour', models.DateTimeField()),
                ('last_hour', models.DateTimeField()),
            ],
            options={
                'db_table': 'event_rollup_unplaced',
            },
        ),
        migrations.AddIndex(
            model_name='eventrollup',
            index=models.Index(fields=['fingerprint', 'hour'], name='event_rollup_fingerprint'),
        ),
        migrations.AddIndex(
            model_name='eventrollupday',
            index=models.Index(fields=['fingerprint', 'day'], name='event_rollup_day_fingerprint'),
        ),
        migrations.AddIndex(
            model_name='eventtemplate',
            index=models.Index(fields=['service', 'component', 'event_type'], name='event_template_source'),
        ),
        migrations.AddIndex(
            model_name='eventtemplate',
            index=models.Index(condition=models.Q(('client_fingerprint', True)), fields=['fingerprint'], name='event_template_client'),
        ),
        migrations.RunPython(forward, migrations.RunPython.noop),
    ]
