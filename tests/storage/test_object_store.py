"""Both backends behave the same: write once, never overwrite, delete only when unlocked."""

import hashlib
import threading
from datetime import timedelta

import boto3
import pytest
from botocore.exceptions import ClientError

from casefile.core.timeutil import now
from casefile.storage import (
    InvalidKey,
    ObjectExists,
    ObjectLocked,
    ObjectNotFound,
    ObjectStoreError,
    RetentionShortening,
    store_for_url,
)
from casefile.storage.s3 import S3ObjectStore


def test_put_get_head(store):
    info = store.put("a/b.txt", b"hello", content_type="text/plain")
    assert info.size == 5 and info.sha256 == hashlib.sha256(b"hello").hexdigest()
    assert store.get("a/b.txt") == b"hello"
    head = store.head("a/b.txt")
    assert (head.size, head.sha256, head.legal_hold, head.retain_until) == (
        5, info.sha256, False, None)


def test_existing_key_is_never_overwritten(store):
    store.put("k", b"first")
    with pytest.raises(ObjectExists):
        store.put("k", b"second")
    assert store.get("k") == b"first"


def test_concurrent_writers_of_one_key_one_wins(store):
    outcomes = []

    def write(i: int) -> None:
        try:
            store.put("race", f"writer {i}".encode())
            outcomes.append("won")
        except ObjectExists:
            outcomes.append("refused")

    threads = [threading.Thread(target=write, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["refused"] * 5 + ["won"]


def test_missing_objects(store):
    with pytest.raises(ObjectNotFound):
        store.get("nope")
    with pytest.raises(ObjectNotFound):
        store.head("nope")


def test_legal_hold_blocks_delete_until_released(store):
    store.put("held", b"x", legal_hold=True)
    with pytest.raises(ObjectLocked, match="legal hold"):
        store.delete("held")
    assert store.set_legal_hold("held", False).legal_hold is False
    store.delete("held")
    with pytest.raises(ObjectNotFound):
        store.head("held")


def test_retention_blocks_delete_and_only_extends(store):
    until = now() + timedelta(days=30)
    store.put("kept", b"x", retain_until=until)
    with pytest.raises(ObjectLocked, match="retained until"):
        store.delete("kept")
    later = store.extend_retention("kept", until + timedelta(days=1)).retain_until
    assert later >= until + timedelta(days=1) - timedelta(seconds=1)
    with pytest.raises(RetentionShortening):
        store.extend_retention("kept", until - timedelta(days=1))
    assert store.get("kept") == b"x"


def test_list_by_prefix_in_order(store):
    for key in ["p/2", "p/10", "q/1", "p/1"]:
        store.put(key, b".")
    assert list(store.list("p/")) == ["p/1", "p/10", "p/2"]


@pytest.mark.parametrize("key", ["", "/abs", "a/../b", "a//b", "a\\b", "./a"])
def test_invalid_keys_are_refused(store, key):
    with pytest.raises(InvalidKey):
        store.put(key, b"x")


def test_check(store):
    store.check()


def test_s3_object_lock_is_enforced_by_the_server_itself(s3_store, moto_endpoint):
    s3_store.put("locked", b"evidence", retain_until=now() + timedelta(days=1))
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    head = s3.head_object(Bucket=s3_store.bucket, Key="locked")
    assert head["ObjectLockMode"] == "COMPLIANCE"
    with pytest.raises(ClientError):
        s3.delete_object(Bucket=s3_store.bucket, Key="locked", VersionId=head["VersionId"])
    s3.delete_object(Bucket=s3_store.bucket, Key="locked")  # only a delete marker
    kept = s3.get_object(Bucket=s3_store.bucket, Key="locked", VersionId=head["VersionId"])
    assert kept["Body"].read() == b"evidence"


def test_s3_check_refuses_a_bucket_without_object_lock(moto_endpoint):
    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket="plain-bucket")
    with pytest.raises(ObjectStoreError, match="Object Lock"):
        S3ObjectStore("plain-bucket", endpoint_url=moto_endpoint).check()


def test_store_urls(tmp_path):
    assert store_for_url(f"file://{tmp_path}").root == tmp_path
    assert isinstance(store_for_url("s3://bucket/pre", "http://127.0.0.1:1"), S3ObjectStore)
    with pytest.raises(ValueError, match="OBJECT_STORE_URL"):
        store_for_url("ftp://x")
