"""Play logs read back at refresh (issue 15): real FAT32 images (mkfs.vfat + mtools) with a
``.scrobbler.log`` written the way Rockbox's scrobbler writes it (header, ``#TZ/UNKNOWN``
local times, ``S`` skips, an untagged file logged by its path, a ``# FAILED - `` entry
and a last line cut off by a power loss), read back before the loader writes anything,
stored and verified beside the catalog, recorded once when the card is read twice, and
never lost when the load is interrupted."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import zoneinfo
from pathlib import Path

import pytest

from pipeline.cardfs import ImageCard, MountedCard
from pipeline.catalog import Catalog
from pipeline.listens import import_readbacks, read_card
from pipeline.listens.playlog import parse_counter, parse_scrobbler
from pipeline.listens.readback import verify
from tests.conftest import run_cli
from tests.test_card import MTOOLS, Q1, Q2, WHEN, Station, card_file, fat32

TZ = zoneinfo.ZoneInfo("Asia/Shanghai")
HEADER = ("#AUDIOSCROBBLER/1.1\n#TZ/UNKNOWN\n#CLIENT/Rockbox sansaclipplus $Revision$\n"
          "#ARTIST #ALBUM #TITLE #TRACKNUM #LENGTH #RATING #TIMESTAMP #MUSICBRAINZ_TRACKID\n")


def wall(y, mo, d, h, mi) -> int:
    """A Rockbox ``#TZ/UNKNOWN`` timestamp: the player's wall clock read as if UTC."""
    return int(dt.datetime(y, mo, d, h, mi, tzinfo=dt.timezone.utc).timestamp())


def rockbox_log(lines: list[tuple], cut: str = "") -> bytes:
    """Lines ``(artist, album, title, track, length_s, rating, started)`` as Rockbox writes
    them, and optionally a last line without its newline (the write cut off)."""
    body = "".join(f"{a}\t{al}\t{t}\t{n}\t{ln}\t{r}\t{ts}\t\n" for a, al, t, n, ln, r, ts in lines)
    return (HEADER + body + cut).encode("utf-8")


def put(image: Path, name: str, data: bytes, tmp: Path) -> None:
    local = tmp / "put.bin"
    local.write_bytes(data)
    subprocess.run(["mcopy", "-o", "-i", str(image), str(local), f"::/{name}"], check=True, env=MTOOLS, timeout=60)


def exists(image: Path, name: str) -> bool:
    return subprocess.run(["mdir", "-b", "-i", str(image), f"::/{name}"], capture_output=True, env=MTOOLS,
                          timeout=60).returncode == 0


def titles(pl) -> list[str]:
    return [i.title for i in pl.items]


def q1_log(pl) -> bytes:
    t = titles(pl)
    return rockbox_log([
        ("林老師", "黨課隨身聽", t[0], 1, 15, "L", wall(2027, 1, 10, 19, 30)),
        ("林老師", "黨課隨身聽", t[1], 2, 11, "S", wall(2027, 1, 10, 19, 45)),
        ("<UNTAGGED>", "", f"/DANGKE/{pl.items[2].card_path}", "", 7, "L", wall(2027, 2, 1, 6, 5)),
        ("林老師", "黨課隨身聽", t[0], 1, 15, "L", wall(2027, 3, 28, 20, 0)),
        ("Some Singer", "", "A song of my own", "", 200, "L", wall(2027, 3, 29, 8, 0)),
    ]) + ("# FAILED - 林老師\t黨課隨身聽\t" + t[1] + "\t2\t11\tL\t" + str(wall(2027, 3, 30, 9, 0)) + "\t\n"
          ).encode() + f"林老師\t黨課隨身聽\t{t[4]}\t5\t6\tS\t{wall(2000, 1, 1, 0, 3)}\t\n".encode() \
        + f"林老師\t黨課隨身聽\t{t[3]}\t4\t3\tL\t18".encode()


def test_rockbox_log_quirks_are_parsed_as_rockbox_writes_them():
    pl_titles = ["黨史第一講", "牢記初心使命"]
    data = rockbox_log([("林老師", "", pl_titles[0], 1, 15, "L", wall(2027, 1, 10, 19, 30)),
                        ("林老師", "", pl_titles[1], 2, 11, "S", 0)], cut="林老師\t\t黨史")
    log = parse_scrobbler(data, TZ)
    assert (log.tz, log.client, log.truncated, log.bad) == ("UNKNOWN", "Rockbox sansaclipplus $Revision$", 1, 0)
    first, second = log.plays
    # local wall-clock time without a zone: 19:30 on the player is 19:30 in the station's zone
    assert first.started == dt.datetime(2027, 1, 10, 19, 30, tzinfo=TZ) and first.listened
    assert second.started is None and second.rating == "S"
    utc = parse_scrobbler(data.replace(b"#TZ/UNKNOWN", b"#TZ/UTC"), TZ)
    assert utc.plays[0].started == dt.datetime(2027, 1, 11, 3, 30, tzinfo=TZ)
    counts, bad = parse_counter("# name,plays,completed\n001_黨史第一講.mp3,3,2\n002_x.mp3\t1\nbroken\n".encode())
    assert [(c.name, c.plays, c.completed) for c in counts] == [("001_黨史第一講.mp3", 3, 2), ("002_x.mp3", 1, None)]
    assert bad == 1


@pytest.fixture
def loaded(tmp_path):
    """A card loaded for 2027Q1 that then spent the quarter in a Rockbox player."""
    station = Station(tmp_path / "public")
    pl = station.publish("LJ-00001", "2027Q1", Q1)
    img = fat32(tmp_path / "card.img")
    station.load("LJ-00001", "2027Q1", ImageCard(img), tmp_path / "cache")
    put(img, ".scrobbler.log", q1_log(pl), tmp_path)
    return station, pl, img


def test_the_log_is_read_back_stored_verified_and_recorded_once(loaded, tmp_path):
    station, pl, img = loaded
    root = tmp_path / "library" / "readback"
    with Catalog(tmp_path / "library" / "catalog.sqlite") as cat:
        back = read_card(ImageCard(img), "LJ-00001", root, TZ, catalog=cat, now=WHEN)
        rb, c = back.readback, back.listening
        assert (rb.device_id, rb.quarter, rb.generation, rb.new) == ("LJ-00001", "2027Q1", 1, True)
        assert verify(rb.folder) and (rb.folder / ".scrobbler.log").read_bytes() == card_file(img, ".scrobbler.log")
        assert json.loads((rb.folder / "deployment.json").read_bytes())["files"][0]["lesson_id"] == "id-黨史第一講"
        # 6 plays kept: the FAILED entry is left out, the cut-off line dropped, the song is not a lesson
        assert (c.kind, c.plays, c.listened, c.skipped, c.unmatched, c.truncated) == ("scrobbler", 6, 4, 2, 1, 1)
        assert (c.lessons_played, c.lessons_completed, c.carried) == (4, 2, 5)
        # FAT keeps a last-access date: mcopy wrote (and so accessed) the files today
        assert {a for _n, _s, a in rb.listing} == {dt.date.today().isoformat()}
        assert c.last_play == dt.datetime(2027, 3, 29, 8, 0, tzinfo=TZ)
        rows = cat.db.execute("SELECT lesson_id, rating, started FROM card_plays WHERE started IS NOT NULL"
                              " ORDER BY started").fetchall()
        assert [tuple(r) for r in rows][:3] == [("id-黨史第一講", "L", "2027-01-10T19:30:00+08:00"),
                                                ("id-牢記初心使命", "S", "2027-01-10T19:45:00+08:00"),
                                                (f"id-{Q1[2][0]}", "L", "2027-02-01T06:05:00+08:00")]
        # the same card read again: the same stored read-back, nothing recorded twice
        again = read_card(ImageCard(img), "LJ-00001", root, TZ, catalog=cat, now=WHEN + dt.timedelta(hours=1))
        assert again.readback.readback_id == rb.readback_id and not again.readback.new
        assert cat.db.execute("SELECT COUNT(*) FROM card_plays").fetchone()[0] == 6
        # a play dated 2000-01-01 (the player's clock was reset) counts, undated
        assert cat.db.execute("SELECT started FROM card_plays WHERE lesson_id=?",
                              (f"id-{Q1[4][0]}",)).fetchone()[0] is None
        assert cat.db.execute("SELECT COUNT(*) FROM card_readbacks").fetchone()[0] == 1
        assert len(list(root.glob("*/*/*/readback.json"))) == 1
        # a crew's folder imported again at the station adds nothing either
        assert import_readbacks(cat, root, TZ).recorded == 0


def test_the_card_command_prints_last_quarters_plays_stores_them_first_and_clears_the_log(loaded, tmp_path, capsys):
    station, pl, img = loaded
    station.publish("LJ-00001", "2027Q2", Q2)
    rb_dir = tmp_path / "crew-readback"
    assert run_cli("card", "LJ-00001", "--quarter", "2027Q2", "--to", img, "--from", station.root.as_uri(),
                   "--cache", tmp_path / "cache", "--readback", rb_dir) == 0
    out = capsys.readouterr().out.splitlines()
    played = [line for line in out if line.startswith("played in 2027Q1")]
    assert played == [out[0]] and "6 play(s) of 4 of 5 lesson(s), 4 listened at least half, 2 skipped" in out[0]
    assert "2 played fully; last play 2027-03-29" in out[0] and "1 unreadable line(s)" in out[0]
    assert "card LJ-00001 2027Q2" in out[-1]
    assert not exists(img, ".scrobbler.log")  # stored, so cleared for next quarter's plays
    (stored,) = rb_dir.glob("LJ-00001/2027Q1/*/.scrobbler.log")
    assert stored.read_bytes() == q1_log(pl)
    # next time the card comes back without a log (the player logged nothing): unplayed
    put(img, ".scrobbler.log", HEADER.encode(), tmp_path)
    assert run_cli("card", "LJ-00001", "--quarter", "2027Q2", "--to", img, "--from", station.root.as_uri(),
                   "--cache", tmp_path / "cache", "--readback", rb_dir) == 0
    assert "played in 2027Q2" in (line := capsys.readouterr().out.splitlines()[0]) and "came back unplayed" in line


def test_an_interrupted_load_never_loses_the_log(loaded, tmp_path):
    station, pl, img = loaded
    station.publish("LJ-00001", "2027Q2", Q2)
    root = tmp_path / "readback"
    from pipeline.card import StoreSource, load_card, read_published
    src = StoreSource(station.store)
    pub = read_published(src, "LJ-00001", "2027Q2")
    back = read_card(ImageCard(img), "LJ-00001", root, TZ, now=WHEN)
    steps = []

    def pull_the_card(action, name, size):
        steps.append(action)
        if action == "copy":
            raise KeyboardInterrupt("card pulled")
    with pytest.raises(KeyboardInterrupt):
        load_card(pub, src, ImageCard(img), tmp_path / "cache", now=WHEN, progress=pull_the_card)
    assert verify(back.readback.folder)
    # run again: the log (still on the card) is the same read-back; the load finishes
    again = read_card(ImageCard(img), "LJ-00001", root, TZ, now=WHEN)
    assert again.readback.readback_id == back.readback.readback_id
    load_card(pub, src, ImageCard(img), tmp_path / "cache", now=WHEN)
    with Catalog(tmp_path / "cat.sqlite") as cat:
        assert import_readbacks(cat, root, TZ).recorded == 1
        assert cat.db.execute("SELECT SUM(plays) FROM card_plays WHERE lesson_id IS NOT NULL").fetchone()[0] == 5


def test_a_mounted_card_with_a_play_counter_and_access_dates(tmp_path):
    station = Station(tmp_path / "public")
    pl = station.publish("LJ-00002", "2027Q1", Q1)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    station.load("LJ-00002", "2027Q1", MountedCard(mnt), tmp_path / "cache")
    names = [i.card_path for i in pl.items]
    (mnt / "PLAYCNT.TXT").write_text(f"{names[0]},4,3\n{names[1]},1,0\n", encoding="utf-8")
    back = read_card(MountedCard(mnt), "LJ-00002", tmp_path / "rb", TZ, now=WHEN)
    c = back.listening
    assert (c.kind, c.plays, c.lessons_played, c.lessons_completed) == ("counter", 5, 2, 1)
    assert all(a is not None for _n, _s, a in back.readback.listing)


def test_the_summary_divides_by_reporting_devices_only():
    from pipeline.listens.summary import DevicePlays, ListeningFacts, summarize_listening
    facts = ListeningFacts("2027Q1", (
        DevicePlays("A", "scrobbler", frozenset({"L1", "L2"}), (("L1", 3, 3, 2), ("L2", 1, 1, 0))),
        DevicePlays("B", "scrobbler", frozenset({"L1", "L2"})),
        DevicePlays("C", "none", frozenset({"L1"}))),
        downloads=(("2027-01-10", "L1", "lessons-cmn", 4), ("2027-01-11", "L1", "lessons-cmn", 1),
                   ("2027-01-11", "", "", 2)), titles=(("L1", "黨史第一講"),))
    s = summarize_listening(facts, {"A": "琯頭鎮", "B": "琯頭鎮", "C": "黃岐鎮"})
    l1, l2 = s.lessons
    assert (l1.carrying, l1.reporting, l1.played, l1.share_played, l1.completion) == (3, 2, 1, 0.5, 2 / 3)
    assert (l2.played, l2.completion) == (1, 0.0) and l1.title == "黨史第一講"
    assert (s.read, s.reporting, s.unplayed, s.without_log) == (3, 2, ("B",), ("C",))
    assert [(t.township, t.read, t.reporting, t.unplayed) for t in s.townships] == \
        [("琯頭鎮", 2, 2, ("B",)), ("黃岐鎮", 1, 0, ())]
    assert [(r.township, r.lesson_id, r.reporting) for r in s.by_township] == \
        [("琯頭鎮", "L1", 2), ("琯頭鎮", "L2", 2), ("黃岐鎮", "L1", 0)]
    assert [(f.feed, f.downloads, f.days) for f in s.feeds] == [("", 2, 1), ("lessons-cmn", 5, 2)]


def test_status_shows_plays_per_lesson_and_township_and_unplayed_cards(tmp_path, capsys):
    from tests.conftest import make_station
    cfg = make_station(tmp_path / "st")
    station = Station(tmp_path / "public")
    cards = {}
    for device in ("LJ-00001", "LJ-00002"):
        pl = station.publish(device, "2027Q1", Q1)
        cards[device] = fat32(tmp_path / f"{device}.img")
        station.load(device, "2027Q1", ImageCard(cards[device]), tmp_path / "cache")
    put(cards["LJ-00001"], ".scrobbler.log", q1_log(pl), tmp_path)
    put(cards["LJ-00002"], ".scrobbler.log", HEADER.encode(), tmp_path)
    for device in ("LJ-00001", "LJ-00002"):
        station.publish(device, "2027Q2", Q2)
    capsys.readouterr()
    for device, img in cards.items():
        assert run_cli("--config", cfg, "card", device, "--quarter", "2027Q2", "--to", img, "--from",
                       station.root.as_uri(), "--cache", tmp_path / "cache") == 0
    assert list((tmp_path / "st" / "library" / "readback").glob("*/2027Q1/*/readback.json"))
    capsys.readouterr()
    assert run_cli("--config", cfg, "status") == 0
    out = capsys.readouterr().out
    assert "listening 2027Q1: 2 card(s) read back, 2 with a play log or counter" in out
    assert "came back unplayed: 1 device(s): LJ-00002" in out
    assert "  鳳城鎮: 2 read back, 2 reporting, 1 unplayed" in out
    assert "鳳城鎮 id-牢記初心使命: 1/2 device(s) (50%), completion 0%" in out
    assert "id-黨史第一講: played on 1 of 2 reporting device(s) (50%), 2 play(s), completion 100%" in out
    # the HTML report (issue 14) shows the same figures on its front page, and per lesson
    from pipeline.catalog import Catalog
    from pipeline.config import load_config
    from pipeline.report import listens_source
    with Catalog(tmp_path / "st" / "library" / "catalog.sqlite") as cat:
        listens = listens_source(load_config(cfg), cat)
    assert listens["lessons"]["id-黨史第一講"]["播放的裝置 devices that played it"] == "1 / 2 (50%)"
    assert listens["lessons"]["id-黨史第一講"]["聽完比例 completion"] == "100%"
    assert run_cli("--config", cfg, "report") == 0
    front = (tmp_path / "st" / "build" / "reports" / "index.html").read_text(encoding="utf-8")
    assert "收聽情況" in front and "2，有播放記錄 with a play log or counter: 2" in front
    assert "1: LJ-00002" in front and "未播放 unplayed 1" in front


def test_a_crews_read_backs_are_recorded_at_the_station_once(loaded, tmp_path, capsys):
    from tests.conftest import make_station
    station, pl, img = loaded
    crew = tmp_path / "crew"
    read_card(ImageCard(img), "LJ-00001", crew, TZ, now=WHEN)
    cfg = make_station(tmp_path / "st")
    capsys.readouterr()
    assert run_cli("--config", cfg, "listens", "--cards", crew) == 0
    assert f"cards: 1 read-back(s) in {crew}, 1 newly recorded" in capsys.readouterr().out
    assert run_cli("--config", cfg, "listens", "--cards", crew) == 0
    assert f"cards: 1 read-back(s) in {crew}, 0 newly recorded" in capsys.readouterr().out
    assert run_cli("--config", cfg, "listens") == 2


def test_the_log_is_kept_even_when_the_store_cannot_be_reached(loaded, tmp_path, capsys):
    station, pl, img = loaded
    rb_dir = tmp_path / "rb"
    assert run_cli("card", "LJ-00001", "--quarter", "2027Q2", "--to", img, "--from", "http://127.0.0.1:9/",
                   "--readback", rb_dir) == 1
    captured = capsys.readouterr()
    assert captured.out.startswith("played in 2027Q1") and "cannot read" in captured.err
    assert len(list(rb_dir.glob("LJ-00001/2027Q1/*/.scrobbler.log"))) == 1
    assert exists(img, ".scrobbler.log")  # nothing on the card changed


def test_a_damaged_read_back_is_reported_not_recorded(loaded, tmp_path):
    station, pl, img = loaded
    crew = tmp_path / "crew"
    back = read_card(ImageCard(img), "LJ-00001", crew, TZ, now=WHEN)
    (back.readback.folder / ".scrobbler.log").write_bytes(b"#AUDIOSCROBBLER/1.1\n")  # changed after storing
    with Catalog(tmp_path / "cat.sqlite") as cat:
        r = import_readbacks(cat, crew, TZ)
        assert (r.found, r.recorded, r.broken) == (1, 0, (back.readback.folder,))
    # reading the card again repairs the stored copy
    assert read_card(ImageCard(img), "LJ-00001", crew, TZ, now=WHEN).readback.new and verify(back.readback.folder)


def test_a_card_loaded_today_without_a_log_has_nothing_to_read_back(tmp_path):
    station = Station(tmp_path / "public")
    station.publish("LJ-00003", "2027Q1", Q1)
    img = fat32(tmp_path / "card.img")
    station.load("LJ-00003", "2027Q1", ImageCard(img), tmp_path / "cache")  # deployment.json written at WHEN
    assert read_card(ImageCard(img), "LJ-00003", tmp_path / "rb", TZ, now=WHEN + dt.timedelta(hours=2)).readback is None
    later = read_card(ImageCard(img), "LJ-00003", tmp_path / "rb", TZ, now=WHEN + dt.timedelta(days=80))
    assert later.readback.quarter == "2027Q1" and later.listening.kind == "none"
