"""Reads are checked against the SHA-256 recorded at put; versions and delete markers are visible.

The attacks are the ones the ledger must survive: a `file://` object edited in place on the host,
and on S3 — where Object Lock protects versions, not keys — a delete marker put over a locked
segment and a second version written over a key by someone with plain write access.
"""

import base64
import hashlib
import os
from datetime import timedelta

import boto3
import pytest

from casefile.core.timeutil import now
from casefile.storage import ObjectCorrupt, ObjectNotFound, ObjectStoreError
from casefile.storage.filesystem import VERSION_ID_CHARS

SEGMENT = "audit/segments/000000000001-000000000002.ndjson"
LOCKED_UNTIL = timedelta(days=1)


def _s3(moto_endpoint):
    return boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")


# --- Both stores -------------------------------------------------------------------------------

def test_put_returns_a_version_that_reads_back(store):
    info = store.put("k", b"first")
    assert info.version_id
    assert store.head("k").version_id == info.version_id
    assert store.head("k", version_id=info.version_id).sha256 == hashlib.sha256(
        b"first").hexdigest()
    assert store.get("k", version_id=info.version_id) == b"first"


def test_an_unknown_version_is_not_found(store):
    store.put("k", b"x")
    with pytest.raises(ObjectNotFound):
        store.get("k", version_id="0" * VERSION_ID_CHARS)
    with pytest.raises(ObjectNotFound):
        store.head("k", version_id="0" * VERSION_ID_CHARS)


def test_one_put_is_one_version(store):
    info = store.put("a/k", b"data", retain_until=now() + LOCKED_UNTIL)
    [version] = store.versions("a/k")
    assert (version.key, version.version_id, version.size, version.sha256) == (
        "a/k", info.version_id, 4, info.sha256)
    assert version.is_latest and not version.is_delete_marker
    assert store.versions("a/missing") == []


def test_a_clean_prefix_reports_nothing(store):
    for key in ["p/1", "p/2", "q/1"]:
        store.put(key, b".")
    report = store.list_versions("p/")
    assert report.ok and report.keys == 2
    assert (report.delete_marked, report.multiple_versions, report.versions) == ([], [], {})
    assert report.as_dict()["ok"] is True


def test_a_deleted_unlocked_object_leaves_no_readable_version(store):
    info = store.put("gone", b"x")
    store.delete("gone")
    with pytest.raises(ObjectNotFound):
        store.get("gone")
    with pytest.raises(ObjectNotFound):
        store.get("gone", version_id=info.version_id)


# --- file:// -----------------------------------------------------------------------------------

def _edit_in_place(path, data: bytes) -> None:
    os.chmod(path, 0o644)  # the store leaves data read-only; its owner (or root) can lift that
    path.write_bytes(data)


def test_file_edited_in_place_is_refused_on_read(file_store):
    info = file_store.put(SEGMENT, b'{"seq":1}\n{"seq":2}\n')
    _edit_in_place(file_store.root / "data" / SEGMENT, b'{"seq":1}\n{"seq":9}\n')
    with pytest.raises(ObjectCorrupt) as caught:
        file_store.get(SEGMENT)
    err = caught.value
    assert err.code == "object_corrupt" and isinstance(err, ObjectStoreError)
    assert (err.key, err.expected) == (SEGMENT, info.sha256)
    assert err.actual == hashlib.sha256(b'{"seq":1}\n{"seq":9}\n').hexdigest()
    assert err.details["expected"] == info.sha256 and SEGMENT in err.message
    # Naming the version recorded at ship time does not get round the check either.
    with pytest.raises(ObjectCorrupt):
        file_store.get(SEGMENT, version_id=info.version_id)


def test_file_edit_of_the_same_length_is_caught_too(file_store):
    file_store.put("k", b"aaaa")
    _edit_in_place(file_store.root / "data" / "k", b"aaab")
    with pytest.raises(ObjectCorrupt):
        file_store.get("k")


def test_file_whose_data_was_removed_is_corrupt_not_missing(file_store):
    file_store.put("k", b"data")
    (file_store.root / "data" / "k").unlink()
    with pytest.raises(ObjectCorrupt, match="data file is gone"):
        file_store.get("k")


def test_file_version_id_is_a_prefix_of_the_sha256(file_store):
    info = file_store.put("k", b"data")
    assert info.version_id == info.sha256[:VERSION_ID_CHARS]


# --- S3 ----------------------------------------------------------------------------------------

def test_s3_put_keeps_an_s3_sha256_checksum(s3_store, moto_endpoint):
    s3_store.put("k", b"payload")
    head = _s3(moto_endpoint).head_object(Bucket=s3_store.bucket, Key="k", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(b"payload").digest()).decode()
    assert head["Metadata"]["sha256"] == hashlib.sha256(b"payload").hexdigest()


def test_s3_delete_marker_over_a_locked_segment_is_reported(s3_store, moto_endpoint):
    info = s3_store.put(SEGMENT, b"entries 1-2\n", retain_until=now() + LOCKED_UNTIL)
    s3_store.put("audit/segments/000000000003-000000000004.ndjson", b"entries 3-4\n",
                 retain_until=now() + LOCKED_UNTIL)
    # Object Lock allows this to anyone with s3:DeleteObject: it only adds a marker on top.
    _s3(moto_endpoint).delete_object(Bucket=s3_store.bucket, Key=SEGMENT)

    assert SEGMENT not in list(s3_store.list("audit/segments/"))
    with pytest.raises(ObjectNotFound):
        s3_store.get(SEGMENT)

    report = s3_store.list_versions("audit/segments/")
    assert not report.ok and report.keys == 2
    assert report.delete_marked == [SEGMENT] and report.multiple_versions == []
    original, marker = report.versions[SEGMENT]
    assert (original.version_id, original.is_delete_marker, original.is_latest) == (
        info.version_id, False, False)
    assert marker.is_delete_marker and marker.is_latest

    versions = s3_store.versions(SEGMENT)
    assert [v.is_delete_marker for v in versions] == [False, True]
    assert versions[0].sha256 == info.sha256
    # The locked version is still there, and still checked, under the id recorded at ship time.
    assert s3_store.get(SEGMENT, version_id=info.version_id) == b"entries 1-2\n"
    with pytest.raises(ObjectNotFound):
        s3_store.get(SEGMENT, version_id=marker.version_id)


def test_s3_second_version_over_a_key_is_reported(s3_store, moto_endpoint):
    info = s3_store.put(SEGMENT, b"genuine\n", retain_until=now() + LOCKED_UNTIL)
    # An attacker with s3:PutObject but no delete rights writes over the key, with a matching
    # hash in the metadata so that a plain read of the latest version looks consistent.
    forged = b"forged\n"
    _s3(moto_endpoint).put_object(Bucket=s3_store.bucket, Key=SEGMENT, Body=forged,
                                  Metadata={"sha256": hashlib.sha256(forged).hexdigest()})

    report = s3_store.list_versions("audit/")
    assert report.multiple_versions == [SEGMENT] and report.delete_marked == []
    assert [v.is_latest for v in report.versions[SEGMENT]] == [False, True]
    versions = s3_store.versions(SEGMENT)
    assert [v.sha256 for v in versions] == [info.sha256, hashlib.sha256(forged).hexdigest()]
    assert versions[0].version_id == info.version_id
    # What the latest version says is not what was shipped; the recorded version still reads.
    assert s3_store.head(SEGMENT).version_id != info.version_id
    assert s3_store.get(SEGMENT, version_id=info.version_id) == b"genuine\n"


def test_s3_version_with_someone_elses_hash_is_corrupt(s3_store, moto_endpoint):
    info = s3_store.put("k", b"genuine", retain_until=now() + LOCKED_UNTIL)
    _s3(moto_endpoint).put_object(Bucket=s3_store.bucket, Key="k", Body=b"forged",
                                  Metadata={"sha256": info.sha256})
    with pytest.raises(ObjectCorrupt) as caught:
        s3_store.get("k")
    assert caught.value.expected == info.sha256
    assert caught.value.actual == hashlib.sha256(b"forged").hexdigest()


def test_s3_version_without_a_recorded_hash_is_corrupt(s3_store, moto_endpoint):
    s3_store.put("k", b"genuine")
    _s3(moto_endpoint).put_object(Bucket=s3_store.bucket, Key="k", Body=b"no hash recorded")
    with pytest.raises(ObjectCorrupt, match="none recorded"):
        s3_store.get("k")


def test_s3_checksum_and_metadata_must_agree(s3_store, moto_endpoint):
    # Bytes whose metadata hash is right but whose S3 checksum is of other bytes: real S3 refuses
    # such a put; moto keeps it, which stands for a store whose checksum and data went apart.
    body = b"bytes"
    _s3(moto_endpoint).put_object(
        Bucket=s3_store.bucket, Key="k", Body=body, ChecksumAlgorithm="SHA256",
        ChecksumSHA256=base64.b64encode(hashlib.sha256(b"other").digest()).decode(),
        Metadata={"sha256": hashlib.sha256(body).hexdigest()})
    with pytest.raises(ObjectCorrupt):
        s3_store.get("k")


def test_s3_versions_under_a_store_prefix(moto_endpoint, s3_bucket_url):
    from casefile.storage.s3 import S3ObjectStore

    bucket = s3_bucket_url.removeprefix("s3://")
    store = S3ObjectStore(bucket, prefix="tenant-a", endpoint_url=moto_endpoint)
    other = S3ObjectStore(bucket, prefix="tenant-ab", endpoint_url=moto_endpoint)
    store.put("k", b"1")
    other.put("k", b"2")
    _s3(moto_endpoint).delete_object(Bucket=bucket, Key="tenant-a/k")
    assert store.list_versions().delete_marked == ["k"]
    assert store.list_versions().keys == 1
    assert other.list_versions().ok
