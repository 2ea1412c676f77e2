from django.conf import settings
from django.db import models

from casefile.core import ids


class EvidenceBlob(models.Model):
    """One piece of evidence (TD-596.3's EvidenceBlob; DESIGN 9.2).

    The original is in the object store at `original_key`, encrypted with its own data key, which
    is kept here only wrapped by the master key (`wrapped_key`, base64). Crypto-shredding sets
    `wrapped_key` to NULL and `shredded_at`: the original can then never be decrypted, while its
    hash, the PII map and the redacted copy at `redacted_key` remain. Nothing here is deleted by
    a cascade (DESIGN 9.1): the links PROTECT."""

    id = models.CharField(primary_key=True, max_length=40, default=ids.new_evb_id,
                          editable=False)
    sha256 = models.CharField(max_length=64)  # of the plaintext original
    size = models.BigIntegerField()  # of the plaintext original, in bytes
    content_type = models.CharField(max_length=150)
    filename = models.CharField(max_length=255, blank=True, default="")
    pii_map = models.JSONField(default=list)  # [{kind, locator}] (evidence.redaction)
    # NULL, not "", once shredded: the key is gone, and the check constraint says so.
    wrapped_key = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    key_id = models.CharField(max_length=200)  # the master key that wrapped it
    algorithm = models.CharField(max_length=40)  # e.g. AES-256-GCM+A256KW
    nonce = models.CharField(max_length=32)  # hex
    original_key = models.CharField(max_length=300)
    redacted_key = models.CharField(max_length=300)
    redacted_sha256 = models.CharField(max_length=64)
    redacted_size = models.BigIntegerField()
    shredded_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    case = models.ForeignKey("cases.Case", null=True, blank=True, on_delete=models.PROTECT,
                             related_name="evidence")
    platform_user_id = models.CharField(max_length=40, blank=True, default="")
    source = models.CharField(max_length=100, blank=True, default="")  # e.g. webhook:persona

    # The ledger shows that the wrapped key changed (it is destroyed by a shred), never the key.
    AUDIT_DIGESTED = ("wrapped_key",)

    class Meta:
        db_table = "evidence_blob"
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="evidence_created"),
            models.Index(fields=["case", "-created_at"], name="evidence_case"),
            models.Index(fields=["platform_user_id", "-created_at"], name="evidence_user"),
            models.Index(fields=["sha256"], name="evidence_sha256"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(shredded_at__isnull=True, wrapped_key__isnull=False)
                | models.Q(shredded_at__isnull=False, wrapped_key__isnull=True),
                name="evidence_shredded_has_no_key"),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.filename or self.content_type}"

    @property
    def is_shredded(self) -> bool:
        return self.shredded_at is not None

    @property
    def legal_hold(self) -> bool:
        """Whether an active legal hold covers the blob (its own, its case's: evidence.holds);
        shredding is refused while it does."""
        from casefile.evidence.holds import held  # holds build on evidence

        return held(self)

    @property
    def pii_kinds(self) -> list[str]:
        return sorted({entry["kind"] for entry in self.pii_map})

    @property
    def is_image(self) -> bool:
        return self.content_type.split(";")[0].strip().lower() in ("image/png", "image/jpeg")
