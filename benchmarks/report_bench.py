"""The station report at demo size and at county size: time and size of the pages (issue 14).

Goals: the demo station (10 lessons, the shipped 35-device fleet, 7 broadcast days) in
under 10 s; a 6,000-device quarter with 500 lessons in under 60 s and 200 MB of pages,
on 2 cores. Each size gets a synthetic station made by `dangke init`: lessons in the
catalog with findings, five renditions each (small files in the library, so the publish
prediction sees them) and loudness curves of the length of each lesson (about 2,000
points for 30 minutes, as ingest and encode keep them); a fleet of 22 townships with
its planned manifests, diffs and problems in the staging tree; two channels' schedules.

Baseline, side by side: the same report run again on the unchanged station (every
picture reused, no page rewritten): the ratio shows what the picture cache saves. Wall
seconds and CPU seconds (this process and the picture workers) of each run: on a shared
machine the wall time follows the load, the CPU time much less.

    .venv/bin/python benchmarks/report_bench.py                  # demo and county sizes
    .venv/bin/python benchmarks/report_bench.py --lessons 500 --devices 6000
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline import curves  # noqa: E402
from pipeline.catalog import Catalog  # noqa: E402
from pipeline.cli import main  # noqa: E402
from pipeline.config import load_config  # noqa: E402
from pipeline.encode.lifecycle import profile_hash  # noqa: E402
from pipeline.media.meter import Curve, curve_from_blocks  # noqa: E402
from pipeline.models import Lesson, Rendition  # noqa: E402
from pipeline.report import build_report  # noqa: E402

CATEGORIES = ["theory"] * 3 + ["party-spirit"] * 3 + ["policy", "skills", "red-culture"]
TOWNS = [f"{a}{b}鎮" for a in "鳳丹琯苔透黃官敖東浦江" for b in "城陽"]
QUARTER = "2027Q1"


def _curve(rng: random.Random, seconds: float, level: float) -> Curve:
    """A speech-like curve: 100 ms blocks of noise energy with pauses, as a meter keeps it."""
    n = max(1, int(seconds * 10))
    gen = np.random.default_rng(rng.randrange(1 << 30))
    energy = 10 ** ((level + gen.normal(0, 4, n)) / 10) * 4800 * (gen.random(n) > 0.15)
    peak = np.sqrt(energy / 4800) * 4
    return curve_from_blocks(energy, np.minimum(peak, 1.0), 4800)


def _lessons(cfg, cat: Catalog, count: int, rng: random.Random) -> dict[str, list[tuple]]:
    """``count`` lessons with findings, renditions of every profile and curves; returns
    ``{category: [(lesson_id, title, key, sha256, bytes, seconds)]}`` of the player renditions."""
    player: dict[str, list[tuple]] = {}
    for i in range(count):
        sha = f"{i:064x}"
        seconds = rng.choice([300, 600, 900, 1500, 1800, 2700])
        category = rng.choice(CATEGORIES)
        level = rng.uniform(-35, -18)
        findings = {"duration_s": seconds, "sample_rate": 44100, "channels": 1, "codec": "mp3",
                    "integrated_lufs": level, "lra_lu": rng.uniform(3, 15), "true_peak_dbtp": level + 14,
                    "clipped_share": 0.0, "leading_silence_s": 0.4, "trailing_silence_s": 1.2,
                    "total_silence_s": 20.0, "dc_offset": 0.0, "channel_mode": "mono",
                    "warnings": [] if level > -30 else ["very quiet recording / 錄音音量很小"],
                    "verdict": "accept" if level > -30 else "warn", "effective_bandwidth_hz": 7800.0}
        lesson = Lesson(lesson_id=f"L-{i:05d}", version=1, source_sha256=sha, title=f"第{i}課 黨課學習",
                        category=category, dialect=rng.choice(["cdo", "cmn"]), duration_s=seconds,
                        original_name=f"lesson_{i}.mp3", ingested_at=f"2026-11-{1 + i % 28:02d}T08:00:00+00:00")
        with cat.transaction():
            cat.add_source(sha, f"originals/{sha[:2]}/{sha}.mp3", seconds * 8000, lesson.original_name, "lesson",
                           {}, findings)
            cat.add_lesson(lesson, tuple(findings["warnings"]))
            curves.store(cat, sha, "source", _curve(rng, seconds, level))
            for name, p in cfg.profiles.items():
                rsha = f"{i:032x}{abs(hash(name)) % (1 << 64):032x}"
                path = cfg.library / "renditions" / name / f"{rsha}.{p.extension}"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(b"\0" * 512)
                r = Rendition(sha, name, profile_hash(p), str(path.relative_to(cfg.library)), rsha, 512, seconds,
                              p.extension, p.loudness_lufs + rng.uniform(-0.3, 0.3), p.true_peak_dbtp - 0.5, 6.0)
                cat.add_rendition(r)
                curves.store(cat, rsha, "rendition", _curve(rng, seconds, p.loudness_lufs))
                if name == "player":
                    player.setdefault(category, []).append((lesson.lesson_id, lesson.title, r.key, rsha, 512, seconds))
    return player


def _fleet(cfg, devices: int, player: dict[str, list[tuple]], rng: random.Random) -> None:
    """A fleet registry and the staged plan of :data:`QUARTER` (manifests, diffs, problems)."""
    rows, problems = [], []
    qdir = cfg.build / "devices" / QUARTER
    for n in range(devices):
        did = f"LJ-{n + 1:05d}"
        town = TOWNS[n % len(TOWNS)]
        row = [did, town, f"{town[:2]}{n % 13}村", rng.choice(["fisher", "elderly", "mobility", "general"]),
               "cdo", "player", 1024]
        rows.append(row)
        if rng.random() < 0.01:
            problems.append([did, town, row[2], row[3], "cdo", "not-planned", "the card is too small for the county rule"])
            continue
        picks = [(rng.choice(player[c]), c) for c in rng.choices(CATEGORIES, k=24) if player.get(c)]
        items = [{"position": k + 1, "lesson_id": p[0], "title": p[1], "category": c, "dialect": "cdo",
                  "duration_s": p[5], "bytes": p[4], "sha256": p[3], "key": p[2], "card_path": f"{k + 1:03d}.mp3"}
                 for k, (p, c) in enumerate(picks)]
        secs: dict[str, float] = {}
        for it in items:
            secs[it["category"]] = secs.get(it["category"], 0.0) + it["duration_s"]
        d = qdir / did
        d.mkdir(parents=True, exist_ok=True)
        (d / "manifest.json").write_text(json.dumps({
            "device_id": did, "quarter": QUARTER, "profile": "player", "items": items,
            "totals": {"duration_s": sum(secs.values()), "bytes": sum(i["bytes"] for i in items)},
            "category_seconds": secs}, ensure_ascii=False, indent=2), encoding="utf-8")
        (d / "diff.json").write_text(json.dumps({"device_id": did, "quarter": QUARTER, "previous_quarter": "",
                                                 "add": items[:8], "keep": items[8:], "remove": [],
                                                 "bytes_to_write": sum(i["bytes"] for i in items[:8]),
                                                 "bytes_to_free": 0}), encoding="utf-8")
        if rng.random() < 0.1:
            problems.append([did, town, row[2], row[3], "cdo", "own-dialect", "only 40% in cdo (60% wished)"])
    with open(cfg.registry, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["device_id", "township", "village", "group", "dialect", "profile", "capacity_mb"])
        w.writerows(rows)
    rep = cfg.build / "reports" / QUARTER
    rep.mkdir(parents=True, exist_ok=True)
    with open(rep / "problems.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["device_id", "township", "village", "group", "dialect", "kind", "message"])
        w.writerows(problems)


def _schedules(cfg, player: dict[str, list[tuple]], days: int, rng: random.Random) -> None:
    flat = [(c, p) for c, ps in player.items() for p in ps]
    for channel in cfg.channels:
        for k in range(days):
            day = dt.date(2026, 12, 1) + dt.timedelta(days=k)
            slots = []
            for hour in (6, 12, 19):
                c, p = rng.choice(flat)
                start = f"{day}T{hour:02d}:30:00+08:00"
                slots.append({"start": start, "end": f"{day}T{hour + 1:02d}:00:00+08:00", "title": "黨課時間",
                              "items": [{"start": start, "duration_s": p[5], "kind": "lesson", "lesson_id": p[0],
                                         "title": p[1], "category": c, "key": p[2], "sha256": p[3]}]})
            d = cfg.build / "broadcast" / channel
            d.mkdir(parents=True, exist_ok=True)
            doc = {"channel": channel, "date": str(day), "timezone": cfg.station.timezone, "slots": slots}
            (d / f"{day}.json").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")


def _size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def run(lessons: int, devices: int, days: int, workers: int) -> dict:
    rng = random.Random(14)
    with tempfile.TemporaryDirectory(prefix="dangke-report-bench-") as tmp:
        root = Path(tmp) / "station"
        assert main(["init", str(root)]) == 0
        cfg = load_config(root / "dangke.toml")
        t0 = time.monotonic()
        with Catalog(cfg.library / "catalog.sqlite") as cat:
            player = _lessons(cfg, cat, lessons, rng)
        _fleet(cfg, devices, player, rng)
        _schedules(cfg, player, days, rng)
        made = time.monotonic() - t0
        with Catalog(cfg.library / "catalog.sqlite") as cat:
            cpu = _cpu()
            first = build_report(cfg, cat, workers=workers)
            cpu_first = _cpu() - cpu
            again = build_report(cfg, cat, workers=workers)
            cpu_again = _cpu() - cpu - cpu_first
        size = _size(cfg.build / "reports")
    return {"lessons": lessons, "devices": devices, "made_s": made, "first": first, "again": again, "bytes": size,
            "cpu_first": cpu_first, "cpu_again": cpu_again}


def _cpu() -> float:
    """CPU seconds of this process and of its children that ended (the picture workers)."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def main_(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lessons", type=int)
    ap.add_argument("--devices", type=int)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    a = ap.parse_args(argv)
    goal = 60.0 if (a.lessons or 0) > 10 or (a.devices or 0) > 35 else 10.0  # the county goal, else the demo's
    sizes = [(a.lessons, a.devices, goal)] if a.lessons else [(10, 35, 10.0), (500, 6000, 60.0)]
    print(f"{'lessons':>7} {'devices':>7} {'pages':>6} {'pictures':>8} {'first s':>8} {'cpu s':>6} {'goal s':>6} "
          f"{'first/goal':>10} {'again s':>8} {'cpu s':>6} {'first/again':>11} {'MB':>7} {'MB/200':>7}")
    for lessons, devices, goal in sizes:
        r = run(lessons, devices or 35, a.days, a.workers)
        f, g = r["first"], r["again"]
        print(f"{lessons:>7} {r['devices']:>7} {f.pages:>6} {f.pictures_drawn:>8} {f.seconds:>8.1f} "
              f"{r['cpu_first']:>6.1f} {goal:>6.0f} {f.seconds / goal:>10.2f} {g.seconds:>8.1f} {r['cpu_again']:>6.1f} "
              f"{f.seconds / max(g.seconds, 1e-3):>11.1f} "
              f"{r['bytes'] / 1e6:>7.1f} {r['bytes'] / 200e6:>7.2f}", flush=True)
        assert g.pictures_drawn == 0 and g.pages_written == 0, "the second run should reuse everything"


if __name__ == "__main__":
    main_()
