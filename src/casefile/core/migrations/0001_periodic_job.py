from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = []  # type: ignore[var-annotated]

    operations = [
        migrations.CreateModel(
            name="PeriodicJob",
            fields=[
                ("name", models.CharField(max_length=100, primary_key=True, serialize=False)),
                ("next_run_at", models.DateTimeField()),
                ("leased_until", models.DateTimeField(blank=True, null=True)),
                ("holder", models.CharField(blank=True, default="", max_length=100)),
                ("last_task_id", models.CharField(blank=True, default="", max_length=64)),
            ],
            options={"db_table": "core_periodic_job"},
        ),
    ]
