"""The schedule stage: daily broadcast schedules of every channel into the staging tree.

For each channel and local date: the pure scheduler (:mod:`playlists.broadcast`) picks
lessons from the channel profile's renditions, remembering what aired recently (catalog
``airings``); fillers get their exact-length audio rendered from the channel's bed; the
day is checked independently and written as ``build/broadcast/<channel>/<date>.json``
and ``.m3u8``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

from playlists.broadcast import ScheduleSettings, check_day, schedule_day

from . import layout
from .catalog import Catalog
from .config import Config
from .encode import filler_rendition
from .errors import DangkeError
from .fsutil import write_atomic
from .models import BroadcastDay, ChannelSpec
from .plan import tracks


@dataclass(frozen=True)
class ScheduleReport:
    days: tuple[BroadcastDay, ...]
    problems: tuple[str, ...]
    notes: tuple[str, ...]

    @property
    def failed(self) -> bool:
        return bool(self.problems)


def settings(cfg: Config, channel: ChannelSpec) -> ScheduleSettings:
    return ScheduleSettings(rules=cfg.rules, timezone=cfg.station.timezone,
                            rotation_days=cfg.schedule.rotation_days,
                            filler_min_s=cfg.schedule.filler_min_s if channel.filler else float("inf"),
                            work_limit=cfg.plan.solver_seconds)


def _with_fillers(cfg: Config, catalog: Catalog, channel: ChannelSpec, day: BroadcastDay) -> BroadcastDay:
    slots = []
    for slot in day.slots:
        items = []
        for a in slot.items:
            if a.kind == "filler":
                r = filler_rendition(cfg, catalog, cfg.resolve(channel.filler), channel.profile, a.duration_s)
                a = dataclasses.replace(a, key=r.key, sha256=r.sha256, duration_s=round(r.duration_s, 3))
            items.append(a)
        slots.append(dataclasses.replace(slot, items=tuple(items)))
    return dataclasses.replace(day, slots=tuple(slots))


def run_schedule(cfg: Config, catalog: Catalog, first: dt.date, days: int) -> ScheduleReport:
    """Schedule ``days`` days from ``first`` for every channel and write the staging tree."""
    out, problems, notes = [], [], []
    for name in sorted(cfg.channels):
        channel = cfg.channels[name]
        pool = tracks(cfg, catalog, channel.profile)
        rules = settings(cfg, channel)
        for n in range(days):
            date = first + dt.timedelta(days=n)
            day = schedule_day(channel, date, pool, catalog.airings_before(name, date, rules.rotation_days), rules)
            try:
                day = _with_fillers(cfg, catalog, channel, day)
            except DangkeError as exc:
                problems.append(f"{name} {date}: {exc}")
                continue
            broken = check_day(day)
            if broken:
                problems.append(f"{name} {date}: " + "; ".join(broken))
                continue
            folder = cfg.build / "broadcast" / name
            write_atomic(folder / f"{date.isoformat()}.json", layout.schedule(day))
            write_atomic(folder / f"{date.isoformat()}.m3u8", layout.schedule_m3u8(day, cfg.station.base_url))
            catalog.replace_airings(name, date, [(a.start.isoformat(), a.lesson_id) for s in day.slots
                                                 for a in s.items if a.kind == "lesson"])
            notes.extend(day.notes)
            out.append(day)
    for p in problems:
        catalog.log("schedule", "error", "", p)
    return ScheduleReport(tuple(out), tuple(problems), tuple(notes))
