"""The schedule stage: daily broadcast schedules of every channel into the staging tree.

For each channel: the intro and outro jingles are rendered for the channel's profile
(loudness-normalized like any rendition); the pure scheduler
(:mod:`playlists.broadcast`) plans the days from that profile's renditions, knowing what
is already on the channel (catalog ``airings``: rotation, series order, the weekly
rule); fillers get their exact-length audio from the channel's bed; each slot is joined
into one file of exactly its length; the day is checked independently and written as
``build/broadcast/<channel>/<date>.json``, ``.m3u8`` and ``.ics`` and recorded in the
catalog (its schedule and its airings), and the channel's ``calendar.ics`` (every
scheduled day) is rebuilt.

A day already published (in the publish ledger) is kept as it is unless ``force``:
broadcasters may have fetched it. The catalog is the source of truth for it; its staged
files are written again from the catalog when the staging tree has lost them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

from playlists.broadcast import (ChannelPlan, Jingle, PastAiring, ScheduleSettings, check_day, ms_exact,
                                 schedule_channel)

from . import ical, layout
from .catalog import Catalog
from .config import Config
from .encode import filler_rendition
from .encode.assemble import asset_rendition, slot_rendition
from .errors import DangkeError
from .feedaudio import make_podcast_versions
from .fsutil import write_atomic
from .models import BroadcastDay, ChannelSpec, Rendition, Track
from .plan import tracks
from .staged import read_staged

INTRO_TITLE = "片頭 intro"
OUTRO_TITLE = "片尾 outro"


@dataclass(frozen=True)
class ScheduleReport:
    """Days planned now, days kept because they were already published, problems (a
    day could not be made) and notes (repeats, rule shortfalls, pinned lessons missing)."""

    days: tuple[BroadcastDay, ...]
    problems: tuple[str, ...]
    notes: tuple[str, ...]
    kept: tuple[tuple[str, dt.date], ...] = ()

    @property
    def failed(self) -> bool:
        return bool(self.problems)


def settings(cfg: Config, channel: ChannelSpec) -> ScheduleSettings:
    """The scheduler's settings for ``channel`` (no bed: remainders stay silent)."""
    return ScheduleSettings(rules=cfg.rules, timezone=cfg.station.timezone,
                            rotation_days=cfg.schedule.rotation_days,
                            filler_min_s=cfg.schedule.filler_min_s if channel.filler else float("inf"),
                            work_limit=cfg.plan.solver_seconds)


def jingles(cfg: Config, catalog: Catalog, channel: ChannelSpec) -> tuple[Jingle | None, Jingle | None]:
    """The channel's intro and outro, rendered for its profile.

    Raises:
        DangkeError: a jingle file is missing or cannot be rendered.
    """
    out = []
    for path, title in ((channel.intro, INTRO_TITLE), (channel.outro, OUTRO_TITLE)):
        if not path:
            out.append(None)
            continue
        r = asset_rendition(cfg, catalog, cfg.resolve(path), channel.profile, title)
        out.append(Jingle(title=title, duration_s=r.duration_s, key=r.key, sha256=r.sha256))
    return out[0], out[1]


def history(catalog: Catalog, channel: str, pool: list[Track], skip: set[dt.date]) -> list[PastAiring]:
    """What is on ``channel`` outside the days being planned (``skip``), with each
    lesson's category and duration (of the channel profile's rendition when there is
    one)."""
    by_id = {t.lesson_id: (t.category, t.duration_s) for t in pool}
    for lesson in catalog.lessons(include_superseded=True):
        by_id.setdefault(lesson.lesson_id, (lesson.category, lesson.duration_s))
    out = []
    for date, start, lesson_id in catalog.channel_airings(channel):
        if date in skip:
            continue
        category, seconds = by_id.get(lesson_id, ("other", 0.0))
        out.append(PastAiring(date, lesson_id, dt.datetime.fromisoformat(start), category, seconds))
    return out


def _with_audio(cfg: Config, catalog: Catalog, channel: ChannelSpec, day: BroadcastDay,
                renditions: dict[str, Rendition]) -> BroadcastDay:
    """Fillers rendered from the bed; each slot joined into one file (``[schedule] assemble``)."""
    slots = []
    for slot in day.slots:
        items = []
        for a in slot.items:
            if a.kind == "filler":
                r = filler_rendition(cfg, catalog, cfg.resolve(channel.filler or ""), channel.profile, a.duration_s)
                renditions[r.key] = r
                a = dataclasses.replace(a, key=r.key, sha256=r.sha256)
            items.append(a)
        slot = dataclasses.replace(slot, items=tuple(items))
        if cfg.schedule.assemble and items:
            parts = [(renditions[a.key], ms_exact(a.duration_s)) for a in items if a.key]
            title = f"{channel.title} {slot.start:%Y-%m-%d %H:%M} {slot.title}".strip()
            made = slot_rendition(cfg, catalog, channel.profile, parts,
                                  ms_exact((slot.end - slot.start).total_seconds()), title,
                                  f"slot {channel.name} {slot.start:%Y-%m-%dT%H:%M}")
            slot = dataclasses.replace(slot, key=made.key, sha256=made.sha256, bytes=made.bytes)
        slots.append(slot)
    return dataclasses.replace(day, slots=tuple(slots))


def _write(cfg: Config, channel: ChannelSpec, day: BroadcastDay) -> None:
    folder = cfg.build / "broadcast" / channel.name
    stem = day.date.isoformat()
    write_atomic(folder / f"{stem}.json", layout.schedule(day))
    write_atomic(folder / f"{stem}.m3u8", layout.schedule_m3u8(day, cfg.station.base_url))
    write_atomic(folder / f"{stem}.ics", ical.day_calendar(day, channel.title or channel.name,
                                                           cfg.station.base_url))


def _calendar(cfg: Config, channel: ChannelSpec) -> None:
    folder = cfg.build / "broadcast" / channel.name
    days = sorted(p for p in folder.glob("????-??-??.ics"))
    if days:
        data = ical.merge_calendars((p.read_bytes() for p in days), channel.title or channel.name,
                                    cfg.station.timezone)
        write_atomic(folder / "calendar.ics", data)


def _kept(cfg: Config, catalog: Catalog, channel: ChannelSpec, date: dt.date) -> bool:
    """Whether a published day can stay as it was published: the catalog has its
    schedule (staged again when the staging tree lost it), or, for a day scheduled
    before the catalog kept schedules, it is staged (and the catalog adopts it)."""
    path = cfg.build / "broadcast" / channel.name / f"{date.isoformat()}.json"
    day = catalog.schedule(channel.name, date)
    if day is not None:
        if not path.is_file():
            _write(cfg, channel, day)
        return True
    if not path.is_file():
        return False
    try:
        catalog.save_schedule(read_staged(layout.read_schedule, path))
    except DangkeError:
        pass  # kept as staged; publish names the file it cannot read
    return True


def run_schedule(cfg: Config, catalog: Catalog, first: dt.date, days: int, force: bool = False) -> ScheduleReport:
    """Schedule ``days`` days from ``first`` for every channel and write the staging tree.

    Days already published are kept unless ``force``. A channel whose jingles cannot be
    rendered, or a day whose audio cannot be made or that fails the independent check,
    is reported in ``problems`` and not written; the rest is still done.
    """
    out, problems, notes, kept_days = [], [], [], []
    published = catalog.published_keys()
    dates = [first + dt.timedelta(days=n) for n in range(days)]
    for name in sorted(cfg.channels):
        channel = cfg.channels[name]
        kept = {d for d in dates if not force and f"broadcast/{name}/{d.isoformat()}.json" in published
                and _kept(cfg, catalog, channel, d)}
        kept_days += [(name, d) for d in sorted(kept)]
        free = [d for d in dates if d not in kept]
        if not free:
            continue
        try:
            intro, outro = jingles(cfg, catalog, channel)
        except DangkeError as exc:
            problems.append(f"{name}: {exc}")
            continue
        pool = tracks(cfg, catalog, channel.profile)
        plan: ChannelPlan = schedule_channel(channel, free, pool, history(catalog, name, pool, set(free)),
                                             settings(cfg, channel), intro, outro)
        notes.extend(plan.notes)
        renditions = {r.key: r for r in catalog.renditions()}
        for day in plan.days:
            try:
                day = _with_audio(cfg, catalog, channel, day, renditions)
            except DangkeError as exc:
                problems.append(f"{name} {day.date}: {exc}")
                continue
            broken = check_day(day)
            if broken:
                problems.append(f"{name} {day.date}: " + "; ".join(broken))
                continue
            _write(cfg, channel, day)
            notes.extend(make_podcast_versions(cfg, catalog, channel, day))  # feed enclosures (issue 13)
            with catalog.transaction():
                catalog.save_schedule(day)
                catalog.replace_airings(name, day.date, [(a.start.isoformat(), a.lesson_id) for s in day.slots
                                                         for a in s.items if a.kind == "lesson"])
            notes.extend(day.notes)
            out.append(day)
        _calendar(cfg, channel)
    for p in problems:
        catalog.log("schedule", "error", "", p)
    return ScheduleReport(tuple(out), tuple(problems), tuple(notes), tuple(kept_days))
