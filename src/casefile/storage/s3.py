"""`s3://BUCKET[/PREFIX]`: S3 Object Lock in COMPLIANCE mode (AWS, MinIO, Ceph).

COMPLIANCE retention cannot be shortened or removed by anyone, the account root included, and a
locked object version cannot be deleted until it expires. Casefile's `delete` removes the object's
versions (a plain DELETE would only add a delete marker and seem to succeed), so the store's own
refusal is what the caller sees.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from casefile.core.timeutil import isoformat
from casefile.storage.base import (
    ObjectExists,
    ObjectInfo,
    ObjectLocked,
    ObjectNotFound,
    ObjectStore,
    ObjectStoreError,
    RetentionShortening,
)
from casefile.storage.filesystem import refuse_if_locked, validate_key

_NOT_FOUND = {"404", "NoSuchKey", "NotFound", "NoSuchVersion"}
_LOCKED = {"AccessDenied", "InvalidRequest", "ObjectLocked"}


class S3ObjectStore(ObjectStore):
    def __init__(self, bucket: str, *, prefix: str = "", endpoint_url: str | None = None,
                 region: str = "us-east-1"):
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.url = f"s3://{bucket}/{self.prefix}"
        self.client = boto3.client(
            "s3", endpoint_url=endpoint_url, region_name=region,
            config=Config(retries={"max_attempts": 5, "mode": "standard"},
                          s3={"addressing_style": "path"}),
        )

    def _key(self, key: str) -> str:
        return self.prefix + validate_key(key)

    def ensure_bucket(self) -> None:
        """Create the bucket with Object Lock enabled, if it does not exist yet."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError:
            self.client.create_bucket(Bucket=self.bucket, ObjectLockEnabledForBucket=True)

    def put(self, key, data, *, retain_until=None, legal_hold=False,
            content_type="application/octet-stream") -> ObjectInfo:
        digest = hashlib.sha256(data)
        args = {
            "Bucket": self.bucket, "Key": self._key(key), "Body": data,
            "ContentType": content_type, "IfNoneMatch": "*",
            "ChecksumSHA256": base64.b64encode(digest.digest()).decode(),
            "Metadata": {"sha256": digest.hexdigest()},
            # Object Lock puts need an integrity header; Content-MD5 is the one every
            # S3-compatible store accepts.
            "ContentMD5": base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest())
            .decode(),
        }
        if retain_until is not None:
            args.update(ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=retain_until)
        if legal_hold:
            args["ObjectLockLegalHoldStatus"] = "ON"
        try:
            self.client.put_object(**args)
        except ClientError as exc:
            if _code(exc) in {"PreconditionFailed", "412", "ConditionalRequestConflict"}:
                raise ObjectExists(f"object {key!r} exists and is never overwritten") from None
            raise _error(exc, key) from exc
        return self.head(key)

    def get(self, key: str) -> bytes:
        try:
            return self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"].read()
        except ClientError as exc:
            raise _error(exc, key) from exc

    def head(self, key: str) -> ObjectInfo:
        try:
            h = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            raise _error(exc, key) from exc
        retain = h.get("ObjectLockRetainUntilDate")
        return ObjectInfo(
            key=key,
            size=h["ContentLength"],
            sha256=h.get("Metadata", {}).get("sha256", ""),
            retain_until=retain.astimezone(UTC) if retain else None,
            legal_hold=h.get("ObjectLockLegalHoldStatus") == "ON",
            created_at=h["LastModified"].astimezone(UTC),
            content_type=h.get("ContentType", "application/octet-stream"),
        )

    def list(self, prefix: str = "") -> Iterator[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix + prefix)
        try:
            keys = [o["Key"][len(self.prefix):] for page in pages for o in page.get("Contents", [])]
        except ClientError as exc:
            raise _error(exc, prefix) from exc
        return iter(sorted(keys))

    def set_legal_hold(self, key: str, on: bool) -> ObjectInfo:
        try:
            self.client.put_object_legal_hold(Bucket=self.bucket, Key=self._key(key),
                                              LegalHold={"Status": "ON" if on else "OFF"})
        except ClientError as exc:
            raise _error(exc, key) from exc
        return self.head(key)

    def extend_retention(self, key: str, retain_until: datetime) -> ObjectInfo:
        current = self.head(key).retain_until
        if current is not None and retain_until < current:
            raise RetentionShortening(
                f"{key!r} is retained until {isoformat(current)}; retention can only be extended",
                details={"retain_until": isoformat(current)})
        try:
            self.client.put_object_retention(
                Bucket=self.bucket, Key=self._key(key),
                Retention={"Mode": "COMPLIANCE", "RetainUntilDate": retain_until})
        except ClientError as exc:
            raise _error(exc, key) from exc
        return self.head(key)

    def delete(self, key: str) -> None:
        refuse_if_locked(self.head(key))
        try:
            versions = self.client.list_object_versions(Bucket=self.bucket, Prefix=self._key(key))
            for v in [*versions.get("Versions", []), *versions.get("DeleteMarkers", [])]:
                if v["Key"] == self._key(key):
                    self.client.delete_object(Bucket=self.bucket, Key=v["Key"],
                                              VersionId=v["VersionId"])
        except ClientError as exc:
            raise _error(exc, key) from exc

    def check(self) -> None:
        try:
            config = self.client.get_object_lock_configuration(Bucket=self.bucket)
        except (ClientError, BotoCoreError) as exc:
            raise ObjectStoreError(f"object store {self.url} unreachable or without Object "
                                   f"Lock: {exc}") from exc
        if config.get("ObjectLockConfiguration", {}).get("ObjectLockEnabled") != "Enabled":
            raise ObjectStoreError(f"bucket {self.bucket} does not have Object Lock enabled")


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _error(exc: ClientError, key: str) -> ObjectStoreError:
    code = _code(exc)
    if code in _NOT_FOUND:
        return ObjectNotFound(f"no object {key!r}")
    if code in _LOCKED:
        return ObjectLocked(f"the object store refused to change {key!r}: {code}")
    return ObjectStoreError(f"object store error on {key!r}: {code or exc}")


