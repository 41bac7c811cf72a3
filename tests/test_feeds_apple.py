"""The feeds against Apple Podcasts' documented requirements and the Podcast Index
namespace (issue 13), read back by feedparser and podcastparser.

Apple Podcasts ("Podcast RSS feed requirements", podcasters.apple.com/support/823):
channel ``<title>``, ``<description>``, ``<itunes:image>`` (a .jpg/.png URL),
``<language>`` (a code of the RSS language list: ISO 639-1, optionally with a region;
``zh-cmn`` is not one), ``<itunes:category>`` of Apple's list, ``<itunes:explicit>``
true/false, and ``<itunes:owner>`` with ``<itunes:email>`` for ownership checks; every
episode a ``<title>``, an ``<enclosure>`` with ``url``, ``length`` and a ``type`` of
audio/x-m4a, audio/mpeg, video/quicktime, video/mp4, video/x-m4v or application/pdf
(``audio/wav`` is refused), and a ``<guid>``. Podcast Index: ``podcast:locked`` yes/no,
``podcast:guid`` a UUID, each ``podcast:alternateEnclosure`` with ``type``, ``length``
and a ``podcast:source uri``.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import uuid
from pathlib import Path

import feedparser
import podcastparser
import pytest
from lxml import etree

from pipeline.errors import ConfigError
from pipeline.config import load_config
from pipeline.publish.feeds import FeedInfo, FeedItem, build_feed
from tests.conftest import make_station

NS = {"itunes": "http://www.itunes.com/dtds/podcast-1.0.dtd", "podcast": "https://podcastindex.org/namespace/1.0"}
APPLE_TYPES = {"audio/x-m4a", "audio/mpeg", "video/quicktime", "video/mp4", "video/x-m4v", "application/pdf"}
#: Apple's categories this station may use (the full list has more; these are the ones checked)
APPLE_CATEGORIES = {("Education", "Courses"), ("Education", "How To"), ("Education", "Language Learning"),
                    ("Education", "Self-Improvement"), ("Education", ""), ("Government", ""),
                    ("News", "Politics"), ("Society & Culture", "")}
#: the RSS language codes (rssboard.org/rss-language-codes) Apple Podcasts takes, Chinese ones
LANGUAGE = re.compile(r"^(zh-cn|zh-tw|[a-z]{2}(-[a-z]{2})?)$")


def apple_problems(data: bytes) -> list[str]:
    """What Apple Podcasts' feed requirements and the Podcast Index namespace find wrong."""
    root = etree.fromstring(data)
    ch = root.find("channel")
    out = []
    def text(el, path):
        node = el.find(path, NS)
        return (node.text or "").strip() if node is not None else ""
    for tag in ("title", "description", "link"):
        if not text(ch, tag):
            out.append(f"channel <{tag}> missing")
    lang = text(ch, "language")
    if not LANGUAGE.match(lang) or lang.split("-")[0] in ("cmn", "cdo", "nan") or len(lang.split("-")[-1]) == 3:
        out.append(f"<language>{lang}</language> is not on Apple's list")
    image = ch.find("itunes:image", NS)
    if image is None or not re.search(r"\.(jpg|png)$", image.get("href", "")):
        out.append("<itunes:image> missing or not .jpg/.png")
    cat = ch.find("itunes:category", NS)
    sub = cat.find("itunes:category", NS) if cat is not None else None
    if cat is None or (cat.get("text"), sub.get("text") if sub is not None else "") not in APPLE_CATEGORIES:
        out.append("<itunes:category> missing or not Apple's")
    if text(ch, "itunes:explicit") not in ("true", "false"):
        out.append("<itunes:explicit> is not true/false")
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", text(ch, "itunes:owner/itunes:email")):
        out.append("<itunes:owner> with <itunes:email> missing")
    locked = ch.find("podcast:locked", NS)
    if locked is None or locked.text not in ("yes", "no"):
        out.append("<podcast:locked> missing")
    try:
        uuid.UUID(text(ch, "podcast:guid"))
    except ValueError:
        out.append("<podcast:guid> is not a UUID")
    for item in ch.findall("item"):
        guid = text(item, "guid")
        if not guid or not text(item, "title"):
            out.append(f"item {guid or '?'} without guid or title")
        enc = item.find("enclosure")
        if enc is None or not enc.get("url", "").startswith(("http://", "https://")) \
                or not enc.get("length", "0").isdigit() or int(enc.get("length", "0")) <= 0:
            out.append(f"item {guid}: enclosure without url or length")
        elif enc.get("type") not in APPLE_TYPES:
            out.append(f"item {guid}: enclosure type {enc.get('type')} is not one Apple accepts")
        for alt in item.findall("podcast:alternateEnclosure", NS):
            source = alt.find("podcast:source", NS)
            if not alt.get("type") or not alt.get("length", "").isdigit() or source is None or not source.get("uri"):
                out.append(f"item {guid}: podcast:alternateEnclosure without type, length or source")
    return out


def _feeds(publish_template: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((publish_template / "public" / "feeds").glob("*.xml"))}


def test_every_published_feed_meets_apples_rules_and_both_parsers_read_it(publish_template):
    feeds = _feeds(publish_template)
    assert {"broadcast-county-fm.xml", "broadcast-village-speakers.xml", "lessons-cmn.xml"} <= set(feeds)
    for name, data in feeds.items():
        assert apple_problems(data) == [], name
        parsed = feedparser.parse(data)
        assert not parsed.bozo, (name, parsed.get("bozo_exception"))
        assert parsed.feed.language == "zh-cn"
        pod = podcastparser.parse("https://media.example.org/dangke/feeds/" + name, io.BytesIO(data))
        assert pod["episodes"], name
        for ep in pod["episodes"]:
            (enc,) = ep["enclosures"]
            assert enc["mime_type"] in APPLE_TYPES and enc["file_size"] > 0
    lessons = etree.fromstring(feeds["lessons-cmn.xml"]).find("channel")
    assert [t.text for t in lessons.findall("podcast:txt[@purpose='dialect']", NS)] == ["cmn"]


def test_broadcast_feed_enclosures_are_mp3_with_the_wav_as_alternate_and_same_identity(publish_template):
    root = publish_template / "public"
    data = (root / "feeds" / "broadcast-county-fm.xml").read_bytes()
    items = etree.fromstring(data).find("channel").findall("item")
    assert items
    for item in items:
        enc = item.find("enclosure")
        assert enc.get("type") == "audio/mpeg"
        key = enc.get("url").split("/dangke/", 1)[1]
        assert key.startswith("audio/player/") and (root / key).stat().st_size == int(enc.get("length"))
        (alt,) = item.findall("podcast:alternateEnclosure", NS)
        wav = alt.find("podcast:source", NS).get("uri").split("/dangke/", 1)[1]
        assert alt.get("type") == "audio/wav" and (root / wav).stat().st_size == int(alt.get("length"))
        guid = item.findtext("guid")
        if guid.startswith("dangke-airing:") or guid.startswith("dangke-slot:"):
            assert guid.split(":")[-1] == wav.split("/")[-1][:16]  # identity is still the aired file's


def test_the_feed_that_showed_the_bug_is_caught_by_the_checker():
    """The inputs before issue 13: zh-cmn, no owner, WAV enclosures, no podcast:locked."""
    when = dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)
    info = FeedInfo(title="t", description="d", link="https://x.example/", feed_url="https://x.example/f.xml",
                    language="zh-cmn", author="a", built_at=when, image_url="https://x.example/a.png")
    item = FeedItem(guid="g", title="t", description="d", url="https://x.example/a.wav", length=10,
                    mime_type="audio/wav", pub_date=when, duration_s=1.0)
    problems = apple_problems(build_feed(info, [item]))
    assert any("language" in p for p in problems)
    assert any("itunes:owner" in p for p in problems)
    assert any("audio/wav" in p for p in problems)
    assert any("podcast:locked" in p for p in problems)


@pytest.mark.parametrize("value", ["zh-cmn", "zh-cdo", "cmn", "ZH-CN"])
def test_a_language_apple_does_not_accept_is_a_configuration_error(tmp_path, value):
    cfg = make_station(tmp_path / "station")
    text = cfg.read_text(encoding="utf-8").replace('language = "zh-cn"', f'language = "{value}"')
    cfg.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="Apple Podcasts"):
        load_config(cfg)
