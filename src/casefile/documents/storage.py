"""Where a pack's objects live in the write-once store, and for how long (DESIGN 9.5, TD-71):

    {DOCUMENTS_PREFIX}packs/{pack_id}/{doc_id}_v1.pdf     the issued PDF
    {DOCUMENTS_PREFIX}packs/{pack_id}/hash_{doc_id}.txt   its SHA-256, hex, and a newline
    {DOCUMENTS_PREFIX}packs/{pack_id}/envelope_{doc_id}.json   (signing: written when it ends)
    {DOCUMENTS_PREFIX}packs/{pack_id}/{doc_id}_v2.pdf     (signing: the signed copy)

`DOCUMENTS_PREFIX` is `docs/{environment}/` by default. Every object is written once, under
COMPLIANCE retention until the pack's `retain_until` (the leg's end, or the issue time when the
leg has none, plus DOCUMENTS_RETENTION_DAYS, seven years), and with the store's legal hold ON
when a hold covers the document when it is written.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

from casefile.core.errors import AppError, Conflict
from casefile.documents.models import DocPack, Document
from casefile.storage import ObjectCorrupt, ObjectNotFound, get_store

_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,120}$")


class DocumentIntegrityError(AppError):
    """What the store holds is not what was issued: reported, never served."""

    status = 500
    code = "document_integrity_failed"


def prefix() -> str:
    value = settings.DOCUMENTS_PREFIX
    return value if value.endswith("/") or not value else value + "/"


def pack_prefix(pack: DocPack | str) -> str:
    return f"{prefix()}packs/{pack if isinstance(pack, str) else pack.id}/"


def v1_name(document: Document) -> str:
    return f"{document.id}_v1.pdf"


def hash_name(document: Document) -> str:
    return f"hash_{document.id}.txt"


def key_for(document: Document, name: str) -> str:
    if not _NAME.match(name) or document.id not in name:
        raise ValueError(f"{name!r} is not one of {document.id}'s object names")
    return pack_prefix(document.pack_id) + name


def retain_until_for(pack: DocPack, *, issued_at: datetime) -> datetime:
    """Seven years (DOCUMENTS_RETENTION_DAYS) from the leg's end, or from the issue time for a
    leg without one."""
    until = (pack.ends_at or issued_at) + timedelta(days=settings.DOCUMENTS_RETENTION_DAYS)
    if until.microsecond:  # S3 keeps whole seconds: round up, never short of seven years
        until = until.replace(microsecond=0) + timedelta(seconds=1)
    return until


def _held(document: Document) -> bool:
    from casefile.holds.selectors import active_holds_over

    return bool(active_holds_over("document", document.id))


def _reassert(document: Document, key: str) -> None:
    if _held(document):
        get_store().set_legal_hold(key, True)


def document_store_object(*, document: Document, name: str, data: bytes,
                          content_type: str = "application/octet-stream") -> str:
    """Write one of `document`'s objects once (`name` as in the module's layout, e.g.
    `envelope_{doc_id}.json`, `{doc_id}_v2.pdf`) under its pack's retention, held if a hold
    covers the document; returns the key. A name already written is a Conflict (the store
    never overwrites). The pack must have been issued (its retention is fixed then)."""
    pack = document.pack
    if pack.retain_until is None:
        raise Conflict(f"pack {pack.id} has not been issued: its objects have no retention yet")
    key = key_for(document, name)
    get_store().put(key, data, retain_until=pack.retain_until, legal_hold=_held(document),
                    content_type=content_type)
    if transaction.get_connection().in_atomic_block:
        # A hold placed while this was written covers it too, once both have committed.
        transaction.on_commit(lambda: _reassert(document, key), robust=True)
    return key


def write_v1(document: Document, pdf: bytes) -> tuple[str, str]:
    """The issued PDF and its hash file; returns their keys."""
    digest = hashlib.sha256(pdf).hexdigest()
    if digest != document.render_pdf_sha256:
        raise DocumentIntegrityError(
            f"{document.id} rendered to different bytes at issue than at generation "
            f"(sha256 {digest}, recorded {document.render_pdf_sha256})",
            details={"doc_id": document.id, "expected": document.render_pdf_sha256,
                     "actual": digest})
    pdf_key = document_store_object(document=document, name=v1_name(document), data=pdf,
                                    content_type="application/pdf")
    hash_key = document_store_object(document=document, name=hash_name(document),
                                     data=f"{digest}\n".encode(), content_type="text/plain")
    return pdf_key, hash_key


def read_v1(document: Document) -> bytes:
    """The issued PDF from the store, checked against the store's own hash and the one the
    document recorded at generation."""
    try:
        data = get_store().get(document.render_pdf_key)
    except ObjectCorrupt as exc:
        raise DocumentIntegrityError(f"{document.id}'s PDF was altered in the store: "
                                     f"{exc.message}", details={"doc_id": document.id}) from None
    except ObjectNotFound:
        raise DocumentIntegrityError(f"{document.id}'s PDF {document.render_pdf_key} is "
                                     "missing from the store",
                                     details={"doc_id": document.id}) from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != document.render_pdf_sha256:
        raise DocumentIntegrityError(
            f"{document.id}'s stored PDF does not match its recorded SHA-256",
            details={"doc_id": document.id, "expected": document.render_pdf_sha256,
                     "actual": actual})
    return data


def object_keys(document: Document) -> list[str]:
    """Every object of the document: what its row names, and whatever the store holds under its
    pack named for it (an envelope or signed copy written before its row was updated)."""
    keys = {k for k in (document.render_pdf_key, document.envelope_key,
                        document.signed_pdf_key) if k}
    if document.render_pdf_key:
        keys.add(key_for(document, hash_name(document)))
    for key in get_store().list(pack_prefix(document.pack_id)):
        if document.id in key.rsplit("/", 1)[-1]:
            keys.add(key)
    return sorted(keys)

