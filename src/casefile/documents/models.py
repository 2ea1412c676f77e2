"""Clause library, templates, booking legs, doc packs, documents and signer evidence (TD-71;
DESIGN 9.5).

Nothing here is deleted by a cascade (DESIGN 9.1): every link PROTECTs, packs and documents
refuse DELETE by trigger (they are under seven years' retention), sign events are append-only,
and a published clause or template version never changes (documents/triggers.py).
"""

from django.db import models
from django.db.models import Q

from casefile.core import ids
from casefile.documents.policy import (
    LIVE_STATUSES,
    EnvelopeStatus,
    PackStatus,
    ProviderRole,
    SignEventKind,
)


def _empty_list() -> list:
    return []


def _empty_dict() -> dict:
    return {}


class Clause(models.Model):
    """An atomic building block (the seed's doc_clause). An edit is a new row with the next
    `version` of the same `name`; once `published_at` is set the row never changes (only
    `is_active` may still move, to withdraw it from new templates)."""

    id = models.CharField(primary_key=True, max_length=40, default=ids.new_cls_id,
                          editable=False)
    name = models.CharField(max_length=200)
    version = models.PositiveIntegerField()
    city_gate = models.JSONField(null=True, blank=True)  # ["NYC", …]; null: every city
    role_gate = models.JSONField(null=True, blank=True)  # ["model", …]; null: every role
    is_active = models.BooleanField(default=True)
    body_markdown = models.TextField()
    variables_json = models.JSONField()  # a JSON Schema (Draft 2020-12) of the variables used
    created_by = models.CharField(max_length=40)  # stf_…
    created_at = models.DateTimeField()
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.CharField(max_length=40, blank=True, default="")

    class Meta:
        db_table = "documents_clause"
        constraints = [
            models.UniqueConstraint(fields=["name", "version"],
                                    name="documents_clause_name_version"),
            models.CheckConstraint(condition=Q(version__gte=1),
                                   name="documents_clause_version_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class Template(models.Model):
    """An ordered list of pinned, published clause versions with a layout and signer roles (the
    seed's doc_template); versioned and frozen like a clause."""

    id = models.CharField(primary_key=True, max_length=40, default=ids.new_tpl_id,
                          editable=False)
    name = models.CharField(max_length=200)
    version = models.PositiveIntegerField()
    city_gate = models.JSONField(null=True, blank=True)
    role_gate = models.JSONField(null=True, blank=True)
    clauses_ordered = models.JSONField()  # [{clause_id, version, order}]
    layout_json = models.JSONField()  # documents.render.layout_from_json's input
    signer_roles = models.JSONField()  # [{role, required, order}]
    is_active = models.BooleanField(default=True)
    created_by = models.CharField(max_length=40)
    created_at = models.DateTimeField()
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.CharField(max_length=40, blank=True, default="")

    class Meta:
        db_table = "documents_template"
        constraints = [
            models.UniqueConstraint(fields=["name", "version"],
                                    name="documents_template_name_version"),
            models.CheckConstraint(condition=Q(version__gte=1),
                                   name="documents_template_version_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class BookingLeg(models.Model):
    """A booking leg as the platform last upserted it (DESIGN 9.5): the leg id is the
    platform's, like its tenants' and users' ids."""

    id = models.CharField(primary_key=True, max_length=64)
    city = models.CharField(max_length=40)
    provider_role = models.CharField(max_length=20, choices=ProviderRole.choices)
    # {signer role: {"user_id": "usr_…" | null, "email": "…", "name": "…"}}
    parties = models.JSONField(default=_empty_dict)
    facts = models.JSONField(default=_empty_dict)  # booking facts that fill variables
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        db_table = "documents_booking_leg"
        constraints = [
            models.CheckConstraint(condition=Q(provider_role__in=ProviderRole.values),
                                   name="documents_leg_provider_role_known"),
        ]

    def __str__(self) -> str:
        return self.id


class DocPack(models.Model):
    """The documents generated for a leg (the seed's doc_pack). Moves by
    `documents.policy.TRANSITIONS`; at most one per leg is draft, issued or signed."""

    id = models.CharField(primary_key=True, max_length=40, default=ids.new_dpk_id,
                          editable=False)
    leg = models.ForeignKey(BookingLeg, on_delete=models.PROTECT, related_name="packs")
    status = models.CharField(max_length=20, choices=PackStatus.choices,
                              default=PackStatus.DRAFT)
    generator_ver = models.CharField(max_length=64)  # sha256 hex (documents.generate)
    city = models.CharField(max_length=40)
    # The leg's end, which retention counts from; set again from the leg when issued.
    ends_at = models.DateTimeField(null=True, blank=True)
    # The store's retain-until of every object of the pack, fixed when it is issued.
    retain_until = models.DateTimeField(null=True, blank=True)
    created_by = models.CharField(max_length=40)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    issued_at = models.DateTimeField(null=True, blank=True)
    signed_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.CharField(max_length=500, blank=True, default="")
    superseded_by = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True,
                                      related_name="supersedes")

    class Meta:
        db_table = "documents_pack"
        constraints = [
            models.CheckConstraint(condition=Q(status__in=PackStatus.values),
                                   name="documents_pack_status_known"),
            models.UniqueConstraint(fields=["leg"], condition=Q(status__in=LIVE_STATUSES),
                                    name="documents_one_live_pack_per_leg"),
        ]
        indexes = [models.Index(fields=["leg", "-created_at"], name="documents_pack_by_leg")]

    def __str__(self) -> str:
        return f"{self.id} ({self.status})"


class Document(models.Model):
    """One rendered document of a pack (the seed's doc_instance). What it was rendered from —
    template version, the pinned clauses through it, the variables — never changes, so anyone
    can render it again and compare bytes."""

    id = models.CharField(primary_key=True, max_length=40, default=ids.new_doc_id,
                          editable=False)
    pack = models.ForeignKey(DocPack, on_delete=models.PROTECT, related_name="documents")
    position = models.PositiveIntegerField(default=0)  # order within the pack
    title = models.CharField(max_length=200, blank=True, default="")
    template = models.ForeignKey(Template, on_delete=models.PROTECT, related_name="documents")
    template_version = models.PositiveIntegerField()
    variables_filled = models.JSONField()
    # Set when the pack is issued and the v1 PDF is written once to the store.
    render_pdf_key = models.CharField(max_length=300, blank=True, default="")
    render_pdf_sha256 = models.CharField(max_length=64)  # known from generation on
    envelope_provider = models.CharField(max_length=40, blank=True, default="")
    envelope_id = models.CharField(max_length=200, blank=True, default="")
    envelope_status = models.CharField(max_length=20, choices=EnvelopeStatus.choices,
                                       default=EnvelopeStatus.NONE)
    envelope_key = models.CharField(max_length=300, blank=True, default="")  # envelope_….json
    signer_map_json = models.JSONField(default=_empty_dict)  # {role: {user_id, email, name,…}}
    signed_pdf_key = models.CharField(max_length=300, blank=True, default="")
    signed_pdf_sha256 = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        db_table = "documents_document"
        constraints = [
            models.CheckConstraint(condition=Q(envelope_status__in=EnvelopeStatus.values),
                                   name="documents_envelope_status_known"),
        ]
        indexes = [
            models.Index(fields=["pack", "position"], name="documents_doc_by_pack"),
            models.Index(fields=["envelope_provider", "envelope_id"],
                         name="documents_doc_by_envelope"),
        ]

    def __str__(self) -> str:
        return self.id


class SignEvent(models.Model):
    """Signer evidence (the seed's doc_sign_event): append-only, one per provider event id,
    with the raw payload and signature header kept so it can be verified again."""

    id = models.CharField(primary_key=True, max_length=40, default=ids.new_dse_id,
                          editable=False)
    document = models.ForeignKey(Document, on_delete=models.PROTECT,
                                 related_name="sign_events")
    provider = models.CharField(max_length=40)
    provider_event_id = models.CharField(max_length=200)
    event = models.CharField(max_length=20, choices=SignEventKind.choices)
    actor_role = models.CharField(max_length=20, blank=True, default="")
    actor_user_id = models.CharField(max_length=40, blank=True, default="")
    actor_email = models.CharField(max_length=320, blank=True, default="")
    actor_name = models.CharField(max_length=200, blank=True, default="")
    ip_address = models.CharField(max_length=64, blank=True, default="")
    user_agent = models.CharField(max_length=500, blank=True, default="")
    provider_payload = models.TextField()  # the raw body (JSON or text), as received
    signature_header = models.TextField(blank=True, default="")
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField()
    audit_entry_id = models.CharField(max_length=40)

    class Meta:
        db_table = "documents_sign_event"
        constraints = [
            models.UniqueConstraint(fields=["provider", "provider_event_id"],
                                    name="documents_sign_event_once"),
            models.CheckConstraint(condition=Q(event__in=SignEventKind.values),
                                   name="documents_sign_event_known"),
        ]
        indexes = [models.Index(fields=["document", "occurred_at"],
                                name="documents_sign_event_by_doc")]

    def __str__(self) -> str:
        return f"{self.id} {self.event}"


class SigningLink(models.Model):
    """A single-use, expiring link of the built-in `local` provider; only the token's digest
    is kept."""

    document = models.ForeignKey(Document, on_delete=models.PROTECT,
                                 related_name="signing_links")
    role = models.CharField(max_length=20)
    token_digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "documents_signing_link"
        indexes = [models.Index(fields=["document", "role"], name="documents_link_by_doc")]

    def __str__(self) -> str:
        return f"{self.document_id}/{self.role}"
