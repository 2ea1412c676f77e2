"""Every kind of break a database administrator can make, and the seq verify names for it."""

import orjson
import pytest
from django.core.management import call_command
from django.db import transaction

from casefile.audit import ledger
from casefile.audit.checkpoints import checkpoint_for
from casefile.audit.models import AuditEntry, VerifyRun
from casefile.audit.shipping import audit_ship
from casefile.audit.verify import audit_verify
from tests.audit.helpers import record_entries
from tests.audit.tamper import renumber, sql

pytestmark = pytest.mark.django_db


def broken(report):
    assert not report.ok, report
    return report.first_bad.seq, report.first_bad.kind


def test_intact_ledger_verifies():
    record_entries(30)
    report = audit_verify()
    assert report.ok and report.entries == 30 and report.last_seq == 30
    assert VerifyRun.objects.get().ok


def test_empty_ledger_verifies():
    assert audit_verify().ok


def test_modified_entry():
    record_entries(10)
    sql("UPDATE audit_entry SET reason_code = 'LEGAL_REQUEST' WHERE seq = 4")
    assert broken(audit_verify()) == (4, "modified")


def test_modified_and_rehashed_entry_breaks_the_next_link():
    record_entries(10)
    entry = AuditEntry.objects.get(seq=6)
    entry.reason_code = "LEGAL_REQUEST"
    doc = ledger.entry_document(entry)
    doc.pop("hash")
    sql("UPDATE audit_entry SET reason_code = 'LEGAL_REQUEST', hash = %s WHERE seq = 6",
        [ledger.entry_hash(doc)])
    assert broken(audit_verify()) == (6, "modified")


def test_content_that_cannot_be_canonical_is_modified():
    record_entries(3)
    sql("UPDATE audit_entry SET metadata = %s WHERE seq = 2", ['{"n": 18014398509481984}'])
    assert broken(audit_verify()) == (2, "modified")


def test_first_entry_modified():
    record_entries(3)
    sql("UPDATE audit_entry SET actor_role = 'admin' WHERE seq = 1")
    assert broken(audit_verify()) == (1, "modified")


def test_deleted_entry_leaves_a_gap():
    record_entries(10)
    sql("DELETE FROM audit_entry WHERE seq = 5")
    assert broken(audit_verify()) == (5, "missing")


def test_entry_taken_back_out_of_the_chain_leaves_a_gap():
    """Its chain columns blanked behind the triggers' back, so the sequencer would place it
    again at the tail: verify names the hole it left."""
    record_entries(10)
    sql("UPDATE audit_entry SET seq = NULL, prev_hash = NULL, hash = NULL WHERE seq = 5")
    assert broken(audit_verify()) == (5, "missing")
    ledger.chain_pending()  # re-placed at the tail: the hole is still there
    assert broken(audit_verify()) == (5, "missing")


def test_deleted_entries_with_the_rest_renumbered():
    record_entries(10)
    sql("DELETE FROM audit_entry WHERE seq IN (5, 6)")
    renumber("seq > 6", -2)
    assert broken(audit_verify()) == (5, "missing")


def test_inserted_entry_with_the_rest_renumbered():
    record_entries(10)
    renumber("seq >= 4", 1)
    prev = AuditEntry.objects.get(seq=3)
    fake = {
        "id": "aud_FAKE", "seq": 4, "created_at": prev.created_at, "actor_user_id": None,
        "actor_email": None, "actor_role": "system", "ip_address": None, "user_agent": "",
        "action": "LIMIT_OVERRIDE", "risk": "MEDIUM", "resource": "tenant:ten_x",
        "target_tenant_id": None, "target_user_id": None, "reason_code": "OPERATIONS",
        "ticket_ref": None, "details": {}, "metadata": {}, "prev_hash": prev.hash,
    }
    fake_hash = ledger.entry_hash(ledger.document(fake))  # a well-formed, well-linked forgery
    from tests.audit.tamper import triggers_lifted

    with triggers_lifted():
        AuditEntry.objects.create(**fake, hash=fake_hash)
    assert broken(audit_verify()) == (4, "inserted")


def test_badly_forged_insert_is_still_named():
    record_entries(6)
    renumber("seq >= 3", 1)
    sql("INSERT INTO audit_entry (id, seq, created_at, actor_role, user_agent, action, risk, "
        "resource, reason_code, details, metadata, prev_hash, hash) SELECT 'aud_X', 3, "
        "created_at, 'system', '', action, risk, resource, reason_code, details, metadata, "
        "hash, 'ff' FROM audit_entry WHERE seq = 2")
    assert broken(audit_verify()) == (3, "inserted")


def test_swapped_entries_are_reordered():
    record_entries(10)
    sql("UPDATE audit_entry SET seq = -1 WHERE seq = 5")
    sql("UPDATE audit_entry SET seq = 5 WHERE seq = 6")
    sql("UPDATE audit_entry SET seq = 6 WHERE seq = -1")
    assert broken(audit_verify()) == (5, "reordered")


def test_tail_cut_after_a_checkpoint_is_truncated():
    record_entries(10)
    with transaction.atomic():
        checkpoint_for(AuditEntry.objects.get(seq=10))
    sql("DELETE FROM audit_entry WHERE seq > 7")
    assert broken(audit_verify()) == (8, "truncated")


def test_rewritten_chain_is_caught_by_the_signed_checkpoint():
    record_entries(12)
    with transaction.atomic():
        checkpoint_for(AuditEntry.objects.get(seq=5))
        checkpoint_for(AuditEntry.objects.get(seq=10))
    _rewrite_from(7, reason="LEGAL_REQUEST")
    assert broken(audit_verify()) == (6, "modified")


def test_forged_checkpoint_is_refused():
    record_entries(5)
    with transaction.atomic():
        checkpoint_for(AuditEntry.objects.get(seq=3))
    sql("UPDATE audit_checkpoint SET signature = %s", ["00" * 64])
    assert broken(audit_verify()) == (3, "bad_checkpoint")


def test_worm_copy_catches_a_fully_rewritten_chain():
    record_entries(12)
    audit_ship(max_entries=5)
    sql("DELETE FROM audit_checkpoint")  # the DBA removes the evidence they can reach
    _rewrite_from(8, reason="LEGAL_REQUEST")
    assert audit_verify().ok  # the chain alone cannot see it...
    assert broken(audit_verify(worm=True)) == (8, "worm_mismatch")  # ...the WORM copy can


def test_worm_copy_catches_truncation_past_the_database():
    record_entries(8)
    audit_ship(max_entries=4)
    sql("DELETE FROM audit_checkpoint")
    sql("DELETE FROM audit_entry WHERE seq > 6")
    assert broken(audit_verify(worm=True)) == (7, "truncated")


def test_worm_verify_of_an_intact_ledger():
    record_entries(9)
    audit_ship(max_entries=4)
    record_entries(2)  # not shipped yet: still verified by the chain
    report = audit_verify(worm=True)
    assert report.ok and report.segments == 3 and report.entries == 11


def test_cli_prints_json_and_exits_1_naming_the_break(capsys):
    record_entries(4)
    call_command("audit", "verify")
    assert orjson.loads(capsys.readouterr().out)["ok"] is True
    sql("UPDATE audit_entry SET resource = 'tenant:ten_evil' WHERE seq = 2")
    with pytest.raises(SystemExit) as exit_:
        call_command("audit", "verify")
    assert exit_.value.code == 1
    out = orjson.loads(capsys.readouterr().out)
    assert (out["ok"], out["seq"], out["kind"]) == (False, 2, "modified")


def _rewrite_from(seq: int, *, reason: str) -> None:
    """Change entry `seq` and re-hash it and every entry after it: a consistent forged chain."""
    entries = list(AuditEntry.objects.filter(seq__gte=seq - 1).order_by("seq"))
    prev_hash = entries[0].hash
    updates = []
    for entry in entries[1:]:
        if entry.seq == seq:
            entry.reason_code = reason
        entry.prev_hash = prev_hash
        doc = ledger.entry_document(entry)
        doc.pop("hash")
        prev_hash = ledger.entry_hash(doc)
        updates.append((entry.reason_code, entry.prev_hash, prev_hash, entry.seq))
    for params in updates:
        sql("UPDATE audit_entry SET reason_code = %s, prev_hash = %s, hash = %s WHERE seq = %s",
            list(params))
