"""The vault's services: round trip, hash checks with their audit entries, crypto-shredding,
holds, permissions by role."""

from __future__ import annotations

import base64
import hashlib
import os

import orjson
import pytest
from django.db import transaction

from casefile.accounts.permissions import Perm, roles_for
from casefile.accounts.roles import Role
from casefile.audit.actor import Actor
from casefile.audit.models import AuditEntry
from casefile.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from casefile.evidence import crypto, selectors, services
from casefile.evidence.models import EvidenceBlob
from casefile.storage import get_store
from tests.cases.helpers import open_case
from tests.evidence.helpers import TEXT, place_hold, staff, upload

pytestmark = pytest.mark.django_db
LEGAL = Role.LEGAL


def entries(blob, action=None):
    found = AuditEntry.objects.filter(resource=f"evidence:{blob.id}")
    if action:
        found = found.filter(action=action)
    return list(found.order_by("created_at", "id"))


def read(blob, role=LEGAL, reason="LEGAL_REQUEST"):
    return services.evidence_original_read(actor=staff(role), blob=blob, reason_code=reason)


def test_upload_stores_ciphertext_and_redacted_copy_under_retention_and_audits():
    case = open_case(title="Harassment")
    blob = upload(case_id=case.id, platform_user_id="usr_alice", source="console")
    assert blob.id.startswith("evb_")
    assert blob.sha256 == hashlib.sha256(TEXT).hexdigest() and blob.size == len(TEXT)
    store = get_store()
    stored = store.get(f"evidence/{blob.id}/original")
    assert TEXT not in stored and b"alice@example.com" not in stored  # encrypted
    assert blob.original_key == f"evidence/{blob.id}/original"
    redacted = store.get(blob.redacted_key)
    assert redacted == (b"Report from [REDACTED:name] <[REDACTED:email]>, phone "
                        b"[REDACTED:phone].")
    assert hashlib.sha256(redacted).hexdigest() == blob.redacted_sha256
    for key in (blob.original_key, blob.redacted_key):
        info = store.head(key)
        assert info.retain_until is not None and info.retain_until.year >= blob.created_at.year + 6
    [entry] = entries(blob)
    assert entry.action == "EVIDENCE_UPLOADED" and entry.reason_code == "INVESTIGATION"
    assert "before" not in entry.details  # a creation: after only
    after = entry.details["after"]
    assert after["sha256"] == blob.sha256 and after["case"] == case.id
    assert after["wrapped_key"] != blob.wrapped_key  # digested, never the key itself
    assert entry.target_user_id == "usr_alice"
    assert blob.case_id == case.id and blob.source == "console"


def test_round_trip_returns_the_original_and_audits_the_read():
    blob = upload()
    assert read(blob) == TEXT
    [viewed] = entries(blob, "EVIDENCE_ORIGINAL_VIEWED")
    assert viewed.reason_code == "LEGAL_REQUEST" and viewed.metadata["verified"] is True
    assert viewed.metadata["sha256"] == blob.sha256


def test_system_intake_records_its_system_reason():
    blob = upload(Actor.system("webhook:persona"), source="webhook:persona")
    [entry] = entries(blob)
    assert entry.actor_role == "system" and entry.reason_code == "EVIDENCE_INTAKE"
    assert blob.created_by is None


def test_original_read_needs_a_known_reason_code_and_records_nothing_without():
    blob = upload()
    for reason in ("", None, "BECAUSE"):
        with pytest.raises(ValidationFailed):
            services.evidence_original_read(actor=staff(LEGAL), blob=blob,
                                            reason_code=reason)  # type: ignore[arg-type]
    assert entries(blob, "EVIDENCE_ORIGINAL_VIEWED") == []


@pytest.mark.parametrize("role", [r for r in Role if r not in (Role.INGEST, Role.PLATFORM)])
def test_permissions_by_role(role):
    blob = upload()
    actor = staff(role)
    checks = {
        Perm.EVIDENCE_UPLOAD: lambda: upload(actor),
        Perm.EVIDENCE_VIEW: lambda: services.evidence_redacted_read(actor=actor, blob=blob),
        Perm.EVIDENCE_ORIGINAL: lambda: services.evidence_original_read(
            actor=actor, blob=blob, reason_code="LEGAL_REQUEST"),
        Perm.EVIDENCE_SHRED: lambda: services.evidence_shred(actor=actor, blob=blob,
                                                             reason_code="LEGAL_REQUEST"),
    }
    for perm, call in checks.items():
        if role in roles_for(perm):
            call()
        else:
            with pytest.raises(PermissionDenied):
                call()
    assert roles_for(Perm.EVIDENCE_ORIGINAL) == {Role.LEGAL, Role.ADMIN}
    assert Role.VIEWER not in roles_for(Perm.EVIDENCE_VIEW)


def _data_file(key: str):
    return get_store().root / "data" / key  # type: ignore[attr-defined]


def _rewrite_object(key: str, data: bytes, *, with_meta: bool) -> None:
    path = _data_file(key)
    os.chmod(path, 0o644)
    path.write_bytes(data)
    if with_meta:  # as someone who rewrites the store's own record too
        meta = get_store().root / "meta" / f"{key}.json"  # type: ignore[attr-defined]
        record = orjson.loads(meta.read_bytes())
        record["sha256"], record["size"] = hashlib.sha256(data).hexdigest(), len(data)
        meta.write_bytes(orjson.dumps(record))


def _flip(data: bytes) -> bytes:
    return data[:5] + bytes([data[5] ^ 1]) + data[6:]


@pytest.mark.parametrize("damage", ["object", "object and store record", "row sha256",
                                    "wrapped key", "other blob's ciphertext"])
def test_integrity_is_checked_on_every_read_and_failures_are_audited(damage):
    blob = upload()
    assert read(blob) == TEXT  # intact first
    ciphertext = _data_file(blob.original_key).read_bytes()
    if damage == "object":
        _rewrite_object(blob.original_key, _flip(ciphertext), with_meta=False)
    elif damage == "object and store record":
        _rewrite_object(blob.original_key, _flip(ciphertext), with_meta=True)
    elif damage == "row sha256":
        EvidenceBlob.objects.filter(pk=blob.pk).update(sha256="0" * 64)
    elif damage == "wrapped key":
        wrapped = bytearray(base64.b64decode(blob.wrapped_key))
        wrapped[0] ^= 1
        EvidenceBlob.objects.filter(pk=blob.pk).update(
            wrapped_key=base64.b64encode(bytes(wrapped)).decode())
    else:  # a valid ciphertext of another blob swapped in: the blob id is bound as AAD
        other = upload()
        _rewrite_object(blob.original_key, _data_file(other.original_key).read_bytes(),
                        with_meta=True)
        # even with the other blob's key and nonce, the id does not match
        EvidenceBlob.objects.filter(pk=blob.pk).update(wrapped_key=other.wrapped_key,
                                                       nonce=other.nonce, sha256=other.sha256)
    with pytest.raises(services.EvidenceIntegrityError) as raised:
        read(blob)
    assert raised.value.status == 500 and blob.id in raised.value.message
    [failure] = entries(blob, "EVIDENCE_INTEGRITY_FAILED")
    assert failure.metadata["copy"] == "original" and failure.reason_code == "INTEGRITY_CHECK"
    assert failure.metadata["read_reason_code"] == "LEGAL_REQUEST"
    assert failure.metadata["read_by"] is not None
    assert len(entries(blob, "EVIDENCE_ORIGINAL_VIEWED")) == 1  # only the intact read


def test_a_damaged_redacted_copy_is_refused_and_audited():
    blob = upload()
    _rewrite_object(blob.redacted_key, b"Report from Alice Example", with_meta=True)
    with pytest.raises(services.EvidenceIntegrityError):
        services.evidence_redacted_read(actor=staff(Role.ANALYST), blob=blob)
    [failure] = entries(blob, "EVIDENCE_INTEGRITY_FAILED")
    assert failure.metadata["copy"] == "redacted"


def test_a_missing_original_is_an_integrity_failure():
    blob = upload()
    EvidenceBlob.objects.filter(pk=blob.pk).update(original_key=f"evidence/{blob.id}/nothing")
    with pytest.raises(services.EvidenceIntegrityError):
        read(blob)
    assert entries(blob, "EVIDENCE_INTEGRITY_FAILED")


def test_reads_refuse_to_run_inside_a_callers_transaction():
    """A caller's rollback would take the integrity-failure entry with it."""
    blob = upload()
    actor = staff(LEGAL)
    with transaction.atomic():
        with pytest.raises(RuntimeError, match="outside any transaction"):
            services.evidence_original_read(actor=actor, blob=blob, reason_code="LEGAL_REQUEST")
        with pytest.raises(RuntimeError, match="outside any transaction"):
            services.evidence_redacted_read(actor=actor, blob=blob)


def test_shred_destroys_the_key_keeps_hash_map_and_redacted_copy_and_audits():
    blob = upload()
    redacted_before = services.evidence_redacted_read(actor=staff(Role.ANALYST), blob=blob)
    shredded = services.evidence_shred(actor=staff(LEGAL), blob=blob,
                                       reason_code="CUSTOMER_REQUEST")
    row = EvidenceBlob.objects.get(pk=blob.pk)
    assert row.wrapped_key is None and row.shredded_at is not None
    assert row.sha256 == blob.sha256 and row.pii_kinds == ["email", "name", "phone"]
    assert shredded.shredded_at == row.shredded_at
    assert services.evidence_redacted_read(actor=staff(Role.ANALYST), blob=row) == redacted_before
    # the write-once object is still there, never deleted
    assert get_store().head(blob.original_key).size > 0
    with pytest.raises(services.EvidenceShredded, match="crypto-shredded"):
        read(row)
    [entry] = entries(blob, "EVIDENCE_SHREDDED")
    assert entry.details["diff"]["wrapped_key.sha256"]["to"] != entry.details["diff"][
        "wrapped_key.sha256"]["from"]
    assert entry.details["after"]["shredded_at"] is not None
    assert entry.metadata["pii_kinds"] == ["email", "name", "phone"]
    with pytest.raises(Conflict, match="already shredded"):
        services.evidence_shred(actor=staff(LEGAL), blob=row, reason_code="CUSTOMER_REQUEST")
    # even the master key cannot read it: there is nothing to unwrap
    assert not hasattr(row, "wrapped_key") or row.wrapped_key is None


def test_shred_by_pii_expiry_records_its_system_reason():
    blob = upload()
    services.evidence_shred(actor=Actor.system("pii-expiry"), blob=blob)
    [entry] = entries(blob, "EVIDENCE_SHREDDED")
    assert entry.reason_code == "PII_EXPIRY" and entry.actor_role == "system"


def test_shred_is_refused_under_legal_hold_and_changes_nothing():
    blob = upload()
    place_hold(blob)
    with pytest.raises(Conflict, match="legal hold") as refused:
        services.evidence_shred(actor=staff(LEGAL), blob=blob, reason_code="CUSTOMER_REQUEST")
    assert refused.value.code == "legal_hold"
    assert EvidenceBlob.objects.get(pk=blob.pk).wrapped_key == blob.wrapped_key
    assert entries(blob, "EVIDENCE_SHREDDED") == []
    assert read(blob) == TEXT


def test_upload_refusals():
    with pytest.raises(ValidationFailed, match="empty"):
        upload(data=b"")
    with pytest.raises(NotFound):
        upload(case_id="cas_nothing")
    with pytest.raises(ValidationFailed, match="cannot make a redacted copy"):
        upload(data=b"%PDF-1.4", content_type="application/pdf", pii_map=[])
    assert EvidenceBlob.objects.count() == 0


def test_upload_over_the_size_limit_is_413(settings):
    from casefile.core.errors import PayloadTooLarge

    settings.EVIDENCE_MAX_BYTES = 10
    with pytest.raises(PayloadTooLarge):
        upload(pii_map=[])


def test_upload_joins_the_callers_transaction():
    """A webhook handler stores a body with its delivery: both commit, or neither does."""
    with pytest.raises(LookupError), transaction.atomic():
        blob = upload(Actor.system("webhook:persona"))
        raise LookupError("the delivery could not be applied")
    assert not EvidenceBlob.objects.filter(pk=blob.pk).exists()
    assert entries(blob) == []


def test_custody_lists_every_entry_about_the_blob_in_order():
    blob = upload()
    read(blob)
    other = upload()
    read(other)
    services.evidence_shred(actor=staff(LEGAL), blob=blob, reason_code="CUSTOMER_REQUEST")
    actions = [e.action for e in selectors.custody(blob)]
    assert actions == ["EVIDENCE_UPLOADED", "EVIDENCE_ORIGINAL_VIEWED", "EVIDENCE_SHREDDED"]


def test_the_key_id_names_the_master_key_and_a_different_key_is_reported(settings):
    blob = upload()
    assert blob.key_id == crypto.key_wrapper().key_id
    assert blob.algorithm == "AES-256-GCM+A256KW"
    settings.EVIDENCE_MASTER_KEY = base64.b64encode(b"k" * 32).decode()
    crypto.key_wrapper.cache_clear()
    try:
        with pytest.raises(services.KeyUnavailable):
            read(blob)
        assert entries(blob, "EVIDENCE_INTEGRITY_FAILED") == []
    finally:
        crypto.key_wrapper.cache_clear()


@pytest.mark.django_db(transaction=True)
def test_the_integrity_failure_entry_survives_the_error_it_reports():
    """Committed for real (not inside a test transaction): the entry outlives the raised error
    and any rollback after it."""
    blob = upload()
    EvidenceBlob.objects.filter(pk=blob.pk).update(sha256="f" * 64)
    with pytest.raises(services.EvidenceIntegrityError):
        read(blob)
    assert len(entries(blob, "EVIDENCE_INTEGRITY_FAILED")) == 1
