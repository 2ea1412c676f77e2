"""The webhook log (DESIGN 9.1, 9.3): every delivery a vendor made, kept append-only.

`WebhookDelivery` is written once per request that reached a known vendor's endpoint, with what
was done about it. Nothing updates or deletes it: database triggers refuse both, on SQLite and
PostgreSQL (`webhooks.triggers`). A delivery held because no case knew its session yet is later
resolved by a second, equally append-only row, `WebhookResolution`, never by changing the first.

The case a delivery concerns is a plain `verification_case_id` (not a foreign key), so this log
and its migrations do not depend on the trust app's.
"""

from django.db import models
from django.db.models import Q

from casefile.core import ids


class Outcome(models.TextChoices):
    # A verified delivery that moved its case (one audited step per state on the way).
    APPLIED = "applied"
    # Verified and kept, but it moves nothing: not about a verification session, a status that
    # asks for no state, or the case is already where it asks.
    NO_EFFECT = "no_effect"
    # An event id this vendor already delivered: nothing changes.
    DUPLICATE = "duplicate"
    # Older (vendor time) than the last event applied to its case: kept, not applied.
    OUT_OF_ORDER = "out_of_order"
    # No case has this vendor session yet: kept, applied when the case is opened.
    HELD_FOR_CASE = "held_for_case"
    # The verification transition table forbids the move (e.g. a decided case, or one a person
    # would have to appeal): kept, not applied.
    REJECTED = "rejected"
    # The request is not proven to come from the vendor (401): its body is not kept.
    SIGNATURE_INVALID = "signature_invalid"
    # No secret is configured for the vendor (404): nothing could be verified.
    NOT_CONFIGURED = "not_configured"
    # Signed, but not the vendor's documented shape (422).
    PAYLOAD_INVALID = "payload_invalid"
    # Casefile failed while applying it (503, so the vendor retries); nothing was changed.
    FAILED = "failed"


# The outcomes of a delivery that leaves the vendor answered with a 2xx.
ACCEPTED = frozenset({Outcome.APPLIED, Outcome.NO_EFFECT, Outcome.DUPLICATE,
                      Outcome.OUT_OF_ORDER, Outcome.HELD_FOR_CASE, Outcome.REJECTED})


class WebhookDelivery(models.Model):
    id = models.CharField(primary_key=True, max_length=40, default=ids.new_whd_id,
                          editable=False)
    vendor = models.CharField(max_length=20)
    received_at = models.DateTimeField()
    remote_addr = models.CharField(max_length=45, blank=True, default="")
    body_sha256 = models.CharField(max_length=64)  # of the raw body, whatever it was
    body_size = models.BigIntegerField()
    # The headers that matter (content type, user agent, the signature header): never a secret.
    headers = models.JSONField(default=dict)
    signature_ok = models.BooleanField()
    signature_reason = models.CharField(max_length=200, blank=True, default="")
    # From the parsed body: only ever filled for a verified one.
    event_id = models.CharField(max_length=300, blank=True, default="")
    event_type = models.CharField(max_length=200, blank=True, default="")
    vendor_time = models.DateTimeField(null=True, blank=True)
    session_id = models.CharField(max_length=200, blank=True, default="")
    vendor_status = models.CharField(max_length=100, blank=True, default="")
    case_state = models.CharField(max_length=20, blank=True, default="")  # what it asks for
    decision = models.CharField(max_length=60, blank=True, default="")
    # The raw body in the evidence vault (verified bodies only).
    evidence_id = models.CharField(max_length=40, blank=True, default="")
    verification_case_id = models.CharField(max_length=40, blank=True, default="")
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    detail = models.CharField(max_length=500, blank=True, default="")
    # True on the one row per (vendor, event id) that was received first and acted on: the
    # unique constraint below is what makes a concurrent repeat a duplicate.
    first_receipt = models.BooleanField(default=False)

    class Meta:
        db_table = "webhook_delivery"
        constraints = [
            models.UniqueConstraint(fields=["vendor", "event_id"],
                                    condition=Q(first_receipt=True),
                                    name="webhook_event_once"),
            models.CheckConstraint(condition=Q(outcome__in=Outcome.values),
                                   name="webhook_outcome_known"),
            models.CheckConstraint(condition=Q(first_receipt=False) | ~Q(event_id=""),
                                   name="webhook_first_has_event_id"),
        ]
        indexes = [
            models.Index(fields=["-received_at", "-id"], name="webhook_received"),
            models.Index(fields=["vendor", "session_id"], name="webhook_session"),
            models.Index(fields=["verification_case_id", "received_at"], name="webhook_case"),
            models.Index(fields=["outcome", "-received_at"], name="webhook_outcome"),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.vendor} {self.event_type or '?'} ({self.outcome})"

    @property
    def case_id(self) -> str:
        """The case this delivery concerns: logged against it, or resolved for it later."""
        if self.verification_case_id:
            return self.verification_case_id
        resolution = getattr(self, "resolution", None)  # the reverse one-to-one, if any
        return resolution.verification_case_id if resolution is not None else ""


class WebhookResolution(models.Model):
    """What became of a held delivery once its case appeared: written once, never changed."""

    delivery = models.OneToOneField(WebhookDelivery, on_delete=models.PROTECT,
                                    related_name="resolution")
    resolved_at = models.DateTimeField()
    outcome = models.CharField(max_length=20, choices=Outcome.choices)
    verification_case_id = models.CharField(max_length=40)
    detail = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        db_table = "webhook_resolution"
        constraints = [
            models.CheckConstraint(condition=Q(outcome__in=Outcome.values),
                                   name="webhook_resolution_outcome_known"),
        ]

    def __str__(self) -> str:
        return f"{self.delivery_id} → {self.outcome}"
