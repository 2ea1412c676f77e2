"""`file://DIR`: write-once files, with retention and legal hold kept beside them.

`DIR/data/<key>` holds the bytes (read-only once written), `DIR/meta/<key>.json` the size,
SHA-256, retention and hold. A key is claimed with `os.link`, which fails if the name exists, so
two writers racing for one key cannot both win and nothing is ever overwritten. The guarantees
hold against Casefile's API; anyone with the host's root can of course remove files, which is why
production uses S3 Object Lock.

Reads are checked against the SHA-256 in the metadata, so a data file edited in place (chmod, then
write: root or the files' owner can) raises ObjectCorrupt instead of returning the edit. Someone
who rewrites both files is not caught here; the signed checkpoints and witnesses catch that.

There are no versions: a key holds one, its version id is the first VERSION_ID_CHARS hex digits
of its SHA-256 (so an id recorded at ship time names the content it had), and there are no
delete markers: a deleted key is gone.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import orjson

from casefile.core.timeutil import isoformat, now, parse_iso
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
    checked,
    version_report,
)

_TEMP_PREFIX = ".tmp-"
VERSION_ID_CHARS = 32


def validate_key(key: str) -> str:
    parts = key.split("/")
    if (not key or len(key) > 1024 or key.startswith("/") or "\\" in key or "\0" in key
            or any(p in ("", ".", "..") or p.startswith(_TEMP_PREFIX) for p in parts)):
        raise InvalidKey(f"invalid object key {key!r}")
    return key


class FileObjectStore(ObjectStore):
    def __init__(self, root: Path):
        self.root = Path(root)
        self.url = f"file://{self.root}"
        self._data = self.root / "data"
        self._meta = self.root / "meta"

    # --- paths and metadata ---------------------------------------------------------------
    def _paths(self, key: str) -> tuple[Path, Path]:
        validate_key(key)
        return self._data / key, self._meta / f"{key}.json"

    def _read_meta(self, key: str) -> dict:
        data, meta = self._paths(key)
        try:
            return orjson.loads(meta.read_bytes())
        except FileNotFoundError:
            raise ObjectNotFound(f"no object {key!r}") from None

    def _write_meta(self, path: Path, meta: dict) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=_TEMP_PREFIX, dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(orjson.dumps(meta))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    @contextmanager
    def _locked(self):
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    @staticmethod
    def _info(key: str, meta: dict) -> ObjectInfo:
        return ObjectInfo(
            key=key,
            size=meta["size"],
            sha256=meta["sha256"],
            retain_until=parse_iso(meta["retain_until"]) if meta["retain_until"] else None,
            legal_hold=meta["legal_hold"],
            created_at=parse_iso(meta["created_at"]),
            content_type=meta.get("content_type", "application/octet-stream"),
            version_id=_version_id(meta),
        )

    def _read_meta_version(self, key: str, version_id: str | None) -> dict:
        meta = self._read_meta(key)
        if version_id is not None and version_id != _version_id(meta):
            raise ObjectNotFound(f"no version {version_id!r} of {key!r} (file:// keeps one "
                                 f"version per key: {_version_id(meta)})")
        return meta

    # --- the interface --------------------------------------------------------------------
    def put(self, key, data, *, retain_until=None, legal_hold=False,
            content_type="application/octet-stream") -> ObjectInfo:
        data_path, meta_path = self._paths(key)
        data_path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=_TEMP_PREFIX, dir=data_path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.chmod(tmp, 0o444)
            with self._locked():
                try:
                    os.link(tmp, data_path)
                except FileExistsError:
                    raise ObjectExists(f"object {key!r} exists and is never overwritten") from None
                meta = {
                    "size": len(data),
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "retain_until": isoformat(retain_until) if retain_until else None,
                    "legal_hold": bool(legal_hold),
                    "created_at": isoformat(now()),
                    "content_type": content_type,
                }
                self._write_meta(meta_path, meta)
        finally:
            os.unlink(tmp)
        return self._info(key, meta)

    def get(self, key: str, *, version_id: str | None = None) -> bytes:
        data_path, _ = self._paths(key)
        meta = self._read_meta_version(key, version_id)  # an object exists once its meta does
        try:
            data = data_path.read_bytes()
        except FileNotFoundError:
            raise ObjectCorrupt(key, meta.get("sha256"), None, version_id=_version_id(meta),
                                reason="its data file is gone") from None
        return checked(key, data, meta.get("sha256"), version_id=_version_id(meta))

    def head(self, key: str, *, version_id: str | None = None) -> ObjectInfo:
        return self._info(key, self._read_meta_version(key, version_id))

    def versions(self, key: str) -> list[ObjectVersion]:
        try:
            info = self.head(key)
        except ObjectNotFound:
            return []
        return [ObjectVersion(key=key, version_id=info.version_id, created_at=info.created_at,
                              size=info.size, sha256=info.sha256, is_delete_marker=False,
                              is_latest=True)]

    def list_versions(self, prefix: str = "") -> VersionReport:
        # One version per key and no markers: the report can only ever be clean, but it counts
        # the keys so callers treat both stores alike.
        return version_report(prefix, {key: [] for key in self.list(prefix)})

    def list(self, prefix: str = "") -> Iterator[str]:
        if not self._meta.exists():
            return iter(())
        keys = []
        for path in self._meta.rglob("*.json"):
            if path.name.startswith(_TEMP_PREFIX):
                continue
            key = path.relative_to(self._meta).as_posix().removesuffix(".json")
            if key.startswith(prefix):
                keys.append(key)
        return iter(sorted(keys))

    def set_legal_hold(self, key: str, on: bool) -> ObjectInfo:
        with self._locked():
            meta = self._read_meta(key)
            meta["legal_hold"] = bool(on)
            self._write_meta(self._paths(key)[1], meta)
        return self._info(key, meta)

    def extend_retention(self, key: str, retain_until: datetime) -> ObjectInfo:
        with self._locked():
            meta = self._read_meta(key)
            current = parse_iso(meta["retain_until"]) if meta["retain_until"] else None
            if current is not None and retain_until < current:
                raise RetentionShortening(
                    f"{key!r} is retained until {isoformat(current)}; retention can only be "
                    "extended", details={"retain_until": isoformat(current)})
            meta["retain_until"] = isoformat(retain_until)
            self._write_meta(self._paths(key)[1], meta)
        return self._info(key, meta)

    def delete(self, key: str) -> None:
        data_path, meta_path = self._paths(key)
        with self._locked():
            info = self._info(key, self._read_meta(key))
            refuse_if_locked(info)
            meta_path.unlink()
            data_path.unlink(missing_ok=True)

    def check(self) -> None:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(prefix=_TEMP_PREFIX, dir=self.root):
                pass
        except OSError as exc:
            raise ObjectStoreError(f"object store {self.url} is not writable: {exc}") from exc


def _version_id(meta: dict) -> str | None:
    sha = meta.get("sha256")
    return sha[:VERSION_ID_CHARS] if sha else None


def refuse_if_locked(info: ObjectInfo) -> None:
    if info.legal_hold:
        raise ObjectLocked(f"{info.key!r} is under legal hold and cannot be deleted")
    if info.retain_until is not None and info.retain_until > now():
        raise ObjectLocked(
            f"{info.key!r} is retained until {isoformat(info.retain_until)} and cannot be "
            "deleted before then", details={"retain_until": isoformat(info.retain_until)})
