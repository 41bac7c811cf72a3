"""The broadcast outputs on real recordings (issue 6): assembled slot files measured by
ffprobe, M3U8 and iCalendar files, keeping published days, and both feeds read back by
feedparser and podcastparser and compared field by field with the catalog.

The station is the shipped example with shorter slots, a base URL with CJK and a space
(BR-27) and a lesson whose title carries control characters (BR-23).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import subprocess
import uuid
from pathlib import Path

import feedparser
import icalendar
import podcastparser
import pytest

from pipeline.catalog import Catalog
from pipeline.config import load_config
from pipeline.layout import airing_guid
from pipeline.publish.feedset import _first
from tests.conftest import drop, ffprobe, loudness_lufs, make_station, run_cli, true_peak_dbtp

BASE = "https://media.example.org/黨課 音頻/"
BASE_ENCODED = "https://media.example.org/%E9%BB%A8%E8%AA%B2%20%E9%9F%B3%E9%A0%BB/"
CONTROL_TITLE = "理論\u000b學習\u001b問答\u0008第一\u000c講"
CLEAN_TITLE = "理論學習問答第一講"
DAYS = ("2027-06-30", "2027-07-01", "2027-07-02")
TARGETS = {"broadcast": (-24.0, -2.0), "loudspeaker": (-16.0, -1.5)}


@pytest.fixture(scope="module")
def station(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("broadcast") / "station"
    cfg = make_station(root, {"900": 60, "300": 30, "1200": 90, "600": 45})
    text = cfg.read_text(encoding="utf-8").replace('base_url = "https://media.example.org/dangke/"',
                                                   f'base_url = "{BASE}"')
    cfg.write_text(text, encoding="utf-8")
    inbox = root / "inbox"
    drop(inbox, "zh-cmn_funasr_03_long.wav", "黨性教育_普通話_牢記初心使命_林老師.wav", {"lesson_id": "dj-chuxin-01"})
    drop(inbox, "zh-cmn_funasr_02_asr-example.mp3", "lesson-bad-title.mp3",
         {"title": CONTROL_TITLE, "category": "theory", "dialect": "cmn", "speaker": "陳\u001b老師"})
    drop(inbox, "zh-cmn_paddlespeech_01.wav", "黨性教育_普通話_健康生活_王老師.wav")
    drop(inbox, "zh-cmn_aishell_01.wav", "policy_cmn_housing-notice.wav",
         {"series": "每週政策快報", "episode": 1, "valid_from": "2027-06-01"})
    assert run_cli("--config", cfg, "ingest") == 0
    assert run_cli("--config", cfg, "encode") == 0
    assert run_cli("--config", cfg, "schedule", "--date", DAYS[0], "--days", "3") == 0
    assert run_cli("--config", cfg, "publish") == 0
    build, store = root / "build", root / "public"
    first = {p.relative_to(build).as_posix(): p.read_bytes() for p in (build / "broadcast").rglob("*") if p.is_file()}
    feeds_then = {p.name: p.read_bytes() for p in (store / "feeds").glob("*.xml")}
    return {"root": root, "cfg": cfg, "build": build, "store": store, "first": first, "feeds": feeds_then}


def _days(station) -> list[dict]:
    return [json.loads((station["store"] / f"broadcast/{ch}/{d}.json").read_text(encoding="utf-8"))
            for ch in ("county-fm", "village-speakers") for d in DAYS]


def _profile(doc: dict) -> str:
    return {"county-fm": "broadcast", "village-speakers": "loudspeaker"}[doc["channel"]]


def _samples(path: Path) -> int:
    out = subprocess.run(["ffmpeg", "-hide_banner", "-nostats", "-i", str(path), "-af",
                          "astats=measure_perchannel=none:measure_overall=Number_of_samples", "-f", "null", "-"],
                         capture_output=True, text=True, timeout=120).stderr
    return int(re.findall(r"Number of samples: (\d+)", out)[-1])


def test_every_slot_has_one_file_of_exactly_its_length_at_the_profiles_loudness(station, tmp_path):
    for doc in _days(station):
        profile = _profile(doc)
        target, ceiling = TARGETS[profile]
        for slot in doc["slots"]:
            length = (dt.datetime.fromisoformat(slot["end"]) - dt.datetime.fromisoformat(slot["start"])).total_seconds()
            assert abs(sum(i["duration_s"] for i in slot["items"]) - length) <= 1.0
            path = station["store"] / slot["key"]
            assert slot["key"] == f"audio/{profile}/{slot['sha256']}.{path.suffix[1:]}"
            assert path.stat().st_size == slot["bytes"]
            probe = ffprobe(path)
            stream = probe["streams"][0]
            if profile == "broadcast":
                assert (stream["codec_name"], stream["sample_rate"], stream["channels"]) == ("pcm_s16le", "48000", 1)
                assert float(probe["format"]["duration"]) == pytest.approx(length, abs=1e-6)
                assert _samples(path) == round(length * 48000)
            else:
                assert (stream["codec_name"], stream["sample_rate"], stream["channels"]) == ("mp3", "44100", 1)
                assert stream["bit_rate"] == "128000"
                # the header counts whole MP3 frames and the encoder delay; decoded, it is exact
                assert float(probe["format"]["duration"]) == pytest.approx(length, abs=0.06)
                assert _samples(path) == round(length * 44100)
            assert abs(loudness_lufs(path, tmp_path) - target) <= 1.0, path
            assert true_peak_dbtp(path, tmp_path) <= ceiling + 0.1, path


def test_jingles_and_fillers_are_normalized_renditions_of_the_channel_profile(station, tmp_path):
    checked = set()
    for doc in _days(station):
        target, ceiling = TARGETS[_profile(doc)]
        for slot in doc["slots"]:
            items = slot["items"]
            assert items[0]["kind"] == items[-1]["kind"] == "jingle"
            for item in items:
                if item["kind"] != "lesson" and item["key"] not in checked:
                    checked.add(item["key"])
                    path = station["store"] / item["key"]
                    assert item["key"].startswith(f"audio/{_profile(doc)}/")
                    assert abs(loudness_lufs(path, tmp_path) - target) <= 1.0, item
                    assert true_peak_dbtp(path, tmp_path) <= ceiling + 0.1, item
    assert len(checked) >= 4


def test_special_day_and_bound_series_on_the_real_station(station):
    docs = {(d["channel"], d["date"]): d for d in _days(station)}
    july1 = docs[("county-fm", "2027-07-01")]
    assert july1["clock"] == "party-founding-day" and july1["clock_title"] == "七一建黨節特別節目"
    assert july1["slots"][0]["items"][1]["lesson_id"] == "dj-chuxin-01"
    assert docs[("county-fm", "2027-06-30")]["clock"] == "daily"
    for d in DAYS:
        evening = docs[("village-speakers", d)]["slots"][1]
        assert evening["series"] == "每週政策快報"
        assert evening["items"][1]["title"] == "housing-notice"


def test_m3u8_lists_every_item_with_extinf_and_absolute_encoded_urls(station):
    for doc in _days(station):
        text = (station["store"] / f"broadcast/{doc['channel']}/{doc['date']}.m3u8").read_bytes().decode("utf-8")
        lines = text.splitlines()
        assert lines[0] == "#EXTM3U" and not text.startswith("\ufeff")
        items = [i for s in doc["slots"] for i in s["items"]]
        assert len(lines) == 1 + 2 * len(items)
        for item, (info, url) in zip(items, zip(lines[1::2], lines[2::2])):
            assert info == f"#EXTINF:{item['duration_s']:.3f},{item['title']}"
            assert url == BASE_ENCODED + item["key"]
            assert " " not in url and url.isascii()


def test_icalendar_has_one_event_per_airing_and_a_calendar_to_subscribe_to(station):
    all_events = 0
    for doc in _days(station):
        folder = station["store"] / f"broadcast/{doc['channel']}"
        cal = icalendar.Calendar.from_ical((folder / f"{doc['date']}.ics").read_bytes())
        events = list(cal.walk("VEVENT"))
        items = [i for s in doc["slots"] for i in s["items"]]
        assert len(events) == len(items)
        assert [tz["TZID"] for tz in cal.walk("VTIMEZONE")] == ["Asia/Shanghai"]
        for ev, item in zip(events, items):
            start = dt.datetime.fromisoformat(item["start"])
            assert ev.decoded("DTSTART") == start.replace(microsecond=0)
            assert ev.decoded("DTSTART").utcoffset() == dt.timedelta(hours=8)
            end = start + dt.timedelta(seconds=item["duration_s"])
            assert ev.decoded("DTEND") == end.replace(microsecond=0)
            assert str(ev["UID"]) == airing_guid(doc["channel"], item["start"], item["sha256"])
            assert str(ev["SUMMARY"]) == item["title"]
            assert str(ev["URL"]) == BASE_ENCODED + item["key"]
        all_events += len(events)
    subscribed = sum(len(list(icalendar.Calendar.from_ical(
        (station["store"] / f"broadcast/{ch}/calendar.ics").read_bytes()).walk("VEVENT")))
        for ch in ("county-fm", "village-speakers"))
    assert subscribed == all_events


def test_control_characters_never_reach_the_published_files(station):
    for p in (station["store"] / "broadcast").rglob("*"):
        if p.is_file() and p.suffix in (".json", ".m3u8", ".ics"):
            text = p.read_text(encoding="utf-8")
            assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", text), p
    titles = {i["title"] for d in _days(station) for s in d["slots"] for i in s["items"]}
    assert CLEAN_TITLE in titles
    xml = (station["store"] / "feeds/lessons-cmn.xml").read_bytes()
    assert CLEAN_TITLE.encode() in xml and not re.search(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]", xml)


def _catalog(station):
    cfg = load_config(station["cfg"])
    return cfg, Catalog(cfg.library / "catalog.sqlite")


def test_lesson_feeds_match_the_catalog_field_by_field_in_both_parsers(station):
    cfg, catalog = _catalog(station)
    store = station["store"]
    data = (store / "feeds/lessons-cmn.xml").read_bytes()
    fp = feedparser.parse(data)
    pp = podcastparser.parse(BASE_ENCODED + "feeds/lessons-cmn.xml", io.BytesIO(data))
    assert not fp.bozo
    feed_url = BASE_ENCODED + "feeds/lessons-cmn.xml"
    expected_guid = str(uuid.uuid5(uuid.UUID("ead4c236-bf58-58c6-a2c6-a6b28d128cb6"),
                                   feed_url.split("://", 1)[1].rstrip("/")))
    assert fp.feed.language == pp["language"] == "zh-cn"  # Apple's list; the dialect is in podcast:txt
    assert fp.feed.podcast_guid == expected_guid
    assert fp.feed.podcast_medium == "course"
    assert fp.feed.title == pp["title"] == f"{cfg.station.name} · 普通話"
    assert fp.feed.link == pp["link"] == BASE_ENCODED
    art = fp.feed.image.href
    assert art == pp["cover_url"] and art.endswith(".png") and (store / art[len(BASE_ENCODED):]).is_file()
    assert b'<itunes:image href="' + art.encode() + b'"/>' in data
    assert pp["explicit"] is False and b"<itunes:explicit>false</itunes:explicit>" in data
    assert pp["itunes_categories"] == [["Education", "Courses"]]
    first = catalog.first_published([f"dangke-lesson:{l.lesson_id}" for l in catalog.lessons()])
    fp_items = {e.id: e for e in fp.entries}
    pp_items = {e["guid"]: e for e in pp["episodes"]}
    lessons = [l for l in catalog.lessons() if l.dialect == "cmn"]
    assert set(fp_items) == set(pp_items) == {f"dangke-lesson:{l.lesson_id}" for l in lessons}
    from pipeline.encode import current_rendition
    for lesson in lessons:
        guid = f"dangke-lesson:{lesson.lesson_id}"
        r = current_rendition(cfg, catalog, lesson.source_sha256, "player")
        e, p = fp_items[guid], pp_items[guid]
        title = re.sub(r"[\x00-\x1f]", "", lesson.title)
        assert e.title == p["title"] == title
        assert e.guidislink is False
        (enc,) = e.enclosures
        (penc,) = p["enclosures"]
        assert enc.href == penc["url"] == BASE_ENCODED + r.key
        size = (store / r.key).stat().st_size
        assert int(enc.length) == penc["file_size"] == size == (cfg.library / r.path).stat().st_size
        assert enc.type == penc["mime_type"] == "audio/mpeg"
        assert int(e.itunes_duration) == p["total_time"] == round(r.duration_s)
        when = dt.datetime.fromisoformat(first[guid])
        assert p["published"] == int(when.timestamp())
        assert dt.datetime(*e.published_parsed[:6], tzinfo=dt.timezone.utc) == when
        assert e.tags[0].term == lesson.category
        if lesson.episode:
            assert int(e.itunes_episode) == p["number"] == lesson.episode
        if lesson.speaker:
            assert e.author == re.sub(r"[\x00-\x1f]", "", lesson.speaker)
    catalog.close()


def test_broadcast_feeds_list_every_airing_with_its_air_time_and_stable_identity(station):
    cfg, catalog = _catalog(station)
    store = station["store"]
    published_at = dt.datetime.fromisoformat(catalog.last_generation(f"file://{store.resolve()}").published_at)
    for channel in ("county-fm", "village-speakers"):
        data = (store / f"feeds/broadcast-{channel}.xml").read_bytes()
        fp = feedparser.parse(data)
        pp = podcastparser.parse(BASE_ENCODED + f"feeds/broadcast-{channel}.xml", io.BytesIO(data))
        assert not fp.bozo
        assert fp.feed.title == pp["title"] == cfg.channels[channel].title
        assert fp.feed.get("id") is None  # nothing of an item leaked into the channel
        entries = {e.id: e for e in fp.entries}
        episodes = {e["guid"]: e for e in pp["episodes"]}
        assert set(entries) == set(episodes)
        expected = set()
        wav = cfg.profiles[cfg.channels[channel].profile].mime_type == "audio/wav"
        for doc in (d for d in _days(station) if d["channel"] == channel):
            for slot in doc["slots"]:
                guid = f"dangke-slot:{channel}:{slot['start']}:{slot['sha256'][:16]}"
                expected.add(guid)
                e = entries[guid]
                assert e.ev_startdate == slot["start"] and e.ev_enddate == slot["end"] and e.ev_type == "slot"
                # the enclosure is MP3 (issue 13): the county station's WAV has its player version
                # as enclosure and the WAV as podcast:alternateEnclosure; the loudspeakers' MP3 is its own
                assert e.enclosures[0].href.startswith(BASE_ENCODED + "audio/player/") if wav \
                    else e.enclosures[0].href == BASE_ENCODED + slot["key"]
                assert e.enclosures[0].type == "audio/mpeg"
                assert int(e.enclosures[0].length) == episodes[guid]["enclosures"][0]["file_size"] == \
                    (store / e.enclosures[0].href[len(BASE_ENCODED):]).stat().st_size
                assert f'length="{slot["bytes"]}"'.encode() in data and (BASE_ENCODED + slot["key"]).encode() in data
                for item in slot["items"]:
                    guid = airing_guid(channel, item["start"], item["sha256"])
                    expected.add(guid)
                    e, p = entries[guid], episodes[guid]
                    start = dt.datetime.fromisoformat(item["start"])
                    assert dt.datetime.fromisoformat(e.ev_startdate) == start
                    assert dt.datetime.fromisoformat(e.ev_enddate) == start + dt.timedelta(seconds=item["duration_s"])
                    assert e.ev_type == item["kind"]
                    assert e.enclosures[0].href == p["enclosures"][0]["url"]
                    assert e.enclosures[0].href.startswith(BASE_ENCODED + "audio/player/") if wav \
                        else e.enclosures[0].href == BASE_ENCODED + item["key"]
                    assert int(e.enclosures[0].length) == p["enclosures"][0]["file_size"] == \
                        (store / e.enclosures[0].href[len(BASE_ENCODED):]).stat().st_size
                    assert (BASE_ENCODED + item["key"]).encode() in data  # the aired WAV, as the alternate
                    assert e.title.endswith(item["title"]) and p["title"] == e.title
                    pub = dt.datetime(*e.published_parsed[:6], tzinfo=dt.timezone.utc)
                    assert pub == published_at != start  # first published, never the air time
                    if item["kind"] == "lesson":
                        assert e.tags[0].term == item["category"]
        assert set(entries) == expected
    catalog.close()


def test_published_days_are_kept_unless_forced_and_feed_items_keep_their_identity(station, tmp_path):
    root, cfg, build = station["root"], station["cfg"], station["build"]
    drop(root / "inbox", "nan_ithuan_01.wav", "黨性教育_普通話_新課.wav")  # a new, short lesson that fits
    assert run_cli("--config", cfg, "ingest") == 0
    assert run_cli("--config", cfg, "encode") == 0
    assert run_cli("--config", cfg, "schedule", "--date", DAYS[0], "--days", "4") == 0
    now = {p.relative_to(build).as_posix(): p.read_bytes() for p in (build / "broadcast").rglob("*") if p.is_file()}
    for key, data in station["first"].items():
        if not key.endswith("calendar.ics"):
            assert now[key] == data, key  # published days untouched
    assert any(k.endswith("2027-07-03.json") for k in now)
    assert run_cli("--config", cfg, "publish") == 0
    for name, before in station["feeds"].items():
        old = {e.id: e.published for e in feedparser.parse(before).entries}
        new = {e.id: e.published for e in feedparser.parse((station["store"] / "feeds" / name).read_bytes()).entries}
        assert {g: new[g] for g in old} == old, name  # same guids, same pubDate
        assert len(new) > len(old) or name.startswith("lessons-nan")
    assert run_cli("--config", cfg, "schedule", "--date", DAYS[0], "--days", "1", "--force") == 0
    forced = json.loads((build / f"broadcast/county-fm/{DAYS[0]}.json").read_text(encoding="utf-8"))
    lessons = {i.get("lesson_id") for s in forced["slots"] for i in s["items"]}
    before = json.loads(station["first"][f"broadcast/county-fm/{DAYS[0]}.json"])
    assert lessons != {i.get("lesson_id") for s in before["slots"] for i in s["items"]}


def test_first_publication_times_are_always_timezone_aware():
    when = dt.datetime(2027, 1, 1, tzinfo=dt.timezone.utc)
    assert _first({"g": "2026-12-01T08:00:00"}, "g", when) == dt.datetime(2026, 12, 1, 8, tzinfo=dt.timezone.utc)
    assert _first({"g": "2026-12-01T08:00:00+08:00"}, "g", when).utcoffset() == dt.timedelta(hours=8)
    assert _first({}, "g", when) is when


def test_a_naive_date_never_reaches_a_feed():
    from pipeline.publish.feeds import FeedInfo, FeedItem, build_feed
    info = FeedInfo(title="t", description="d", link="https://x.org/", feed_url="https://x.org/f.xml",
                    language="zh-cmn", author="a", built_at=dt.datetime(2027, 1, 1, tzinfo=dt.timezone.utc))
    item = FeedItem(guid="g", title="t", description="d", url="https://x.org/a.mp3", length=1,
                    mime_type="audio/mpeg", pub_date=dt.datetime(2027, 1, 1), duration_s=1.0)
    with pytest.raises(ValueError, match="timezone-aware"):
        build_feed(info, [item])


def test_feedgen_dropping_the_artwork_is_caught():
    from pipeline.publish.feeds import FeedInfo, build_feed
    info = FeedInfo(title="t", description="d", link="https://x.org/", feed_url="https://x.org/f.xml",
                    language="zh-cmn", author="a", built_at=dt.datetime(2027, 1, 1, tzinfo=dt.timezone.utc),
                    image_url="https://x.org/cover.jpeg")
    with pytest.raises(ValueError, match="itunes:image"):
        build_feed(info, [])


def test_why_no_podcast_liveitem_feedparser_merges_it_into_the_channel():
    """The trap behind the choice of the RSS Event module: feedparser 6 takes a liveItem's
    guid for the channel's id and its enclosure for a channel link."""
    xml = b"""<?xml version="1.0"?><rss version="2.0" xmlns:podcast="https://podcastindex.org/namespace/1.0">
    <channel><title>c</title><link>https://x.org/</link><description>d</description>
    <podcast:liveItem status="pending" start="2027-01-01T06:30:00+08:00" end="2027-01-01T06:45:00+08:00">
    <title>live</title><guid isPermaLink="false">L1</guid>
    <enclosure url="https://x.org/slot.wav" length="9" type="audio/wav"/></podcast:liveItem>
    </channel></rss>"""
    d = feedparser.parse(xml)
    assert d.feed.get("id") == "L1"
    assert "https://x.org/slot.wav" in [link.href for link in d.feed.links]


def test_broadcast_feeds_keep_only_recent_and_coming_airings(station):
    """By default every airing of the published days is an item (the contract); a
    station that has aired for years can set ``[feeds] broadcast_days`` to keep only the
    recent past and everything still to come."""
    assert load_config(station["cfg"]).feeds.broadcast_days == 0
    import dataclasses
    from pipeline.publish.feedset import feed_objects
    cfg, catalog = _catalog(station)
    try:
        tz = dt.timezone(dt.timedelta(hours=8))
        after = dt.datetime(2027, 7, 2, 12, 0, tzinfo=tz)  # noon of the last scheduled day

        def entries(days: int, when: dt.datetime) -> set[str]:
            fs = feed_objects(dataclasses.replace(cfg, feeds=dataclasses.replace(cfg.feeds, broadcast_days=days)),
                              catalog, when)
            data = next(o.data for o in fs.objects if o.key == "feeds/broadcast-county-fm.xml")
            return {e.ev_startdate[:10] for e in feedparser.parse(data).entries}

        assert entries(0, after) >= {"2027-06-30", "2027-07-01", "2027-07-02"}
        assert entries(1, after) == entries(0, after) - {"2027-06-30"}  # 06-30 ended > 1 day before
        assert entries(1, after - dt.timedelta(days=30)) == entries(0, after)  # all still to come
        assert entries(1, after + dt.timedelta(days=30)) == set()
    finally:
        catalog.close()


def test_every_broadcast_wav_carries_complete_bext_and_a_title_tools_show_in_chinese(station):
    """Issue 11 item 3 (EBU Tech 3285 v2): lessons, jingles, fillers and whole-slot
    files alike: every loudness field set (none 0x7FFF), origination date and time, a
    CodingHistory line per step; the title read in Chinese by MediaInfo and ExifTool
    (from the ``id3 `` chunk: both read RIFF INFO text as Latin-1); sndfile-info reads it."""
    from pipeline.media import bext

    wavs = sorted((station["store"] / "audio" / "broadcast").glob("*.wav"))
    assert len(wavs) >= 4
    titled = 0
    for wav in wavs:
        b = bext.read_loudness(wav)
        assert b["version"] == 2, wav.name
        for field in ("integrated_lufs", "lra_lu", "true_peak_dbtp", "max_momentary_lufs", "max_short_term_lufs"):
            assert b[field] is not None, (wav.name, field)
        assert re.fullmatch(r"\d{4}-\d\d-\d\d", b["origination_date"]) and re.fullmatch(r"\d\d:\d\d:\d\d",
                                                                                          b["origination_time"])
        assert b["coding_history"] and all(line.startswith("A=") for line in b["coding_history"])
        assert subprocess.run(["sndfile-info", str(wav)], capture_output=True, timeout=60).returncode == 0
        info = subprocess.run(["mediainfo", str(wav)], capture_output=True, text=True, timeout=60).stdout
        exif = subprocess.run(["exiftool", str(wav)], capture_output=True, text=True, timeout=60).stdout
        if "牢記初心使命" in info:
            titled += 1
            assert re.search(r"Title\s*: 牢記初心使命", exif)
            assert len(b["coding_history"]) >= 3          # source, chain, output
            assert b["coding_history"][0].startswith("A=PCM,F=16000,W=16,M=mono")
    assert titled == 1


def test_bext_origination_comes_from_the_inputs_so_renders_are_byte_identical(station):
    """A lesson's WAV carries its recording date, else the time the station received the
    original (ingest time, in the station's time zone), never the time of the render: a
    cluster run and a local run make the same bytes (the cluster test of issue 16 caught
    render times in OriginationDate/Time). Whole-slot files carry their newest part's."""
    import datetime as dt
    import json

    from pipeline.catalog import Catalog
    from pipeline.config import load_config
    from pipeline.media import bext

    cfg = load_config(station["cfg"])
    with Catalog(cfg.library / "catalog.sqlite") as cat:
        lessons = {l.lesson_id: l for l in cat.lessons()}
        broadcast = [r for r in cat.renditions() if r.profile == "broadcast" and r.source_sha256 in
                     {l.source_sha256 for l in lessons.values()}]
    assert broadcast
    stamps = {}
    for r in broadcast:
        lesson = next(l for l in lessons.values() if l.source_sha256 == r.source_sha256)
        b = bext.read_loudness(cfg.library / r.path)
        want = (dt.datetime.combine(lesson.recorded_on, dt.time()) if lesson.recorded_on else
                dt.datetime.fromisoformat(lesson.ingested_at).astimezone(cfg.tz))
        assert (b["origination_date"], b["origination_time"]) == (f"{want:%Y-%m-%d}", f"{want:%H:%M:%S}"), r.key
        stamps[r.key] = f"{want:%Y-%m-%dT%H:%M:%S}"
    days = sorted((station["store"] / "broadcast" / "county-fm").glob("????-??-??.json"))
    doc = json.loads(days[0].read_text(encoding="utf-8"))
    for slot in doc["slots"]:
        if slot.get("key"):
            b = bext.read_loudness(station["store"] / slot["key"])
            parts = [stamps[i["key"]] for i in slot["items"] if i.get("key") in stamps]
            if parts:
                assert f"{b['origination_date']}T{b['origination_time']}" >= max(parts)
