"""A write-once copy whose tail is hidden, removed, left behind or written over is caught
(issue 10, items 3 and 4), each with its seq and kind."""

import shutil
from datetime import timedelta

import pytest
from django.db import connection, transaction

from casefile.audit import ledger
from casefile.audit.models import AuditEntry, AuditSegment
from casefile.audit.shipping import (
    audit_heartbeat,
    audit_ship,
    checkpoint_key,
    newest_heartbeat,
    note_key,
    segment_key,
)
from casefile.audit.verify import audit_verify
from casefile.core.timeutil import now
from casefile.storage import get_store
from tests.audit.helpers import ACTOR, record_entries
from tests.audit.tamper import sql
from tests.audit.test_verify import _rewrite_from

pytestmark = pytest.mark.django_db


def broken(report):
    assert not report.ok, report.as_dict()
    return report.first_bad.seq, report.first_bad.kind


def later(monkeypatch, minutes: int = 5) -> None:
    """Verify runs some minutes after the attack: entries not shipped by then are overdue."""
    moment = now() + timedelta(minutes=minutes)
    monkeypatch.setattr("casefile.audit.verify.now", lambda: moment)


def three_segments():
    for _ in range(3):
        record_entries(5)
        audit_ship()  # 1-5, 6-10, 11-15


def hide_newest_segment_everywhere() -> None:
    """The attacker of issue 10: remove the newest shipped segment and its checkpoint from a
    file:// store (the host's root can), delete the database's rows that say it was shipped,
    and rewrite those entries with hashes recomputed."""
    store = get_store()
    for key in (segment_key(11, 15), checkpoint_key(15), note_key(15)):
        for path in store._paths(key):
            path.unlink(missing_ok=True)
    sql("DELETE FROM audit_segment WHERE last_seq = 15")
    sql("DELETE FROM audit_checkpoint WHERE seq = 15")
    _rewrite_from(12, reason="LEGAL_REQUEST")


def test_a_hidden_tail_is_stale_once_the_shipping_window_has_passed(monkeypatch):
    three_segments()
    hide_newest_segment_everywhere()
    assert audit_verify().ok  # the database alone is consistent
    later(monkeypatch)
    assert broken(audit_verify(worm=True)) == (11, "worm_stale")


def test_a_hidden_tail_is_missing_against_a_witness(settings, tmp_path,
                                                    django_capture_on_commit_callbacks):
    settings.AUDIT_WITNESS_URLS = f"file://{tmp_path / 'witness'}"
    with django_capture_on_commit_callbacks(execute=True):  # witnesses hear after commit
        three_segments()
    hide_newest_segment_everywhere()
    report = audit_verify(worm=True)
    assert broken(report) == (11, "worm_missing")
    assert report.newest[f"witness file://{tmp_path / 'witness'}"] == 15


def test_a_removed_store_is_missing_from_the_first_entry(settings):
    three_segments()
    shutil.rmtree(get_store().root)
    report = audit_verify(worm=True)
    assert broken(report) == (1, "worm_missing"), report.first_bad.message


def test_checkpoints_in_the_store_beyond_the_database_are_truncation():
    three_segments()
    sql("DELETE FROM audit_entry WHERE seq > 12")
    sql("DELETE FROM audit_checkpoint WHERE seq > 12")
    sql("DELETE FROM audit_segment WHERE last_seq > 12")
    assert broken(audit_verify(worm=True)) == (13, "truncated")


def test_unshipped_entries_are_counted_and_overdue_ones_reported(monkeypatch):
    three_segments()
    record_entries(3)  # 16-18, not shipped yet
    report = audit_verify(worm=True)
    assert report.ok and report.unshipped == 3
    # Edited before shipping and left unshipped past the window: stale, with its seq.
    sql("UPDATE audit_entry SET reason_code = 'LEGAL_REQUEST' WHERE seq = 17")
    later(monkeypatch)
    assert broken(audit_verify(worm=True))[1] in ("modified", "worm_stale")
    assert any(b == (16, "worm_stale") for b in _all_breaks_after_repair())


def test_entries_the_sequencer_never_chained_are_stale_after_the_window(monkeypatch):
    """A worker whose sequencer stopped: entries wait without a hash, and --worm says so."""
    three_segments()
    with transaction.atomic():
        ledger.record(actor=ACTOR, action="LIMIT_OVERRIDE", resource="tenant:ten_1",
                      reason_code="CUSTOMER_REQUEST", before={"seats": 1}, after={"seats": 2})
    report = audit_verify(worm=True)
    assert report.ok and report.unchained == 1
    later(monkeypatch)
    assert broken(audit_verify(worm=True)) == (16, "worm_stale")
    ledger.chain_pending()
    assert audit_verify(worm=True).unchained == 0


def _all_breaks_after_repair():
    """With the edit undone by re-hashing, only the staleness remains."""
    _rewrite_from(17, reason="LEGAL_REQUEST")
    report = audit_verify(worm=True)
    return [(report.first_bad.seq, report.first_bad.kind)] if report.first_bad else []


def test_heartbeats_sign_the_shipped_head_on_a_quiet_ledger():
    three_segments()
    record_entries(2)  # not shipped: a heartbeat vouches only for what the store holds
    key = audit_heartbeat()
    assert key is not None and key.startswith("audit/heartbeats/")
    beat = newest_heartbeat(get_store())
    assert beat["seq"] == 15 and beat["tree_size"] == 15
    report = audit_verify(worm=True)
    assert report.ok and report.newest["heartbeat"] == 15
    assert not any("heartbeat" in note for note in report.notes)


def test_the_guards_state_is_in_the_report():
    record_entries(2)
    report = audit_verify().as_dict()
    assert report["guards"]["append_only"] is True
    if connection.vendor == "postgresql":
        assert set(report["guards"]["ddl_guard"].values()) == {"enabled"}
        assert report["guards"]["session_replication_role"] == "origin"


@pytest.fixture
def s3(s3_store, settings):
    """The ledger shipped to an S3 bucket with Object Lock (moto's server)."""
    return s3_store


def test_a_delete_marker_over_a_segment_is_reported_and_the_segment_still_read(s3):
    record_entries(6)
    audit_ship(store=s3, max_entries=3)  # 1-3, 4-6
    s3.client.delete_object(Bucket=s3.bucket, Key=s3._key(segment_key(4, 6)))
    assert segment_key(4, 6) not in list(s3.list("audit/segments/"))
    report = audit_verify(worm=True, store=s3)
    assert broken(report) == (4, "worm_versions")
    assert report.segments == 2  # read by its recorded version, marker or not


def test_a_new_version_over_a_segment_is_reported_and_the_shipped_one_read(s3):
    record_entries(6)
    audit_ship(store=s3, max_entries=3)
    forged = b'{"seq": 1}\n'
    s3.client.put_object(Bucket=s3.bucket, Key=s3._key(segment_key(1, 3)), Body=forged)
    report = audit_verify(worm=True, store=s3)
    assert broken(report) == (1, "worm_versions")
    recorded = AuditSegment.objects.get(first_seq=1).version_id
    assert recorded and s3.get(segment_key(1, 3), version_id=recorded) != forged
    assert AuditEntry.objects.count() == 6


def test_a_rewrite_with_the_checkpoints_deleted_differs_from_what_a_witness_holds(
        settings, tmp_path, django_capture_on_commit_callbacks):
    settings.AUDIT_WITNESS_URLS = f"file://{tmp_path / 'witness'}"
    with django_capture_on_commit_callbacks(execute=True):
        three_segments()
    sql("DELETE FROM audit_checkpoint")
    _rewrite_from(7, reason="LEGAL_REQUEST")  # every hash recomputed from #7 on
    # The chain alone is consistent; the witness saw #15 signed with another hash.
    assert broken(audit_verify()) == (15, "modified")
