"""What one generation consists of: the staging tree, the audio it refers to, the feeds
and the index. Each object is a :class:`~pipeline.publish.store.Put` with its sha256,
size, Content-Type and Cache-Control."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

from ..catalog import Catalog
from ..config import Config
from ..errors import DangkeError
from ..fsutil import sha256_file
from .feedset import FeedSet, feed_objects, lesson_feed_sources  # noqa: F401 (feeds live in feedset)
from .store import Put

IMMUTABLE = "public, max-age=31536000, immutable"
SHORT = "public, max-age=300"
NO_CACHE = "no-cache"

CONTENT_TYPES = {
    ".mp3": "audio/mpeg", ".wav": "audio/wav", ".m4a": "audio/mp4",
    ".json": "application/json; charset=utf-8", ".m3u": "audio/x-mpegurl; charset=utf-8",
    ".m3u8": "application/vnd.apple.mpegurl", ".xml": "application/rss+xml; charset=utf-8",
    ".ics": "text/calendar; charset=utf-8", ".csv": "text/csv; charset=utf-8",
}


def _put_file(key: str, path: Path, cache: str) -> Put:
    return Put(key=key, sha256=sha256_file(path), size=path.stat().st_size,
               content_type=CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream"),
               cache_control=cache, path=path)


def _put_bytes(key: str, data: bytes, cache: str) -> Put:
    return Put(key=key, sha256=hashlib.sha256(data).hexdigest(), size=len(data),
               content_type=CONTENT_TYPES.get(Path(key).suffix.lower(), "application/octet-stream"),
               cache_control=cache, data=data)


def collect_build(cfg: Config) -> list[Put]:
    """Every file of the staging tree (devices/, broadcast/), sorted by key."""
    out = []
    for top in ("devices", "broadcast"):
        root = cfg.build / top
        if root.is_dir():
            for p in sorted(root.rglob("*")):
                if p.is_file() and not p.name.startswith("."):
                    out.append(_put_file(p.relative_to(cfg.build).as_posix(), p, SHORT))
    return out


def _local_audio(cfg: Config, catalog: Catalog) -> dict[str, Path]:
    return {r.key: cfg.library / r.path for r in catalog.renditions()}


def referenced_audio(cfg: Config, catalog: Catalog, build: list[Put]) -> list[Put]:
    """The renditions that manifests, schedules and lesson feeds refer to.

    Raises:
        DangkeError: a referenced key has no file in the library (run ``dangke encode``).
    """
    local = _local_audio(cfg, catalog)
    keys: set[str] = set()
    for obj in build:
        if obj.key.endswith(".json") and obj.path is not None:
            doc = json.loads(obj.path.read_text(encoding="utf-8"))
            keys.update(i["key"] for i in doc.get("items", []) if i.get("key"))
            keys.update(i["key"] for s in doc.get("slots", []) for i in s.get("items", []) if i.get("key"))
            keys.update(s["key"] for s in doc.get("slots", []) if s.get("key"))
    keys.update(item.key for _, item in lesson_feed_sources(cfg, catalog))
    out = []
    for key in sorted(keys):
        path = local.get(key)
        if path is None or not path.is_file():
            raise DangkeError(f"{key} is referenced but not in the library", path=cfg.library,
                              fix="run `dangke encode` (or `dangke run`) before publishing")
        out.append(_put_file(key, path, IMMUTABLE))
    return out


def index_object(number: int, when: dt.datetime, objects: list[Put]) -> Put:
    """``index.json``: ``{"generation", "published_at", "files": {key: {"sha256", "bytes"}}}``."""
    body = {"generation": number, "published_at": when.isoformat(),
            "files": {o.key: {"sha256": o.sha256, "bytes": o.size} for o in sorted(objects, key=lambda o: o.key)}}
    return _put_bytes("index.json", (json.dumps(body, ensure_ascii=False, indent=2) + "\n").encode("utf-8"),
                      NO_CACHE)
