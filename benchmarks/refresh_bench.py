"""A simulated quarterly refresh of one township (issue 15): time of the card read-back
and the listening statistics it gives.

1. a published store (file://) with 12 lessons and a 2027Q1 and a 2027Q2 playlist for
   each of ``--devices`` players (default 300) of one township (5 villages);
2. every card (a folder, as a mounted card; ``--images N`` of them as FAT32 images made
   with mkfs.vfat and written with mtools) is loaded for 2027Q1, then spends the quarter
   in a player: 15% of the players keep no log, 10% come back unplayed (a log with its
   header only), the others write a Rockbox ``.scrobbler.log`` of 0-40 plays (``L`` or
   ``S``, local times, now and then a last line cut off);
3. the measured refresh, card by card as a crew does it: read back (store + verify +
   record in the catalog), load 2027Q2, clear the stored logs.

Baseline, side by side: the same 2027Q2 loads of identical cards without the read-back.
The ratio shows what reading back costs a crew. Then the township's statistics
(``dangke status``'s listening block) are printed.

    .venv/bin/python benchmarks/refresh_bench.py [--devices 300] [--images 20]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
import zoneinfo
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline import layout  # noqa: E402
from pipeline.card import StoreSource, load_card, read_published  # noqa: E402
from pipeline.cardfs import ImageCard, MountedCard  # noqa: E402
from pipeline.catalog import Catalog  # noqa: E402
from pipeline.listens import clear_logs, read_card  # noqa: E402
from pipeline.listens.statuslines import summary_lines  # noqa: E402
from pipeline.listens.summary import listening_summary  # noqa: E402
from pipeline.models import DevicePlaylist, PlaylistItem  # noqa: E402
from pipeline.publish.store import FileStore  # noqa: E402
from playlists.cardnames import card_path  # noqa: E402

TZ = zoneinfo.ZoneInfo("Asia/Shanghai")
WHEN = dt.datetime(2027, 4, 2, 9, 0, tzinfo=TZ)
LESSONS = [(f"第{n}講 {t}", 40_000 + 3_000 * n) for n, t in enumerate(
    ["黨史", "初心使命", "新時代理論", "海上安全", "鮑魚養殖", "防颱", "紅色故事", "政策宣講", "茶葉技術", "黨章",
     "廉潔", "鄉村振興"], start=1)]
HEADER = "#AUDIOSCROBBLER/1.1\n#TZ/UNKNOWN\n#CLIENT/Rockbox sansaclipzip $Revision$\n"


def publish(root: Path, devices: list[str], rng: random.Random) -> None:
    index: dict[str, dict] = {}

    def put(key: str, data: bytes) -> None:
        p = root / key
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        index[key] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    blobs = {t: random.Random(t).randbytes(size) for t, size in LESSONS}
    for quarter in ("2027Q1", "2027Q2"):
        for d in devices:
            chosen = sorted(rng.sample(range(len(LESSONS)), 8))
            items = []
            for n, k in enumerate(chosen, start=1):
                title, size = LESSONS[k]
                sha = hashlib.sha256(blobs[title]).hexdigest()
                put(f"audio/player/{sha}.mp3", blobs[title])
                items.append(PlaylistItem(n, f"L{k + 1:02d}", title, "theory", "cdo", size / 100, size, sha,
                                          f"audio/player/{sha}.mp3", card_path(n, title, "mp3")))
            pl = DevicePlaylist(d, quarter, "player", tuple(items))
            put(f"devices/{quarter}/{d}/manifest.json", layout.manifest(pl))
            put(f"devices/{quarter}/{d}/playlist.m3u", layout.device_m3u(pl))
    (root / "index.json").write_text(json.dumps({"generation": 1, "published_at": "x", "files": index}))


def scrobbler_log(titles: list[str], rng: random.Random, kind: str) -> bytes | None:
    if kind == "none":
        return None
    lines = [HEADER]
    if kind == "played":
        start = dt.datetime(2027, 1, 5, 19, 0, tzinfo=dt.timezone.utc)
        for _ in range(rng.randint(0, 40)):
            start += dt.timedelta(hours=rng.randint(3, 60))
            title = rng.choice(titles)
            lines.append(f"林老師\t黨課隨身聽\t{title}\t\t{rng.randint(400, 800)}\t{rng.choice('LLLS')}\t"
                         f"{int(start.timestamp())}\t\n")
        if rng.random() < 0.1:
            lines.append("林老師\t黨課隨身聽\t第")  # the power went while writing
    return "".join(lines).encode()


def fat32(path: Path) -> Path:
    subprocess.run(["mkfs.vfat", "-C", "-F", "32", "-s", "1", "-n", "PLAYER", str(path), "66000"],
                   check=True, capture_output=True, timeout=60)
    return path


def make_cards(work: Path, src, devices: list[str], images: int, rng: random.Random) -> dict[str, object]:
    cards = {}
    for n, d in enumerate(devices):
        if n < images:
            card = ImageCard(fat32(work / f"{d}.img"))
        else:
            (work / d).mkdir()
            card = MountedCard(work / d)
        pub = read_published(src, d, "2027Q1")
        load_card(pub, src, card, work / "cache", now=WHEN - dt.timedelta(days=90))
        cards[d] = (card, [t.title for t in pub.targets if t.title])
    return cards


def add_logs(cards: dict, rng: random.Random, work: Path) -> None:
    for d, (card, titles) in cards.items():
        kind = rng.choices(["none", "unplayed", "played"], [15, 10, 75])[0]
        data = scrobbler_log(titles, rng, kind)
        if data is not None:
            card.write(".scrobbler.log", data)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=300)
    ap.add_argument("--images", type=int, default=20, help="how many cards are FAT32 images (the rest folders)")
    args = ap.parse_args()
    devices = [f"LJ-{n:05d}" for n in range(1, args.devices + 1)]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        publish(work / "public", devices, random.Random(7))
        src = StoreSource(FileStore(work / "public"))
        pubs = {d: read_published(src, d, "2027Q2") for d in devices}
        runs = {}
        for label in ("baseline", "refresh"):
            rng = random.Random(11)
            (work / label).mkdir()
            cards = make_cards(work / label, src, devices, args.images, rng)
            add_logs(cards, rng, work / label)
            with Catalog(work / label / "library" / "catalog.sqlite") as cat:
                started = time.perf_counter()
                for d, (card, _titles) in cards.items():
                    back = read_card(card, d, work / label / "library" / "readback", TZ, catalog=cat,
                                     now=WHEN) if label == "refresh" else None
                    load_card(pubs[d], src, card, work / label / "cache", now=WHEN)
                    if back is not None and back.readback is not None:
                        clear_logs(card, back.readback)
                runs[label] = time.perf_counter() - started
                if label == "refresh":
                    towns = {d: "琯頭鎮" for d in devices}
                    summary = listening_summary(cat, towns, "2027Q1")
            shutil.rmtree(work / label, ignore_errors=True)
    n = len(devices)
    print(f"refresh of one township: {n} cards ({args.images} FAT32 images via mtools, {n - args.images} folders)")
    print(f"{'run':<10} {'seconds':>8} {'per card':>9}")
    for label, secs in runs.items():
        print(f"{label:<10} {secs:8.1f} {secs / n * 1000:7.0f} ms")
    print(f"ratio refresh/baseline: {runs['refresh'] / runs['baseline']:.2f}")
    for line in summary_lines(summary, limit=12):
        print(line)


if __name__ == "__main__":
    main()
