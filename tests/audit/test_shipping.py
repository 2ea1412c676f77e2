from datetime import timedelta

import orjson
import pytest
from django.test import override_settings

from casefile.audit.checkpoints import document_is_authentic
from casefile.audit.models import AuditCheckpoint, AuditSegment
from casefile.audit.shipping import audit_ship, checkpoint_key, segment_key
from casefile.audit.verify import audit_verify
from casefile.core.timeutil import now
from casefile.storage import ObjectLocked, get_store
from tests.audit.helpers import record_entries

pytestmark = pytest.mark.django_db


def test_ship_writes_segments_with_signed_checkpoints_under_retention():
    entries = record_entries(7)
    result = audit_ship(max_entries=3)
    assert [s.object_key for s in result.segments] == [
        segment_key(1, 3), segment_key(4, 6), segment_key(7, 7)]
    store = get_store()
    lines = [orjson.loads(x) for x in store.get(segment_key(4, 6)).splitlines()]
    assert [d["seq"] for d in lines] == [4, 5, 6]
    assert lines[-1]["hash"] == entries[5].hash
    checkpoint = orjson.loads(store.get(checkpoint_key(6)))
    assert checkpoint["hash"] == entries[5].hash and document_is_authentic(checkpoint)
    info = store.head(segment_key(4, 6))
    assert info.retain_until > now() + timedelta(days=7 * 365)
    assert AuditCheckpoint.objects.count() == 3


def test_ship_is_incremental_and_idempotent():
    record_entries(4)
    assert audit_ship().entries == 4
    assert audit_ship().entries == 0
    record_entries(2)
    assert [s.object_key for s in audit_ship().segments] == [segment_key(5, 6)]
    assert audit_verify(worm=True).ok


def test_ship_adopts_objects_left_by_a_run_that_died_before_committing():
    record_entries(3)
    audit_ship()
    store = get_store()
    # Simulate the crash: the objects exist, the database never recorded them.
    from tests.audit.tamper import sql

    sql("DELETE FROM audit_segment")
    sql("DELETE FROM audit_checkpoint")
    result = audit_ship()
    assert result.entries == 3
    assert AuditSegment.objects.get().sha256 == store.head(segment_key(1, 3)).sha256
    assert audit_verify(worm=True).ok


def test_a_shipped_segment_cannot_be_deleted():
    record_entries(2)
    audit_ship()
    with pytest.raises(ObjectLocked):
        get_store().delete(segment_key(1, 2))
    assert get_store().head(segment_key(1, 2)).size > 0


def test_shipping_to_s3_under_object_lock(moto_endpoint, s3_bucket_url):
    import boto3
    from botocore.exceptions import ClientError

    record_entries(5)
    with override_settings(OBJECT_STORE_URL=s3_bucket_url,
                           OBJECT_STORE_ENDPOINT_URL=moto_endpoint):
        get_store.cache_clear()
        audit_ship(max_entries=2)
        store = get_store()
        assert audit_verify(worm=True).ok
        with pytest.raises(ObjectLocked):
            store.delete(segment_key(1, 2))
        # Not even the bucket's owner, going round Casefile, can delete the locked version.
        s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
        bucket = s3_bucket_url.removeprefix("s3://")
        head = s3.head_object(Bucket=bucket, Key=segment_key(1, 2))
        assert head["ObjectLockMode"] == "COMPLIANCE"
        with pytest.raises(ClientError):
            s3.delete_object(Bucket=bucket, Key=segment_key(1, 2), VersionId=head["VersionId"])
    get_store.cache_clear()
