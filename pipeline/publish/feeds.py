"""RSS 2.0 feeds made with feedgen (the one module that imports it).

``feeds/lessons-<dialect>.xml``: a podcast feed of a dialect's lessons (iTunes tags,
``podcast:guid``). ``feeds/broadcast-<channel>.xml``: every airing of the published days
as an item whose enclosure can be fetched in advance and which carries its air start
and end (``dangke:airStart`` / ``dangke:airEnd``, ISO 8601 with offset).

Podcasting 2.0 elements come from a small feedgen extension (``register_extension``),
not from editing XML afterwards. Text is stripped of characters XML cannot carry (BR-23)
before it reaches feedgen. ``lastBuildDate`` is pinned to the generation time and items
are appended in order, so the same inputs give the same bytes.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from urllib.parse import urlparse

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator
from lxml import etree

from ..layout import clean_text

PODCAST_NS = "https://podcastindex.org/namespace/1.0"
DANGKE_NS = "https://dangke.org/ns/broadcast/1.0"
PODCAST_GUID_NAMESPACE = uuid.UUID("ead4c236-bf58-58c6-a2c6-a6b28d128cb6")


def podcast_guid(feed_url: str) -> str:
    """The Podcasting 2.0 ``podcast:guid``: UUIDv5 of the feed URL without scheme and
    trailing slashes (podcast-namespace docs/tags/guid.md)."""
    parsed = urlparse(feed_url)
    return str(uuid.uuid5(PODCAST_GUID_NAMESPACE, (parsed.netloc + parsed.path).rstrip("/")))


class _Podcast20(BaseExtension):
    def __init__(self) -> None:
        self.guid: str | None = None
        self.medium: str | None = None

    def extend_ns(self) -> dict[str, str]:
        return {"podcast": PODCAST_NS, "dangke": DANGKE_NS}

    def extend_rss(self, rss):
        channel = rss[0]
        if self.guid:
            etree.SubElement(channel, f"{{{PODCAST_NS}}}guid").text = self.guid
        if self.medium:
            etree.SubElement(channel, f"{{{PODCAST_NS}}}medium").text = self.medium
        return rss

    def extend_atom(self, feed):
        return feed


class _Podcast20Entry(BaseEntryExtension):
    def __init__(self) -> None:
        self.air: tuple[str, str] | None = None

    def extend_rss(self, item):
        if self.air:
            etree.SubElement(item, f"{{{DANGKE_NS}}}airStart").text = self.air[0]
            etree.SubElement(item, f"{{{DANGKE_NS}}}airEnd").text = self.air[1]
        return item

    def extend_atom(self, entry):
        return entry


@dataclass(frozen=True)
class FeedItem:
    """One feed item. ``pub_date`` is when it was first published (aware), ``length`` the
    enclosure's final size in bytes, ``url`` already absolute and percent-encoded."""

    guid: str
    title: str
    description: str
    url: str
    length: int
    mime_type: str
    pub_date: dt.datetime
    duration_s: float
    author: str = ""
    air_start: dt.datetime | None = None
    air_end: dt.datetime | None = None


@dataclass(frozen=True)
class FeedInfo:
    """Channel-level fields: ``language`` is a BCP 47 tag such as ``zh-cdo``."""

    title: str
    description: str
    link: str
    feed_url: str
    language: str
    author: str
    built_at: dt.datetime
    owner_email: str = ""
    medium: str = "podcast"


def _generator(info: FeedInfo) -> FeedGenerator:
    fg = FeedGenerator()
    fg.load_extension("podcast")
    fg.register_extension("podcast20", _Podcast20, _Podcast20Entry)
    fg.title(clean_text(info.title))
    fg.description(clean_text(info.description) or clean_text(info.title))
    fg.link(href=info.link, rel="alternate")
    fg.link(href=info.feed_url, rel="self")
    fg.language(info.language)
    fg.lastBuildDate(info.built_at)
    fg.generator("dangke")
    fg.podcast.itunes_author(clean_text(info.author) or clean_text(info.title))
    fg.podcast.itunes_explicit("no")
    fg.podcast.itunes_category("Education")
    if info.owner_email:
        fg.podcast.itunes_owner(name=clean_text(info.author) or "dangke", email=info.owner_email)
    fg.podcast20.guid = podcast_guid(info.feed_url)
    fg.podcast20.medium = info.medium
    return fg


def _duration(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600:d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def build_feed(info: FeedInfo, items: list[FeedItem]) -> bytes:
    """The RSS 2.0 document for ``info`` with ``items`` in the given order."""
    fg = _generator(info)
    for it in items:
        fe = fg.add_entry(order="append")
        fe.guid(it.guid, permalink=False)
        fe.title(clean_text(it.title))
        fe.description(clean_text(it.description) or clean_text(it.title))
        fe.enclosure(it.url, str(it.length), it.mime_type)
        fe.pubDate(it.pub_date)
        fe.podcast.itunes_duration(_duration(it.duration_s))
        if it.author:
            fe.podcast.itunes_author(clean_text(it.author))
        if it.air_start and it.air_end:
            fe.podcast20.air = (it.air_start.isoformat(), it.air_end.isoformat())
    return fg.rss_str(pretty=True, encoding="UTF-8", xml_declaration=True)
