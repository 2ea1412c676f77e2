"""What a legal hold over a document or a doc pack covers (the holds app's scope registry): a
document's every object — v1, hash, envelope record, signed copy — and a pack's, every one of
its documents'. A hold on a pack also covers each document (`document_packs`), so asking
whether a document is held finds it."""

from __future__ import annotations

from casefile.documents import storage
from casefile.documents.models import DocPack, Document


def document_exists(doc_id: str) -> bool:
    return Document.objects.filter(pk=doc_id).exists()


def pack_exists(pack_id: str) -> bool:
    return DocPack.objects.filter(pk=pack_id).exists()


def document_object_keys(doc_id: str) -> list[str]:
    document = Document.objects.filter(pk=doc_id).first()
    return storage.object_keys(document) if document else []


def pack_object_keys(pack_id: str) -> list[str]:
    keys: list[str] = []
    for document in Document.objects.filter(pack_id=pack_id).order_by("position", "id"):
        keys += storage.object_keys(document)
    return keys


def document_packs(doc_id: str) -> list[tuple[str, str]]:
    return [("doc_pack", pack_id) for pack_id in
            Document.objects.filter(pk=doc_id).values_list("pack_id", flat=True)]
