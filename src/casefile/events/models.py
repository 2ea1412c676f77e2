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


class Issue(models.Model):
    """A recurring issue: the templates of one source that a person would see as one problem
    (events.grouping decides which). Events are not rewritten when issues merge or split: an
    event's issue is its template's issue."""

    id = models.CharField(primary_key=True, max_length=40, default=ids.new_iss_id, editable=False)
    component = models.CharField(max_length=200, blank=True, default="")
    service = models.CharField(max_length=200, blank=True, default="")
    event_type = models.CharField(max_length=200, blank=True, default="")
    title = models.TextField()  # its templates' common pattern
    created_at = models.DateTimeField()
    # Staff split or merged it: automatic merging adds new templates to it but never merges it
    # with another issue.
    locked = models.BooleanField(default=False)
    # Merged away (automatically or by staff): its templates are in that issue now.
    merged_into = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")

    class Meta:
        db_table = "event_issue"
        indexes = [models.Index(fields=["service", "component", "event_type"],
                                name="event_issue_source")]

    def __str__(self) -> str:
        return f"{self.id} {self.title[:60]}"


class EventTemplate(models.Model):
    """One fingerprint (what ingest computes, statelessly) and the issue it belongs to."""

    fingerprint = models.CharField(primary_key=True, max_length=64)
    issue = models.ForeignKey(Issue, on_delete=models.PROTECT, related_name="templates")
    component = models.CharField(max_length=200, blank=True, default="")
    service = models.CharField(max_length=200, blank=True, default="")
    event_type = models.CharField(max_length=200, blank=True, default="")
    template = models.TextField()
    example = models.TextField()  # the first message seen with this fingerprint
    first_seen = models.DateTimeField()
    # The sender gave its own fingerprint: it grouped these itself, so no automatic merge.
    client_fingerprint = models.BooleanField(default=False)

    class Meta:
        db_table = "event_template"
        # Analytics by source find a source's fingerprints here, and the senders' own, whose
        # rollups cannot tell their source (events.selectors).
        indexes = [models.Index(fields=["service", "component", "event_type"],
                                name="event_template_source"),
                   models.Index(fields=["fingerprint"], condition=models.Q(client_fingerprint=True),
                                name="event_template_client")]

    def __str__(self) -> str:
        return self.template[:80]


class TemplateSlot(models.Model):
    """A template with one word position blanked (`slot`, a hash) and the word it had there:
    templates sharing a slot differ only at that position, and once a slot has held enough
    different words the position is a variable and they are one issue (events.grouping)."""

    pk = models.CompositePrimaryKey("slot", "template")
    slot = models.CharField(max_length=32)
    template = models.ForeignKey(EventTemplate, on_delete=models.CASCADE, related_name="slots",
                                 db_column="fingerprint")
    word = models.CharField(max_length=200)

    class Meta:
        db_table = "event_template_slot"

    def __str__(self) -> str:
        return f"{self.slot} {self.word}"


class EventRollup(models.Model):
    """Events counted per hour, fingerprint and severity, kept as events are stored, so that
    "top recurring" and the severity chart over days read hours, not events."""

    pk = models.CompositePrimaryKey("hour", "fingerprint", "severity")
    hour = models.DateTimeField()
    fingerprint = models.CharField(max_length=64)
    severity = models.SmallIntegerField()
    count = models.BigIntegerField()
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()

    class Meta:
        db_table = "event_rollup"
        # One fingerprint's (or issue's) hours without reading every fingerprint's.
        indexes = [models.Index(fields=["fingerprint", "hour"], name="event_rollup_fingerprint")]

    def __str__(self) -> str:
        return f"{self.hour} {self.fingerprint} {self.severity}: {self.count}"


class EventRollupDay(models.Model):
    """The hourly rollups summed per UTC day (events.rollups keeps both): a week is six days'
    rows and the hours at its edges, not 168 hours' rows."""

    pk = models.CompositePrimaryKey("day", "fingerprint", "severity")
    day = models.DateTimeField()
    fingerprint = models.CharField(max_length=64)
    severity = models.SmallIntegerField()
    count = models.BigIntegerField()
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()

    class Meta:
        db_table = "event_rollup_day"
        indexes = [models.Index(fields=["fingerprint", "day"], name="event_rollup_day_fingerprint")]

    def __str__(self) -> str:
        return f"{self.day:%Y-%m-%d} {self.fingerprint} {self.severity}: {self.count}"


class EventRollupTotal(models.Model):
    """Events counted per hour and severity alone: the severity chart of the whole stream (or
    of some severities) reads a few rows per hour."""

    pk = models.CompositePrimaryKey("hour", "severity")
    hour = models.DateTimeField()
    severity = models.SmallIntegerField()
    count = models.BigIntegerField()

    class Meta:
        db_table = "event_rollup_total"

    def __str__(self) -> str:
        return f"{self.hour} {self.severity}: {self.count}"


class UnplacedFingerprint(models.Model):
    """A fingerprint counted in the rollups while it had no template row (its events were
    stored around ingest's placing), and the hours it was counted in. The rollups cannot say
    such a fingerprint's source, so analytics by source count its events from the events."""

    fingerprint = models.CharField(primary_key=True, max_length=64)
    first_hour = models.DateTimeField()
    last_hour = models.DateTimeField()

    class Meta:
        db_table = "event_rollup_unplaced"

    def __str__(self) -> str:
        return self.fingerprint
