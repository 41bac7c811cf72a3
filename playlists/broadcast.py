"""Daily broadcast schedules: exact slots, fair rotation, series order, the weekly rule.

Pure: plain values in, plain values out (no ffmpeg, no files, no network). One channel's
days are planned in date order; each day:

1. **The clock.** A date variant (``YYYY-MM-DD`` before ``MM-DD``), else a weekday
   variant, else the channel's daily slots (:func:`clock_for`).
2. **Exact slots.** A slot is ``intro jingle + lessons + filler + outro jingle`` and adds
   up to its length. Durations count in whole milliseconds rounded up, so a slot never
   overruns; lessons are whole (never cut); a remainder of at least ``filler_min_s``
   becomes a ``filler`` item of exactly that length (the bed, faded in and out, rendered
   later); a smaller one (< 1 s) is left as it is. Jingles count in the length.
3. **Forced lessons first.** ``pinned`` ids in their order (special days), then the
   newest valid episode of the series a slot is bound to (the weekly policy update: the
   newest replaces the previous one; older episodes of a bound series never air again on
   the channel). Forced lessons air whatever the rotation says.
4. **The rest** is chosen with CP-SAT (:func:`playlists.solver.solve_ranked`), in this
   order of priority: (a) as many seconds of *fresh* lessons as possible, fresh meaning
   not on this channel within ``rotation_days`` before or after the day; (b) the fullest
   slots; (c) among repeats, the least recently aired (within ``filler_min_s`` of the
   fullest fill); (d) the lessons spread over the day's slots (the largest unfilled
   share of a slot as small as possible). Every repeat is reported in the day's notes.
5. **Series in episode order.** Of a series only the next episode due (the one after the
   last aired, cyclically) is a candidate; an episode that fits no slot of the channel is
   skipped.
6. **The county rule over every calendar (ISO, Monday-first) week.** The day's lessons
   together with those already scheduled in the same week must meet every share rule,
   so a week meets it wherever it is cut. When the library cannot, the day is planned
   without the rule and the notes say so; the following days of the week make it up.

Deterministic: inputs are sorted, the solver runs one worker with a fixed seed and a
deterministic time limit.
"""

from __future__ import annotations

import datetime as dt
import math
import zoneinfo
from dataclasses import dataclass
from typing import Iterable, Sequence

from pipeline.models import Airing, BroadcastDay, CategoryRule, ChannelSpec, SlotPlan, SlotSpec, Track

from . import rules as county
from . import solver
from .quarter import play_order

DAILY = "daily"
#: how close (ms) to the best possible fill the solver may stop
GAP_MS = 200
FILLER_TITLE = "間奏 filler"


@dataclass(frozen=True)
class ScheduleSettings:
    """Scheduling settings (from ``[schedule]``, ``[rules]`` and ``[station]``).

    ``filler_min_s``: the shortest remainder (seconds) filled with the bed (``inf``: the
    channel has no bed). ``work_limit``: CP-SAT deterministic time per day (seconds).
    """

    rules: tuple[CategoryRule, ...]
    timezone: str = "Asia/Shanghai"
    rotation_days: int = 14
    filler_min_s: float = 1.0
    work_limit: float = 10.0


@dataclass(frozen=True)
class Jingle:
    """A channel's intro or outro: its rendition in the channel's profile (seconds)."""

    title: str
    duration_s: float
    key: str | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class PastAiring:
    """A lesson already on a channel's schedule (aired, published or staged).

    ``category`` and ``duration_s`` are needed for the days of the weeks being planned
    (the weekly rule); rotation and series order need only the date and the id.
    """

    date: dt.date
    lesson_id: str
    start: dt.datetime | None = None
    category: str = ""
    duration_s: float = 0.0


@dataclass(frozen=True)
class Clock:
    """The slots of one day and where they come from (``daily`` or a variant's name)."""

    name: str
    title: str
    slots: tuple[SlotSpec, ...]


@dataclass(frozen=True)
class ChannelPlan:
    """The planned days of one channel and channel-level notes (weeks that miss the
    rule, lessons that fit no slot)."""

    days: tuple[BroadcastDay, ...]
    notes: tuple[str, ...] = ()


def clock_for(channel: ChannelSpec, day: dt.date) -> Clock:
    """The clock of ``channel`` on local date ``day``: a variant naming the exact date,
    else one naming its ``MM-DD``, else one naming its weekday, else the daily slots."""
    iso = day.isoformat()
    for wanted in (lambda c: iso in c.dates, lambda c: iso[5:] in c.dates,
                   lambda c: day.isoweekday() in c.weekdays):
        for c in channel.clocks:
            if wanted(c):
                return Clock(c.name, c.title, c.slots)
    return Clock(DAILY, "", channel.slots)


def slot_start(day: dt.date, slot: SlotSpec, tz: str) -> dt.datetime:
    """The aware local start of ``slot`` on ``day``."""
    return dt.datetime.combine(day, slot.start, tzinfo=zoneinfo.ZoneInfo(tz))


def ms_up(seconds: float) -> int:
    """Whole milliseconds of a duration, rounded up (so sums never overrun a slot)."""
    return max(0, int(math.ceil(seconds * 1000 - 1e-6)))


def ms_exact(seconds: float) -> int:
    """Whole milliseconds of a configured length (rounded to the nearest)."""
    return int(round(seconds * 1000))


def _valid(track: Track, day: dt.date) -> bool:
    return ((track.valid_from is None or track.valid_from <= day)
            and (track.valid_until is None or track.valid_until >= day))


def _allowed(track: Track, slot: SlotSpec) -> bool:
    return ((not slot.dialects or track.dialect in slot.dialects)
            and (not slot.categories or track.category in slot.categories))


def _eligible(track: Track, slot: SlotSpec, day: dt.date) -> bool:
    return _allowed(track, slot) and _valid(track, day)


@dataclass
class _Slot:
    spec: SlotSpec
    length_ms: int
    intro: Jingle | None
    outro: Jingle | None
    free_ms: int
    forced: list[Track]


def schedule_channel(channel: ChannelSpec, days: Iterable[dt.date], tracks: Sequence[Track],
                     history: Sequence[PastAiring], settings: ScheduleSettings,
                     intro: Jingle | None = None, outro: Jingle | None = None,
                     filler_title: str = FILLER_TITLE) -> ChannelPlan:
    """Plan ``days`` (local dates) of ``channel`` from ``tracks`` (its profile's renditions).

    ``history`` holds every other day's lessons on the channel (before and after the
    days planned), each day planned here is added to it for the next. Fillers come back
    without ``key``/``sha256`` (their audio is rendered afterwards); jingles and lessons
    carry theirs.
    """
    tracks = sorted(tracks, key=lambda t: t.lesson_id)
    days = sorted(set(days))
    planned = set(days)
    past = [p for p in history if p.date not in planned]
    bound = {s.series for s in _all_slots(channel) if s.series}
    out = []
    for day in days:
        plan = _plan_day(channel, day, tracks, past, settings, intro, outro, bound, filler_title)
        out.append(plan)
        past += [PastAiring(day, a.lesson_id or "", a.start, a.category or "other", a.duration_s)
                 for s in plan.slots for a in s.items if a.kind == "lesson"]
    notes = []
    for year, week in sorted({d.isocalendar()[:2] for d in days}):
        by_cat = county.seconds_by_category((p.category or "other", p.duration_s) for p in past
                                            if p.date.isocalendar()[:2] == (year, week))
        bad = county.violations(settings.rules, by_cat) if by_cat else []
        if bad:
            notes.append(f"{channel.name} week {year}-W{week:02d}: the county rule is not met by the days "
                         f"scheduled so far: {'; '.join(bad)}")
    for t in tracks:
        if not any(_allowed(t, s) for s in _all_slots(channel)):
            continue
        if not any(_allowed(t, s) and ms_up(t.duration_s) <= _capacity(s, intro, outro)
                   for s in _all_slots(channel)):
            notes.append(f"{channel.name}: {t.lesson_id} ({t.title}, {t.duration_s:.0f} s) is longer than "
                         "every slot of the channel and never airs")
    return ChannelPlan(tuple(out), tuple(notes))


def schedule_day(channel: ChannelSpec, day: dt.date, tracks: Sequence[Track],
                 last_aired: dict[str, dt.date], settings: ScheduleSettings,
                 filler_title: str = FILLER_TITLE) -> BroadcastDay:
    """The schedule of ``channel`` on ``day`` given when lessons last aired (no jingles)."""
    history = [PastAiring(d, lid) for lid, d in sorted(last_aired.items())]
    return schedule_channel(channel, [day], tracks, history, settings, filler_title=filler_title).days[0]


def _all_slots(channel: ChannelSpec) -> list[SlotSpec]:
    return list(channel.slots) + [s for c in channel.clocks for s in c.slots]


def _jingle_ms(j: Jingle | None) -> int:
    return ms_up(j.duration_s) if j is not None else 0


def _capacity(spec: SlotSpec, intro: Jingle | None, outro: Jingle | None) -> int:
    length = ms_exact(spec.length_s)
    jingles = _jingle_ms(intro) + _jingle_ms(outro)
    return length - jingles if jingles <= length else length


def _plan_day(channel: ChannelSpec, day: dt.date, tracks: Sequence[Track], past: Sequence[PastAiring],
              settings: ScheduleSettings, intro: Jingle | None, outro: Jingle | None,
              bound: set[str], filler_title: str) -> BroadcastDay:
    clock = clock_for(channel, day)
    notes: list[str] = []
    where = f"{channel.name} {day}"
    slots = []
    for spec in clock.slots:
        length = ms_exact(spec.length_s)
        i, o = intro, outro
        if _jingle_ms(i) + _jingle_ms(o) > length:
            notes.append(f"{where} {spec.start:%H:%M}: the jingles are longer than the slot; left out")
            i = o = None
        slots.append(_Slot(spec, length, i, o, length - _jingle_ms(i) - _jingle_ms(o), []))
    taken = _force(slots, day, tracks, notes, where)
    valid = [t for t in tracks if _valid(t, day) and t.lesson_id not in taken]
    due = _series_due(channel, valid, past, day, bound, intro, outro)
    items = []
    for t in valid:
        if t.series and (t.series in bound or t.lesson_id not in due):
            continue
        length = ms_up(t.duration_s)
        bins = tuple(n for n, s in enumerate(slots) if _allowed(t, s.spec) and length <= s.free_ms)
        if bins:
            items.append(solver.Item(key=t.lesson_id, length=length, size=0, value=0, category=t.category,
                                     bins=bins))
    chosen = _choose(items, slots, day, past, settings, notes, where)
    by_id = {t.lesson_id: t for t in tracks}
    tz = zoneinfo.ZoneInfo(settings.timezone)
    plans = []
    for n, s in enumerate(slots):
        lessons = s.forced + play_order(by_id[k] for k, b in sorted(chosen.items()) if b == n)
        plans.append(_slot_plan(day, s, lessons, tz, settings, filler_title))
    return BroadcastDay(channel=channel.name, date=day, timezone=settings.timezone, slots=tuple(plans),
                        notes=tuple(notes), clock=clock.name, clock_title=clock.title)


def _force(slots: list[_Slot], day: dt.date, tracks: Sequence[Track], notes: list[str], where: str) -> set[str]:
    """Put pinned lessons and bound series' newest episodes first in their slots."""
    by_id = {t.lesson_id: t for t in tracks}
    taken: set[str] = set()

    def put(s: _Slot, t: Track, why: str) -> None:
        if t.lesson_id in taken:
            notes.append(f"{where} {s.spec.start:%H:%M}: {why} {t.lesson_id} is already in another slot today")
        elif ms_up(t.duration_s) > s.free_ms:
            notes.append(f"{where} {s.spec.start:%H:%M}: {why} {t.lesson_id} ({t.duration_s:.0f} s) does not "
                         f"fit the slot ({s.free_ms / 1000:.0f} s left); left out")
        else:
            s.forced.append(t)
            s.free_ms -= ms_up(t.duration_s)
            taken.add(t.lesson_id)

    for s in slots:
        for lid in s.spec.pinned:
            t = by_id.get(lid)
            if t is None:
                notes.append(f"{where} {s.spec.start:%H:%M}: pinned lesson {lid} is not in the library "
                             "(or not rendered for this channel)")
            elif not _valid(t, day):
                notes.append(f"{where} {s.spec.start:%H:%M}: pinned lesson {lid} is not valid on {day} "
                             f"(valid {t.valid_from or '...'} to {t.valid_until or '...'})")
            else:
                put(s, t, "pinned lesson")
    for s in slots:
        if not s.spec.series:
            continue
        episodes = [t for t in tracks if t.series == s.spec.series and _eligible(t, s.spec, day)]
        if not episodes:
            notes.append(f"{where} {s.spec.start:%H:%M}: no episode of the series {s.spec.series} is valid "
                         f"on {day}")
            continue
        put(s, max(episodes, key=_newness), f"newest episode of {s.spec.series}")
    return taken


def _newness(t: Track) -> tuple:
    """Newest episode of a series: highest episode number, then latest ``valid_from``."""
    return (t.episode or 0, t.valid_from or dt.date.min, t.lesson_id)


def _episode_order(t: Track) -> tuple:
    return (t.episode is None, t.episode or 0, t.valid_from or dt.date.min, t.lesson_id)


def _series_due(channel: ChannelSpec, valid: Sequence[Track], past: Sequence[PastAiring], day: dt.date,
                bound: set[str], intro: Jingle | None, outro: Jingle | None) -> set[str]:
    """For each (unbound) series, the episode due today: the one after the last aired,
    cyclically, skipping episodes that fit no slot of the channel."""
    last: dict[str, tuple] = {}
    for p in past:
        if p.date < day:
            when = (p.date, p.start.timestamp() if p.start else 0.0)
            last[p.lesson_id] = max(last.get(p.lesson_id, when), when)
    series: dict[str, list[Track]] = {}
    for t in valid:
        if t.series and t.series not in bound:
            series.setdefault(t.series, []).append(t)
    due = set()
    for episodes in series.values():
        episodes.sort(key=_episode_order)
        playable = [t for t in episodes if any(_allowed(t, s) and ms_up(t.duration_s) <= _capacity(s, intro, outro)
                                               for s in _all_slots(channel))]
        if not playable:
            continue
        aired = [(last[t.lesson_id], n) for n, t in enumerate(playable) if t.lesson_id in last]
        nxt = (max(aired)[1] + 1) % len(playable) if aired else 0
        due.add(playable[nxt].lesson_id)
    return due


def _ages(past: Sequence[PastAiring], day: dt.date) -> dict[str, int]:
    """Days between ``day`` and the nearest other day each lesson is on the channel."""
    ages: dict[str, int] = {}
    for p in past:
        if p.date != day:
            d = abs((day - p.date).days)
            ages[p.lesson_id] = min(ages.get(p.lesson_id, d), d)
    return ages


def _week_base(past: Sequence[PastAiring], day: dt.date, slots: list[_Slot]) -> dict[str, int]:
    """Milliseconds per category already in ``day``'s calendar week, and forced today."""
    week = day.isocalendar()[:2]
    base: dict[str, int] = {}
    for p in past:
        if p.date != day and p.date.isocalendar()[:2] == week and p.duration_s > 0:
            base[p.category or "other"] = base.get(p.category or "other", 0) + ms_up(p.duration_s)
    for s in slots:
        for t in s.forced:
            base[t.category] = base.get(t.category, 0) + ms_up(t.duration_s)
    return base


def _choose(items: list[solver.Item], slots: list[_Slot], day: dt.date, past: Sequence[PastAiring],
            settings: ScheduleSettings, notes: list[str], where: str) -> dict[str, int]:
    rotation = max(1, settings.rotation_days)
    ages = _ages(past, day)
    fresh = {i.key: i.length for i in items if ages.get(i.key, rotation) >= rotation}
    fill = {i.key: i.length for i in items}
    recency = {i.key: i.length * min(ages.get(i.key, rotation), rotation) for i in items}
    slack = 0 if math.isinf(settings.filler_min_s) else ms_exact(min(1.0, settings.filler_min_s))
    share = list(county.share_rules(settings.rules))
    caps = [s.free_ms for s in slots]
    base = _week_base(past, day, slots)
    args = dict(objectives=[fresh, fill, recency], slack=[0, slack, 0], base=base, work_limit=settings.work_limit,
                balance=True, gaps=[GAP_MS, GAP_MS, GAP_MS * rotation])
    chosen = solver.solve_ranked(items, caps, share, **args)
    if chosen is None:
        chosen = solver.solve_ranked(items, caps, [], **args) or {}
    by_key = {i.key: i for i in items}
    week = dict(base)
    for k in chosen:
        week[by_key[k].category] = week.get(by_key[k].category, 0) + by_key[k].length
    short = county.violations(settings.rules, {c: v / 1000 for c, v in week.items()}) if week else []
    if short:
        notes.append(f"{where}: the library cannot meet the county rule for this week so far "
                     f"({'; '.join(short)}); the next days of the week must make up for it")
    repeats = sorted(k for k in chosen if k not in fresh)
    if repeats:
        notes.append(f"{where}: {len(repeats)} lesson(s) repeated within {rotation} days (too few fresh lessons "
                     f"fit; the least recently aired were chosen): {', '.join(repeats)}")
    return chosen


def _slot_plan(day: dt.date, s: _Slot, lessons: list[Track], tz: zoneinfo.ZoneInfo,
               settings: ScheduleSettings, filler_title: str) -> SlotPlan:
    start_local = dt.datetime.combine(day, s.spec.start, tzinfo=tz)
    start_utc = start_local.astimezone(dt.timezone.utc)
    items: list[Airing] = []
    t = 0

    def add(ms: int, **fields) -> None:
        nonlocal t
        items.append(Airing(start=(start_utc + dt.timedelta(milliseconds=t)).astimezone(tz),
                            duration_s=ms / 1000, **fields))
        t += ms

    if s.intro is not None:
        add(_jingle_ms(s.intro), kind="jingle", title=s.intro.title, key=s.intro.key, sha256=s.intro.sha256)
    for tr in lessons:
        add(ms_up(tr.duration_s), kind="lesson", title=tr.title, lesson_id=tr.lesson_id,
            category=tr.category, key=tr.key, sha256=tr.sha256)
    remainder = s.length_ms - t - _jingle_ms(s.outro)
    if remainder > 0 and remainder >= settings.filler_min_s * 1000:
        add(remainder, kind="filler", title=filler_title)
    if s.outro is not None:
        add(_jingle_ms(s.outro), kind="jingle", title=s.outro.title, key=s.outro.key, sha256=s.outro.sha256)
    end = (start_utc + dt.timedelta(milliseconds=s.length_ms)).astimezone(tz)
    return SlotPlan(start=start_local, end=end, items=tuple(items), title=s.spec.title, series=s.spec.series)


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

