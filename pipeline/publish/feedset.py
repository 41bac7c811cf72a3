"""The feeds of a generation: ``feeds/lessons-<dialect>.xml`` from the catalog,
``feeds/broadcast-<channel>.xml`` from the staged schedules, and the feed artwork.

Item identity never changes when feeds are regenerated: a lesson's guid is
``dangke-lesson:<lesson_id>`` (a new version of a lesson is the same episode with new
audio), an airing's is :func:`~pipeline.layout.airing_guid` (channel, air start, audio),
a whole slot's ``dangke-slot:<channel>:<start>:<sha256 prefix>``. ``pubDate`` is the
time the guid was first published (catalog ``feed_items``), never an air time.
Enclosure URLs are ``base_url`` + key, percent-encoded; lengths are the sizes of the
files as they are now in the library (after tagging, BR-27). An airing in a type podcast
apps refuse (the county station's WAV) encloses its podcast version
(:mod:`pipeline.feedaudio`, ``[feeds] broadcast_profile``) and keeps the aired file as
``podcast:alternateEnclosure``; its guid still names the aired file.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator

from ..catalog import Catalog
from ..config import Config
from ..errors import DangkeError
from ..fsutil import sha256_file
from ..layout import airing_guid, read_schedule, url
from ..models import Lesson, Rendition
from ..staged import read_staged
from ..vocab import CATEGORY_NAMES_ZH, DIALECT_NAMES_ZH
from .feeds import Alternate, FeedInfo, FeedItem, build_feed
from .store import Put

FEED_CACHE = "public, max-age=300"
IMMUTABLE = "public, max-age=31536000, immutable"
RSS_TYPE = "application/rss+xml; charset=utf-8"
IMAGE_TYPES = {".png": ("png", "image/png"), ".jpg": ("jpg", "image/jpeg"), ".jpeg": ("jpg", "image/jpeg")}
KIND_TITLES = {"slot": "整段 whole slot", "broadcast": "播出檔 broadcast WAV"}


@dataclass(frozen=True)
class FeedSet:
    """The feed objects of a generation (artwork first, then feeds) and the guids of
    their items."""

    objects: list[Put]
    guids: list[str]


def lesson_feed_sources(cfg: Config, catalog: Catalog) -> Iterator[tuple[Lesson, Rendition]]:
    """Current lessons with a rendition in ``[feeds] lesson_profile``, by lesson id."""
    from ..encode import current_rendition
    for lesson in catalog.lessons():
        r = current_rendition(cfg, catalog, lesson.source_sha256, cfg.feeds.lesson_profile)
        if r is not None:
            yield lesson, r


def _first(known: dict[str, str], guid: str, default: dt.datetime) -> dt.datetime:
    """When ``guid`` was first published; a time stored without offset is UTC (BR-27)."""
    if guid not in known:
        return default
    when = dt.datetime.fromisoformat(known[guid])
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.timezone.utc)


def _artwork(cfg: Config) -> Put | None:
    """The artwork object ``images/<sha256>.<png|jpg>`` (a new name when the art changes).

    Raises:
        DangkeError: the configured file is missing.
    """
    if not cfg.feeds.artwork:
        return None
    path = cfg.resolve(cfg.feeds.artwork)
    if not path.is_file():
        raise DangkeError("feed artwork not found", path=path, fix="set [feeds] artwork to a .png or .jpg, or \"\"")
    ext, mime = IMAGE_TYPES[path.suffix.lower()]
    sha = sha256_file(path)
    return Put(key=f"images/{sha}.{ext}", sha256=sha, size=path.stat().st_size, content_type=mime,
               cache_control=IMMUTABLE, path=path)


def _feed(key: str, data: bytes) -> Put:
    return Put(key=key, sha256=hashlib.sha256(data).hexdigest(), size=len(data), content_type=RSS_TYPE,
               cache_control=FEED_CACHE, data=data)


def _size(local: dict[str, Path], key: str, where: object) -> int:
    path = local.get(key)
    if path is None or not path.is_file():
        raise DangkeError(f"{key} is in a feed but not in the library", path=where,
                          fix="run `dangke encode` and `dangke schedule` again")
    return path.stat().st_size


def feed_objects(cfg: Config, catalog: Catalog, when: dt.datetime, peek: bool = False) -> FeedSet | None:
    """Lesson feeds per dialect and broadcast feeds per channel, built at ``when`` (aware).
    The broadcast feeds list every staged airing, or with ``[feeds] broadcast_days`` above
    0 only those of the last that many days before ``when`` and every later one.

    With ``peek``, returns None when some item was never published (so the feeds have
    changed) and records nothing.

    Raises:
        DangkeError: a file a feed refers to is missing, or the artwork is.
    """
    base = cfg.station.base_url
    local = {r.key: cfg.library / r.path for r in catalog.renditions()}
    lessons = list(lesson_feed_sources(cfg, catalog))
    versions = _podcast_versions(cfg, catalog)
    airings = _recent(_airings(cfg, local, versions, when), when, cfg.feeds.broadcast_days)
    guids = [f"dangke-lesson:{lesson.lesson_id}" for lesson, _ in lessons] + [a.guid for _, a in airings]
    known = catalog.first_published(guids)
    if peek and len(known) < len(guids):
        return None
    art = _artwork(cfg)
    image_url = url(base, art.key) if art else ""
    author = cfg.feeds.author or cfg.station.name
    objects = [art] if art else []
    for dialect in sorted({lesson.dialect for lesson, _ in lessons}):
        items = [_lesson_item(cfg, local, lesson, r, _first(known, f"dangke-lesson:{lesson.lesson_id}", when))
                 for lesson, r in lessons if lesson.dialect == dialect]
        items.sort(key=lambda i: (-i.pub_date.timestamp(), i.guid))
        key = f"feeds/lessons-{dialect}.xml"
        info = FeedInfo(title=f"{cfg.station.name} · {DIALECT_NAMES_ZH.get(dialect, dialect)}",
                        description=f"{cfg.station.name}：{DIALECT_NAMES_ZH.get(dialect, dialect)}黨課 "
                                    f"(lessons in {dialect})",
                        link=url(base, ""), feed_url=url(base, key), language=cfg.feeds.language, author=author,
                        built_at=when, owner_email=cfg.feeds.owner_email, medium="course", image_url=image_url,
                        dialects=(dialect,), locked=cfg.feeds.locked)
        objects.append(_feed(key, build_feed(info, items)))
    for name in sorted(cfg.channels):
        channel = cfg.channels[name]
        items = [_with_date(a, _first(known, a.guid, when)) for ch, a in airings if ch == name]
        key = f"feeds/broadcast-{name}.xml"
        info = FeedInfo(title=channel.title or name,
                        description=f"{cfg.station.name}：{channel.title or name}（每日節目表 daily schedule）",
                        link=url(base, ""), feed_url=url(base, key), language=cfg.feeds.language, author=author,
                        built_at=when, owner_email=cfg.feeds.owner_email, medium="podcast", image_url=image_url,
                        dialects=_channel_dialects(channel), locked=cfg.feeds.locked)
        objects.append(_feed(key, build_feed(info, items)))
    return FeedSet(objects, guids)


def _lesson_item(cfg: Config, local: dict[str, Path], lesson: Lesson, r: Rendition,
                 first: dt.datetime) -> FeedItem:
    label = CATEGORY_NAMES_ZH.get(lesson.category, lesson.category)
    about = "｜".join(x for x in (label, lesson.speaker, lesson.series) if x)
    return FeedItem(guid=f"dangke-lesson:{lesson.lesson_id}", title=lesson.title,
                    description=f"{about}\n{lesson.description}".strip() if lesson.description else about,
                    url=url(cfg.station.base_url, r.key), length=_size(local, r.key, cfg.library),
                    mime_type=cfg.profiles[r.profile].mime_type, pub_date=first, duration_s=r.duration_s,
                    author=lesson.speaker, category=lesson.category, episode=lesson.episode)


def _channel_dialects(channel) -> tuple[str, ...]:
    """The ISO 639-3 codes the channel's slots air (empty: any)."""
    return tuple(sorted({d for s in list(channel.slots) + [s for c in channel.clocks for s in c.slots]
                         for d in s.dialects}))


def _podcast_versions(cfg: Config, catalog: Catalog) -> dict[str, Rendition]:
    """``{aired key: its rendition in [feeds] broadcast_profile}`` for every broadcast
    rendition that has one (:mod:`pipeline.feedaudio`)."""
    from ..feedaudio import podcast_version
    if not cfg.feeds.broadcast_profile:
        return {}
    out = {}
    for r in catalog.renditions():
        if r.profile in {c.profile for c in cfg.channels.values()}:
            v = podcast_version(cfg, catalog, r)
            if v is not None:
                out[r.key] = v
    return out


def _enclosure(cfg: Config, local: dict[str, Path], versions: dict[str, Rendition], key: str, mime: str,
               where: object) -> tuple[str, int, str, tuple[Alternate, ...]]:
    """URL, length and type of an airing's enclosure (its podcast version when there is
    one) and the channel's own file as the alternate enclosure."""
    own = (url(cfg.station.base_url, key), _size(local, key, where), mime)
    v = versions.get(key)
    if v is None:
        return own + ((),)
    alt = Alternate(own[0], own[1], own[2], KIND_TITLES["broadcast"])
    return (url(cfg.station.base_url, v.key), _size(local, v.key, where), cfg.profiles[v.profile].mime_type, (alt,))


def _with_date(item: FeedItem, first: dt.datetime) -> FeedItem:
    return replace(item, pub_date=first)


def _recent(airings: list[tuple[str, FeedItem]], when: dt.datetime, days: int) -> list[tuple[str, FeedItem]]:
    """The airings that end at most ``days`` days before ``when`` or later (all for 0):
    a broadcast feed lists what is coming and the recent past, not every day since the
    station began (podcast hosts cap feeds the same way)."""
    if days <= 0:
        return airings
    since = when - dt.timedelta(days=days)
    return [(ch, a) for ch, a in airings if a.air_end is None or a.air_end >= since]


def feed_day_files(cfg: Config, when: dt.datetime) -> list[Path]:
    """The staged schedules (``broadcast/<channel>/<date>.json``) the broadcast feeds
    built at ``when`` (aware) draw on: every one with ``[feeds] broadcast_days`` 0, else
    those of the days from ``broadcast_days`` + 1 days before ``when`` on (a day's
    airings may end after midnight). Older days' audio is then needed only while a kept
    quarter publishes their schedule (see :mod:`pipeline.retention`)."""
    root = cfg.build / "broadcast"
    if not root.is_dir():
        return []
    files = sorted(root.glob("*/????-??-??.json"))
    if cfg.feeds.broadcast_days <= 0:
        return files
    since = (when.astimezone(cfg.tz) - dt.timedelta(days=cfg.feeds.broadcast_days + 1)).date()
    out = []
    for f in files:
        try:
            if dt.date.fromisoformat(f.stem) >= since:
                out.append(f)
        except ValueError:
            continue
    return out


def _airings(cfg: Config, local: dict[str, Path], versions: dict[str, Rendition],
             when: dt.datetime) -> list[tuple[str, FeedItem]]:
    """``(channel, item)`` for every airing and whole-slot file of the staged schedules
    the feeds draw on (:func:`feed_day_files`), in air order (``pub_date`` still to be set);
    ``versions``: the podcast versions (MP3) of renditions podcast apps refuse.

    Raises:
        DangkeError: a scheduled key has no file in the library.
    """
    out: list[tuple[str, FeedItem]] = []
    for day_file in feed_day_files(cfg, when):
        day = read_staged(read_schedule, day_file)
        name = day.channel
        channel = cfg.channels.get(name)
        if channel is None:
            continue
        title = channel.title or name
        mime = cfg.profiles[channel.profile].mime_type
        for slot in day.slots:
            start, end = slot.start, slot.end
            if slot.key:
                name_ = slot.title or title
                href, length, kind_type, alts = _enclosure(cfg, local, versions, slot.key, mime, day_file)
                out.append((name, FeedItem(
                    guid=f"dangke-slot:{name}:{start.isoformat()}:{(slot.sha256 or '')[:16]}",
                    title=f"{start:%Y-%m-%d %H:%M} {name_}（{KIND_TITLES['slot']}）",
                    description=f"{title}：{start:%Y-%m-%d %H:%M}–{end:%H:%M} 整段節目，"
                                f"{len(slot.items)} 項 (the whole slot in one file)",
                    url=href, length=length, mime_type=kind_type, pub_date=start,
                    duration_s=(end - start).total_seconds(), air_start=start, air_end=end, kind="slot",
                    location=title, alternates=alts)))
            for item in slot.items:
                if not item.key:
                    continue
                at = item.start
                label = CATEGORY_NAMES_ZH.get(item.category or "", "")
                what = " · ".join(x for x in (label, item.lesson_id or item.kind) if x)
                href, length, kind_type, alts = _enclosure(cfg, local, versions, item.key, mime, day_file)
                out.append((name, FeedItem(
                    guid=airing_guid(name, at.isoformat(), item.sha256),
                    title=f"{at:%Y-%m-%d %H:%M:%S} {item.title}",
                    description=f"{title}：{what}", url=href, length=length, mime_type=kind_type, pub_date=at,
                    duration_s=float(item.duration_s), air_start=at,
                    air_end=at + dt.timedelta(seconds=float(item.duration_s)), kind=item.kind,
                    category=item.category or "", location=title, alternates=alts)))
    return out
