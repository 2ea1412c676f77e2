"""Whether a blob is under legal hold: the one question shredding (and, later, PII expiry) asks.

Today it reads the blob's own `legal_hold` flag. The legal-hold work replaces the body with a
look-up of LegalHold records whose scope covers the blob (the blob itself, its verification case,
or its case); callers keep asking only `held(blob)`.
"""

from casefile.evidence.models import EvidenceBlob


def held(blob: EvidenceBlob) -> bool:
    return bool(EvidenceBlob.objects.filter(pk=blob.pk).values_list("legal_hold", flat=True)
                .first())
