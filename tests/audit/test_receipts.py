"""Receipts: an entry, its inclusion proof and a signed checkpoint, checked offline."""

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from django.core.management import call_command
from django.db import transaction

from casefile.audit import merkle
from casefile.audit.checkpoints import checkpoint_for
from casefile.audit.models import AuditCheckpoint, AuditEntry
from casefile.audit.receipts import ReceiptInvalid, receipt_for, verify_receipt
from casefile.audit.signing import public_pem, signing_key
from casefile.audit.verify import audit_verify
from tests.audit.helpers import record_entries

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def _keys():
    return [signing_key().public]


def test_every_entry_has_a_receipt_that_verifies_against_the_newest_checkpoint():
    record_entries(40)
    with transaction.atomic():
        checkpoint_for(AuditEntry.objects.get(seq=17))
        checkpoint_for(AuditEntry.objects.get(seq=33))
    for entry in AuditEntry.objects.order_by("seq"):
        receipt = receipt_for(entry)
        assert receipt["tree_size"] == (33 if entry.seq <= 33 else 40)
        assert verify_receipt(receipt, _keys())["seq"] == entry.seq
    # Entries after the last checkpoint got one freshly signed, kept and consistent.
    assert AuditCheckpoint.objects.filter(seq=40, note__isnull=False).exists()
    assert audit_verify().ok


@pytest.mark.parametrize("tamper", [
    lambda r: r["entry"].update(reason_code="LEGAL_REQUEST"),
    lambda r: r["entry"].update(hash="00" * 32),
    lambda r: r.update(leaf_index=r["leaf_index"] + 1),
    lambda r: r.update(tree_size=r["tree_size"] + 1),
    lambda r: r["inclusion_proof"].__setitem__(0, "00" * 32),
    lambda r: r["inclusion_proof"].pop(),
    lambda r: r.update(checkpoint=r["checkpoint"].replace("\n12\n", "\n11\n")),
    lambda r: r.update(checkpoint=r["checkpoint"].rsplit("\n\n", 1)[0] + "\n\n"),
    lambda r: r.update(checkpoint=None),
    lambda r: r.pop("entry"),
])
def test_an_altered_receipt_is_refused(tamper):
    record_entries(12)
    receipt = receipt_for(AuditEntry.objects.get(seq=5))
    tamper(receipt)
    with pytest.raises(ReceiptInvalid):
        verify_receipt(receipt, _keys())


def test_a_receipt_signed_by_another_key_is_refused():
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    record_entries(3)
    receipt = receipt_for(AuditEntry.objects.get(seq=2))
    with pytest.raises(ReceiptInvalid, match="no trusted key"):
        verify_receipt(receipt, [Ed25519PrivateKey.generate().public_key()])


def test_receipt_cli_and_api_agree(capsys, staff_factory):
    from casefile.accounts.roles import Role
    from tests.conftest import ApiClient, token_for

    record_entries(4)
    entry = AuditEntry.objects.get(seq=3)
    call_command("audit", "receipt", "3")
    cli = orjson.loads(capsys.readouterr().out)
    api = ApiClient(token_for(staff_factory(Role.OPS))).call(
        "GET", f"/api/v1/audit/entries/{entry.id}/receipt")
    assert api.status_code == 200, api.content
    body = api.json()
    assert body["entry"] == cli["entry"] and body["leaf_index"] == 2
    assert verify_receipt(body, _keys())["id"] == entry.id
    leaf = merkle.entry_leaf(entry.hash)
    assert merkle.verify_inclusion(2, body["tree_size"], leaf,
                                   [bytes.fromhex(p) for p in body["inclusion_proof"]],
                                   __import__("casefile.audit.notes", fromlist=["x"])
                                   .parse(body["checkpoint"]).root)


def _offline(tmp_path, receipt, *extra):
    """`casefile audit verify-receipt` in a process whose database does not exist."""
    path = tmp_path / "receipt.json"
    path.write_bytes(orjson.dumps(receipt))
    env = {**os.environ, "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none",
           "CASEFILE_VAR_DIR": str(tmp_path / "elsewhere"),
           "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run(
        [sys.executable, "-m", "casefile", "audit", "verify-receipt", str(path), *extra],
        env=env, capture_output=True, cwd=ROOT, timeout=60, check=False)


def test_verify_receipt_offline_with_only_the_public_key(tmp_path):
    record_entries(6)
    receipt = receipt_for(AuditEntry.objects.get(seq=4))
    pem = tmp_path / "ledger.pub.pem"
    pem.write_text(public_pem(signing_key().public))

    ok = _offline(tmp_path, receipt, "--public-key", str(pem))
    assert ok.returncode == 0, ok.stderr.decode()
    assert orjson.loads(ok.stdout)["seq"] == 4

    receipt["entry"]["reason_code"] = "LEGAL_REQUEST"
    bad = _offline(tmp_path, receipt, "--public-key", str(pem))
    assert bad.returncode == 1, bad.stderr.decode()
    out = orjson.loads(bad.stdout)
    assert out["ok"] is False and "does not match its hash" in out["reason"]


def test_verify_receipt_offline_trusts_the_pinned_keys(tmp_path):
    record_entries(3)
    receipt = receipt_for(AuditEntry.objects.get(seq=1))
    os.environ["AUDIT_TRUSTED_PUBLIC_KEYS"] = public_pem(signing_key().public)
    try:
        ok = _offline(tmp_path, receipt)
    finally:
        del os.environ["AUDIT_TRUSTED_PUBLIC_KEYS"]
    assert ok.returncode == 0, ok.stderr.decode()
    unpinned = _offline(tmp_path, receipt)  # a fresh host with no key pinned trusts nothing
    assert unpinned.returncode == 1
