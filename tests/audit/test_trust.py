"""Trust anchored outside the host's key file (issue 10, item 2): a replaced key and re-signed
history are refused; verify never creates a key; pinned keys decide when given."""

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.db import transaction

from casefile.audit import signing
from casefile.audit.checkpoints import checkpoint_for, statement
from casefile.audit.models import AuditCheckpoint, AuditEntry
from casefile.audit.shipping import audit_ship
from casefile.audit.signing import public_pem, signing_key
from casefile.audit.verify import audit_verify
from casefile.core.errors import Conflict
from casefile.core.timeutil import now
from casefile.storage import get_store
from tests.audit.helpers import record_entries
from tests.audit.tamper import sql

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def own_key(settings, tmp_path):
    """Each test signs with its own key file, as a fresh host would."""
    settings.AUDIT_SIGNING_KEY = None
    settings.AUDIT_SIGNING_KEY_FILE = tmp_path / "keys" / "audit_signing_key.pem"
    settings.AUDIT_TRUSTED_PUBLIC_KEYS = ""
    signing_key.cache_clear()
    signing._trusted.clear()
    yield settings.AUDIT_SIGNING_KEY_FILE
    signing_key.cache_clear()
    signing._trusted.clear()


def new_key_pem() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())


def replace_key_file(path) -> None:
    """What someone with the host does: put their own key where Casefile reads it."""
    path.write_bytes(new_key_pem())
    signing_key.cache_clear()
    signing._trusted.clear()


def broken(report):
    assert not report.ok, report
    return report.first_bad.seq, report.first_bad.kind


def test_the_first_ship_records_the_public_key_in_the_store(caplog):
    record_entries(3)
    with caplog.at_level("WARNING"):
        audit_ship()
    keys = list(get_store().list(signing.KEYS_PREFIX))
    assert keys == [f"{signing.KEYS_PREFIX}{signing_key().key_id}.pem"]
    assert get_store().get(keys[0]).decode() == public_pem(signing_key().public)
    assert "pin it" in caplog.text and "BEGIN PUBLIC KEY" in caplog.text
    record_entries(2)
    caplog.clear()
    audit_ship()
    assert "pin it" not in caplog.text  # said once
    assert audit_verify(worm=True).ok


def test_a_replaced_key_cannot_sign_and_its_checkpoints_are_not_trusted(own_key):
    record_entries(6)
    audit_ship(max_entries=3)
    replace_key_file(own_key)
    record_entries(2)
    with pytest.raises(Conflict, match="not the key first recorded"):
        audit_ship()
    # Signing directly with the stolen place's new key (a checkpoint forged at the database):
    sql("DELETE FROM audit_checkpoint")
    with pytest.raises(Conflict):
        with transaction.atomic():
            checkpoint_for(AuditEntry.objects.get(seq=8))


def test_checkpoints_re_signed_with_a_new_key_are_refused(own_key, settings):
    record_entries(5)
    audit_ship()
    recorded = list(get_store().list(signing.KEYS_PREFIX))
    # The attacker replaces the key, forges a checkpoint for it at the database, and also
    # writes their key into the store (a later record is not trusted).
    replace_key_file(own_key)
    forged = signing_key()
    get_store().put(f"{signing.KEYS_PREFIX}{forged.key_id}.pem",
                    public_pem(forged.public).encode())
    entry = AuditEntry.objects.get(seq=5)
    moment = now()
    sql("DELETE FROM audit_checkpoint")
    AuditCheckpoint.objects.create(seq=5, hash=entry.hash, created_at=moment,
                                   key_id=forged.key_id,
                                   signature=forged.sign(statement(5, entry.hash, moment)))
    assert len(list(get_store().list(signing.KEYS_PREFIX))) == len(recorded) + 1
    assert broken(audit_verify()) == (5, "bad_checkpoint")


def test_verify_never_creates_a_key(own_key, settings):
    record_entries(3)
    audit_ship()
    own_key.unlink()
    signing_key.cache_clear()
    signing._trusted.clear()
    assert audit_verify(worm=True).ok  # trusted from the store's record
    assert not own_key.exists()


def test_pinned_keys_decide(own_key, settings):
    record_entries(4)
    audit_ship()
    genuine = public_pem(signing_key().public)
    other = public_pem(Ed25519PrivateKey.generate().public_key())
    settings.AUDIT_TRUSTED_PUBLIC_KEYS = other  # pinned, and not ours: nothing of ours trusted
    signing._trusted.clear()
    assert broken(audit_verify())[1] == "bad_checkpoint"
    with pytest.raises(Conflict, match="not among AUDIT_TRUSTED_PUBLIC_KEYS"):
        record_entries(1)
        audit_ship()
    settings.AUDIT_TRUSTED_PUBLIC_KEYS = other + "\n" + genuine  # a rotation: both pinned
    signing._trusted.clear()
    audit_ship()
    assert audit_verify(worm=True).ok
