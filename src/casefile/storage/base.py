"""The write-once object store: one interface, two backends (`file://` and `s3://`).

Objects are immutable once written: a key is never overwritten, retention can only be extended,
and nothing under retention or legal hold can be deleted. Every refusal is an `ObjectStoreError`
subclass with a message that says what was refused and why.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator
from dataclasses import dataclass
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


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    sha256: str  # hex
    retain_until: datetime | None  # aware UTC; None = no retention
    legal_hold: bool
    created_at: datetime
    content_type: str = "application/octet-stream"


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
    def get(self, key: str) -> bytes: ...

    @abc.abstractmethod
    def head(self, key: str) -> ObjectInfo: ...

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
