"""The published store: one small interface, two backends.

``file://path`` (the embedded default, a folder) and ``s3://bucket/prefix`` (boto3,
:mod:`pipeline.publish.s3`). Keys are ``/``-separated paths relative to the store root.
Every put is atomic for readers: a reader sees the old object or the new one, never a
part.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

from ..errors import ConfigError, StoreError
from ..fsutil import fsync_dir


@dataclass(frozen=True)
class Put:
    """One object to write: its key, its bytes (``data``) or a local file (``path``), its
    sha256 and size, and the HTTP headers it is served with."""

    key: str
    sha256: str
    size: int
    content_type: str
    cache_control: str
    path: Path | None = None
    data: bytes | None = None

    def body(self) -> bytes:
        if self.data is not None:
            return self.data
        assert self.path is not None
        return self.path.read_bytes()


class Store(Protocol):
    """What publishing needs from a store."""

    def put(self, obj: Put) -> None:
        """Write one object atomically. Raises StoreError."""

    def get(self, key: str) -> bytes:
        """Read one object. Raises StoreError (also when it does not exist)."""

    def listing(self) -> dict[str, int]:
        """``{key: size}`` of every object. Raises StoreError."""

    def delete(self, key: str) -> None:
        """Remove one object (no error when absent). Raises StoreError."""

    def describe(self) -> str:
        """Where the store is, for people (never with credentials)."""


class FileStore:
    """A store in a local folder (``file://`` target)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        p = (self.root / key).resolve()
        if self.root.resolve() not in p.parents:
            raise StoreError(f"key {key!r} escapes the store root", path=self.root)
        return p

    def put(self, obj: Put) -> None:
        dest = self._path(obj.key)
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(f".{dest.name}.{os.getpid()}.part")
            with open(tmp, "wb") as f:
                if obj.data is not None:
                    f.write(obj.data)
                else:
                    assert obj.path is not None
                    with open(obj.path, "rb") as src:
                        while block := src.read(1 << 20):
                            f.write(block)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, dest)
            fsync_dir(dest.parent)
        except OSError as exc:
            raise StoreError(f"cannot write {obj.key}: {exc.strerror or exc}", path=dest,
                             fix="check the folder's permissions and free space") from exc

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except OSError as exc:
            raise StoreError(f"cannot read {key}: {exc.strerror or exc}", path=self.root) from exc

    def listing(self) -> dict[str, int]:
        if not self.root.is_dir():
            return {}
        out = {}
        for dirpath, _dirs, names in os.walk(self.root):
            for name in names:
                if name.startswith(".") and name.endswith(".part"):
                    continue
                p = Path(dirpath) / name
                out[p.relative_to(self.root).as_posix()] = p.stat().st_size
        return out

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def describe(self) -> str:
        return str(self.root)


def open_store(target: str, root: Path, **s3_options: object) -> Store:
    """The store for a ``[publish] target``: ``file://<path>`` (relative to ``root``) or
    ``s3://bucket/prefix``.

    Raises:
        ConfigError: an unsupported scheme or a target without a bucket.
    """
    parsed = urlparse(target)
    if parsed.scheme == "file":
        path = Path((parsed.netloc or "") + parsed.path)
        return FileStore(path if path.is_absolute() else (root / path))
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise ConfigError(f"[publish] target {target!r} has no bucket", fix="use s3://bucket/prefix")
        from .s3 import S3Store
        return S3Store(parsed.netloc, parsed.path.strip("/"), **s3_options)  # type: ignore[arg-type]
    raise ConfigError(f"[publish] target {target!r} is not file:// or s3://",
                      fix="use file://public or s3://bucket/prefix")
