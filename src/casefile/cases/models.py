from django.conf import settings
from django.db import models

from casefile.cases.policy import Kind, Status
from casefile.core import ids


class Case(models.Model):
    """One case model for TD-490's admin_case and Signaled's Case (DESIGN section 2)."""

    id = models.CharField(primary_key=True, max_length=40, default=ids.new_cas_id, editable=False)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NEW)
    priority = models.PositiveSmallIntegerField(default=3)  # 1 most urgent … 5
    title = models.CharField(max_length=300)
    summary = models.CharField(max_length=1000, blank=True, default="")
    description = models.TextField(blank=True, default="")
    opened_by = models.CharField(max_length=60)  # who raised it: stf_…, usr_… or "system"
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    assigned_to = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="assigned_cases")
    subject_user = models.CharField(max_length=60, blank=True, default="")
    order_id = models.CharField(max_length=60, blank=True, default="")
    thread_id = models.CharField(max_length=60, blank=True, default="")
    listing_id = models.CharField(max_length=60, blank=True, default="")
    sla_due_at = models.DateTimeField(null=True, blank=True)
    sla_paused_at = models.DateTimeField(null=True, blank=True)
    sla_breached_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "case_file"
        constraints = [
            models.CheckConstraint(condition=models.Q(priority__gte=1, priority__lte=5),
                                   name="case_priority_1_to_5"),
        ]
        indexes = [
            models.Index(fields=["assigned_to", "status", "-created_at"], name="case_assignee"),
            models.Index(fields=["status", "priority", "created_at"], name="case_queue"),
            models.Index(fields=["sla_due_at"], name="case_sla_due"),
            models.Index(fields=["kind", "-created_at"], name="case_kind"),
            models.Index(fields=["subject_user"], name="case_subject"),
            models.Index(fields=["-created_at", "-id"], name="case_created"),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.title[:60]}"


class CaseStatusChange(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=20, choices=Status.choices)
    to_status = models.CharField(max_length=20, choices=Status.choices)
    actor_id = models.CharField(max_length=40)  # stf_… or "system"
    reason_code = models.CharField(max_length=64)
    at = models.DateTimeField()

    class Meta:
        db_table = "case_status_change"
        indexes = [models.Index(fields=["case", "at"], name="case_status_change_case")]

    def __str__(self) -> str:
        return f"{self.case_id}: {self.from_status} → {self.to_status}"


class CaseNote(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                               related_name="+")
    content = models.TextField()
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        db_table = "case_note"
        indexes = [models.Index(fields=["case", "created_at"], name="case_note_case")]

    def __str__(self) -> str:
        return f"note {self.pk} on {self.case_id}"


class CaseNoteRevision(models.Model):
    """An earlier text of a note: edits keep their history."""

    note = models.ForeignKey(CaseNote, on_delete=models.CASCADE, related_name="revisions")
    content = models.TextField()
    edited_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                  related_name="+")
    replaced_at = models.DateTimeField()

    class Meta:
        db_table = "case_note_revision"

    def __str__(self) -> str:
        return f"revision of note {self.note_id}"


class Tag(models.Model):
    name = models.CharField(max_length=60, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "tag"

    def __str__(self) -> str:
        return self.name


class CaseTag(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="case_tags")
    tag = models.ForeignKey(Tag, on_delete=models.PROTECT, related_name="case_tags")
    created_at = models.DateTimeField()

    class Meta:
        db_table = "case_tag"
        constraints = [models.UniqueConstraint(fields=["case", "tag"], name="case_tag_unique")]

    def __str__(self) -> str:
        return f"{self.case_id}#{self.tag_id}"


class CaseEvent(models.Model):
    """An event linked to a case. PROTECT: an event that is evidence cannot be deleted."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="event_links")
    # No foreign key in the database: PostgreSQL cannot reference a partitioned `event` by id
    # alone (its key includes occurred_at). The ORM still PROTECTs, and the retention code keeps
    # every linked event (events.services.events_purge).
    event = models.ForeignKey("events.Event", on_delete=models.PROTECT, related_name="case_links",
                              db_constraint=False)
    linked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT,
                                  related_name="+")
    linked_at = models.DateTimeField()

    class Meta:
        db_table = "case_event"
        constraints = [models.UniqueConstraint(fields=["case", "event"],
                                               name="case_event_unique")]

    def __str__(self) -> str:
        return f"{self.case_id} ↔ {self.event_id}"


class CaseAction(models.Model):
    """What staff did on the case (TD-490's admin_action); each is also an audit entry."""

    id = models.CharField(primary_key=True, max_length=40, default=ids.new_act_id, editable=False)
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="actions")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                              related_name="+")
    action = models.CharField(max_length=40)
    payload = models.JSONField(default=dict)
    reason_code = models.CharField(max_length=64)
    audit_entry_id = models.CharField(max_length=40)
    # What an action that runs a platform operation led to: the command sent to the platform,
    # or the four-eyes request it waits on.
    command_id = models.CharField(max_length=40, blank=True, default="")
    approval_id = models.CharField(max_length=40, blank=True, default="")
    created_at = models.DateTimeField()

    class Meta:
        db_table = "case_action"
        indexes = [models.Index(fields=["case", "created_at"], name="case_action_case")]

    def __str__(self) -> str:
        return f"{self.action} on {self.case_id}"
