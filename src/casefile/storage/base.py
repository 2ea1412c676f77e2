"""The write-once object store: one interface, two backends (`file://` and `s3://`).

Objects are immutable once written: a key is never overwritten, retention can only be extended,
and nothing under retention or legal hold can be deleted. Every refusal is an `ObjectStoreError`
subclass with a message that says what was refused and why.

Reads are checked: `get` compares the bytes with the SHA-256 recorded when the object was put and
raises `ObjectCorrupt` rather than return bytes that differ from what Casefile wrote.

Versions: on S3 a key can gain versions behind Casefile's back — a plain DELETE puts a delete
marker over a locked object (hiding it from `list` and `get` while the locked version lives on),
and anyone with s3:PutObject can write a second version over a key. `versions(key)` and
`list_versions(prefix)` show both; `get(key, version_id=...)` reads the version recorded at ship
time. `file://` has no versions: a key has exactly one, whose id is a prefix of its SHA-256.
"""

from __future__ import annotations

import abc
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from casefile.core.errors import AppError, Conflict, NotFound


class ObjectStoreError(AppError):
    code = "object_store_error"


class ObjectExists(Conflict, ObjectStoreError):
    code = "object_exists"


class ObjectNotFound(NotFound, ObjectStoreError):
    code = "object_not_found"


class ObjectLocked(Conflict, ObjectStoreError):
    """Delete refused: the object is under retention or legal hold."""

    code = "object_locked"


class RetentionShortening(Conflict, ObjectStoreError):
    code = "retention_shortening"


class InvalidKey(ObjectStoreError):
    code = "invalid_key"


class ObjectCorrupt(ObjectStoreError):
    """The bytes read are not the bytes written: their SHA-256 is not the one recorded at put."""

    code = "object_corrupt"

    def __init__(self, key: str, expected: str | None, actual: str | None, *,
                 version_id: str | None = None, reason: str = ""):
        what = f"{key!r}" + (f" (version {version_id})" if version_id else "")
        super().__init__(
            f"object {what} does not match the SHA-256 recorded when it was written "
            f"(expected {expected or 'none recorded'}, read {actual or 'nothing'})"
            + (f": {reason}" if reason else ""),
            details={"key": key, "version_id": version_id, "expected": expected,
                     "actual": actual})
        self.key = key
        self.expected = expected
        self.actual = actual
        self.version_id = version_id


def checked(key: str, data: bytes, expected: str | None, *,
            version_id: str | None = None) -> bytes:
    """`data` if its SHA-256 is `expected`, else ObjectCorrupt. A missing expectation is
    corruption too: every object Casefile writes records its hash, so one without it was
    written by someone else."""
    actual = hashlib.sha256(data).hexdigest()
    if not expected or actual != expected.lower():
        raise ObjectCorrupt(key, expected, actual, version_id=version_id)
    return data


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    sha256: str  # hex
    retain_until: datetime | None  # aware UTC; None = no retention
    legal_hold: bool
    created_at: datetime
    content_type: str = "application/octet-stream"
    version_id: str | None = None  # S3's version id; on file://, a prefix of the SHA-256


@dataclass(frozen=True)
class ObjectVersion:
    key: str
    version_id: str | None
    created_at: datetime
    size: int  # 0 for a delete marker
    sha256: str | None  # hex; None where the store does not say (delete markers, listings)
    is_delete_marker: bool
    is_latest: bool

    def as_dict(self) -> dict:
        return {"key": self.key, "version_id": self.version_id,
                "created_at": self.created_at.isoformat(), "size": self.size,
                "sha256": self.sha256, "is_delete_marker": self.is_delete_marker,
                "is_latest": self.is_latest}


@dataclass(frozen=True)
class VersionReport:
    """What `list_versions(prefix)` found beyond one plain version per key.

    `delete_marked`: keys whose newest version is a delete marker — hidden from `list` and
    `get`, though on a locked bucket the data is still there under its version id.
    `multiple_versions`: keys holding more than one data version (delete markers not counted):
    something wrote over a key Casefile writes once. `versions` holds, for those keys only,
    every version, oldest first."""

    prefix: str
    keys: int  # distinct keys seen, hidden ones included
    delete_marked: list[str] = field(default_factory=list)
    multiple_versions: list[str] = field(default_factory=list)
    versions: dict[str, list[ObjectVersion]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.delete_marked and not self.multiple_versions

    def as_dict(self) -> dict:
        return {"prefix": self.prefix, "keys": self.keys, "ok": self.ok,
                "delete_marked": self.delete_marked,
                "multiple_versions": self.multiple_versions,
                "versions": {k: [v.as_dict() for v in vs] for k, vs in self.versions.items()}}


def version_report(prefix: str, by_key: dict[str, list[ObjectVersion]]) -> VersionReport:
    """Build the report from every key's versions (oldest first)."""
    marked, multiple = [], []
    for key, versions in sorted(by_key.items()):
        if versions and versions[-1].is_delete_marker:
            marked.append(key)
        if sum(not v.is_delete_marker for v in versions) > 1:
            multiple.append(key)
    flagged = sorted({*marked, *multiple})
    return VersionReport(prefix=prefix, keys=len(by_key), delete_marked=marked,
                         multiple_versions=multiple,
                         versions={k: by_key[k] for k in flagged})


class ObjectStore(abc.ABC):
    url: str

    @abc.abstractmethod
    def put(
        self,
        key: str,
        data: bytes,
        *,
        retain_until: datetime | None = None,
        legal_hold: bool = False,
        content_type: str = "application/octet-stream",
    ) -> ObjectInfo:
        """Store `data` under `key`. Raises ObjectExists if the key is taken (never overwrites)."""

    @abc.abstractmethod
    def get(self, key: str, *, version_id: str | None = None) -> bytes:
        """The object's bytes (its latest version, or `version_id`), checked against the SHA-256
        recorded at put: raises ObjectCorrupt rather than return altered bytes, ObjectNotFound
        for a missing key or version (or a delete marker)."""

    @abc.abstractmethod
    def head(self, key: str, *, version_id: str | None = None) -> ObjectInfo: ...

    @abc.abstractmethod
    def versions(self, key: str) -> list[ObjectVersion]:
        """Every version of `key`, delete markers included, oldest first; [] if none."""

    @abc.abstractmethod
    def list_versions(self, prefix: str = "") -> VersionReport:
        """Delete markers and extra versions under `prefix` (see VersionReport)."""

    @abc.abstractmethod
    def list(self, prefix: str = "") -> Iterator[str]:
        """Keys under `prefix`, in lexical order."""

    @abc.abstractmethod
    def set_legal_hold(self, key: str, on: bool) -> ObjectInfo: ...

    @abc.abstractmethod
    def extend_retention(self, key: str, retain_until: datetime) -> ObjectInfo:
        """Move the retain-until date later. Raises RetentionShortening for an earlier date."""

    @abc.abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object. Raises ObjectLocked under retention or legal hold."""

    @abc.abstractmethod
    def check(self) -> None:
        """Raise ObjectStoreError if the store cannot be reached or written (health checks)."""
