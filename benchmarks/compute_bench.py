"""Throughput of ingest analysis and encode: the local pool against a Dask cluster of 1 and 2 workers.

    .venv/bin/python benchmarks/compute_bench.py [--lessons 3] [--minutes 2] [--rounds 2] [--profiles P ...]

Lessons are cut from the real recording ``samples/inbox/lesson_2027q1_01.opus`` (looped,
each from another offset so every lesson has its own sha256), 44.1 kHz mono WAV. Each
mode runs on a fresh station made by ``dangke init`` with the same inbox:

* **local**: no scheduler: ingest analyses inline, encode uses the thread pool
  (``[encode] jobs`` = cores);
* **dask-1**, **dask-2**: a ``distributed.LocalCluster`` on 127.0.0.1 with 1 or 2 worker
  processes, each ``--nthreads 1 --resources ffmpeg=1``, and a folder exchange. Each task
  pays for its child process (Python start and imports) and the exchange copies.

The modes run in turns (``--rounds``, the order reversed each round, both clusters up
the whole time) and each mode's best time counts. Prints lesson-minutes per second per
stage and mode and the ratio to local, the local run's CPU seconds per lesson-minute (this
process and its ffmpeg children: the cost model's input), and checks that every mode made
the same renditions, byte for byte (sha256). The machine is shared with other work
(2 cores): figures are noisy.
"""

from __future__ import annotations

import argparse
import os
import resource
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


def _cpu() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def run_mode(base: Path, name: str, lessons: list[Path], profiles: list[str], scheduler: str) -> dict:
    root = base / name
    shutil.rmtree(root, ignore_errors=True)
    shutil.rmtree(base / (name + "-exchange"), ignore_errors=True)
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
        t, c = time.perf_counter(), _cpu()
        report = ingest_pass(cfg, cat, settle_s=0)
        ingest_s, ingest_cpu = time.perf_counter() - t, _cpu() - c
        assert len(report.accepted) == len(lessons), (report.rejected, report.retry, report.waiting)
        jobs, _ = lesson_jobs(cfg, cat, cat.lessons(), [cfg.profiles[p] for p in profiles])
        t, c = time.perf_counter(), _cpu()
        made, errors, _ = run_jobs(cfg, cat, jobs)
        encode_s, encode_cpu = time.perf_counter() - t, _cpu() - c
        assert not errors, errors
    os.environ.pop(compute.SCHEDULER_ENV, None)
    return {"ingest_s": ingest_s, "encode_s": encode_s, "ingest_cpu": ingest_cpu, "encode_cpu": encode_cpu,
            "renditions": sorted((r.source_sha256, r.profile, r.sha256) for r in made)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lessons", type=int, default=3)
    ap.add_argument("--minutes", type=float, default=2.0)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--profiles", nargs="+", default=["player", "player-legacy", "web", "loudspeaker", "broadcast"])
    args = ap.parse_args()
    from distributed import LocalCluster

    total_min = args.lessons * args.minutes
    runs: dict[str, list[dict]] = {"local": [], "dask-1": [], "dask-2": []}
    with tempfile.TemporaryDirectory(prefix="dangke-compute-bench-") as tmp:
        base = Path(tmp)
        (base / "lessons").mkdir()
        lessons = make_lessons(base / "lessons", args.lessons, args.minutes)
        with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, resources={"ffmpeg": 1},
                          host="127.0.0.1", dashboard_address=":0") as one, \
                LocalCluster(n_workers=2, threads_per_worker=1, processes=True, resources={"ffmpeg": 1},
                             host="127.0.0.1", dashboard_address=":0") as two:
            address = {"local": "", "dask-1": one.scheduler_address, "dask-2": two.scheduler_address}
            order = list(runs)
            for _ in range(args.rounds):
                for mode in order:
                    runs[mode].append(run_mode(base, mode, lessons, args.profiles, address[mode]))
                order.reverse()
    results = {mode: {"ingest_s": min(r["ingest_s"] for r in rs), "encode_s": min(r["encode_s"] for r in rs),
                      "renditions": rs[0]["renditions"], "all": rs} for mode, rs in runs.items()}
    print(f"{args.lessons} lessons x {args.minutes:g} min = {total_min:g} lesson-minutes; "
          f"profiles {', '.join(args.profiles)}; cores {os.cpu_count()} (shared: noisy)")
    print(f"{'mode':8s} {'ingest s':>9s} {'lesson-min/s':>13s} {'vs local':>9s} {'encode s':>9s} "
          f"{'lesson-min/s':>13s} {'vs local':>9s}")
    ref = results["local"]
    for mode, r in results.items():
        print(f"{mode:8s} {r['ingest_s']:9.1f} {total_min / r['ingest_s']:13.2f} "
              f"{ref['ingest_s'] / r['ingest_s']:9.2f} {r['encode_s']:9.1f} {total_min / r['encode_s']:13.2f} "
              f"{ref['encode_s'] / r['encode_s']:9.2f}")
    print("runs (ingest s / encode s): " + "; ".join(
        f"{m} " + ", ".join(f"{r['ingest_s']:.1f}/{r['encode_s']:.1f}" for r in rs) for m, rs in runs.items()))
    cpu_i = min(r["ingest_cpu"] for r in runs["local"]) / total_min
    cpu_e = min(r["encode_cpu"] for r in runs["local"]) / total_min
    print(f"local CPU per lesson-minute: ingest analysis {cpu_i:.2f} s, encode ({len(args.profiles)} profiles) "
          f"{cpu_e:.2f} s")
    same = all(r["renditions"] == ref["renditions"] for rs in runs.values() for r in rs)
    print(f"renditions identical (sha256) in every mode: {'yes' if same else 'NO'}")
    if not same:
        sys.exit(1)


if __name__ == "__main__":
    main()
