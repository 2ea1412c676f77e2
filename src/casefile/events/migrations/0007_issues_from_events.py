"""Issues for the events stored before ingest placed templates (events.issues).

Each fingerprint already stored gets its template row and its issue, placed by the same rules
as ingest (events.grouping), so the console's issues cover old events too. One read of the
distinct fingerprints (the `event_fingerprint` index), then one indexed read per fingerprint
for its example. Backwards: the issues and templates go, as before 0007.
"""

from django.db import migrations


def forward(apps, schema_editor):
    from casefile.events.issues import StoredEvent, templates_register

    Event = apps.get_model("events", "Event")
    fingerprints = (Event.objects.order_by("fingerprint").values_list("fingerprint", flat=True)
                    .distinct())
    batch = []
    for fingerprint in fingerprints.iterator(chunk_size=2000):
        first = (Event.objects.filter(fingerprint=fingerprint).order_by("occurred_at")
                 .values("occurred_at", "message", "component", "service", "event_type")
                 .first())
        batch.append(StoredEvent(fingerprint=fingerprint, **first))
        if len(batch) >= 500:
            templates_register(batch)
            batch = []
    templates_register(batch)


def backward(apps, schema_editor):
    for model in ("TemplateSlot", "EventTemplate"):
        apps.get_model("events", model).objects.all().delete()
    Issue = apps.get_model("events", "Issue")
    Issue.objects.update(merged_into=None)
    Issue.objects.all().delete()


class Migration(migrations.Migration):
    dependencies = [("events", "0006_rollups_from_events")]
    operations = [migrations.RunPython(forward, backward, elidable=True)]
