"""The published store: one small interface, two backends.

``file://path`` (the embedded default, a folder) and ``s3://bucket/prefix`` (boto3,
:mod:`pipeline.publish.s3`). Keys are ``/``-separated paths relative to the store root.
Every put is atomic for readers: a reader sees the old object or the new one, never a
part (a folder: write to a hidden temporary name, fsync, rename; S3: a PUT or a completed
multipart upload is all or nothing).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..errors import StoreError
from ..fsutil import fsync_dir, sha256_file

PARTIAL_SUFFIX = ".part"


@dataclass(frozen=True)
class Put:
    """One object to write: its key, its bytes (``data``) or a local file (``path``), its
    sha256 (hex) and size (bytes), the HTTP headers it is served with, and the canned ACL
    to give it (``""``: none, the bucket policy decides)."""

    key: str
    sha256: str
    size: int
    content_type: str
    cache_control: str
    path: Path | None = None
    data: bytes | None = None
    acl: str = ""

    def body(self) -> bytes:
        """The object's bytes (read from ``path`` when it has no ``data``)."""
        if self.data is not None:
            return self.data
        assert self.path is not None
        return self.path.read_bytes()

    def md5(self) -> str:
        """Hex MD5 of the object's bytes (what S3 gives as the ETag of a single-part
        upload, and what ``Content-MD5`` carries in base64), read in chunks."""
        h = hashlib.md5()
        if self.data is not None:
            h.update(self.data)
        else:
            assert self.path is not None
            with open(self.path, "rb") as f:
                while block := f.read(1 << 20):
                    h.update(block)
        return h.hexdigest()


@dataclass(frozen=True)
class Stat:
    """What the store says about one object: ``size`` in bytes, ``etag`` (S3: the ETag
    without quotes, the MD5 of the bytes for single-part uploads, ``<md5>-<parts>`` for
    multipart; a folder: ``<mtime_ns>-<size>``) and, from :meth:`Store.head` only, the
    object's ``sha256`` (S3: our ``x-amz-meta-sha256``; a folder: hashed) or ``""``."""

    size: int
    etag: str = ""
    sha256: str = ""


class Store(Protocol):
    """What publishing needs from a store. Every method raises StoreError on failure."""

    def put(self, obj: Put) -> str:
        """Write one object atomically; returns its ETag (see :class:`Stat`)."""

    def get(self, key: str) -> bytes:
        """Read one object. Raises StoreError (also when it does not exist)."""

    def head(self, key: str) -> Stat | None:
        """One object's :class:`Stat` with its sha256, or None when it does not exist."""

    def listing(self) -> dict[str, Stat]:
        """``{key: Stat}`` of every object (without sha256)."""

    def delete_many(self, keys: list[str]) -> None:
        """Remove objects (no error when absent)."""

    def clean_partials(self) -> int:
        """Remove what interrupted uploads left (temporary files, incomplete multipart
        uploads); returns how many."""

    def describe(self) -> str:
        """Where the store is, for people and as the ledger's name for it (never with
        credentials)."""


class FileStore:
    """A store in a local folder (``file://`` target)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        p = (self.root / key).resolve()
        if self.root.resolve() not in p.parents:
            raise StoreError(f"key {key!r} escapes the store root", path=self.root)
        return p

    @staticmethod
    def _etag(st: os.stat_result) -> str:
        return f"{st.st_mtime_ns}-{st.st_size}"

    def put(self, obj: Put) -> str:
        dest = self._path(obj.key)
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.{os.urandom(4).hex()}{PARTIAL_SUFFIX}")
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            digest = hashlib.sha256()
            with open(tmp, "wb") as f:
                if obj.data is not None:
                    f.write(obj.data)
                    digest.update(obj.data)
                else:
                    assert obj.path is not None
                    with open(obj.path, "rb") as src:
                        while block := src.read(1 << 20):
                            f.write(block)
                            digest.update(block)
                f.flush()
                os.fsync(f.fileno())
            if digest.hexdigest() != obj.sha256 or tmp.stat().st_size != obj.size:
                raise StoreError(f"{obj.key}: the bytes written do not match the sha256 taken before",
                                 path=obj.path, fix="the file changed while publishing; publish again")
            os.replace(tmp, dest)
            fsync_dir(dest.parent)
            return self._etag(dest.stat())
        except OSError as exc:
            raise StoreError(f"cannot write {obj.key}: {exc.strerror or exc}", path=dest,
                             fix="check the folder's permissions and free space") from exc
        finally:
            tmp.unlink(missing_ok=True)

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except OSError as exc:
            raise StoreError(f"cannot read {key}: {exc.strerror or exc}", path=self.root) from exc

    def head(self, key: str) -> Stat | None:
        p = self._path(key)
        try:
            st = p.stat()
            return Stat(st.st_size, self._etag(st), sha256_file(p))
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"cannot read {key}: {exc.strerror or exc}", path=self.root) from exc

    def _walk(self):
        if not self.root.is_dir():
            return
        for dirpath, _dirs, names in os.walk(self.root):
            for name in names:
                yield Path(dirpath) / name

    def listing(self) -> dict[str, Stat]:
        out = {}
        for p in self._walk():
            if p.name.startswith(".") and p.name.endswith(PARTIAL_SUFFIX):
                continue
            st = p.stat()
            out[p.relative_to(self.root).as_posix()] = Stat(st.st_size, self._etag(st))
        return out

    def delete_many(self, keys: list[str]) -> None:
        try:
            for key in keys:
                p = self._path(key)
                p.unlink(missing_ok=True)
                parent = p.parent
                while parent != self.root.resolve() and parent.is_dir() and not any(parent.iterdir()):
                    parent.rmdir()
                    parent = parent.parent
        except OSError as exc:
            raise StoreError(f"cannot delete: {exc.strerror or exc}", path=self.root) from exc

    def clean_partials(self) -> int:
        stale = [p for p in self._walk() if p.name.startswith(".") and p.name.endswith(PARTIAL_SUFFIX)]
        for p in stale:
            p.unlink(missing_ok=True)
        return len(stale)

    def describe(self) -> str:
        return f"file://{self.root.resolve()}"
