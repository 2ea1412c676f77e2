"""Checkpoints sign the Merkle tree as C2SP notes; verify checks each against the database's
tree and against the checkpoint before it; a dropped table is a report, and --worm names the
first bad seq whatever the segment boundaries."""

import orjson
import pytest
from django.core.management import call_command
from django.db import connection, transaction

from casefile.audit import checkpoints, merkle, notes
from casefile.audit.checkpoints import checkpoint_for, db_tree, fill_chunks, sign_note, statement
from casefile.audit.models import AuditCheckpoint, AuditEntry, AuditTreeChunk
from casefile.audit.shipping import audit_ship, note_key, segment_key
from casefile.audit.signing import signing_key
from casefile.audit.triggers import uninstall_sql
from casefile.audit.verify import audit_verify
from casefile.core.timeutil import now
from casefile.storage import get_store
from tests.audit.helpers import record_entries
from tests.audit.tamper import sql
from tests.audit.test_verify import _rewrite_from

pytestmark = pytest.mark.django_db


def _leaves():
    return [merkle.entry_leaf(h) for h in AuditEntry.objects.order_by("seq")
            .values_list("hash", flat=True)]


def _checkpoint(seq: int) -> AuditCheckpoint:
    with transaction.atomic():
        return checkpoint_for(AuditEntry.objects.get(seq=seq))


def test_a_checkpoint_signs_the_tree_as_a_c2sp_note():
    record_entries(5)
    cp = _checkpoint(5)
    lines = cp.note.split("\n")
    assert lines[:2] == [notes.ORIGIN, "5"] and lines[3] == ""
    assert lines[4].startswith("\u2014 " + notes.ORIGIN + " ")
    parsed = notes.open_note(cp.note, [signing_key().public])
    assert parsed.size == cp.tree_size == 5
    assert parsed.root == merkle.root_of(_leaves()) == bytes.fromhex(cp.root_hash)
    # The key hash is SHA-256(name || 0x0A || 0x01 || public key)[:4], as signed-note says.
    import base64
    import hashlib

    from cryptography.hazmat.primitives import serialization

    raw = signing_key().public.public_bytes(serialization.Encoding.Raw,
                                            serialization.PublicFormat.Raw)
    tag = base64.b64decode(lines[4].split(" ")[2])
    assert tag[:4] == hashlib.sha256(notes.ORIGIN.encode() + b"\n\x01" + raw).digest()[:4]


def test_db_tree_matches_the_reference_for_every_size_and_proof(monkeypatch):
    monkeypatch.setattr(checkpoints, "CHUNK", 4)  # many chunk boundaries in few entries
    record_entries(23)
    leaves = _leaves()
    fill_chunks(13)  # some chunks stored, later ones computed from the entries
    assert AuditTreeChunk.objects.count() == 3
    for n in range(1, 24):
        tree, ref = db_tree(n), merkle.list_subtree(leaves[:n])
        assert tree.root() == ref(0, n)
        for m in range(n):
            assert tree.inclusion_proof(m) == merkle.inclusion_proof(m, n, ref)
        for m in range(1, n + 1):
            assert tree.consistency_proof(m) == merkle.consistency_proof(m, n, ref)


def test_a_root_reads_chunks_not_every_entry(django_assert_max_num_queries):
    record_entries(600)
    fill_chunks(600)
    with django_assert_max_num_queries(2):  # the chunk roots, then the tail's 88 hashes
        root = db_tree(600).root()
    assert root == merkle.root_of(_leaves())


def test_verify_checks_every_checkpoint_tree_and_their_consistency(monkeypatch):
    monkeypatch.setattr(merkle, "CHUNK", 4)
    monkeypatch.setattr(checkpoints, "CHUNK", 4)
    record_entries(30)
    for seq in (3, 4, 9, 17, 30):
        _checkpoint(seq)
    report = audit_verify()
    assert report.ok and report.checkpoints == 5, report.as_dict()


def test_checkpoints_made_before_the_tree_still_verify():
    record_entries(6)
    entry, moment, key = AuditEntry.objects.get(seq=4), now(), signing_key()
    AuditCheckpoint.objects.create(seq=4, hash=entry.hash, created_at=moment, key_id=key.key_id,
                                   signature=key.sign(statement(4, entry.hash, moment)))
    _checkpoint(6)
    assert audit_verify().ok


def _forge_checkpoint(seq: int, root: bytes) -> None:
    """A checkpoint whose chain head is the database's but whose signed tree is another: what a
    log showing different histories to different people would sign."""
    entry, moment, key = AuditEntry.objects.get(seq=seq), now(), signing_key()
    AuditCheckpoint.objects.create(
        seq=seq, hash=entry.hash, created_at=moment, key_id=key.key_id,
        signature=key.sign(statement(seq, entry.hash, moment)), tree_size=seq,
        root_hash=root.hex(), note=sign_note(seq, root))


def test_a_signed_tree_the_database_does_not_have_is_an_inconsistent_checkpoint():
    record_entries(12)
    _checkpoint(4)
    other = _leaves()[:9]
    other[6] = merkle.leaf_hash(b"another history")
    _forge_checkpoint(9, merkle.root_of(other))
    report = audit_verify()
    assert (report.ok, report.first_bad.seq, report.first_bad.kind) == (
        False, 5, "inconsistent_checkpoint"), report.as_dict()


def test_a_note_that_disagrees_with_its_own_columns_is_a_bad_checkpoint():
    record_entries(5)
    _checkpoint(5)
    sql("UPDATE audit_checkpoint SET root_hash = %s", ["00" * 32])
    report = audit_verify()
    assert (report.first_bad.seq, report.first_bad.kind) == (5, "bad_checkpoint")


def test_shipping_writes_every_checkpoint_note_to_the_store():
    record_entries(7)
    _checkpoint(3)  # e.g. signed for a receipt, between two ships
    audit_ship(max_entries=10)
    store = get_store()
    for seq in (3, 7):
        assert store.get(note_key(seq)).decode() == AuditCheckpoint.objects.get(seq=seq).note
    assert audit_verify(worm=True).ok


def test_stale_tree_chunks_are_noted_not_trusted(monkeypatch):
    monkeypatch.setattr(merkle, "CHUNK", 4)
    monkeypatch.setattr(checkpoints, "CHUNK", 4)
    record_entries(9)
    _checkpoint(9)
    sql("UPDATE audit_tree_chunk SET root = %s WHERE \"index\" = 1", ["11" * 32])
    report = audit_verify()
    assert report.ok and any("tree chunks [1]" in n for n in report.notes)


@pytest.mark.parametrize("table", ["audit_entry", "audit_checkpoint", "audit_segment"])
def test_a_dropped_ledger_table_is_a_report_not_a_traceback(table, capsys):
    record_entries(3)
    _checkpoint(3)
    with connection.cursor() as cursor:  # the test's transaction rolls all this back
        for statement_ in uninstall_sql(connection.vendor):
            cursor.execute(statement_)
        cursor.execute(f"DROP TABLE {table}" + (" CASCADE" if connection.vendor == "postgresql"
                                                else ""))
    with pytest.raises(SystemExit) as exit_:
        call_command("audit", "verify", "--worm")
    assert exit_.value.code == 1
    out = orjson.loads(capsys.readouterr().out)
    assert (out["ok"], out["seq"], out["kind"]) == (False, 1, "missing_table")
    assert table in out["message"]


def _edit_shipped_line(key: str, seq: int, **changes) -> None:
    """The host's root rewriting a file:// segment in place, data and recorded SHA-256 both
    (what COMPLIANCE on S3 would refuse): only the signed checkpoints can tell."""
    import hashlib

    path, meta_path = get_store()._paths(key)
    lines = [orjson.loads(x) for x in path.read_bytes().splitlines()]
    for line in lines:
        if line["seq"] == seq:
            line.update(changes)
    path.chmod(0o644)
    body = b"".join(orjson.dumps(x, option=orjson.OPT_SORT_KEYS) + b"\n" for x in lines)
    path.write_bytes(body)
    meta = orjson.loads(meta_path.read_bytes())
    meta["sha256"] = hashlib.sha256(body).hexdigest()
    meta_path.chmod(0o644)
    meta_path.write_bytes(orjson.dumps(meta))


def _ship_from_105():
    record_entries(104)
    audit_ship()
    record_entries(196)
    audit_ship(max_entries=100)  # segments 1-104, 105-204, 205-300


def test_worm_names_the_altered_entry_not_the_segment_start():
    _ship_from_105()
    _edit_shipped_line(segment_key(105, 204), 165, reason_code="LEGAL_REQUEST")
    report = audit_verify(worm=True)
    assert (report.first_bad.seq, report.first_bad.kind) == (165, "worm_mismatch")


def test_worm_names_where_the_database_and_store_differ_inside_a_bad_segment():
    _ship_from_105()
    _edit_shipped_line(segment_key(105, 204), 190, reason_code="LEGAL_REQUEST")
    sql("DELETE FROM audit_checkpoint")
    _rewrite_from(165, reason="FRAUD_SIGNAL")  # re-hashed: the chain alone sees nothing
    assert audit_verify().ok
    report = audit_verify(worm=True)
    assert (report.first_bad.seq, report.first_bad.kind) == (165, "worm_mismatch"), (
        report.as_dict())
