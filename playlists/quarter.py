"""Quarterly device playlists for the whole fleet.

Each device gets lessons in its own dialect or the fallback dialect (Mandarin), valid
in the quarter, fitting its capacity (the real byte sizes of its profile's renditions),
and meeting every category-share rule (the county rule). Devices with identical
requirements share one solve, so the cost grows with the number of distinct
requirement sets, not with the number of devices.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable, Sequence

from pipeline.models import (CategoryRule, Device, DevicePlaylist, PlanProblem, PlaylistItem,
                             Quarter, Track)

from . import rules as county
from . import solver
from .cardnames import card_path

#: play order of categories when no series binds the order
CATEGORY_ORDER = ("party-spirit", "theory", "policy", "red-culture", "skills", "other")


@dataclass(frozen=True)
class QuarterRules:
    """Planning settings (from ``[plan]`` and ``[rules]``)."""

    rules: tuple[CategoryRule, ...]
    fallback_dialect: str = "cmn"
    work_limit: float = 10.0


@dataclass(frozen=True)
class QuarterPlan:
    """Playlists of the devices that could be planned and problems of those that could not."""

    quarter: str
    playlists: tuple[DevicePlaylist, ...]
    problems: tuple[PlanProblem, ...]


def requirement_key(device: Device) -> tuple:
    """What decides a device's playlist; devices with equal keys get equal playlists."""
    return (device.profile, device.dialect, device.group, device.capacity_bytes)


def candidates(device: Device, tracks: Iterable[Track], quarter: Quarter, fallback: str) -> list[Track]:
    """Tracks a device may carry: its dialect or the fallback, valid in the quarter."""
    first, last = quarter.first_day, quarter.last_day
    return sorted((t for t in tracks if t.dialect in (device.dialect, fallback)
                   and (t.valid_from is None or t.valid_from <= last)
                   and (t.valid_until is None or t.valid_until >= first)), key=lambda t: t.lesson_id)


def _deciseconds(seconds: float) -> int:
    return max(1, int(round(seconds * 10)))


def choose(device: Device, pool: Sequence[Track], settings: QuarterRules) -> list[Track] | None:
    """The best rule-compliant selection for a device, or None when there is none.
    Own-dialect seconds count double in the objective."""
    items = _items(pool, lambda t: _deciseconds(t.duration_s) * (2 if t.dialect == device.dialect else 1))
    share = [solver.ShareRule(r.categories, int(round(r.min_share * 10000))) for r in settings.rules]
    chosen = solver.solve(items, [None], share, max_size=device.capacity_bytes,
                          work_limit=settings.work_limit)
    if not chosen:
        return None
    return [t for t in pool if t.lesson_id in chosen]


def play_order(tracks: Iterable[Track]) -> list[Track]:
    """Series together in episode order, then by category order, title and id."""
    def key(t: Track) -> tuple:
        rank = CATEGORY_ORDER.index(t.category) if t.category in CATEGORY_ORDER else len(CATEGORY_ORDER)
        return (rank, t.series or "\uffff", t.episode or 0, t.title, t.lesson_id)
    return sorted(tracks, key=key)


def _items(pool: Sequence[Track], value) -> list[solver.Item]:
    return [solver.Item(key=t.lesson_id, length=_deciseconds(t.duration_s), size=t.bytes, value=value(t),
                        category=t.category) for t in pool]


def explain(device: Device, pool: Sequence[Track], settings: QuarterRules) -> str:
    """Why no compliant playlist exists for ``device``, in plain words: no lessons at all,
    lessons missing in some category (how many minutes would make the rules reachable),
    or a card too small for the smallest compliant selection."""
    who = f"{device.device_id} ({device.group}, {device.dialect})"
    langs = " or ".join(dict.fromkeys((device.dialect, settings.fallback_dialect)))
    if not pool:
        return f"{who}: no lessons in {langs} are valid in this quarter"
    share = [solver.ShareRule(r.categories, int(round(r.min_share * 10000))) for r in settings.rules]
    if solver.solve(_items(pool, lambda t: 0), [None], share, work_limit=settings.work_limit) is None:
        wanted = frozenset().union(*(r.categories for r in settings.rules))
        best = county.seconds_by_category((t.category, t.duration_s) for t in pool if t.category in wanted)
        for rule in settings.rules:
            need = county.missing_seconds(rule, best)
            if need > 0 or not best:
                cats = " or ".join(sorted(rule.categories))
                return (f"{who}: {max(1, round(need / 60))} more minutes of {cats} lessons in {langs} "
                        f"are needed (rule: {rule.describe()})")
    smallest = solver.solve(_items(pool, lambda t: -t.bytes), [None], share, work_limit=settings.work_limit)
    need_mb = sum(t.bytes for t in pool if smallest and t.lesson_id in smallest) / 1e6
    return (f"{who}: the smallest selection that meets the county rule needs {need_mb:.1f} MB but the "
            f"device holds {device.capacity_mb:g} MB; give it a larger card")


def plan_quarter(devices: Iterable[Device], tracks_by_profile: dict[str, Sequence[Track]],
                 quarter: Quarter, settings: QuarterRules) -> QuarterPlan:
    """Plan every device. Devices whose profile has no tracks, or whose rules cannot be
    met, get a :class:`PlanProblem` instead of a playlist."""
    groups: dict[tuple, list[Device]] = defaultdict(list)
    for d in sorted(devices, key=lambda d: d.device_id):
        groups[requirement_key(d)].append(d)
    playlists, problems = [], []
    for key in sorted(groups):
        members = groups[key]
        first = members[0]
        pool = candidates(first, tracks_by_profile.get(first.profile, ()), quarter,
                          settings.fallback_dialect)
        chosen = choose(first, pool, settings) if pool else None
        for device in members:
            if chosen is None:
                problems.append(PlanProblem(device.device_id, explain(device, pool, settings)))
                continue
            items = tuple(PlaylistItem(position=n, lesson_id=t.lesson_id, title=t.title,
                                       category=t.category, dialect=t.dialect,
                                       duration_s=round(t.duration_s, 3), bytes=t.bytes,
                                       sha256=t.sha256, key=t.key,
                                       card_path=card_path(n, t.title, t.key.rsplit(".", 1)[-1]))
                          for n, t in enumerate(play_order(chosen), start=1))
            playlists.append(DevicePlaylist(device.device_id, str(quarter), device.profile, items))
    return QuarterPlan(str(quarter), tuple(playlists), tuple(problems))


def check_playlist(playlist: DevicePlaylist, device: Device, settings: QuarterRules) -> list[str]:
    """Independent check of a produced playlist: rules, capacity, dialects, numbering."""
    out = county.violations(settings.rules, county.seconds_by_category(
        (i.category, i.duration_s) for i in playlist.items))
    if playlist.bytes > device.capacity_bytes:
        out.append(f"{playlist.bytes} bytes exceed the capacity {device.capacity_bytes}")
    out += [f"{i.lesson_id} is in {i.dialect}" for i in playlist.items
            if i.dialect not in (device.dialect, settings.fallback_dialect)]
    if [i.position for i in playlist.items] != list(range(1, len(playlist.items) + 1)):
        out.append("positions are not 1..n")
    return out
