"""Documents policy in one place (DESIGN 9.5): the value lists and the doc pack's transition
table. Read this file to know how a pack may move; nothing else decides it."""

from __future__ import annotations

from django.db import models


class PackStatus(models.TextChoices):
    DRAFT = "draft"
    ISSUED = "issued"
    SIGNED = "signed"
    VOIDED = "voided"
    SUPERSEDED = "superseded"


# At most one pack per leg is in one of these (the partial unique index on DocPack): the seed's
# `unique (leg_id, status)` would forbid a second voided pack (DESIGN 9.5).
LIVE_STATUSES = (PackStatus.DRAFT, PackStatus.ISSUED, PackStatus.SIGNED)

# The one transition table. `superseded` is reached only when a newer pack of the same leg is
# issued, in that issue's transaction (documents.services.doc_pack_issue).
TRANSITIONS: dict[str, frozenset[str]] = {
    PackStatus.DRAFT: frozenset({PackStatus.ISSUED, PackStatus.VOIDED}),
    PackStatus.ISSUED: frozenset({PackStatus.SIGNED, PackStatus.VOIDED, PackStatus.SUPERSEDED}),
    PackStatus.SIGNED: frozenset({PackStatus.SUPERSEDED}),
    PackStatus.VOIDED: frozenset(),
    PackStatus.SUPERSEDED: frozenset(),
}


def can_move(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, frozenset())


class EnvelopeStatus(models.TextChoices):
    """Only moves forward: none → sent → completed|voided|expired (DESIGN 9.5)."""

    NONE = "none"
    SENT = "sent"
    COMPLETED = "completed"
    VOIDED = "voided"
    EXPIRED = "expired"


class ProviderRole(models.TextChoices):
    """The booked provider's role on a leg, what a `role_gate` matches."""

    MODEL = "model"
    PHOTOGRAPHER = "photographer"
    STUDIO = "studio"


class SignerRole(models.TextChoices):
    BUYER = "buyer"
    TALENT = "talent"
    STUDIO_OWNER = "studio_owner"
    WITNESS = "witness"


class SignEventKind(models.TextChoices):
    """The seed's events, and `completed` (the envelope's end, every signer done)."""

    ENVELOPE_SENT = "envelope_sent"
    VIEWED = "viewed"
    SIGNED = "signed"
    DECLINED = "declined"
    VOIDED = "voided"
    EXPIRED = "expired"
    COMPLETED = "completed"
