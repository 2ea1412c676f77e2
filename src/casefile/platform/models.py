from django.conf import settings
from django.db import models

from casefile.core import ids


class Tenant(models.Model):
    id = models.CharField(primary_key=True, max_length=40, default=ids.new_ten_id, editable=False)
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=20, default="active")
    policy = models.JSONField(default=dict)  # features and flavours
    limits = models.JSONField(default=dict)  # hard limits: {"seats": 50, "api_rpm": 600}
    credit_balance_cents = models.BigIntegerField(default=0)
    details = models.JSONField(default=dict)  # sensitive metadata: read only through the audit
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    AUDIT_DIGESTED = ("details",)  # the ledger shows that they changed, not what they hold

    class Meta:
        db_table = "platform_tenant"

    def __str__(self) -> str:
        return f"{self.id} {self.name}"


class PlatformUser(models.Model):
    id = models.CharField(primary_key=True, max_length=40, default=ids.new_usr_id, editable=False)
    email = models.EmailField()
    name = models.CharField(max_length=200, blank=True, default="")
    tenant = models.ForeignKey(Tenant, null=True, blank=True, on_delete=models.PROTECT,
                               related_name="users")
    status = models.CharField(max_length=20, default="active")  # active | suspended
    suspended_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        db_table = "platform_user"
        indexes = [models.Index(fields=["email"], name="platform_user_email")]

    def __str__(self) -> str:
        return f"{self.id} {self.email}"


class Approval(models.Model):
    """A four-eyes request: an operation that takes effect only once another member of staff
    approves it, before it expires."""

    id = models.CharField(primary_key=True, max_length=40, default=ids.new_apr_id, editable=False)
    operation = models.CharField(max_length=40)
    params = models.JSONField()
    reason_code = models.CharField(max_length=64)
    ticket_ref = models.CharField(max_length=100, blank=True, default="")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                     related_name="+")
    # Where the request came from: the operation's entry, written at approval, records the
    # requester as they asked, and the approver as they approved.
    requested_ip = models.GenericIPAddressField(null=True, blank=True)
    requested_user_agent = models.CharField(max_length=512, blank=True, default="")
    requested_context = models.JSONField(default=dict)
    # pending → approved | rejected | expired | void (the requester lost the right to ask)
    status = models.CharField(max_length=20, default="pending")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    result = models.JSONField(default=dict)

    class Meta:
        db_table = "platform_approval"
        indexes = [models.Index(fields=["status", "created_at"], name="approval_status")]

    def __str__(self) -> str:
        return f"{self.id} {self.operation} ({self.status})"


class Impersonation(models.Model):
    id = models.CharField(primary_key=True, max_length=40, default=ids.new_imp_id, editable=False)
    staff = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                              related_name="impersonations")
    target = models.ForeignKey(PlatformUser, on_delete=models.PROTECT, related_name="+")
    reason_code = models.CharField(max_length=64)
    ticket_ref = models.CharField(max_length=100)
    started_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "platform_impersonation"
        indexes = [models.Index(fields=["staff", "ended_at", "expires_at"],
                                name="impersonation_active")]

    def __str__(self) -> str:
        return f"{self.id} {self.staff_id} as {self.target_id}"


class OutboxCommand(models.Model):
    """A command to the platform, written in the transaction of the change that causes it and
    delivered afterwards (at least once; its id is the idempotency key)."""

    id = models.CharField(primary_key=True, max_length=40, default=ids.new_cmd_id, editable=False)
    type = models.CharField(max_length=60)
    payload = models.JSONField()
    audit_entry_id = models.CharField(max_length=40)
    status = models.CharField(max_length=20, default="pending")  # pending | delivered | dead
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    leased_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "platform_outbox"
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="outbox_due")]

    def __str__(self) -> str:
        return f"{self.id} {self.type} ({self.status})"


class DeliveryAttempt(models.Model):
    command = models.ForeignKey(OutboxCommand, on_delete=models.CASCADE, related_name="log")
    number = models.PositiveIntegerField()
    at = models.DateTimeField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True, default="")
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        db_table = "platform_delivery_attempt"

    def __str__(self) -> str:
        return f"{self.command_id} attempt {self.number}"
