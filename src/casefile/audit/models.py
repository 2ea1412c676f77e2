from django.db import models

from casefile.audit.registry import Risk
from casefile.core import ids

# The fields an entry's hash covers, in the order `verify` reads them: every field but `hash`.
HASHED_FIELDS = (
    "id", "seq", "created_at", "actor_user_id", "actor_email", "actor_role", "ip_address",
    "user_agent", "action", "risk", "resource", "target_tenant_id", "target_user_id",
    "reason_code", "ticket_ref", "details", "metadata", "prev_hash",
)


class AuditEntry(models.Model):
    """One entry of the append-only, hash-chained audit ledger (DESIGN section 4).

    Rows are only ever inserted, by `casefile.audit.ledger.record`, without `seq`, `prev_hash`
    and `hash`, which the sequencer (`ledger.chain_pending`) sets once after commit; database
    triggers refuse every other UPDATE, and DELETE and TRUNCATE.
    """

    id = models.CharField(primary_key=True, max_length=40, default=ids.new_aud_id,
                          editable=False)
    seq = models.BigIntegerField(unique=True, null=True, blank=True)  # None: not chained yet
    created_at = models.DateTimeField()
    actor_user_id = models.CharField(max_length=40, null=True, blank=True)
    actor_email = models.CharField(max_length=254, null=True, blank=True)
    actor_role = models.CharField(max_length=100)
    ip_address = models.CharField(max_length=45, null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True, default="")
    action = models.CharField(max_length=64)
    risk = models.CharField(max_length=8, choices=[(r.value, r.value) for r in Risk])
    resource = models.CharField(max_length=200)
    target_tenant_id = models.CharField(max_length=40, null=True, blank=True)
    target_user_id = models.CharField(max_length=40, null=True, blank=True)
    reason_code = models.CharField(max_length=64)
    ticket_ref = models.CharField(max_length=100, null=True, blank=True)
    details = models.JSONField(default=dict)
    metadata = models.JSONField(default=dict)
    prev_hash = models.CharField(max_length=64, null=True, blank=True)
    hash = models.CharField(max_length=64, null=True, blank=True)

    class Meta:
        db_table = "audit_entry"
        indexes = [
            # The sequencer's queue: small, since entries leave it a moment after commit.
            models.Index(fields=["created_at", "id"], condition=models.Q(seq__isnull=True),
                         name="audit_unchained"),
            models.Index(fields=["created_at"], name="audit_created_at"),
            models.Index(fields=["actor_user_id", "seq"], name="audit_actor_seq"),
            models.Index(fields=["action", "seq"], name="audit_action_seq"),
            models.Index(fields=["resource", "seq"], name="audit_resource_seq"),
            models.Index(fields=["risk", "seq"], name="audit_risk_seq"),
            models.Index(fields=["target_tenant_id", "seq"], name="audit_tenant_seq"),
            models.Index(fields=["target_user_id", "seq"], name="audit_user_seq"),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.action} {self.resource}"

    def position(self) -> tuple[int, str]:
        """`(seq, hash)`, for code that handles only chained entries."""
        if self.seq is None or self.hash is None:
            raise LookupError(f"audit entry {self.id} is not chained yet")
        return self.seq, self.hash


class AuditCheckpoint(models.Model):
    """A signed statement (Ed25519) that the ledger's entry `seq` had hash `hash` and, since the
    Merkle tree (casefile.audit.merkle), a signed checkpoint note of the tree's size and root.

    Checkpoints made before the tree have no `tree_size`, `root_hash` or `note`, and are
    verified by their chain-head signature alone. (The three columns are nullable so adding them
    is a plain ALTER TABLE ADD COLUMN on SQLite too: a table rebuild would drop the append-only
    triggers.)"""

    id = models.CharField(primary_key=True, max_length=40, default=ids.new_ckp_id,
                          editable=False)
    seq = models.BigIntegerField(unique=True)
    hash = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    key_id = models.CharField(max_length=32)
    signature = models.CharField(max_length=128)  # hex
    tree_size = models.BigIntegerField(null=True, blank=True)  # = seq: leaves are entries 1..seq
    root_hash = models.CharField(max_length=64, null=True, blank=True)  # hex RFC 9162 MTH
    note = models.TextField(null=True, blank=True)  # C2SP signed checkpoint note (notes.py)

    class Meta:
        db_table = "audit_checkpoint"

    def __str__(self) -> str:
        return f"checkpoint #{self.seq}"


class AuditTreeChunk(models.Model):
    """The root of one complete run of `merkle.CHUNK` (256) leaves: entries
    index*256+1 .. index*256+256. Filled when checkpoints are made, so the root of, or a proof in,
    a tree of any size costs one small query and about size/256 hashes, never a pass over every
    entry. A cache derived from the entries: verify recomputes it and never trusts it, and a
    wrong chunk can only produce proofs that fail against the signed root."""

    index = models.BigIntegerField(primary_key=True)
    root = models.CharField(max_length=64)  # hex

    class Meta:
        db_table = "audit_tree_chunk"

    def __str__(self) -> str:
        return f"tree chunk {self.index}"


class AuditSegment(models.Model):
    """A run of entries shipped to the object store as NDJSON, with its checkpoint beside it."""

    first_seq = models.BigIntegerField(unique=True)
    last_seq = models.BigIntegerField(unique=True)
    object_key = models.CharField(max_length=300, unique=True)
    checkpoint_key = models.CharField(max_length=300)
    sha256 = models.CharField(max_length=64)
    size = models.BigIntegerField()
    retain_until = models.DateTimeField()
    shipped_at = models.DateTimeField()
    # The store's version of the object as shipped: verify reads that version, so a newer
    # version put over the key (S3 allows it under Object Lock) changes nothing it reads.
    version_id = models.CharField(max_length=1024, null=True, blank=True)

    class Meta:
        db_table = "audit_segment"

    def __str__(self) -> str:
        return self.object_key


class VerifyRun(models.Model):
    """The outcome of each `audit verify`, so the console can show the ledger's state."""

    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    worm = models.BooleanField(default=False)
    ok = models.BooleanField()
    entries = models.BigIntegerField()
    report = models.JSONField()

    class Meta:
        db_table = "audit_verify_run"
        indexes = [models.Index(fields=["-finished_at"], name="audit_verify_finished")]

    def __str__(self) -> str:
        return f"verify at {self.finished_at}: {'ok' if self.ok else 'BROKEN'}"
