"""`s3://BUCKET[/PREFIX]`: S3 Object Lock in COMPLIANCE mode (AWS, MinIO, Ceph).

COMPLIANCE retention cannot be shortened or removed by anyone, the account root included, and a
locked object version cannot be deleted until it expires. Casefile's `delete` removes the object's
versions (a plain DELETE would only add a delete marker and seem to succeed), so the store's own
refusal is what the caller sees.

Integrity: each put sends the SHA-256 as an S3 checksum (`ChecksumAlgorithm='SHA256'` with the
value, so S3 refuses bytes that arrive altered and keeps the checksum) and as metadata
(`x-amz-meta-sha256`, which every S3-compatible store keeps; moto, for one, only keeps checksums
it was asked to compute). `get` asks for the checksum (`ChecksumMode='ENABLED'`: botocore then
checks the body against it) and compares the bytes with both itself; a version without them was
not written by Casefile and is reported as corrupt.

Object Lock protects versions, not keys: a DELETE without a version id adds a delete marker over a
locked object, and a PUT without Casefile's If-None-Match adds a new version over it. Both are
allowed to anyone with the plain write permission, so `versions` and `list_versions` report them.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, FlexibleChecksumError

from casefile.core.timeutil import isoformat
from casefile.storage.base import (
    ObjectCorrupt,
    ObjectExists,
    ObjectInfo,
    ObjectLocked,
    ObjectNotFound,
    ObjectStore,
    ObjectStoreError,
    ObjectVersion,
    RetentionShortening,
    VersionReport,
    checked,
    version_report,
)
from casefile.storage.filesystem import refuse_if_locked, validate_key

# 405 is what HEAD or GET of a delete marker's version id answers: there is no object there.
_NOT_FOUND = {"404", "NoSuchKey", "NotFound", "NoSuchVersion", "405", "MethodNotAllowed"}
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
            "ChecksumAlgorithm": "SHA256",
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
            written = self.client.put_object(**args)
        except ClientError as exc:
            if _code(exc) in {"PreconditionFailed", "412", "ConditionalRequestConflict"}:
                raise ObjectExists(f"object {key!r} exists and is never overwritten") from None
            raise _error(exc, key) from exc
        # Head the version just written, not whatever is latest by the time we ask.
        return self.head(key, version_id=written.get("VersionId"))

    def get(self, key: str, *, version_id: str | None = None) -> bytes:
        args = {"Bucket": self.bucket, "Key": self._key(key), "ChecksumMode": "ENABLED"}
        if version_id is not None:
            args["VersionId"] = version_id
        try:
            response = self.client.get_object(**args)
            data = response["Body"].read()
        except ClientError as exc:
            raise _error(exc, key) from exc
        except FlexibleChecksumError as exc:  # the body is not what S3's own checksum says
            raise ObjectCorrupt(key, None, None, version_id=version_id, reason=str(exc)) from exc
        version = response.get("VersionId") or version_id
        expected = response.get("Metadata", {}).get("sha256")
        s3_checksum = _hex_checksum(response.get("ChecksumSHA256"))
        if expected and s3_checksum and s3_checksum != expected.lower():
            # Metadata and checksum disagree: one of them was not written by Casefile's put.
            raise ObjectCorrupt(key, expected, s3_checksum, version_id=version,
                                reason="the S3 checksum and the recorded SHA-256 differ")
        return checked(key, data, expected or s3_checksum, version_id=version)

    def head(self, key: str, *, version_id: str | None = None) -> ObjectInfo:
        args = {"Bucket": self.bucket, "Key": self._key(key)}
        if version_id is not None:
            args["VersionId"] = version_id
        try:
            h = self.client.head_object(**args)
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
            version_id=h.get("VersionId"),
        )

    def _all_versions(self, prefix: str) -> dict[str, list[ObjectVersion]]:
        """Every version and delete marker under the full `prefix`, by key, oldest first."""
        found: dict[str, list[tuple[tuple, ObjectVersion]]] = {}
        pages = self.client.get_paginator("list_object_versions").paginate(
            Bucket=self.bucket, Prefix=prefix)
        try:
            for page in pages:
                for kind in ("Versions", "DeleteMarkers"):
                    for position, v in enumerate(page.get(kind, [])):
                        if not v["Key"].startswith(self.prefix):
                            continue
                        key = v["Key"][len(self.prefix):]
                        created = v["LastModified"].astimezone(UTC)
                        version = ObjectVersion(
                            key=key, version_id=v.get("VersionId"), created_at=created,
                            size=v.get("Size", 0), sha256=None,
                            is_delete_marker=kind == "DeleteMarkers",
                            is_latest=bool(v.get("IsLatest")))
                        # S3 lists each key's versions newest first; timestamps have second
                        # resolution, so the listing order breaks ties, and the latest is last.
                        order = (version.is_latest, created, -position)
                        found.setdefault(key, []).append((order, version))
        except ClientError as exc:
            raise _error(exc, prefix) from exc
        return {key: [v for _, v in sorted(vs, key=lambda o: o[0])] for key, vs in found.items()}

    def versions(self, key: str) -> list[ObjectVersion]:
        listed = self._all_versions(self._key(key)).get(key, [])
        out = []
        for v in listed:
            if not v.is_delete_marker:  # the SHA-256 is in each version's own metadata
                try:
                    sha = self.head(key, version_id=v.version_id).sha256 or None
                except ObjectStoreError:
                    sha = None
                v = dataclasses.replace(v, sha256=sha)
            out.append(v)
        return out

    def list_versions(self, prefix: str = "") -> VersionReport:
        return version_report(prefix, self._all_versions(self.prefix + prefix))

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


def _hex_checksum(value: str | None) -> str | None:
    if not value or "-" in value:  # "...-N" is a multipart checksum of checksums, not of bytes
        return None
    try:
        return base64.b64decode(value, validate=True).hex()
    except ValueError:
        return None


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _error(exc: ClientError, key: str) -> ObjectStoreError:
    code = _code(exc)
    if code in _NOT_FOUND:
        return ObjectNotFound(f"no object {key!r}")
    if code in _LOCKED:
        return ObjectLocked(f"the object store refused to change {key!r}: {code}")
    return ObjectStoreError(f"object store error on {key!r}: {code or exc}")


