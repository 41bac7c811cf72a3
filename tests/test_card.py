"""The refresh crews' card loader (issue 5) on real FAT32 images (mkfs.vfat), with the
directory-entry order read back by fatsort, a tool other than the mtools the loader
writes with. The store is a real published layout (file:// and HTTP)."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import http.server
import json
import os
import random
import re
import subprocess
import threading
from pathlib import Path

import pytest

from pipeline import layout
from pipeline.card import CardRefused, StoreSource, load_card, read_published
from pipeline.cardfs import ImageCard, MountedCard, open_card
from pipeline.models import DevicePlaylist, PlaylistItem
from pipeline.publish.store import FileStore
from playlists.cardnames import card_path
from tests.conftest import run_cli

MTOOLS = {**os.environ, "MTOOLS_SKIP_CHECK": "1", "MTOOLSRC": os.devnull, "LC_ALL": "C.UTF-8"}
WHEN = dt.datetime(2026, 12, 20, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def fat32(path: Path, kib: int = 66000) -> Path:
    """A fresh FAT32 image (512-byte clusters, so a small image is still FAT32)."""
    subprocess.run(["mkfs.vfat", "-C", "-F", "32", "-s", "1", "-n", "PLAYER", str(path), str(kib)],
                   check=True, capture_output=True, timeout=60)
    return path


def entry_order(image: Path, folder: str = "DANGKE") -> list[str]:
    """Names in directory-entry order, as fatsort lists them (``fatsort -l``)."""
    out = subprocess.run(["fatsort", "-l", str(image)], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "LC_ALL": "C.UTF-8"}).stdout
    sections = re.split(r"\n(?=/)", out)
    for sec in sections:
        lines = sec.strip().splitlines()
        if lines and lines[0] == f"/{folder}/":
            return lines[1:]
    return []


def root_entries(image: Path) -> list[str]:
    return entry_order(image, "")  # fatsort lists the root as "/"


def card_file(image: Path, path: str) -> bytes:
    return subprocess.run(["mcopy", "-i", str(image), f"::/{path}", "-"], capture_output=True, check=True,
                          env=MTOOLS, timeout=60).stdout


def blob(name: str, size: int) -> bytes:
    return random.Random(name).randbytes(size)


class Station:
    """A published store (file:// layout) with device playlists, for the loader."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.store = FileStore(root)
        self.index: dict[str, dict] = {}
        self.generation = 0

    def _put(self, key: str, data: bytes) -> None:
        p = self.root / key
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        self.index[key] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}

    def publish(self, device: str, quarter: str, lessons: list[tuple[str, int]]) -> DevicePlaylist:
        """``lessons``: (title, size) in play order; audio bytes depend on the title only."""
        items = []
        for n, (title, size) in enumerate(lessons, start=1):
            data = blob(title, size)
            sha = hashlib.sha256(data).hexdigest()
            key = f"audio/player/{sha}.mp3"
            self._put(key, data)
            items.append(PlaylistItem(n, f"id-{title}", title, "party-spirit", "cdo", size / 8000, size, sha, key,
                                      card_path(n, title, "mp3")))
        pl = DevicePlaylist(device, quarter, "player", tuple(items))
        self._put(f"devices/{quarter}/{device}/manifest.json", layout.manifest(pl))
        self._put(f"devices/{quarter}/{device}/playlist.m3u", layout.device_m3u(pl))
        self.generation += 1
        (self.root / "index.json").write_text(json.dumps({"generation": self.generation, "published_at": "x",
                                                          "files": self.index}), encoding="utf-8")
        return pl

    def load(self, device: str, quarter: str, card, cache: Path, **kw):
        src = StoreSource(self.store)
        return load_card(read_published(src, device, quarter), src, card, cache, now=WHEN, **kw)


Q1 = [("黨史第一講", 120_000), ("牢記初心使命", 90_000), ('第4课 "问答" <上>', 60_000), ("CON", 30_000),
      ("Lesson 3: What is tone?", 45_000)]
Q2 = [("新時代理論", 70_000), ("牢記初心使命", 90_000), ("海上安全", 50_000), ("黨史第一講", 120_000),
      ("鮑魚養殖", 40_000)]


@pytest.fixture
def station(tmp_path) -> Station:
    return Station(tmp_path / "public")


def expected(pl: DevicePlaylist) -> list[str]:
    return [i.card_path.casefold() for i in pl.items] + ["playlist.m3u"]


def test_first_load_copies_in_play_order_with_checksums_and_deployment(station, tmp_path):
    pl = station.publish("LJ-00001", "2027Q1", Q1)
    img = fat32(tmp_path / "card.img")
    report = station.load("LJ-00001", "2027Q1", ImageCard(img), tmp_path / "cache")
    assert (report.copied, report.kept, report.removed) == (5, 0, 0)
    assert [n.casefold() for n in entry_order(img)] == expected(pl)
    for item in pl.items:
        assert hashlib.sha256(card_file(img, f"DANGKE/{item.card_path}")).hexdigest() == item.sha256
    m3u = card_file(img, "DANGKE/playlist.m3u").decode("utf-8")
    assert [line for line in m3u.splitlines() if not line.startswith("#")] == [i.card_path for i in pl.items]
    dep = json.loads(card_file(img, "deployment.json"))
    assert (dep["device_id"], dep["quarter"], dep["generation"], dep["written_at"]) == \
        ("LJ-00001", "2027Q1", 1, "2026-12-20T09:30:00+08:00")
    assert "DANGKE_NEW" not in "".join(entry_order(img, "DANGKE_NEW"))
    again = station.load("LJ-00001", "2027Q1", ImageCard(img), tmp_path / "cache")
    assert again.up_to_date


def test_next_quarter_removes_what_is_not_kept_and_keeps_play_order(station, tmp_path):
    station.publish("LJ-00001", "2027Q1", Q1)
    img = fat32(tmp_path / "card.img")
    station.load("LJ-00001", "2027Q1", ImageCard(img), tmp_path / "cache")
    pl2 = station.publish("LJ-00001", "2027Q2", Q2)
    report = station.load("LJ-00001", "2027Q2", ImageCard(img), tmp_path / "cache")
    assert (report.kept, report.copied, report.removed) == (2, 3, 4)  # 3 lessons + the old playlist.m3u removed
    assert report.bytes_copied == 70_000 + 50_000 + 40_000
    assert [n.casefold() for n in entry_order(img)] == expected(pl2)
    for item in pl2.items:
        assert hashlib.sha256(card_file(img, f"DANGKE/{item.card_path}")).hexdigest() == item.sha256
    assert json.loads(card_file(img, "deployment.json"))["quarter"] == "2027Q2"


def test_a_card_too_small_is_refused_before_anything_changes(station, tmp_path):
    station.publish("LJ-00003", "2027Q1", Q1[:2] + [("長課", 3_000_000)])
    img = fat32(tmp_path / "small.img")
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\0" * 64_000_000)
    subprocess.run(["mcopy", "-i", str(img), str(junk), "::/OLDFILES.BIN"], check=True, env=MTOOLS, timeout=60)
    before = subprocess.run(["mdir", "-a", "-i", str(img), "::/"], capture_output=True, env=MTOOLS).stdout
    with pytest.raises(CardRefused) as err:
        station.load("LJ-00003", "2027Q1", ImageCard(img), tmp_path / "cache")
    text = str(err.value)
    assert "the card is too small: LJ-00003's 2027Q1 playlist needs 3.2 MB more" in text and "larger card" in text
    assert subprocess.run(["mdir", "-a", "-i", str(img), "::/"], capture_output=True, env=MTOOLS).stdout == before


def test_an_interrupted_copy_is_resumed_by_running_again(station, tmp_path):
    pl = station.publish("LJ-00001", "2027Q1", Q1)
    img = fat32(tmp_path / "card.img")
    done = []

    def pull_the_card(action, name, size):
        done.append(name)
        if len(done) == 2:
            raise KeyboardInterrupt("card pulled")
    with pytest.raises(KeyboardInterrupt):
        station.load("LJ-00001", "2027Q1", ImageCard(img), tmp_path / "cache", progress=pull_the_card)
    assert len(entry_order(img, "DANGKE_NEW")) == 2
    # a torn write: the second file cut short, as when the card is pulled mid-copy
    torn = tmp_path / "torn"
    torn.write_bytes(blob(Q1[1][0], Q1[1][1])[:1000])
    subprocess.run(["mcopy", "-D", "o", "-i", str(img), str(torn), f"::/DANGKE_NEW/{pl.items[1].card_path}"],
                   check=True, env=MTOOLS, timeout=60)
    report = station.load("LJ-00001", "2027Q1", ImageCard(img), tmp_path / "cache")
    assert report.resumed == 1 and report.copied == 4
    assert [n.casefold() for n in entry_order(img)] == expected(pl)
    assert entry_order(img, "DANGKE_NEW") == []
    for item in pl.items:
        assert hashlib.sha256(card_file(img, f"DANGKE/{item.card_path}")).hexdigest() == item.sha256


def test_an_interrupted_update_keeps_the_kept_files_and_finishes_in_order(station, tmp_path):
    station.publish("LJ-00001", "2027Q1", Q1)
    img = fat32(tmp_path / "card.img")
    station.load("LJ-00001", "2027Q1", ImageCard(img), tmp_path / "cache")
    pl2 = station.publish("LJ-00001", "2027Q2", Q2)
    steps = []

    def stop(action, name, size):
        steps.append(action)
        if steps.count("keep") == 1:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        station.load("LJ-00001", "2027Q2", ImageCard(img), tmp_path / "cache", progress=stop)
    report = station.load("LJ-00001", "2027Q2", ImageCard(img), tmp_path / "cache")
    assert report.resumed == 2 and report.kept == 1  # 黨史第一講 still moved from the old folder
    assert [n.casefold() for n in entry_order(img)] == expected(pl2)
    for item in pl2.items:
        assert hashlib.sha256(card_file(img, f"DANGKE/{item.card_path}")).hexdigest() == item.sha256


def test_another_devices_card_is_refused_unless_reassigned(station, tmp_path):
    station.publish("LJ-00001", "2027Q1", Q1[:2])
    pl = station.publish("LJ-00002", "2027Q1", Q1[2:])
    img = fat32(tmp_path / "card.img")
    station.load("LJ-00001", "2027Q1", ImageCard(img), tmp_path / "cache")
    with pytest.raises(CardRefused) as err:
        station.load("LJ-00002", "2027Q1", ImageCard(img), tmp_path / "cache")
    assert "this card belongs to LJ-00001 (2027Q1), not LJ-00002" in str(err.value)
    station.load("LJ-00002", "2027Q1", ImageCard(img), tmp_path / "cache", reassign=True)
    assert [n.casefold() for n in entry_order(img)] == expected(pl)
    assert json.loads(card_file(img, "deployment.json"))["device_id"] == "LJ-00002"


def test_a_damaged_store_file_is_refused_before_the_card_is_touched(station, tmp_path):
    pl = station.publish("LJ-00001", "2027Q1", Q1)
    (station.root / pl.items[3].key).write_bytes(b"not what was published")
    img = fat32(tmp_path / "card.img")
    with pytest.raises(CardRefused) as err:
        station.load("LJ-00001", "2027Q1", ImageCard(img), tmp_path / "cache")
    assert "does not match the manifest" in str(err.value) and "nothing was written" in str(err.value)
    assert entry_order(img) == [] and entry_order(img, "DANGKE_NEW") == []
    (station.root / "devices/2027Q1/LJ-00001/playlist.m3u").write_text("#EXTM3U\n")
    with pytest.raises(CardRefused, match="does not match index.json"):
        station.load("LJ-00001", "2027Q1", ImageCard(img), tmp_path / "cache")


def test_a_mounted_card_folder_is_loaded_the_same_way(station, tmp_path):
    station.publish("LJ-00001", "2027Q1", Q1)
    card = tmp_path / "mnt"
    card.mkdir()
    (card / "MUSIC").mkdir()  # the holder's own files are left alone
    station.load("LJ-00001", "2027Q1", open_card(card), tmp_path / "cache")
    pl2 = station.publish("LJ-00001", "2027Q2", Q2)
    report = station.load("LJ-00001", "2027Q2", MountedCard(card), tmp_path / "cache")
    assert report.kept == 2
    assert sorted(p.name for p in (card / "DANGKE").iterdir()) == sorted([i.card_path for i in pl2.items] + ["playlist.m3u"])
    assert (card / "MUSIC").is_dir() and not (card / "DANGKE_NEW").exists()
    assert json.loads((card / "deployment.json").read_text(encoding="utf-8"))["quarter"] == "2027Q2"


@pytest.fixture
def http_store(station):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass
    handler = functools.partial(Quiet, directory=str(station.root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield station, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_the_card_command_loads_over_http_and_refuses_clearly(http_store, tmp_path, capsys):
    station, url = http_store
    pl = station.publish("LJ-00001", "2027Q1", Q1)
    img = fat32(tmp_path / "card.img")
    assert run_cli("card", "LJ-00001", "--quarter", "2027Q1", "--to", img, "--from", url,
                   "--cache", tmp_path / "cache") == 0
    out = capsys.readouterr().out
    assert "card LJ-00001 2027Q1 (generation 1)" in out and "5 copied" in out
    assert [n.casefold() for n in entry_order(img)] == expected(pl)
    station.publish("LJ-00002", "2027Q1", Q2)
    assert run_cli("card", "LJ-00002", "--quarter", "2027Q1", "--to", img, "--from", url,
                   "--cache", tmp_path / "cache") == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "belongs to LJ-00001" in err[0] and "--reassign" in err[0]
    assert run_cli("card", "LJ-09999", "--quarter", "2027Q1", "--to", img, "--from", url) == 1
    assert "LJ-09999 has no playlist for 2027Q1" in capsys.readouterr().err
    assert run_cli("card", "LJ-00001", "--quarter", "2027Q9", "--to", img, "--from", url) == 2


def test_the_loader_reads_an_s3_store_over_http(station, tmp_path, s3_server):
    """The same published layout in a real S3-compatible server (moto over HTTP), read
    through the S3 store's boto3 client as ``--from s3://...`` or the configured store do."""
    from pipeline.publish.s3 import S3Store
    from tests.conftest import s3_client
    pl = station.publish("LJ-00001", "2027Q1", Q1)
    client = s3_client(s3_server)
    client.create_bucket(Bucket="dk-card")
    for p in sorted(station.root.rglob("*")):
        if p.is_file():
            client.put_object(Bucket="dk-card", Key="county/" + p.relative_to(station.root).as_posix(),
                              Body=p.read_bytes())
    src = StoreSource(S3Store("dk-card", "county", endpoint_url=s3_server, region="us-east-1",
                              addressing_style="path"))
    img = fat32(tmp_path / "card.img")
    report = load_card(read_published(src, "LJ-00001", "2027Q1"), src, ImageCard(img), tmp_path / "cache",
                       now=WHEN)
    assert (report.copied, report.generation) == (5, 1)
    assert [n.casefold() for n in entry_order(img)] == expected(pl)
    client.put_object(Bucket="dk-card", Key=f"county/{pl.items[0].key}", Body=b"damaged")
    with pytest.raises(CardRefused):
        load_card(read_published(src, "LJ-00001", "2027Q1"), src, ImageCard(fat32(tmp_path / "c2.img")),
                  tmp_path / "cache2", now=WHEN)


def test_the_same_files_for_a_new_quarter_only_relabel_the_card(station, tmp_path, capsys):
    """A device whose next quarter keeps every file: nothing is copied, deployment.json
    moves to the new quarter, and the crew is told so (it said "already up to date")."""
    station.publish("LJ-00001", "2027Q1", Q1)
    img = fat32(tmp_path / "card.img")
    station.load("LJ-00001", "2027Q1", ImageCard(img), tmp_path / "cache")
    station.publish("LJ-00001", "2027Q2", Q1)
    report = station.load("LJ-00001", "2027Q2", ImageCard(img), tmp_path / "cache")
    assert report.up_to_date and report.copied == 0 and report.relabelled_from == "2027Q1 generation 1"
    dep = json.loads(card_file(img, "deployment.json"))
    assert (dep["quarter"], dep["generation"]) == ("2027Q2", 2)
    again = station.load("LJ-00001", "2027Q2", ImageCard(img), tmp_path / "cache")
    assert again.up_to_date and again.relabelled_from == ""
