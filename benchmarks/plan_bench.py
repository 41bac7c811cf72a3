"""Quarterly plan at fleet scale: time and peak memory (issue 5).

Goals: 6,000 devices in under 5 s and 1,000,000 simulated devices in under 2 minutes,
on 2 cores. Each size runs in its own process (so its peak memory is its own):

1. a synthetic county catalog of two years (about 170 lessons valid in a quarter, half
   of them new: cdo, cmn, nan; series, validity dates, evergreen lessons, audiences,
   topics; 64 kb/s CBR sizes);
2. a fleet with the example county's spread: 22 townships, about 22 devices per
   village, groups fisher 25% / elderly 35% / mobility 15% / general 25%, dialects cdo
   75% / cmn 18% / nan 5% / hak 1% / yue 1%, cards of 256/512/1024/2048 MB;
3. village orders (點單): a fifth of the villages order 1-3 items (Zipf over a menu of
   topics, titles and categories) with priority 1-3;
4. the previous quarter is planned first (its playlists are the "last quarter" each
   device avoids); then the measured run: the plan of the quarter, every device's diff
   and the fleet summary.

Baseline, run side by side: the same planner called once per device (no sharing of
requirement sets) on a sample, extrapolated per device. The ratio shows what sharing
buys; the absolute times depend on the (shared, noisy) machine.

    .venv/bin/python benchmarks/plan_bench.py                 # 6,000 and 1,000,000
    .venv/bin/python benchmarks/plan_bench.py --devices 6000 --jobs 2
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.models import CategoryRule, Device, Quarter, Track, VillageOrder  # noqa: E402
from pipeline.plan import process_map  # noqa: E402
from playlists.demand import GroupWishes, QuarterRules  # noqa: E402
from playlists.quarter import plan_quarter  # noqa: E402
from playlists.report import CardFile, device_diffs, fleet_summary, lesson_ids  # noqa: E402

Q = Quarter(2027, 1)
COUNTY = (CategoryRule(frozenset({"theory", "party-spirit"}), 0.7), CategoryRule(frozenset({"party-spirit"}), 0.2))
SETTINGS = QuarterRules(COUNTY, min_listening_s=6 * 3600, max_listening_s=30 * 3600, own_dialect_min_share=0.5,
                        card_reserve_share=0.04,
                        groups=(GroupWishes("fisher", ("maritime-safety", "aquaculture")),
                                GroupWishes("elderly", prefer_max_s=20 * 60)),
                        must_carry=(("Q1-MUST-1", ()), ("Q1-MUST-2", ())), work_limit=2.0)
TOPICS = ("maritime-safety", "aquaculture", "tea", "red-tide", "elderly-care")


def library(rng: random.Random, n: int = 320) -> list[Track]:
    """The county's catalog over two years: lessons valid from their recording for about
    a year (some for good, some evergreen), so about 170 are valid in a quarter and about
    half of a quarter's lessons were valid the quarter before."""
    cats = ["theory"] * 30 + ["party-spirit"] * 30 + ["policy"] * 15 + ["skills"] * 15 + ["red-culture"] * 7 + \
        ["other"] * 3
    first = Q.first_day - dt.timedelta(days=540)
    out = []
    for k in range(n):
        cat = rng.choice(cats)
        dialect = rng.choices(["cdo", "cmn", "nan"], [55, 40, 5])[0]
        seconds = rng.uniform(600, 2700)
        series, episode = "", None
        if k % 9 == 0:
            series, episode = f"系列{k // 90}", k % 90 // 9 + 1
        start = first + dt.timedelta(days=k * 630 // n)
        end = None if rng.random() < 0.1 else start + dt.timedelta(days=rng.randint(270, 365))
        topics = (rng.choice(TOPICS),) if cat == "skills" else ()
        out.append(Track(lesson_id=f"L{k:04d}", title=f"第{k}講 {cat}", category=cat, dialect=dialect,
                         duration_s=round(seconds, 3), bytes=int(seconds * 8000) + 4096, sha256=f"{k:064x}",
                         key=f"audio/player/{k:064x}.mp3", series=series, episode=episode, valid_from=start,
                         valid_until=end, audiences=rng.choice([(), (), ("fisher",), ("elderly",)]),
                         evergreen=rng.random() < 0.05, topics=topics))
    for n_must in (1, 2):
        out.append(Track(lesson_id=f"Q1-MUST-{n_must}", title=f"必聽{n_must}", category="party-spirit", dialect="cmn",
                         duration_s=1500.0, bytes=1500 * 8000, sha256=f"{90000 + n_must:064x}",
                         key=f"audio/player/{90000 + n_must:064x}.mp3", valid_from=Q.first_day))
    return out


def fleet(rng: random.Random, n: int, villages: int = 0) -> list[Device]:
    """``n`` devices in ``villages`` villages (0: about 22 devices a village, at least 277)."""
    villages = villages or max(277, n // 22)
    out = []
    for k in range(n):
        v = rng.randrange(villages)
        out.append(Device(device_id=f"LJ-{k:07d}", township=f"鎮{v % 22:02d}", village=f"村{v:05d}",
                          group=rng.choices(["fisher", "elderly", "mobility", "general"], [25, 35, 15, 25])[0],
                          dialect=rng.choices(["cdo", "cmn", "nan", "hak", "yue"], [75, 18, 5, 1, 1])[0],
                          profile="player", capacity_mb=rng.choices([256, 512, 1024, 2048], [30, 35, 25, 10])[0]))
    return out


def orders(rng: random.Random, devices: list[Device], quarter: Quarter) -> list[VillageOrder]:
    menu = list(TOPICS) + [f"第{k}講 skills" for k in range(150, 320, 9)] + ["紅色文化", "政策宣講"]
    weights = [1 / (r + 1) for r in range(len(menu))]
    villages = sorted({(d.township, d.village) for d in devices})
    out = []
    for township, village in villages:
        if rng.random() < 0.2:
            for target in sorted(set(rng.choices(menu, weights, k=rng.randint(1, 3)))):
                out.append(VillageOrder(village, target, rng.randint(1, 3), township, str(quarter)))
    return out


def cpu_s() -> tuple[float, float]:
    """CPU seconds (user + system) of this process, and of its finished children (the
    solver processes)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime


def peak_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, kids) / 1024


def run_one(n: int, jobs: int, sample: int, villages: int = 0) -> dict:
    rng = random.Random(2027)
    prev_q = Q.previous()
    devices = fleet(rng, n, villages)
    lib_prev = lib_now = library(random.Random(1))
    mapper = process_map(jobs)
    t0 = time.perf_counter()
    before = plan_quarter(devices, {"player": lib_prev}, prev_q, SETTINGS, orders=orders(rng, devices, prev_q),
                          mapper=mapper)
    t_prev = time.perf_counter() - t0
    files = {}
    previous = {}
    for pl in before.playlists:
        key = id(pl.items)
        if key not in files:
            files[key] = tuple(CardFile(i.lesson_id, i.sha256, i.bytes, i.card_path) for i in pl.items)
        previous[pl.device_id] = files[key]
    prev_ids = lesson_ids(previous)
    now_orders = orders(rng, devices, Q)
    t0, c0, load0 = time.perf_counter(), cpu_s(), os.getloadavg()[0]
    plan = plan_quarter(devices, {"player": lib_now}, Q, SETTINGS, previous=prev_ids, orders=now_orders, mapper=mapper)
    t_plan = time.perf_counter() - t0
    diffs = device_diffs(plan.playlists, previous, str(prev_q))
    summary = fleet_summary(devices, plan, diffs)
    c1 = cpu_s()
    t_all, c_main, c_kids = time.perf_counter() - t0, c1[0] - c0[0], c1[1] - c0[1]
    # baseline: one plan per device, no shared requirement sets, on a sample
    picks = random.Random(3).sample(devices, min(sample, n))
    t0 = time.perf_counter()
    for d in picks:
        plan_quarter([d], {"player": lib_now}, Q, SETTINGS, previous={d.device_id: prev_ids.get(d.device_id, ())},
                     orders=now_orders)
    t_base = (time.perf_counter() - t0) / len(picks) * n
    total = summary[-1]
    return {"devices": n, "villages": len({(d.township, d.village) for d in devices}), "jobs": jobs,
            "solves": plan.solves, "solves_previous": before.solves,
            "plan_s": round(t_plan, 2), "plan_diff_summary_s": round(t_all, 2), "cpu_s": round(c_main + c_kids, 2),
            "cpu_main_s": round(c_main, 2), "cpu_solvers_s": round(c_kids, 2),
            "idle_estimate_s": round(c_main + c_kids / jobs, 2),
            "previous_quarter_s": round(t_prev, 2),
            "baseline_per_device_s": round(t_base, 1), "speedup": round(t_base / t_all, 1),
            "peak_mb": round(peak_mb(), 0), "planned": total.planned, "not_planned": total.not_planned,
            "with_shortfalls": total.with_shortfalls, "hours_per_device": round(total.hours / max(1, total.planned), 1),
            "load": round(max(load0, os.getloadavg()[0]), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--devices", type=int, nargs="*", default=[6000, 1_000_000])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--sample", type=int, default=60, help="devices planned one by one for the baseline")
    parser.add_argument("--villages", type=int, default=0,
                        help="villages of the fleet (default: about 22 devices a village, at least 277)")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.jobs, args.sample, args.villages)))
        return
    goals = {6000: 5.0, 1_000_000: 120.0}
    print("wall s: plan + diffs + fleet summary on this (shared) machine; CPU s: main process + solver processes;\n"
          "idle s: main CPU + solver CPU / jobs, the wall time to expect on an idle machine with `jobs` cores\n"
          "        (an upper bound: the main process builds playlists while the solvers run);\n"
          "baseline s: one plan per device (no shared requirement sets), extrapolated from a sample, same run;\n"
          "ratio: baseline / wall; load: 1-min load average of the machine during the run")
    print(f"{'devices':>9} {'villages':>8} {'solves':>7} {'wall s':>7} {'CPU s':>13} {'idle s':>7} {'goal s':>7} "
          f"{'baseline s':>11} {'ratio':>7} {'peak MB':>8} {'planned':>8} {'short':>7} {'h/dev':>6} {'load':>5}")
    for n in args.devices:
        out = subprocess.run([sys.executable, __file__, "--one", str(n), "--jobs", str(args.jobs),
                              "--sample", str(args.sample), "--villages", str(args.villages)],
                             capture_output=True, text=True, timeout=7200)
        if out.returncode:
            print(out.stderr, file=sys.stderr)
            continue
        r = json.loads(out.stdout.strip().splitlines()[-1])
        cpu = f"{r['cpu_main_s']}+{r['cpu_solvers_s']}"
        print(f"{r['devices']:>9} {r['villages']:>8} {r['solves']:>7} {r['plan_diff_summary_s']:>7} {cpu:>13} "
              f"{r['idle_estimate_s']:>7} {goals.get(n, float('nan')):>7} {r['baseline_per_device_s']:>11} "
              f"{r['speedup']:>7} {r['peak_mb']:>8.0f} "
              f"{r['planned']:>8} {r['with_shortfalls']:>7} {r['hours_per_device']:>6} {r['load']:>5.1f}")


if __name__ == "__main__":
    main()
