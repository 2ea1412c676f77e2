"""What a legal hold over a verification case covers (the holds app's scope registry): the
evidence it references. The raw bodies of its vendor deliveries are added by the webhooks app
(`webhooks/holds.py`); evidence a case references is also held by a hold on the case."""

from __future__ import annotations

from casefile.evidence.models import EvidenceBlob
from casefile.trust.models import VerificationCase


def verification_exists(case_id: str) -> bool:
    return VerificationCase.objects.filter(pk=case_id).exists()


def verification_user(case_id: str) -> str | None:
    return VerificationCase.objects.filter(pk=case_id).values_list("user_id", flat=True).first()


def verification_object_keys(case_id: str) -> list[str]:
    refs = VerificationCase.objects.filter(pk=case_id).values_list("evidence_refs", flat=True)
    keys: list[str] = []
    for original, redacted in EvidenceBlob.objects.filter(
            pk__in=refs.first() or []).order_by("id").values_list("original_key",
                                                                  "redacted_key"):
        keys += [original, redacted]
    return keys


def verification_cases_of_blob(blob_id: str) -> list[tuple[str, str]]:
    """The verification cases whose `evidence_refs` name the blob. A JSON list cannot be
    searched by element on SQLite: the text match narrows, the list decides."""
    return [("verification_case", case_id) for case_id, refs in
            VerificationCase.objects.filter(evidence_refs__icontains=blob_id)
            .values_list("id", "evidence_refs") if blob_id in refs]
