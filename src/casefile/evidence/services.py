"""Writes and audited reads of evidence (DESIGN 9.2). Each verb authorises and records its audit
entry (resource `evidence:evb_…`: the blob's chain of custody).

Transactions follow `cases.services`: `evidence_upload` and `evidence_shred` join their caller's
transaction when there is one (a webhook handler stores a vendor's body with the delivery it
belongs to; PII expiry shreds with the rest of its change), in a savepoint of their own.

The reads of stored bytes are different. Each checks what it read against the SHA-256 recorded
at upload, and a mismatch is an error *and* an `EVIDENCE_INTEGRITY_FAILED` entry, which must
outlive the error that reports it: so these reads commit their entries in transactions of their
own and refuse to run inside another (a caller's rollback would take the entry with it).
"""

from __future__ import annotations

import base64
import hashlib
import os
from datetime import timedelta
from typing import Any, NoReturn

from django.conf import settings
from django.db import transaction

from casefile.accounts.permissions import Perm
from casefile.audit import ledger
from casefile.audit.actor import Actor
from casefile.audit.snapshot import snapshot
from casefile.cases.models import Case
from casefile.core import ids
from casefile.core.errors import (
    AppError,
    Conflict,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    ValidationFailed,
)
from casefile.core.schemas import check_json
from casefile.core.timeutil import isoformat, now
from casefile.evidence import crypto, holds, redaction
from casefile.evidence.models import EvidenceBlob
from casefile.storage import ObjectCorrupt, ObjectNotFound, get_store


class EvidenceShredded(Conflict):
    code = "evidence_shredded"


class EvidenceIntegrityError(AppError):
    """What was read is not what was written: reported and audited, never served."""

    status = 500
    code = "evidence_integrity_failed"


class KeyUnavailable(ServiceUnavailable):
    code = "evidence_key_unavailable"


def resource(blob: EvidenceBlob | str) -> str:
    return f"evidence:{blob if isinstance(blob, str) else blob.id}"


def _text(value: str | None, limit: int, what: str) -> str:
    value = (value or "").strip()
    if "\x00" in value or len(value) > limit:
        raise ValidationFailed(f"{what}: at most {limit} characters, without NUL")
    return value


# --- upload ---------------------------------------------------------------------------------
def evidence_upload(*, actor: Actor, data: bytes, filename: str, content_type: str,
                    pii_map: list[dict[str, Any]], case_id: str | None = None,
                    platform_user_id: str | None = None, source: str | None = None,
                    reason_code: str | None = None, ticket_ref: str | None = None
                    ) -> EvidenceBlob:
    """Store an original, encrypted under a fresh data key, and its redacted copy, both written
    once under retention; record `EVIDENCE_UPLOADED`. A person gives a reason code; Casefile's
    own intake (a vendor webhook: `Actor.system("webhook:persona")`) gives none.

    The two objects are written before the row and its entry, so no row ever points at an
    object that is not there. If the transaction then fails, the objects stay behind under
    retention with no row: the original is unreadable (its data key existed only in this call)
    and the redacted copy holds no PII. (Writing objects first also means an upload cannot be
    previewed: the console does not offer it.)"""
    actor.require(Perm.EVIDENCE_UPLOAD)
    reason_code = actor.reason(reason_code)
    if not data:
        raise ValidationFailed("the evidence is empty")
    if len(data) > settings.EVIDENCE_MAX_BYTES:
        raise PayloadTooLarge(f"evidence is limited to {settings.EVIDENCE_MAX_BYTES} bytes",
                              details={"limit_bytes": settings.EVIDENCE_MAX_BYTES})
    content_type = _text(content_type, 150, "content_type")  # EvidenceBlob.content_type
    filename = _text(os.path.basename(filename or ""), 255, "filename")
    source = _text(source, 100, "source")
    platform_user_id = _text(platform_user_id, 40, "platform_user_id")
    try:
        check_json(pii_map)
    except ValueError as exc:
        raise ValidationFailed(f"pii_map: {exc}") from None
    pii = redaction.check_map(pii_map, content_type)
    redacted = redaction.redact(data, content_type, pii)
    case = None
    if case_id:
        case = Case.objects.filter(pk=case_id).first()
        if case is None:
            raise NotFound(f"no case {case_id}")

    blob_id = ids.new_evb_id()
    sealed = crypto.seal(data, blob_id=blob_id)
    original_key, redacted_key = f"evidence/{blob_id}/original", f"evidence/{blob_id}/redacted"
    retain_until = now() + timedelta(days=settings.EVIDENCE_RETENTION_DAYS)
    # Evidence added to a case under legal hold is written held (holds.services: after the
    # upload commits, the hold's scope is asked again, in case a hold was placed meanwhile).
    under_hold = holds.case_held(case.id if case else None)
    store = get_store()
    store.put(original_key, sealed.ciphertext, retain_until=retain_until, legal_hold=under_hold)
    store.put(redacted_key, redacted, retain_until=retain_until, content_type=content_type,
              legal_hold=under_hold)

    with transaction.atomic():
        blob = EvidenceBlob.objects.create(
            id=blob_id, sha256=hashlib.sha256(data).hexdigest(), size=len(data),
            content_type=content_type, filename=filename, pii_map=pii,
            wrapped_key=base64.b64encode(sealed.wrapped_key).decode(), key_id=sealed.key_id,
            algorithm=sealed.algorithm, nonce=sealed.nonce.hex(), original_key=original_key,
            redacted_key=redacted_key, redacted_sha256=hashlib.sha256(redacted).hexdigest(),
            redacted_size=len(redacted), created_by=actor.user, created_at=now(), case=case,
            platform_user_id=platform_user_id, source=source)
        ledger.record(actor=actor, action="EVIDENCE_UPLOADED", resource=resource(blob),
                      reason_code=reason_code, ticket_ref=ticket_ref, before=None,
                      after=snapshot(blob), target_user_id=platform_user_id or None,
                      metadata={"retain_until": isoformat(retain_until),
                                **({"legal_hold": True} if under_hold else {})})
        if case is not None:
            transaction.on_commit(lambda: holds.reassert(blob), robust=True)
    return blob


# --- reads ------------------------------------------------------------------------------------
def _own_transaction(what: str) -> None:
    """Refuse to run inside a caller's transaction (see the module's docstring)."""
    try:
        with transaction.atomic(durable=True):
            pass
    except RuntimeError:
        raise RuntimeError(f"{what} commits its own audit entries: call it outside any "
                           "transaction") from None


def _fresh(blob: EvidenceBlob) -> EvidenceBlob:
    found = EvidenceBlob.objects.filter(pk=blob.pk).first()
    if found is None:
        raise NotFound(f"no evidence {blob.pk}")
    return found


def _integrity_failed(actor: Actor, blob: EvidenceBlob, *, copy: str, problem: str,
                      actual: str | None, reason_code: str | None = None) -> NoReturn:
    """Record the failure in a transaction of its own, committed before the error is raised.
    Casefile is the one that found it (its system reason); who was reading is named."""
    expected = blob.sha256 if copy == "original" else blob.redacted_sha256
    with transaction.atomic(durable=True):
        ledger.record(
            actor=Actor.system("evidence-integrity"), action="EVIDENCE_INTEGRITY_FAILED",
            resource=resource(blob), target_user_id=blob.platform_user_id or None,
            metadata={"copy": copy, "problem": problem, "expected_sha256": expected,
                      "actual_sha256": actual, "read_by": actor.user.id if actor.user else None,
                      "read_by_email": actor.user.email if actor.user else None,
                      "read_reason_code": reason_code, "ip_address": actor.ip_address})
    raise EvidenceIntegrityError(
        f"the {copy} of {blob.id} does not match what was stored: {problem}; this has been "
        "recorded in the audit ledger", details={"blob_id": blob.id, "copy": copy,
                                                 "expected_sha256": expected,
                                                 "actual_sha256": actual})


def _stored(actor: Actor, blob: EvidenceBlob, key: str, copy: str,
            reason_code: str | None) -> bytes:
    try:
        return get_store().get(key)
    except ObjectCorrupt as exc:
        problem = f"the stored object was altered ({exc.message})"
    except ObjectNotFound:
        problem = f"the stored object {key} is missing"
    _integrity_failed(actor, blob, copy=copy, problem=problem, actual=None,
                      reason_code=reason_code)


def evidence_original_read(*, actor: Actor, blob: EvidenceBlob, reason_code: str,
                           ticket_ref: str | None = None) -> bytes:
    """The decrypted original, checked against the row's SHA-256 on every read and recorded as
    `EVIDENCE_ORIGINAL_VIEWED` before it is returned. A shredded blob is refused (409); a
    mismatch anywhere (object altered or missing, key or ciphertext not authenticating, hash
    differing) is `EvidenceIntegrityError` after an `EVIDENCE_INTEGRITY_FAILED` entry."""
    actor.require(Perm.EVIDENCE_ORIGINAL)
    reason_code = actor.reason(reason_code)  # type: ignore[assignment]
    _own_transaction("evidence_original_read")
    blob = _fresh(blob)
    if blob.wrapped_key is None:
        raise EvidenceShredded(
            f"the original of {blob.id} was crypto-shredded"
            f"{' at ' + isoformat(blob.shredded_at) if blob.shredded_at else ''}: it can no "
            "longer be read; its hash, PII map and redacted copy remain",
            details={"blob_id": blob.id, "shredded_at": blob.shredded_at})
    wrapper = crypto.key_wrapper()
    if wrapper.key_id != blob.key_id:
        raise KeyUnavailable(f"{blob.id} was sealed under master key {blob.key_id}, which this "
                             f"server does not hold (it holds {wrapper.key_id})")
    ciphertext = _stored(actor, blob, blob.original_key, "original", reason_code)
    try:
        plaintext = crypto.open_sealed(ciphertext, nonce=bytes.fromhex(blob.nonce),
                                       wrapped_key=base64.b64decode(blob.wrapped_key),
                                       blob_id=blob.id, wrapper=wrapper)
    except (crypto.DecryptionFailed, ValueError) as exc:
        _integrity_failed(actor, blob, copy="original", problem=str(exc), actual=None,
                          reason_code=reason_code)
    actual = hashlib.sha256(plaintext).hexdigest()
    if actual != blob.sha256:
        _integrity_failed(actor, blob, copy="original", reason_code=reason_code, actual=actual,
                          problem="the decrypted original's SHA-256 differs from the one "
                                  "recorded at upload")
    with transaction.atomic(durable=True):
        ledger.record(actor=actor, action="EVIDENCE_ORIGINAL_VIEWED", resource=resource(blob),
                      reason_code=reason_code, ticket_ref=ticket_ref,
                      target_user_id=blob.platform_user_id or None,
                      metadata={"sha256": actual, "size": len(plaintext), "verified": True})
    return plaintext


def evidence_redacted_read(*, actor: Actor, blob: EvidenceBlob) -> bytes:
    """The redacted copy, checked against its recorded SHA-256 (a mismatch is audited like the
    original's). Reading it is not itself audited: it is what staff see by default, it holds
    no PII by construction, and it remains after a shred; the original is what the ledger
    watches."""
    actor.require(Perm.EVIDENCE_VIEW)
    _own_transaction("evidence_redacted_read")
    data = _stored(actor, blob, blob.redacted_key, "redacted", None)
    actual = hashlib.sha256(data).hexdigest()
    if actual != blob.redacted_sha256:
        _integrity_failed(actor, blob, copy="redacted", actual=actual,
                          problem="the redacted copy's SHA-256 differs from the one recorded")
    return data


# --- crypto-shredding -----------------------------------------------------------------------
def evidence_shred(*, actor: Actor, blob: EvidenceBlob, reason_code: str | None = None,
                   ticket_ref: str | None = None) -> EvidenceBlob:
    """Destroy the wrapped data key: the original can never be decrypted again, while the
    write-once object, the hash, the PII map and the redacted copy remain. Refused (409) under
    a legal hold (`evidence.holds.held`) and for a blob already shredded. A person gives a
    reason; PII expiry (`Actor.system`) records PII_EXPIRY."""
    actor.require(Perm.EVIDENCE_SHRED)
    reason_code = actor.reason(reason_code)
    with transaction.atomic():
        locked = EvidenceBlob.objects.select_for_update().filter(pk=blob.pk).first()
        if locked is None:
            raise NotFound(f"no evidence {blob.pk}")
        if locked.shredded_at is not None:
            raise EvidenceShredded(f"{locked.id} was already shredded at "
                                   f"{isoformat(locked.shredded_at)}")
        if holds.held(locked):
            raise Conflict(f"{locked.id} is under a legal hold: it cannot be shredded until the "
                           "hold is released", code="legal_hold",
                           details={"blob_id": locked.id, "hold": "legal_hold"})
        before = snapshot(locked)
        locked.wrapped_key, locked.shredded_at = None, now()
        locked.save(update_fields=["wrapped_key", "shredded_at"])
        ledger.record(actor=actor, action="EVIDENCE_SHREDDED", resource=resource(locked),
                      reason_code=reason_code, ticket_ref=ticket_ref, before=before,
                      after=snapshot(locked), target_user_id=locked.platform_user_id or None,
                      metadata={"key_id": locked.key_id, "pii_kinds": locked.pii_kinds,
                                "sha256": locked.sha256})
    return locked
