"""The exchange: where distributed tasks find their inputs and leave their outputs.

Every object is a blob named by its sha256 (``blobs/<sha[:2]>/<sha256>``), so writing one
twice (a task run again after its worker was lost) writes the same bytes to the same key,
and a reader can always check what it got. The sha256 is checked at both ends: a put hashes
the bytes it sends and refuses to send a file whose hash is not the one promised; a get
hashes what it received and keeps it only when it matches.

Two kinds, chosen by ``[compute] exchange``:

- ``s3://bucket/prefix``: the object store, through :class:`pipeline.publish.s3.S3Store`
  (the boto3 boundary; credentials from boto3's standard chain on every machine). The
  upload carries the SHA-256 (``x-amz-checksum-sha256``), so the store rejects other bytes.
- a folder every worker and the coordinator see (NFS, CephFS; ``file://`` optional):
  files are written to a hidden temporary name, fsynced and renamed.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlparse

from ..errors import ConfigError, StoreError
from ..fsutil import fsync_dir, sha256_file

CHUNK = 1 << 20


class ExchangeError(StoreError):
    """A blob could not be put or got, or its bytes are not the ones its sha256 names."""


@dataclass(frozen=True)
class Blob:
    """A blob in the exchange: its ``sha256`` (hex, also its key), ``size`` (bytes) and the
    file-name ``suffix`` it is given on download (``.mp3``: some decoders look at it)."""

    sha256: str
    size: int
    suffix: str = ""

    @property
    def key(self) -> str:
        return f"blobs/{self.sha256[:2]}/{self.sha256}"


@dataclass(frozen=True)
class ExchangeSpec:
    """How to open the exchange (picklable; each process opens its own client).

    ``url`` is ``s3://bucket/prefix`` or a folder; the S3 fields are boto3's settings."""

    url: str
    endpoint_url: str = ""
    region: str = ""
    addressing_style: str = ""

    def open(self) -> "Exchange":
        """The exchange this spec names.

        Raises:
            ConfigError: ``url`` is empty or an unknown scheme."""
        u = urlparse(self.url)
        if u.scheme == "s3":
            if not u.netloc:
                raise ConfigError(f"[compute] exchange = {self.url!r} has no bucket",
                                  fix='use "s3://bucket/prefix"')
            return S3Exchange(self, u.netloc, u.path.strip("/"))
        if u.scheme in ("", "file") and self.url:
            return FolderExchange(Path(u.path if u.scheme == "file" else self.url))
        raise ConfigError(f"[compute] exchange = {self.url!r} is not s3://bucket/prefix or a folder",
                          fix="set [compute] exchange to an S3 prefix or a folder every worker sees")


class Exchange(Protocol):
    def put(self, path: Path, blob: Blob) -> None:
        """Store the file ``path`` as ``blob`` unless it is there already.

        Raises:
            ExchangeError: the file's sha256 is not ``blob.sha256``, or the store failed."""

    def get(self, blob: Blob, dest: Path) -> None:
        """Fetch ``blob`` into ``dest`` (atomically; ``dest`` holds the verified bytes or is
        untouched).

        Raises:
            ExchangeError: missing, or the bytes received do not hash to ``blob.sha256``."""

    def describe(self) -> str:
        """Where it is, for messages."""


def blob_of(path: Path, suffix: str | None = None) -> Blob:
    """The blob a local file becomes (hashing it)."""
    return Blob(sha256_file(path), path.stat().st_size, path.suffix if suffix is None else suffix)


def _temp_beside(dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    return dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.part")


def _copy_hashing(src: Path, tmp: Path) -> str:
    h = hashlib.sha256()
    with open(src, "rb") as fin, open(tmp, "wb") as fout:
        while block := fin.read(CHUNK):
            h.update(block)
            fout.write(block)
        fout.flush()
        os.fsync(fout.fileno())
    return h.hexdigest()


def _mismatch(what: str, blob: Blob, got: str, where: str) -> ExchangeError:
    return ExchangeError(f"{what} of blob {blob.sha256[:12]}: the bytes hash to {got[:12]}, not to its name",
                         path=where, fix="the file changed or was corrupted on the way; run the command again")


def _check_local(path: Path, blob: Blob) -> None:
    """A file is sent (or found already sent) only when it hashes to its blob's name."""
    try:
        got = sha256_file(path)
    except OSError as exc:
        raise ExchangeError(f"cannot read {path.name}: {exc.strerror or exc}", path=path,
                            fix="the library file is missing or unreadable") from exc
    if got != blob.sha256:
        raise _mismatch("upload", blob, got, str(path))


def commit_verified(tmp: Path, blob: Blob, dest: Path, where: str) -> None:
    """Move the downloaded ``tmp`` to ``dest`` if it hashes to ``blob.sha256`` (fsynced),
    else delete it and raise ExchangeError."""
    got = sha256_file(tmp)
    if got != blob.sha256:
        tmp.unlink(missing_ok=True)
        raise _mismatch("download", blob, got, where)
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    os.replace(tmp, dest)
    fsync_dir(dest.parent)


class FolderExchange:
    """An exchange in a folder every machine mounts."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, path: Path, blob: Blob) -> None:
        _check_local(path, blob)
        dest = self.root / blob.key
        if dest.is_file() and dest.stat().st_size == blob.size and sha256_file(dest) == blob.sha256:
            return
        tmp = _temp_beside(dest)
        try:
            got = _copy_hashing(path, tmp)
            if got != blob.sha256:
                raise _mismatch("upload", blob, got, str(path))
            os.replace(tmp, dest)
            fsync_dir(dest.parent)
        except OSError as exc:
            raise ExchangeError(f"cannot write blob {blob.sha256[:12]}: {exc.strerror or exc}",
                                path=self.root, fix="check that the exchange folder is mounted and writable") from exc
        finally:
            tmp.unlink(missing_ok=True)

    def get(self, blob: Blob, dest: Path) -> None:
        src = self.root / blob.key
        tmp = _temp_beside(dest)
        try:
            _copy_hashing(src, tmp)
            commit_verified(tmp, blob, dest, str(src))
        except FileNotFoundError as exc:
            raise ExchangeError(f"blob {blob.sha256[:12]} is not in the exchange", path=self.root,
                                fix="every worker and the coordinator must see the same exchange folder") from exc
        except OSError as exc:
            raise ExchangeError(f"cannot read blob {blob.sha256[:12]}: {exc.strerror or exc}",
                                path=self.root, fix="check that the exchange folder is mounted") from exc
        finally:
            tmp.unlink(missing_ok=True)

    def describe(self) -> str:
        return str(self.root)


class S3Exchange:
    """An exchange under an S3 prefix (any S3-compatible service)."""

    def __init__(self, spec: ExchangeSpec, bucket: str, prefix: str) -> None:
        from ..publish.s3 import S3Store

        self.store = S3Store(bucket, prefix, endpoint_url=spec.endpoint_url, region=spec.region,
                             addressing_style=spec.addressing_style)

    def put(self, path: Path, blob: Blob) -> None:
        from ..publish.store import Put

        _check_local(path, blob)
        have = self.store.head(blob.key)
        if have is not None and have.size == blob.size and have.sha256 == blob.sha256:
            return
        self.store.put(Put(blob.key, blob.sha256, blob.size, "application/octet-stream", "no-store", path=path))

    def get(self, blob: Blob, dest: Path) -> None:
        tmp = _temp_beside(dest)
        try:
            self.store.download(blob.key, str(tmp))
            commit_verified(tmp, blob, dest, self.describe())
        except StoreError as exc:
            if isinstance(exc, ExchangeError):
                raise
            raise ExchangeError(f"blob {blob.sha256[:12]}: {exc.message}", path=self.describe(), fix=exc.fix) from exc
        finally:
            tmp.unlink(missing_ok=True)

    def describe(self) -> str:
        return self.store.describe()
