from django.db import models

from casefile.core import ids
from casefile.events.severity import Severity


class Event(models.Model):
    """A normalised system event (Signaled's Event), with the payload as it was received."""

    id = models.CharField(primary_key=True, max_length=40, default=ids.new_evt_id, editable=False)
    occurred_at = models.DateTimeField()
    ingested_at = models.DateTimeField()
    severity = models.SmallIntegerField(choices=[(s.value, s.label) for s in Severity])
    component = models.CharField(max_length=200, blank=True, default="")
    service = models.CharField(max_length=200, blank=True, default="")
    environment = models.CharField(max_length=100, blank=True, default="")
    system_id = models.CharField(max_length=200, blank=True, default="")
    event_type = models.CharField(max_length=200, blank=True, default="")
    message = models.TextField(blank=True, default="")
    raw_payload = models.JSONField()
    fingerprint = models.CharField(max_length=64)
    source = models.CharField(max_length=100, blank=True, default="")
    # The client's event id, or a hash of the raw payload: re-ingesting stores nothing new.
    dedupe_key = models.CharField(max_length=64, unique=True)

    class Meta:
        db_table = "event"
        # Each filter column leads a composite index with the newest-first order behind it, so
        # a filtered page is one index range scan.
        indexes = [
            models.Index(fields=["-occurred_at", "-id"], name="event_occurred"),
            models.Index(fields=["severity", "-occurred_at"], name="event_severity"),
            models.Index(fields=["component", "-occurred_at"], name="event_component"),
            models.Index(fields=["service", "-occurred_at"], name="event_service"),
            models.Index(fields=["environment", "-occurred_at"], name="event_environment"),
            models.Index(fields=["system_id", "-occurred_at"], name="event_system"),
            models.Index(fields=["event_type", "-occurred_at"], name="event_type"),
            models.Index(fields=["fingerprint", "-occurred_at"], name="event_fingerprint"),
            # Analytics over a time window read only this (an index-only scan on PostgreSQL):
            # without it, a day out of 5 M events is a scan of the whole table.
            models.Index(fields=["occurred_at"], name="event_window",
                         include=["fingerprint", "severity", "service", "component",
                                  "environment", "system_id", "event_type"]),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.message[:60]}"

    @property
    def severity_label(self) -> str:
        return Severity(self.severity).label
