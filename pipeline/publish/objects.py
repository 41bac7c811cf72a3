"""What one generation consists of: the staging tree, the audio it refers to, the feeds
and the index. Each object is a :class:`~pipeline.publish.store.Put` with its sha256,
size, Content-Type and Cache-Control."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from pathlib import Path

from .. import formats, layout
from ..catalog import Catalog
from ..config import Config
from ..errors import DangkeError
from ..feedaudio import podcast_keys
from ..fsutil import sha256_file
from ..models import BroadcastDay, Quarter, Rendition
from ..staged import read_staged
from .derived import derived_documents
from .feedset import feed_day_files, lesson_feed_sources
from .store import Put

IMMUTABLE = "public, max-age=31536000, immutable"
SHORT = "public, max-age=300"
NO_CACHE = "no-cache"

CONTENT_TYPES = {
    **formats.CONTENT_TYPES,   # renditions: every format's, from pipeline.formats
    ".json": "application/json; charset=utf-8", ".m3u": "audio/x-mpegurl; charset=utf-8",
    # not application/vnd.apple.mpegurl: that is HLS, and VLC then hands a plain playlist to its
    # HLS and MPEG-PS demuxers and plays nothing (issue 13); audio/x-mpegurl is a plain M3U to
    # VLC, mpv and liquidsoap alike
    ".m3u8": "audio/x-mpegurl; charset=utf-8", ".xml": "application/rss+xml; charset=utf-8",
    ".ics": "text/calendar; charset=utf-8", ".csv": "text/csv; charset=utf-8",
    # the report's site (issue 14)
    ".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8", ".png": "image/png",
}


def _put_file(key: str, path: Path, cache: str) -> Put:
    return Put(key=key, sha256=sha256_file(path), size=path.stat().st_size,
               content_type=CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream"),
               cache_control=cache, path=path)


def _put_bytes(key: str, data: bytes, cache: str) -> Put:
    return Put(key=key, sha256=hashlib.sha256(data).hexdigest(), size=len(data),
               content_type=CONTENT_TYPES.get(Path(key).suffix.lower(), "application/octet-stream"),
               cache_control=cache, data=data)


def _staged(cfg: Config) -> list[tuple[str, Path]]:
    """``(key, path)`` of every staged file under devices/, broadcast/ and reports/,
    sorted by key."""
    build = str(cfg.build)
    out = []
    for top in ("devices", "broadcast", "reports"):
        for dirpath, dirs, names in os.walk(os.path.join(build, top)):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            rel = os.path.relpath(dirpath, build).replace(os.sep, "/")
            out.extend((f"{rel}/{n}", Path(dirpath, n)) for n in names if not n.startswith("."))
    return sorted(out, key=lambda kp: kp[0])


def quarter_of(key: str) -> Quarter | None:
    """The quarter a staged key belongs to: ``devices/<quarter>/...`` or
    ``broadcast/<channel>/<YYYY-MM-DD>.*``; None for anything else."""
    parts = key.split("/")
    try:
        if parts[0] == "devices" and len(parts) > 2:
            return Quarter.parse(parts[1])
        if parts[0] == "broadcast" and len(parts) > 2:
            return Quarter.containing(dt.date.fromisoformat(parts[2].split(".")[0]))
    except ValueError:
        return None
    return None


def kept_quarters(keys: list[str], keep: int) -> set[Quarter]:
    """The newest ``keep`` quarters among those the staged keys belong to."""
    quarters = {q for q in map(quarter_of, keys) if q is not None}
    return set(sorted(quarters, key=lambda q: (q.year, q.number))[-keep:])


def collect_build(cfg: Config) -> list[Put]:
    """Every file of the staging tree (devices/, broadcast/, reports/) of the newest
    ``[publish] keep_quarters`` quarters (reports of every quarter), sorted by key; the
    broadcast documents derived from the schedules (M3U8, M3U, per-slot playlists,
    iCalendar) are rendered now with the current configuration instead of read from
    the tree (:mod:`pipeline.publish.derived`)."""
    staged = _staged(cfg)
    derived = derived_documents(cfg)
    keep = kept_quarters([k for k, _ in staged], cfg.publish.keep_quarters)
    objects = {k: _put_file(k, p, SHORT) for k, p in staged if k not in derived}
    objects.update({k: _put_bytes(k, data, SHORT) for k, data in derived.items()})
    return [objects[k] for k in sorted(objects) if quarter_of(k) in keep or quarter_of(k) is None]


def _local_audio(catalog: Catalog) -> dict[str, Rendition]:
    return {r.key: r for r in catalog.renditions()}


def referenced_keys(cfg: Config, catalog: Catalog, build: list[Put], when: dt.datetime | None = None) -> set[str]:
    """The audio keys (``audio/<profile>/<sha256>.<ext>``) that the staged manifests and
    schedules of ``build``, the schedules the broadcast feeds draw on at ``when``
    (default now; see :func:`~pipeline.publish.feedset.feed_day_files`) and the lesson
    feeds refer to."""
    when = when or dt.datetime.now(dt.timezone.utc)
    keys: set[str] = set()
    for obj in build:
        if obj.path is not None and layout.MANIFEST_KEY.match(obj.key):
            keys.update(i.key for i in read_staged(layout.read_manifest, obj.path).items if i.key)
    schedules = [obj.path for obj in build if obj.path is not None and layout.SCHEDULE_KEY.match(obj.key)]
    aired: set[str] = set()
    for path in dict.fromkeys(schedules + feed_day_files(cfg, when)):
        aired |= schedule_keys(read_staged(layout.read_schedule, path))
    keys.update(aired)
    keys.update(item.key for _, item in lesson_feed_sources(cfg, catalog))
    keys.update(podcast_keys(cfg, catalog, aired))  # the broadcast feeds' MP3 enclosures (issue 13)
    return keys


def schedule_keys(day: BroadcastDay) -> set[str]:
    """Every audio key a broadcast day refers to: its items' and its whole-slot files'."""
    return {a.key for s in day.slots for a in s.items if a.key} | {s.key for s in day.slots if s.key}


def referenced_audio(cfg: Config, catalog: Catalog, build: list[Put]) -> list[Put]:
    """The renditions that manifests, schedules and feeds refer to (:func:`referenced_keys`).

    Raises:
        DangkeError: a referenced key has no file in the library (run ``dangke encode``).
    """
    local = _local_audio(catalog)
    keys = referenced_keys(cfg, catalog, build)
    out = []
    for key in sorted(keys):
        r = local.get(key)
        path = cfg.library / r.path if r is not None else None
        if r is None or path is None or not path.is_file():
            raise DangkeError(f"{key} is referenced but not in the library", path=cfg.library,
                              fix="run `dangke encode` (or `dangke run`) before publishing")
        if path.stat().st_size != r.bytes:
            raise DangkeError(f"{key}: the library file has {path.stat().st_size} bytes, the catalog "
                              f"{r.bytes}", path=path, fix="restore the library from a backup")
        # the catalog's sha256 (taken when it was encoded) travels with the upload: a file
        # that changed since is rejected by the store instead of being published
        out.append(Put(key=key, sha256=r.sha256, size=r.bytes,
                       content_type=CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream"),
                       cache_control=IMMUTABLE, path=path))
    return out


def index_object(number: int, when: dt.datetime, objects: list[Put]) -> Put:
    """``index.json`` of generation ``number`` published at ``when`` listing ``objects``
    (:func:`pipeline.layout.index`)."""
    files = {o.key: layout.IndexEntry(o.sha256, o.size) for o in sorted(objects, key=lambda o: o.key)}
    return _put_bytes("index.json", layout.index(number, when.isoformat(), files), NO_CACHE)
