"""The write-once object store. `get_store()` gives the one configured by OBJECT_STORE_URL."""

import functools
from pathlib import Path
from urllib.parse import urlparse

from django.conf import settings

from casefile.storage.base import (
    InvalidKey,
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
)

__all__ = [
    "InvalidKey", "ObjectCorrupt", "ObjectExists", "ObjectInfo", "ObjectLocked", "ObjectNotFound",
    "ObjectStore", "ObjectStoreError", "ObjectVersion", "RetentionShortening", "VersionReport",
    "get_store", "store_for_url",
]


def get_store() -> ObjectStore:
    return store_for_url(settings.OBJECT_STORE_URL, settings.OBJECT_STORE_ENDPOINT_URL,
                         settings.OBJECT_STORE_REGION)


def store_for_url(url: str, endpoint_url: str | None = None,
                  region: str = "us-east-1") -> ObjectStore:
    return _cached(url, endpoint_url, region)


@functools.lru_cache(maxsize=8)
def _cached(url: str, endpoint_url: str | None, region: str) -> ObjectStore:
    parsed = urlparse(url)
    if parsed.scheme == "file":
        from casefile.storage.filesystem import FileObjectStore

        # file:///abs/path, or file://./relative (resolved against the working directory)
        path = (parsed.netloc + parsed.path) if parsed.netloc in ("", ".", "..") else parsed.path
        return FileObjectStore(Path(path or ".").resolve())
    if parsed.scheme == "s3":
        from casefile.storage.s3 import S3ObjectStore

        return S3ObjectStore(parsed.netloc, prefix=parsed.path, endpoint_url=endpoint_url,
                             region=region)
    raise ValueError(f"OBJECT_STORE_URL {url!r}: use file://DIR or s3://BUCKET[/PREFIX]")


get_store.cache_clear = _cached.cache_clear  # type: ignore[attr-defined]
