"""Legal holds over a verification case cover the raw bodies of its vendor deliveries, including
those never applied (out of order, refused, no effect), which are not in its `evidence_refs`.
Registered with the holds app's scope registry in `WebhooksConfig.ready`."""

from __future__ import annotations

from casefile.evidence.models import EvidenceBlob
from casefile.webhooks import selectors


def verification_cases_of_blob(blob_id: str) -> list[tuple[str, str]]:
    """The records whose holds also cover this blob: the cases its delivery concerns."""
    return [("verification_case", case_id) for case_id in selectors.cases_of_evidence(blob_id)]


def verification_object_keys(case_id: str) -> list[str]:
    """The object-store keys of the case's delivery bodies (original and redacted copy)."""
    keys = []
    for original, redacted in (EvidenceBlob.objects
                               .filter(pk__in=selectors.evidence_ids_for_case(case_id))
                               .values_list("original_key", "redacted_key")):
        keys += [original, redacted]
    return keys
