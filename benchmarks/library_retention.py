"""Library retention (issue 12): a station on air for ``--days`` broadcast days (default
90), with and without ``dangke gc``, side by side.

Two stations from ``dangke init`` (short slots so it runs in minutes; the shipped
clocks otherwise), the same lessons (the real recordings of tests/data and the bundled
samples, each also at two speeds, so days air different lessons and their whole-slot
files differ), ``[publish] keep_generations = 3``, ``keep_quarters = 1`` and
``[feeds] broadcast_days = 7``. Both broadcast the ``--days`` days that end yesterday
(days in the past: only the kept quarter and the feeds' week still need their audio),
scheduling and publishing ``--batch`` days at a time, as a station running
``dangke run --days N`` does; one runs ``dangke gc --yes`` after every publish.

"Needed" is computed independently of gc's own selection: the renditions whose keys
the newest ``keep_generations`` published generations list (the catalog's record of
each index.json), plus the current encodes of the current lessons for every profile.
Printed per batch: renditions on disk without gc and with gc, needed, and the ratio
with gc / needed (the issue's bound: at most 1.10).

Usage: .venv/bin/python benchmarks/library_retention.py [--days 90] [--batch 10]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pipeline.cli import main  # noqa: E402
from pipeline.config import load_config  # noqa: E402
from pipeline.encode.lifecycle import profile_hash  # noqa: E402

SLOTS = {"900": 24, "300": 16, "1200": 24, "600": 16}


def cli(*args: object) -> int:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return main([str(a) for a in args])


def station(root: Path) -> Path:
    assert cli("init", root) == 0
    cfg = root / "dangke.toml"
    text = cfg.read_text(encoding="utf-8")
    for old, new in SLOTS.items():
        text = text.replace(f"length_s = {old}\n", f"length_s = {new}\n")
    text = text.replace("broadcast_days = 0 ", "broadcast_days = 7 ").replace("settle_s = 2.0 ", "settle_s = 0.0 ")
    text = text.replace("[publish]\n", "[publish]\nkeep_generations = 3\nkeep_quarters = 1\n", 1)
    cfg.write_text(text, encoding="utf-8")
    return cfg


def lessons(inbox: Path) -> None:
    """Real recordings, each also at 0.9x and 1.1x speed (different lessons, different lengths)."""
    sources = sorted((REPO / "tests" / "data").glob("*.wav")) + [REPO / "tests" / "data" / "zh-cmn_funasr_02_asr-example.mp3"]
    cats = ["theory", "party-spirit", "policy", "skills"]
    n = 0
    for src in sources:
        for tempo in ("1.0", "0.9", "1.1"):
            cat = cats[n % len(cats)]
            dest = inbox / f"{cat}_cmn_lesson-{n:02d}.wav"
            subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(src), "-af", f"atempo={tempo}",
                            "-t", "9", str(dest)], check=True, timeout=120)
            n += 1


def tree_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) if root.is_dir() else 0


def needed_bytes(cfg_path: Path) -> int:
    """Bytes of the renditions the kept generations list, plus current encodes."""
    cfg = load_config(cfg_path)
    db = sqlite3.connect(str(cfg.library / "catalog.sqlite"))
    keep = cfg.publish.keep_generations
    keys = set()
    for (store,) in db.execute("SELECT DISTINCT store FROM publish_generations"):
        numbers = [n for (n,) in db.execute("SELECT number FROM publish_generations WHERE store=? ORDER BY number DESC",
                                            (store,))][:keep]
        for n in numbers:
            keys |= {k for (k,) in db.execute("SELECT key FROM publish_files WHERE store=? AND generation=?", (store, n))}
    current = {(sha, name, profile_hash(p))
               for (sha,) in db.execute("SELECT source_sha256 FROM lessons WHERE superseded = 0")
               for name, p in cfg.profiles.items()}
    total, seen = 0, set()
    for sha, profile, ph, path, rsha, size, ext in db.execute(
            "SELECT source_sha256, profile, profile_hash, path, sha256, bytes, extension FROM renditions"):
        if path in seen:
            continue
        if f"audio/{profile}/{rsha}.{ext}" in keys or (sha, profile, ph) in current:
            seen.add(path)
            total += size
    db.close()
    return total


def main_bench() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--batch", type=int, default=10)
    ap.add_argument("--end", default=None, help="last broadcast day (default: yesterday)")
    args = ap.parse_args()
    end = dt.date.fromisoformat(args.end) if args.end else dt.date.today() - dt.timedelta(days=1)
    first = end - dt.timedelta(days=args.days - 1)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="dangke-retention-") as tmp:
        roots = {"no gc": Path(tmp) / "plain", "gc": Path(tmp) / "gc"}
        cfgs = {k: station(r) for k, r in roots.items()}
        lessons(roots["no gc"] / "inbox")
        for p in (roots["no gc"] / "inbox").iterdir():
            shutil.copy(p, roots["gc"] / "inbox" / p.name)
        for cfg in cfgs.values():
            assert cli("--config", cfg, "ingest") == 0
            assert cli("--config", cfg, "encode") == 0
        print(f"setup (ingest and encode of {len(list((roots['gc'] / 'library' / 'originals').rglob('*.*')))} lessons, "
              f"both stations): {time.monotonic() - started:.0f} s")
        print(f"{args.days} broadcast days {first} .. {end}, {args.batch} per publish; slots {SLOTS} s")
        print(f"{'days':>5} {'no gc MB':>9} {'gc MB':>8} {'needed MB':>10} {'gc/needed':>10} {'no gc/needed':>13}")
        day, done = first, 0
        rows = []
        while day <= end:
            n = min(args.batch, (end - day).days + 1)
            for name, cfg in cfgs.items():
                assert cli("--config", cfg, "schedule", "--date", day, "--days", n) in (0, 1)
                assert cli("--config", cfg, "publish") == 0
                if name == "gc":
                    assert cli("--config", cfg, "gc", "--yes") == 0
            done += n
            day += dt.timedelta(days=n)
            plain = tree_bytes(roots["no gc"] / "library" / "renditions")
            with_gc = tree_bytes(roots["gc"] / "library" / "renditions")
            need = needed_bytes(cfgs["gc"])
            rows.append((done, plain, with_gc, need))
            print(f"      ({time.monotonic() - started:.0f} s so far)", flush=True)
            print(f"{done:5d} {plain / 1e6:9.1f} {with_gc / 1e6:8.1f} {need / 1e6:10.1f} {with_gc / need:10.3f} "
                  f"{plain / need:13.3f}", flush=True)
        originals = tree_bytes(roots["gc"] / "library" / "originals")
        print(f"originals (never removed, same in both): {originals / 1e6:.1f} MB")
        _, plain, with_gc, need = rows[-1]
        print(f"after {done} days: with gc the renditions are {with_gc / need:.3f} x what the kept generations and "
              f"quarters need (bound 1.10); without gc {plain / need:.3f} x")


if __name__ == "__main__":
    main_bench()
