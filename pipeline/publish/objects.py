"""What one generation consists of: the staging tree, the audio it refers to, the feeds
and the index. Each object is a :class:`~pipeline.publish.store.Put` with its sha256,
size, Content-Type and Cache-Control."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from ..catalog import Catalog
from ..config import Config
from ..errors import DangkeError
from ..fsutil import sha256_file
from ..layout import url
from ..models import Quarter, Rendition
from ..vocab import DIALECT_NAMES_ZH
from .feeds import FeedInfo, FeedItem, build_feed
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


def _staged(cfg: Config) -> list[tuple[str, Path]]:
    """``(key, path)`` of every staged file under devices/ and broadcast/, sorted by key."""
    build = str(cfg.build)
    out = []
    for top in ("devices", "broadcast"):
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
    """Every file of the staging tree (devices/, broadcast/) of the newest
    ``[publish] keep_quarters`` quarters, sorted by key."""
    staged = _staged(cfg)
    keep = kept_quarters([k for k, _ in staged], cfg.publish.keep_quarters)
    return [_put_file(k, p, SHORT) for k, p in staged if quarter_of(k) in keep or quarter_of(k) is None]


def _local_audio(catalog: Catalog) -> dict[str, Rendition]:
    return {r.key: r for r in catalog.renditions()}


def referenced_audio(cfg: Config, catalog: Catalog, build: list[Put]) -> list[Put]:
    """The renditions that manifests, schedules and lesson feeds refer to.

    Raises:
        DangkeError: a referenced key has no file in the library (run ``dangke encode``).
    """
    local = _local_audio(catalog)
    keys: set[str] = set()
    documents = [obj.path for obj in build if obj.key.endswith(".json") and obj.path is not None]
    # every staged schedule, kept or not: the broadcast feeds are built from all of them
    documents += [p for k, p in _staged(cfg) if k.startswith("broadcast/") and k.endswith(".json")]
    for path in dict.fromkeys(documents):
        doc = json.loads(path.read_text(encoding="utf-8"))
        keys.update(i["key"] for i in doc.get("items", []) if i.get("key"))
        keys.update(i["key"] for s in doc.get("slots", []) for i in s.get("items", []) if i.get("key"))
    keys.update(item.key for _, item in _lesson_feed_sources(cfg, catalog))
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


def _lesson_feed_sources(cfg: Config, catalog: Catalog):
    from ..encode import current_rendition
    for lesson in catalog.lessons():
        r = current_rendition(cfg, catalog, lesson.source_sha256, cfg.feeds.lesson_profile)
        if r is not None:
            yield lesson, r


@dataclass(frozen=True)
class FeedSet:
    """The feed objects of a generation and the guids of their items."""

    objects: list[Put]
    guids: list[str]


def _when(known: dict[str, str], guid: str, default: dt.datetime) -> dt.datetime:
    return dt.datetime.fromisoformat(known[guid]) if guid in known else default


def feed_objects(cfg: Config, catalog: Catalog, when: dt.datetime, peek: bool = False) -> FeedSet | None:
    """Lesson feeds per dialect and broadcast feeds per channel, built at ``when``.

    With ``peek``, returns None when some item was never published (so the feeds have
    changed) and records nothing.
    """
    base = cfg.station.base_url
    lessons = list(_lesson_feed_sources(cfg, catalog))
    airings = list(_airings(cfg, {r.key: r.bytes for r in catalog.renditions()}))
    guids = [f"dangke-lesson:{l.lesson_id}:v{l.version}" for l, _ in lessons] + [a[1] for a in airings]
    known = catalog.first_published(guids)
    if peek and len(known) < len(guids):
        return None
    objects = []
    author = cfg.feeds.author or cfg.station.name
    for dialect in sorted({l.dialect for l, _ in lessons}):
        items = []
        for lesson, r in lessons:
            if lesson.dialect != dialect:
                continue
            guid = f"dangke-lesson:{lesson.lesson_id}:v{lesson.version}"
            items.append(FeedItem(guid=guid, title=lesson.title, description=lesson.description or lesson.title,
                                  url=url(base, r.key), length=r.bytes,
                                  mime_type=cfg.profiles[r.profile].mime_type,
                                  pub_date=_when(known, guid, when), duration_s=r.duration_s,
                                  author=lesson.speaker))
        items.sort(key=lambda i: (-i.pub_date.timestamp(), i.guid))
        key = f"feeds/lessons-{dialect}.xml"
        info = FeedInfo(title=f"{cfg.station.name} · {DIALECT_NAMES_ZH.get(dialect, dialect)}",
                        description=f"{cfg.station.name}: 黨課 ({dialect})", link=base,
                        feed_url=url(base, key), language=f"zh-{dialect}", author=author,
                        built_at=when, owner_email=cfg.feeds.owner_email, medium="podcast")
        objects.append(_put_bytes(key, build_feed(info, items), SHORT))
    for name in sorted(cfg.channels):
        channel = cfg.channels[name]
        items = [FeedItem(guid=guid, title=title, description=title, url=url(base, key_), length=size,
                          mime_type=cfg.profiles[channel.profile].mime_type,
                          pub_date=_when(known, guid, when), duration_s=dur, air_start=start,
                          air_end=start + dt.timedelta(seconds=dur))
                 for ch, guid, title, key_, size, dur, start in airings if ch == name]
        key = f"feeds/broadcast-{name}.xml"
        info = FeedInfo(title=channel.title or name, description=f"{cfg.station.name}: {channel.title or name}",
                        link=base, feed_url=url(base, key), language="zh", author=author, built_at=when,
                        owner_email=cfg.feeds.owner_email, medium="podcast")
        objects.append(_put_bytes(key, build_feed(info, items), SHORT))
    return FeedSet(objects, guids)


def _airings(cfg: Config, sizes: dict[str, int]):
    """``(channel, guid, title, key, bytes, duration_s, start)`` of every staged airing.

    Raises:
        DangkeError: a scheduled key has no rendition in the catalog.
    """
    root = cfg.build / "broadcast"
    if not root.is_dir():
        return
    for day_file in sorted(root.glob("*/*.json")):
        doc = json.loads(day_file.read_text(encoding="utf-8"))
        channel = doc["channel"]
        for slot in doc["slots"]:
            for item in slot["items"]:
                if not item.get("key"):
                    continue
                if item["key"] not in sizes:
                    raise DangkeError(f"{item['key']} is scheduled but not in the library", path=day_file,
                                      fix="run `dangke schedule` again")
                start = dt.datetime.fromisoformat(item["start"])
                guid = f"dangke-airing:{channel}:{item['start']}:{item['sha256'][:16]}"
                yield (channel, guid, f"{start.strftime('%m-%d %H:%M')} {item['title']}", item["key"],
                       sizes[item["key"]], float(item["duration_s"]), start)


def index_object(number: int, when: dt.datetime, objects: list[Put]) -> Put:
    """``index.json``: ``{"generation", "published_at", "files": {key: {"sha256", "bytes"}}}``."""
    body = {"generation": number, "published_at": when.isoformat(),
            "files": {o.key: {"sha256": o.sha256, "bytes": o.size} for o in sorted(objects, key=lambda o: o.key)}}
    return _put_bytes("index.json", (json.dumps(body, ensure_ascii=False, indent=2) + "\n").encode("utf-8"),
                      NO_CACHE)
