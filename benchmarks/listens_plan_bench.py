"""What ``[plan] use_listens`` costs the quarterly plan (issue 15), side by side with the
default plan on the same fleet (plan_bench's synthetic county: library, fleet, orders).

After last quarter is planned, every device's card "comes back": 75% of the devices
report a play log in which each carried lesson was played fully with probability 0.6
(the rest were skipped or never reached); lessons get a fleet-wide completion share.
The default plan avoids what each device carried; the use_listens plan avoids what it
played fully and prefers completed lessons. "played fully again": lessons (not
evergreen) a reporting device had played fully that its new playlist carries again. Play histories differ from device to device,
so the devices share fewer requirement sets: the table shows the solves and the times.

    .venv/bin/python benchmarks/listens_plan_bench.py [--devices 6000] [--jobs 2]
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from plan_bench import Q, SETTINGS, fleet, library, orders  # noqa: E402

from pipeline.plan import process_map  # noqa: E402
from playlists.listens import DeviceListening, ListeningForPlan, completion, heard, repeats  # noqa: E402
from playlists.quarter import plan_quarter  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--devices", type=int, default=6000)
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    rng = random.Random(2027)
    devices = fleet(rng, args.devices, 0)
    lib = library(random.Random(1))
    mapper = process_map(args.jobs)
    before = plan_quarter(devices, {"player": lib}, Q.previous(), SETTINGS, orders=orders(rng, devices, Q.previous()),
                          mapper=mapper)
    carried = {pl.device_id: tuple(i.lesson_id for i in pl.items) for pl in before.playlists}
    now_orders = orders(rng, devices, Q)
    play = random.Random(5)
    devs, per_lesson = [], {}
    for d, ids in sorted(carried.items()):
        if play.random() >= 0.75:
            continue
        full = frozenset(i for i in ids if play.random() < 0.6)
        devs.append(DeviceListening(d, True, full))
        for i in ids:
            c = per_lesson.setdefault(i, [0, 0])
            c[0] += i in full
            c[1] += 1
    facts = ListeningForPlan(str(Q.previous()), tuple(devs), tuple((l, c, r) for l, (c, r) in sorted(per_lesson.items())))
    runs = {}
    for label in ("default", "use_listens"):
        settings = SETTINGS if label == "default" else dataclasses.replace(SETTINGS, completion=completion(facts))
        previous = carried if label == "default" else heard(carried, facts)
        t0 = time.perf_counter()
        plan = plan_quarter(devices, {"player": lib}, Q, settings, previous=previous, orders=now_orders, mapper=mapper)
        by_id = {d.device_id: d for d in facts.devices}
        evergreen = {t.lesson_id for t in lib if t.evergreen}
        again = sum(len(set(repeats((i.lesson_id for i in pl.items), by_id.get(pl.device_id))) - evergreen)
                    for pl in plan.playlists)
        runs[label] = (time.perf_counter() - t0, plan.solves, len(plan.playlists), again)
    print(f"{'plan':<12} {'devices':>7} {'solves':>7} {'wall s':>7} {'planned':>8} {'played fully again':>19}")
    for label, (secs, solves, planned, again) in runs.items():
        print(f"{label:<12} {args.devices:7d} {solves:7d} {secs:7.2f} {planned:8d} {again:19d}")
    print(f"ratio use_listens/default: {runs['use_listens'][0] / runs['default'][0]:.2f} "
          f"({len(devs)} device(s) reported)")


if __name__ == "__main__":
    main()
