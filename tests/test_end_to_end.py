"""The whole flow on real recordings, read back by independent readers (issue 2)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import feedparser
import pytest
from mutagen.id3 import ID3, Encoding

from pipeline.media import bext
from tests.conftest import drop, ffprobe, loudness_lufs, run_cli, true_peak_dbtp

SIDECAR_NAN = {"title": "閩南話詞語練習", "category": "技能培訓", "dialect": "閩南話", "audiences": ["fisher"]}


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> dict:
    """Run `dangke run` twice on a station with five real recordings and one broken file."""
    from tests.conftest import make_station
    root = tmp_path_factory.mktemp("e2e") / "station"
    cfg = make_station(root, {"900": 60, "300": 30})
    inbox = root / "inbox"
    drop(inbox, "zh-cmn_funasr_03_long.wav", "黨性教育_普通話_牢記初心使命_林老師.wav")
    drop(inbox, "zh-cmn_funasr_02_asr-example.mp3", "理論教育_普通話_語音識別示範.mp3")
    drop(inbox, "zh-cmn_paddlespeech_01.wav", "黨性教育_普通話_健康生活_王老師.wav")
    drop(inbox, "zh-cmn_aishell_01.wav", "policy_cmn_housing-notice.wav")
    drop(inbox, "nan_ithuan_01.wav", "nan_words.wav", SIDECAR_NAN)
    (inbox / "壞檔.mp3").write_bytes(b"this is a note, not audio\n" * 10)
    first = run_cli("--config", cfg, "run", "--quarter", "2027Q1", "--date", "2026-12-01", "--days", "2")
    store = root / "public"
    snapshot = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in store.rglob("*") if p.is_file()}
    second = run_cli("--config", cfg, "run", "--quarter", "2027Q1", "--date", "2026-12-01", "--days", "2")
    return {"root": root, "cfg": cfg, "store": store, "first": first, "second": second,
            "snapshot": snapshot}


def _index(store: Path) -> dict:
    return json.loads((store / "index.json").read_text(encoding="utf-8"))


def test_first_run_exits_1_for_the_rejected_file_and_rejects_it(published):
    root = published["root"]
    assert published["first"] == 1
    assert (root / "rejected" / "壞檔.mp3").read_bytes().startswith(b"this is a note")
    reason = (root / "rejected" / "壞檔.mp3.reason.txt").read_text(encoding="utf-8")
    assert "無法解碼" in reason and "not decodable audio" in reason
    assert not any((root / "inbox").iterdir())


def test_index_lists_every_object_with_its_sha256_and_size(published):
    store = published["store"]
    index = _index(store)
    assert index["generation"] == 1
    assert index["files"]
    for key, meta in index["files"].items():
        data = (store / key).read_bytes()
        assert len(data) == meta["bytes"], key
        assert hashlib.sha256(data).hexdigest() == meta["sha256"], key


def test_every_manifest_entry_exists_with_the_right_checksum(published):
    store = published["store"]
    manifests = sorted(store.glob("devices/2027Q1/*/manifest.json"))
    assert len(manifests) == 35
    for m in manifests:
        doc = json.loads(m.read_text(encoding="utf-8"))
        assert doc["quarter"] == "2027Q1" and doc["profile"] == "player"
        assert [i["position"] for i in doc["items"]] == list(range(1, len(doc["items"]) + 1))
        for item in doc["items"]:
            data = (store / item["key"]).read_bytes()
            assert hashlib.sha256(data).hexdigest() == item["sha256"] == item["key"].split("/")[-1][:-4]
            assert len(data) == item["bytes"]
        assert doc["totals"]["bytes"] == sum(i["bytes"] for i in doc["items"])
        secs = doc["category_seconds"]
        total = sum(secs.values())
        assert secs["theory"] + secs["party-spirit"] >= 0.7 * total - 1e-6
        assert secs["party-spirit"] >= 0.2 * total - 1e-6
        m3u = (m.parent / "playlist.m3u").read_bytes()
        assert m3u.startswith(b"#EXTM3U\n")
        assert [line for line in m3u.decode("utf-8").splitlines() if not line.startswith("#")] == \
            [i["card_path"] for i in doc["items"]]


def test_devices_get_their_dialect_or_mandarin(published):
    store = published["store"]
    fleet = {line.split(",")[0]: line.split(",")[4]
             for line in (published["root"] / "fleet.csv").read_text(encoding="utf-8").splitlines()[1:]}
    for device, dialect in fleet.items():
        doc = json.loads((store / f"devices/2027Q1/{device}/manifest.json").read_text(encoding="utf-8"))
        assert {i["dialect"] for i in doc["items"]} <= {dialect, "cmn"}
    nan = [d for d, dia in fleet.items() if dia == "nan"][0]
    doc = json.loads((store / f"devices/2027Q1/{nan}/manifest.json").read_text(encoding="utf-8"))
    assert "nan" in {i["dialect"] for i in doc["items"]}


def test_player_mp3s_are_cbr_64k_mono_at_minus_16_lufs_with_readable_chinese_tags(published, tmp_path):
    store = published["store"]
    files = sorted((store / "audio" / "player").glob("*.mp3"))
    # the lessons, and the podcast versions of the county station's jingles, fillers and
    # whole slots (the broadcast feed's enclosures, issue 13): all of them player renditions
    enclosed = {e.enclosures[0].href.rsplit("/", 1)[1] for feed in sorted((store / "feeds").glob("lessons-*.xml"))
                for e in feedparser.parse(feed.read_bytes()).entries}
    lessons = [f for f in files if f.name in enclosed]
    assert len(lessons) == 5 and len(files) > 5
    titles = set()
    for f in files:
        stream = ffprobe(f)["streams"][0]
        assert (stream["codec_name"], stream["sample_rate"], stream["channels"]) == ("mp3", "44100", 1)
        assert stream["bit_rate"] == "64000"
        assert abs(loudness_lufs(f, tmp_path) - (-16.0)) <= 1.0, f
        assert true_peak_dbtp(f, tmp_path) <= -1.5 + 0.1, f
    for f in lessons:
        tags = ID3(f)
        assert tags.version == (2, 3, 0)
        assert tags["TIT2"].encoding == Encoding.UTF16
        titles.add(str(tags["TIT2"]))
        assert str(tags["TXXX:DANGKE_LESSON_ID"])
        assert str(tags["TLAN"]) in {"cmn", "nan"}
    assert {"牢記初心使命", "語音識別示範", "健康生活", "閩南話詞語練習"} <= titles


def test_broadcast_wavs_are_pcm_48k_mono_at_minus_24_lkfs_with_bext_loudness(published, tmp_path):
    store = published["store"]
    files = sorted((store / "audio" / "broadcast").glob("*.wav"))
    assert len(files) >= 5
    for f in files:
        stream = ffprobe(f)["streams"][0]
        assert (stream["codec_name"], stream["sample_rate"], stream["channels"]) == ("pcm_s16le", "48000", 1)
        assert abs(loudness_lufs(f, tmp_path) - (-24.0)) <= 1.0, f
        assert true_peak_dbtp(f, tmp_path) <= -2.0 + 0.1, f
        b = bext.read_loudness(f)
        assert b["version"] == 2 and abs(b["integrated_lufs"] - (-24.0)) <= 0.5


def test_feeds_parse_with_enclosure_lengths_equal_to_file_sizes(published):
    store = published["store"]
    base = "https://media.example.org/dangke/"
    feeds = sorted((store / "feeds").glob("*.xml"))
    assert {f.name for f in feeds} == {"lessons-cmn.xml", "lessons-nan.xml", "broadcast-county-fm.xml",
                                       "broadcast-village-speakers.xml"}
    for f in feeds:
        d = feedparser.parse(f.read_bytes())
        assert not d.bozo, (f, d.bozo_exception)
        assert d.entries
        for e in d.entries:
            enc = e.enclosures[0]
            assert enc.href.startswith(base)
            key = enc.href[len(base):]
            assert int(enc.length) == (store / key).stat().st_size
            assert e.published_parsed is not None
    cmn = feedparser.parse((store / "feeds/lessons-cmn.xml").read_bytes())
    assert cmn.feed.language == "zh-cn"
    assert {e.title for e in cmn.entries} >= {"牢記初心使命", "語音識別示範"}


def test_schedules_fill_their_slots_without_overrun(published):
    store = published["store"]
    days = sorted(store.glob("broadcast/*/*.json"))
    assert len(days) == 4
    import datetime as dt
    for f in days:
        doc = json.loads(f.read_text(encoding="utf-8"))
        seen = set()
        for slot in doc["slots"]:
            length = (dt.datetime.fromisoformat(slot["end"]) - dt.datetime.fromisoformat(slot["start"])).total_seconds()
            total = sum(i["duration_s"] for i in slot["items"])
            assert total <= length + 1e-6 and total >= length - 1.0, f
            for i in slot["items"]:
                assert (store / i["key"]).is_file()
                if i["kind"] == "lesson":
                    assert i["lesson_id"] not in seen
                    seen.add(i["lesson_id"])
                else:
                    assert "lesson_id" not in i
        m3u8 = (f.with_suffix(".m3u8")).read_text(encoding="utf-8")
        profile = {"county-fm": "broadcast", "village-speakers": "loudspeaker"}[doc["channel"]]
        assert m3u8.startswith("#EXTM3U") and f"https://media.example.org/dangke/audio/{profile}/" in m3u8


def test_second_run_encodes_nothing_and_rewrites_nothing(published):
    assert published["second"] == 0
    store = published["store"]
    now = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in store.rglob("*") if p.is_file()}
    assert now == published["snapshot"]
    assert _index(store)["generation"] == 1


def test_personal_columns_are_never_published(published):
    store = published["store"]
    fleet = (published["root"] / "fleet.csv").read_text(encoding="utf-8").splitlines()[1:]
    names = {row.split(",")[7] for row in fleet}
    phones = {row.split(",")[8] for row in fleet}
    for p in store.rglob("*"):
        if p.is_file() and p.suffix in (".json", ".m3u", ".m3u8", ".xml", ".csv"):
            text = p.read_text(encoding="utf-8")
            assert not any(n in text for n in names | phones), p


def test_the_plan_publishes_diffs_and_a_fleet_summary(published):
    import csv
    store = published["store"]
    rows = list(csv.DictReader((store / "reports/2027Q1/fleet-summary.csv").read_text(encoding="utf-8").splitlines()))
    total = rows[-1]
    assert (total["township"], total["devices"], total["planned"], total["not_planned"]) == ("(all)", "35", "35", "0")
    assert sum(int(r["devices"]) for r in rows[:-1]) == 35
    hours = sum(float(total[f"hours_{c}"]) for c in ("theory", "party-spirit", "policy", "skills", "red-culture", "other"))
    assert abs(hours - float(total["hours"])) < 0.05
    for m in sorted(store.glob("devices/2027Q1/*/manifest.json")):
        doc = json.loads(m.read_text(encoding="utf-8"))
        diff = json.loads((m.parent / "diff.json").read_text(encoding="utf-8"))
        assert (diff["quarter"], diff["previous_quarter"], diff["keep"], diff["remove"]) == ("2027Q1", "2026Q4", [], [])
        assert [a["sha256"] for a in diff["add"]] == [i["sha256"] for i in doc["items"]]
        assert diff["bytes_to_write"] == doc["totals"]["bytes"]
    problems = (store / "reports/2027Q1/problems.csv").read_text(encoding="utf-8")
    assert "listening-time" in problems and "must-carry lesson dj-2027q1-01 is not in the library" in problems


def test_a_crew_loads_a_card_from_the_published_store(published, tmp_path):
    from tests.test_card import entry_order, fat32
    store = published["store"]
    img = fat32(tmp_path / "card.img")
    assert run_cli("--config", published["cfg"], "card", "LJ-00035", "--quarter", "2027Q1", "--to", img,
                   "--cache", tmp_path / "cache") == 0
    doc = json.loads((store / "devices/2027Q1/LJ-00035/manifest.json").read_text(encoding="utf-8"))
    assert [n.casefold() for n in entry_order(img)] == [i["card_path"].casefold() for i in doc["items"]] + ["playlist.m3u"]


def test_the_next_quarter_is_diffed_against_this_one(published):
    root = published["root"]
    assert run_cli("--config", published["cfg"], "plan", "--quarter", "2027Q2") == 0
    build = root / "build" / "devices"
    for device in ("LJ-00001", "LJ-00035"):
        q1 = json.loads((build / f"2027Q1/{device}/manifest.json").read_text(encoding="utf-8"))
        q2 = json.loads((build / f"2027Q2/{device}/manifest.json").read_text(encoding="utf-8"))
        d = json.loads((build / f"2027Q2/{device}/diff.json").read_text(encoding="utf-8"))
        before, after = {i["sha256"] for i in q1["items"]}, {i["sha256"] for i in q2["items"]}
        assert d["previous_quarter"] == "2027Q1"
        assert {k["sha256"] for k in d["keep"]} == before & after
        assert {a["sha256"] for a in d["add"]} == after - before
        assert {r["sha256"] for r in d["remove"]} == before - after
        assert d["bytes_to_write"] == sum(a["bytes"] for a in d["add"])
