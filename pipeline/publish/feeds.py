"""RSS 2.0 feeds made with feedgen (the one module that imports it).

``feeds/lessons-<dialect>.xml`` is a podcast feed (Apple's iTunes tags, Podcasting 2.0
``podcast:guid`` and ``podcast:medium``). ``feeds/broadcast-<channel>.xml`` lists every
airing of the scheduled days as an ``<item>`` whose enclosure can be fetched in advance
and which carries its air start and end in the RSS 1.0 Event module (``ev:startdate``,
``ev:enddate``, ``ev:type``, ``ev:location``, W3C-DTF times with offset), a standard
module that feedparser exposes (``ev_startdate``) and that other readers skip safely.

Why not ``podcast:liveItem``: feedparser 6.0 does not know it and merges the liveItem's
``<guid>`` into the channel's id and its ``<enclosure>`` into the channel's links (a
mis-parse, checked in the tests); podcastparser ignores it. The contract allows it
beside the items, not instead of them, so it is left out.

Traps handled (standards.md §0 items 8-10, §4, §5): feedgen drops an ``itunes:image``
whose URL does not end in ``.jpg``/``.png`` without a word, so artwork keys end in one of
them and :func:`build_feed` raises if the tag is missing from the output; feedgen only
writes ``itunes:explicit`` as yes/no/clean while Apple asks for true/false, so our
extension writes it; Podcasting 2.0 tags use the canonical namespace URI (podcastparser
0.6 reads ``podcast:`` tags only under the old GitHub URI, and none of the fields it
needs are there); ``<language>`` is a code of Apple's list (``zh-cn``: ISO 639-3 codes
such as ``zh-cmn`` are not on it, issue 13) and the dialect is in ``podcast:txt``; ``lastBuildDate`` is pinned and items are appended in
order, so the same inputs give the same bytes; feedgen writes the *last* link given as
the RSS ``<link>``, so the site link goes last. Text is stripped of characters XML
cannot carry (BR-23) before it reaches feedgen; dates must be timezone-aware (BR-27).
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
EVENT_NS = "http://purl.org/rss/1.0/modules/event/"
ITUNES_NS = "http://www.itunes.com/dtds/podcast-1.0.dtd"
PODCAST_GUID_NAMESPACE = uuid.UUID("ead4c236-bf58-58c6-a2c6-a6b28d128cb6")


def podcast_guid(feed_url: str) -> str:
    """The Podcasting 2.0 ``podcast:guid``: UUIDv5 of the feed URL without scheme and
    trailing slashes (podcast-namespace docs/tags/guid.md)."""
    parsed = urlparse(feed_url)
    return str(uuid.uuid5(PODCAST_GUID_NAMESPACE, (parsed.netloc + parsed.path).rstrip("/")))


class _Channel(BaseExtension):
    """Channel tags feedgen lacks: ``podcast:guid``, ``podcast:medium``,
    ``podcast:locked`` (with its owner), ``podcast:txt purpose="dialect"`` (ISO 639-3
    codes: Apple's ``<language>`` list has no dialects), and ``itunes:explicit`` in
    Apple's current true/false form."""

    def __init__(self) -> None:
        self.guid: str | None = None
        self.medium: str | None = None
        self.explicit: str | None = None
        self.locked: tuple[str, str] | None = None
        self.dialects: tuple[str, ...] = ()

    def extend_ns(self) -> dict[str, str]:
        return {"podcast": PODCAST_NS, "ev": EVENT_NS}

    def extend_rss(self, rss):
        channel = rss[0]
        if self.explicit:
            etree.SubElement(channel, f"{{{ITUNES_NS}}}explicit").text = self.explicit
        if self.guid:
            etree.SubElement(channel, f"{{{PODCAST_NS}}}guid").text = self.guid
        if self.medium:
            etree.SubElement(channel, f"{{{PODCAST_NS}}}medium").text = self.medium
        if self.locked:
            value, owner = self.locked
            locked = etree.SubElement(channel, f"{{{PODCAST_NS}}}locked")
            locked.text = value
            if owner:
                locked.set("owner", owner)
        for code in self.dialects:
            txt = etree.SubElement(channel, f"{{{PODCAST_NS}}}txt")
            txt.set("purpose", "dialect")
            txt.text = code
        return rss

    def extend_atom(self, feed):
        return feed


class _Entry(BaseEntryExtension):
    """An airing's time and kind (RSS 1.0 Event module) and the other files of the same
    audio (``podcast:alternateEnclosure`` with its ``podcast:source``)."""

    def __init__(self) -> None:
        self.event: tuple[str, str, str, str] | None = None
        self.alternates: tuple[Alternate, ...] = ()

    def extend_rss(self, item):
        for alt in self.alternates:
            el = etree.SubElement(item, f"{{{PODCAST_NS}}}alternateEnclosure")
            el.set("type", alt.mime_type)
            el.set("length", str(alt.length))
            if alt.title:
                el.set("title", clean_text(alt.title)[:32])
            etree.SubElement(el, f"{{{PODCAST_NS}}}source").set("uri", alt.url)
        if self.event:
            for name, value in zip(("startdate", "enddate", "type", "location"), self.event):
                if value:
                    etree.SubElement(item, f"{{{EVENT_NS}}}{name}").text = value
        return item

    def extend_atom(self, entry):
        return entry


@dataclass(frozen=True)
class Alternate:
    """Another file of an item's audio (``podcast:alternateEnclosure``): absolute URL,
    size in bytes, MIME type, a short title (at most 32 characters are written)."""

    url: str
    length: int
    mime_type: str
    title: str = ""


@dataclass(frozen=True)
class FeedItem:
    """One feed item. ``pub_date`` is when it was first published (aware), ``length`` the
    enclosure's final size in bytes, ``url`` already absolute and percent-encoded.
    ``air_start``/``air_end`` (aware) make it an airing; ``kind`` is ``lesson``,
    ``jingle``, ``filler`` or ``slot``; ``category`` a category code (the RSS
    ``<category>``); ``episode`` the number within its series."""

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
    kind: str = ""
    category: str = ""
    episode: int | None = None
    location: str = ""
    alternates: tuple[Alternate, ...] = ()


@dataclass(frozen=True)
class FeedInfo:
    """Channel-level fields: ``language`` is a code of Apple Podcasts' list (ISO 639-1
    with an optional region, ``zh-cn``); ``dialects`` the ISO 639-3 codes of what is
    spoken (``podcast:txt purpose="dialect"``); ``locked`` writes ``podcast:locked``
    yes (owner ``owner_email``) or no; ``image_url`` must end in ``.jpg`` or ``.png``."""

    title: str
    description: str
    link: str
    feed_url: str
    language: str
    author: str
    built_at: dt.datetime
    owner_email: str = ""
    medium: str = "podcast"
    image_url: str = ""
    itunes_category: tuple[str, str] = ("Education", "Courses")
    dialects: tuple[str, ...] = ()
    locked: bool | None = None


def _aware(when: dt.datetime, what: str) -> dt.datetime:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, not {when.isoformat()}")
    return when


def _generator(info: FeedInfo) -> FeedGenerator:
    fg = FeedGenerator()
    fg.load_extension("podcast")
    fg.register_extension("dangke", _Channel, _Entry)
    title = clean_text(info.title)
    fg.title(title)
    fg.description(clean_text(info.description) or title)
    fg.link(href=info.feed_url, rel="self")
    fg.link(href=info.link, rel="alternate")  # last: feedgen's RSS <link> is the last link given
    fg.language(info.language)
    fg.lastBuildDate(_aware(info.built_at, "the build time"))
    fg.generator("dangke")
    author = clean_text(info.author) or title
    fg.podcast.itunes_author(author)
    fg.podcast.itunes_category(*info.itunes_category)
    fg.podcast.itunes_type("episodic")
    if info.owner_email:
        fg.podcast.itunes_owner(name=author, email=info.owner_email)
    if info.image_url:
        fg.image(url=info.image_url, title=title, link=info.link)
        fg.podcast.itunes_image(info.image_url)
    fg.dangke.explicit = "false"
    fg.dangke.guid = podcast_guid(info.feed_url)
    fg.dangke.medium = info.medium
    fg.dangke.dialects = info.dialects
    if info.locked is not None:
        fg.dangke.locked = ("yes" if info.locked else "no", info.owner_email)
    return fg


def build_feed(info: FeedInfo, items: list[FeedItem]) -> bytes:
    """The RSS 2.0 document for ``info`` with ``items`` in the given order.

    Raises:
        ValueError: a date is not timezone-aware, or feedgen dropped the artwork.
    """
    fg = _generator(info)
    for it in items:
        fe = fg.add_entry(order="append")
        title = clean_text(it.title)
        fe.guid(it.guid, permalink=False)
        fe.title(title)
        fe.description(clean_text(it.description) or title)
        fe.enclosure(it.url, str(it.length), it.mime_type)
        fe.pubDate(_aware(it.pub_date, f"pubDate of {it.guid}"))
        if it.category:
            fe.category(term=it.category)
        fe.podcast.itunes_duration(int(round(it.duration_s)))
        fe.podcast.itunes_episode_type("full")
        if it.episode:
            fe.podcast.itunes_episode(it.episode)
        if it.author:
            fe.podcast.itunes_author(clean_text(it.author))
        fe.dangke.alternates = it.alternates
        if it.air_start and it.air_end:
            fe.dangke.event = (_aware(it.air_start, "air start").isoformat(),
                               _aware(it.air_end, "air end").isoformat(), it.kind, clean_text(it.location))
    data = fg.rss_str(pretty=True, encoding="UTF-8", xml_declaration=True)
    if info.image_url and b"<itunes:image " not in data:
        raise ValueError(f"feedgen dropped <itunes:image> for {info.image_url} (it must end in .jpg or .png)")
    return data
