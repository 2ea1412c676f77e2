"""Legal holds on S3 (moto's standalone server, which enforces Object Lock): placing a hold puts
the S3 legal hold on every object in scope, and the bucket itself refuses to delete them;
releasing takes it off."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from casefile.accounts.roles import Role
from casefile.storage import ObjectLocked, get_store
from tests.evidence.helpers import staff, upload
from tests.holds.helpers import place, release

pytestmark = pytest.mark.django_db


@pytest.fixture
def s3_objects(settings, s3_bucket_url, moto_endpoint):
    settings.OBJECT_STORE_URL = s3_bucket_url
    settings.OBJECT_STORE_ENDPOINT_URL = moto_endpoint
    get_store.cache_clear()
    yield get_store()
    get_store.cache_clear()


def s3_hold(store, key: str) -> str:
    found = store.client.get_object_legal_hold(Bucket=store.bucket, Key=store._key(key))
    return found["LegalHold"].get("Status", "OFF")  # never set: no hold


def test_a_hold_locks_the_objects_on_s3_and_the_bucket_refuses_their_deletion(
        s3_objects, django_capture_on_commit_callbacks):
    store = s3_objects
    blob = upload(staff(Role.ANALYST))
    keys = [blob.original_key, blob.redacted_key]
    assert [s3_hold(store, k) for k in keys] == ["OFF", "OFF"]
    hold = place("evidence", blob.id)
    assert [s3_hold(store, k) for k in keys] == ["ON", "ON"]
    assert all(store.head(k).legal_hold for k in keys)
    for key in keys:
        with pytest.raises(ObjectLocked):
            store.delete(key)  # Casefile's store refuses first…
        version = store.head(key).version_id
        with pytest.raises(ClientError) as refused:  # …and so does the bucket itself
            store.client.delete_object(Bucket=store.bucket, Key=store._key(key),
                                       VersionId=version)
        assert refused.value.response["Error"]["Code"] == "AccessDenied"
        assert store.get(key)  # still there
    with django_capture_on_commit_callbacks(execute=True):
        release(hold)
    assert [s3_hold(store, k) for k in keys] == ["OFF", "OFF"]
