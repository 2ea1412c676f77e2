"""Whether a blob is under legal hold: the one question shredding (and PII expiry) asks.

The answer comes from the LegalHold records (`casefile.holds`): a blob is held while an active
hold covers it — a hold on the blob itself, on the case it is linked to, or on any record that
registered itself as enclosing evidence (`holds.scopes.register_parents("evidence", …)`, e.g. a
verification case). Callers keep asking only `held(blob)`, or `holds_over(blob)` for the holds.
"""

from __future__ import annotations

from casefile.evidence.models import EvidenceBlob
from casefile.holds.models import LegalHold
from casefile.holds.selectors import active_holds_over


def holds_over(blob: EvidenceBlob | str) -> list[LegalHold]:
    """The active holds covering the blob, oldest first."""
    return active_holds_over("evidence", blob if isinstance(blob, str) else blob.pk)


def held(blob: EvidenceBlob | str) -> bool:
    return bool(holds_over(blob))


def case_held(case_id: str | None) -> bool:
    """Whether evidence added to this case now must be written with the store's hold ON."""
    return case_id is not None and bool(active_holds_over("case", case_id))


def reassert(blob: EvidenceBlob) -> None:
    """After an upload to a case commits: if a hold covers the blob now (placed while it was
    being written), set the store's hold ON on its objects."""
    from casefile.storage import get_store

    if held(blob):
        store = get_store()
        for key in (blob.original_key, blob.redacted_key):
            store.set_legal_hold(key, True)
