"""A ``[publish] target`` URL to its store: ``file://`` (:class:`.store.FileStore`) or
``s3://`` (:class:`.s3.S3Store`). Apart from :mod:`.store` so the S3 store, which builds on
the store's types, is not imported by them."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from ..errors import ConfigError
from .store import FileStore, Store


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
        from .s3 import S3Store  # boto3 only when an S3 target is used
        return S3Store(parsed.netloc, parsed.path.strip("/"), **s3_options)  # type: ignore[arg-type]
    raise ConfigError(f"[publish] target {target!r} is not file:// or s3://",
                      fix="use file://public or s3://bucket/prefix")
