from django.conf import settings
from django.db import models

from casefile.core import ids

KINDS = ("evidence", "verification_case", "document", "doc_pack", "case")
STATUSES = ("active", "released")


class LegalHold(models.Model):
    """A legal hold over one scope (DESIGN 9.1): an evidence blob, a verification case, a
    document, a doc pack, or a case and everything it links (`holds.scopes`).

    While it is active, the object store's legal hold is ON on every object in scope, and
    shredding, purges and PII expiry in scope are refused (`holds.selectors.active_holds_over`).

    Append-mostly: a row is never deleted (every link PROTECTs), and the only change it admits
    is its release, once — `status` from active to released with the release's columns set —
    which database triggers enforce (`holds.triggers`), as the audit ledger's do."""

    id = models.CharField(primary_key=True, max_length=40, default=ids.new_hld_id,
                          editable=False)
    kind = models.CharField(max_length=40)  # one of KINDS
    object_id = models.CharField(max_length=40)
    reason_code = models.CharField(max_length=64)
    ticket_ref = models.CharField(max_length=100, blank=True, default="")
    note = models.TextField(blank=True, default="")
    # The object-store keys in scope when the hold was placed (a case's scope grows as evidence
    # is added to it: `holds.scopes` gives the current ones).
    object_keys = models.JSONField(default=list)
    placed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                  related_name="+")
    placed_at = models.DateTimeField()
    status = models.CharField(max_length=20, default="active")  # active | released
    # The release: who asked (legal), who approved (another legal person), the approval.
    released_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="+")
    release_approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                            on_delete=models.PROTECT, related_name="+")
    released_at = models.DateTimeField(null=True, blank=True)
    release_approval = models.ForeignKey("platform_subjects.Approval", null=True, blank=True,
                                         on_delete=models.PROTECT, related_name="+")

    class Meta:
        db_table = "holds_legal_hold"
        indexes = [
            models.Index(fields=["-placed_at", "-id"], name="holds_placed"),
            models.Index(fields=["kind", "object_id", "status"], name="holds_scope"),
            models.Index(fields=["status", "-placed_at"], name="holds_status"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(status__in=STATUSES),
                                   name="holds_status_known"),
            models.CheckConstraint(condition=models.Q(kind__in=KINDS), name="holds_kind_known"),
            models.CheckConstraint(
                condition=models.Q(status="active", released_at__isnull=True,
                                   released_by__isnull=True)
                | models.Q(status="released", released_at__isnull=False,
                           released_by__isnull=False),
                name="holds_release_complete"),
            # One active hold per scope and matter (reason and ticket): placing it again is
            # the same hold (idempotent), while another matter's hold over the same scope is a
            # hold of its own, released on its own.
            models.UniqueConstraint(fields=["kind", "object_id", "reason_code", "ticket_ref"],
                                    condition=models.Q(status="active"),
                                    name="holds_one_active_per_matter"),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.scope} ({self.status})"

    @property
    def scope(self) -> str:
        return f"{self.kind}:{self.object_id}"

    @property
    def is_active(self) -> bool:
        return self.status == "active"
