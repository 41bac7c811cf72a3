"""Throughput of ingest analysis and encode: the local pool against a Dask cluster of 1 and 2 workers.

    .venv/bin/python benchmarks/compute_bench.py [--lessons 4] [--minutes 3] [--profiles player web loudspeaker]

Lessons are cut from the real recording ``samples/inbox/lesson_2027q1_01.opus`` (looped,
each from another offset so every lesson has its own sha256), 44.1 kHz mono WAV. Each
mode runs on a fresh station made by ``dangke init`` with the same inbox:

* **local**: no scheduler: ingest analyses inline, encode uses the thread pool
  (``[encode] jobs`` = cores);
* **dask-1**, **dask-2**: a ``distributed.LocalCluster`` on 127.0.0.1 with 1 or 2 worker
  processes, each ``--nthreads 1 --resources ffmpeg=1``, and a folder exchange. Each task
  pays for its child process (Python start and imports) and the exchange copies.

Prints lesson-minutes per second per stage and mode and the ratio to local, and checks
that every mode made the same renditions, byte for byte (sha256). The machine is shared
with other work (2 cores): figures are noisy; run it twice.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline import compute  # noqa: E402
from pipeline.catalog import Catalog  # noqa: E402
from pipeline.cli import main as dangke  # noqa: E402
from pipeline.config import load_config  # noqa: E402
from pipeline.encode import lesson_jobs, run_jobs  # noqa: E402
from pipeline.ingest import ingest_pass  # noqa: E402

SOURCE = ROOT / "samples" / "inbox" / "lesson_2027q1_01.opus"


def make_lessons(folder: Path, n: int, minutes: float) -> list[Path]:
    out = []
    for i in range(n):
        dest = folder / f"黨性教育_普通話_測試課程{i + 1:02d}.wav"
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-stream_loop", "-1", "-ss", str(7 * i),
                        "-i", str(SOURCE), "-t", str(minutes * 60), "-ar", "44100", "-ac", "1", str(dest)],
                       check=True, timeout=600)
        out.append(dest)
    return out


def run_mode(base: Path, name: str, lessons: list[Path], profiles: list[str], scheduler: str) -> dict:
    root = base / name
    with open(os.devnull, "w") as quiet:
        old, sys.stdout = sys.stdout, quiet
        try:
            assert dangke(["init", str(root)]) == 0
        finally:
            sys.stdout = old
    cfg_path = root / "dangke.toml"
    with open(cfg_path, "a", encoding="utf-8") as f:
        f.write(f'\n[compute]\nexchange = "{base / (name + "-exchange")}"\n')
    for p in lessons:
        shutil.copy(p, root / "inbox" / p.name)
    if scheduler:
        os.environ[compute.SCHEDULER_ENV] = scheduler
    else:
        os.environ.pop(compute.SCHEDULER_ENV, None)
    cfg = load_config(cfg_path)
    with Catalog(cfg.library / "catalog.sqlite") as cat:
        t = time.perf_counter()
        report = ingest_pass(cfg, cat, settle_s=0)
        ingest_s = time.perf_counter() - t
        assert len(report.accepted) == len(lessons), (report.rejected, report.retry, report.waiting)
        jobs, _ = lesson_jobs(cfg, cat, cat.lessons(), [cfg.profiles[p] for p in profiles])
        t = time.perf_counter()
        made, errors, _ = run_jobs(cfg, cat, jobs)
        encode_s = time.perf_counter() - t
        assert not errors, errors
    os.environ.pop(compute.SCHEDULER_ENV, None)
    return {"ingest_s": ingest_s, "encode_s": encode_s,
            "renditions": sorted((r.source_sha256, r.profile, r.sha256) for r in made)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lessons", type=int, default=4)
    ap.add_argument("--minutes", type=float, default=3.0)
    ap.add_argument("--profiles", nargs="+", default=["player", "web", "loudspeaker"])
    args = ap.parse_args()
    from distributed import LocalCluster

    total_min = args.lessons * args.minutes
    results = {}
    with tempfile.TemporaryDirectory(prefix="dangke-compute-bench-") as tmp:
        base = Path(tmp)
        (base / "lessons").mkdir()
        lessons = make_lessons(base / "lessons", args.lessons, args.minutes)
        results["local"] = run_mode(base, "local", lessons, args.profiles, "")
        for n in (1, 2):
            with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, resources={"ffmpeg": 1},
                              host="127.0.0.1", dashboard_address=":0") as cluster:
                results[f"dask-{n}"] = run_mode(base, f"dask-{n}", lessons, args.profiles,
                                                cluster.scheduler_address)
    print(f"{args.lessons} lessons x {args.minutes:g} min = {total_min:g} lesson-minutes; "
          f"profiles {', '.join(args.profiles)}; cores {os.cpu_count()} (shared: noisy)")
    print(f"{'mode':8s} {'ingest s':>9s} {'lesson-min/s':>13s} {'vs local':>9s} {'encode s':>9s} "
          f"{'lesson-min/s':>13s} {'vs local':>9s}")
    ref = results["local"]
    for mode, r in results.items():
        print(f"{mode:8s} {r['ingest_s']:9.1f} {total_min / r['ingest_s']:13.2f} "
              f"{ref['ingest_s'] / r['ingest_s']:9.2f} {r['encode_s']:9.1f} {total_min / r['encode_s']:13.2f} "
              f"{ref['encode_s'] / r['encode_s']:9.2f}")
    same = all(r["renditions"] == ref["renditions"] for r in results.values())
    print(f"renditions identical (sha256) in every mode: {'yes' if same else 'NO'}")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
