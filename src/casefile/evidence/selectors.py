"""Reads of evidence: one blob, a filtered list, and a blob's chain of custody."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from casefile.audit.models import AuditEntry
from casefile.core.errors import NotFound
from casefile.evidence.models import EvidenceBlob
from casefile.evidence.schemas import EvidenceFilter


def blob_get(blob_id: str) -> EvidenceBlob:
    found = EvidenceBlob.objects.select_related("created_by").filter(pk=blob_id).first()
    if found is None:
        raise NotFound(f"no evidence {blob_id}")
    return found


def blobs(f: EvidenceFilter) -> QuerySet[EvidenceBlob]:
    query = EvidenceBlob.objects.select_related("created_by")
    if f.case_id:
        query = query.filter(case_id=f.case_id)
    if f.platform_user_id:
        query = query.filter(platform_user_id=f.platform_user_id)
    if f.source:
        query = query.filter(source=f.source)
    if f.sha256:
        query = query.filter(sha256=f.sha256)
    return query


def custody(blob: EvidenceBlob) -> list[AuditEntry]:
    """Every ledger entry about the blob — upload, original reads, integrity failures, shred —
    and the legal holds placed on it or on its case and their releases (resource `hold:…`,
    the scope in their metadata: holds.selectors.entries_about), oldest first. By time (then
    id, a ULID), never by `seq`."""
    from casefile.holds.selectors import entries_about  # holds build on evidence

    about = Q(resource=f"evidence:{blob.id}") | Q(pk__in=entries_about("evidence", blob.id)
                                                   .values("pk"))
    if blob.case_id:
        about |= Q(pk__in=entries_about("case", blob.case_id).values("pk"))
    return list(AuditEntry.objects.filter(about).order_by("created_at", "id"))
