"""Daily broadcast schedules: fixed slots filled with whole lessons, never overrun.

For one channel and one local date, lessons are chosen for all the day's slots at once
(no lesson twice in a day), preferring lessons not aired within the rotation window,
then the fullest slots; the day's lessons meet the category-share rules when the
library allows (otherwise the day says so). The remainder of a slot at least
``filler_min_s`` long becomes a ``filler`` item of exactly that length, so a slot's
items add up to its length.
"""

from __future__ import annotations

import datetime as dt
import math
import zoneinfo
from dataclasses import dataclass
from typing import Sequence

from pipeline.models import Airing, BroadcastDay, CategoryRule, ChannelSpec, SlotPlan, SlotSpec, Track

from . import rules as county
from . import solver
from .quarter import play_order


@dataclass(frozen=True)
class ScheduleSettings:
    """Scheduling settings (from ``[schedule]``, ``[rules]`` and ``[station]``)."""

    rules: tuple[CategoryRule, ...]
    timezone: str = "Asia/Shanghai"
    rotation_days: int = 14
    filler_min_s: float = 1.0
    work_limit: float = 10.0


def slot_start(day: dt.date, slot: SlotSpec, tz: str) -> dt.datetime:
    """The aware local start of ``slot`` on ``day``."""
    return dt.datetime.combine(day, slot.start, tzinfo=zoneinfo.ZoneInfo(tz))


def _eligible(track: Track, slot: SlotSpec, day: dt.date) -> bool:
    return ((not slot.dialects or track.dialect in slot.dialects)
            and (not slot.categories or track.category in slot.categories)
            and (track.valid_from is None or track.valid_from <= day)
            and (track.valid_until is None or track.valid_until >= day))


def _ms(seconds: float) -> int:
    """Whole milliseconds, rounded up, of a duration as it is written (3 decimals)."""
    return int(math.ceil(round(seconds, 3) * 1000 - 1e-6))


def _value(track: Track, day: dt.date, last_aired: dict[str, dt.date], rotation_days: int) -> int:
    length = _ms(track.duration_s)
    last = last_aired.get(track.lesson_id)
    if last is None or (day - last).days >= rotation_days:
        return 3 * length
    return max(1, length * (day - last).days // max(1, rotation_days))


def choose_day(channel: ChannelSpec, day: dt.date, tracks: Sequence[Track],
               last_aired: dict[str, dt.date], settings: ScheduleSettings) -> tuple[dict[str, int], list[str]]:
    """``{lesson_id: slot index}`` for the day and notes (rule relaxed, repeats)."""
    items = []
    for t in tracks:
        bins = tuple(n for n, s in enumerate(channel.slots) if _eligible(t, s, day))
        if bins:
            items.append(solver.Item(key=t.lesson_id, length=_ms(t.duration_s), size=0,
                                     value=_value(t, day, last_aired, settings.rotation_days),
                                     category=t.category, bins=bins))
    lengths = [int(s.length_s * 1000) for s in channel.slots]
    share = [solver.ShareRule(r.categories, int(round(r.min_share * 10000))) for r in settings.rules]
    notes = []
    chosen = solver.solve(items, lengths, share, min_items=0, work_limit=settings.work_limit)
    if not chosen and items:
        chosen = solver.solve(items, lengths, [], min_items=0, work_limit=settings.work_limit) or {}
        if chosen:
            notes.append(f"{channel.name} {day}: the library cannot meet the county rule today; "
                         "lessons were chosen without it")
    chosen = chosen or {}
    repeats = sorted(k for k in chosen if k in last_aired
                     and (day - last_aired[k]).days < settings.rotation_days)
    if repeats:
        notes.append(f"{channel.name} {day}: repeated within {settings.rotation_days} days "
                     f"(library too small): {', '.join(repeats)}")
    return chosen, notes


def schedule_day(channel: ChannelSpec, day: dt.date, tracks: Sequence[Track],
                 last_aired: dict[str, dt.date], settings: ScheduleSettings,
                 filler_title: str = "間奏 filler") -> BroadcastDay:
    """The schedule of ``channel`` on local date ``day``."""
    by_id = {t.lesson_id: t for t in tracks}
    chosen, notes = choose_day(channel, day, tracks, last_aired, settings)
    slots = []
    for n, spec in enumerate(channel.slots):
        start = slot_start(day, spec, settings.timezone)
        picked = play_order(by_id[k] for k, b in chosen.items() if b == n)
        items, t = [], 0.0
        for track in picked:
            items.append(Airing(start=start + dt.timedelta(seconds=t), duration_s=round(track.duration_s, 3),
                                kind="lesson", title=track.title, lesson_id=track.lesson_id,
                                category=track.category, key=track.key, sha256=track.sha256))
            t += round(track.duration_s, 3)
        remainder = round(spec.length_s - t, 3)
        if remainder >= settings.filler_min_s:
            items.append(Airing(start=start + dt.timedelta(seconds=t), duration_s=remainder,
                                kind="filler", title=filler_title))
        slots.append(SlotPlan(start=start, end=start + dt.timedelta(seconds=spec.length_s), items=tuple(items)))
    return BroadcastDay(channel=channel.name, date=day, timezone=settings.timezone,
                        slots=tuple(slots), notes=tuple(notes))


def check_day(day: BroadcastDay, tolerance_s: float = 1.0) -> list[str]:
    """Independent check: no overrun, items add up to each slot within ``tolerance_s``,
    no lesson twice in the day, items back to back."""
    out, seen = [], set()
    for slot in day.slots:
        length = (slot.end - slot.start).total_seconds()
        total = sum(i.duration_s for i in slot.items)
        if total > length + 1e-6:
            out.append(f"{slot.start}: overrun by {total - length:.3f} s")
        if length - total > tolerance_s:
            out.append(f"{slot.start}: {length - total:.3f} s unfilled")
        t = slot.start
        for i in slot.items:
            if abs((i.start - t).total_seconds()) > 1e-3:
                out.append(f"{i.start}: not back to back")
            t = i.start + dt.timedelta(seconds=i.duration_s)
            if i.kind == "lesson":
                if i.lesson_id in seen:
                    out.append(f"{i.lesson_id} twice on {day.date}")
                seen.add(i.lesson_id)
    return out


def week_violations(days: Sequence[BroadcastDay], rules: Sequence[CategoryRule]) -> list[str]:
    """The rules not met over the lesson seconds of ``days`` (e.g. a calendar week)."""
    by_cat = county.seconds_by_category((i.category or "other", i.duration_s)
                                        for d in days for s in d.slots for i in s.items if i.kind == "lesson")
    return county.violations(rules, by_cat) if by_cat else []
