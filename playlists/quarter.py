"""Quarterly device playlists for the whole fleet.

Hard rules (a device that cannot meet them gets no playlist and a plain explanation):
the category-share rules (the county rule), the card's capacity in real rendition
bytes (less the share kept free for the file system), the listening-time maximum, the
device's own dialect or the fallback dialect only, the lessons' validity dates, and
series in episode order (an episode only with the one before it, unless the device
carried that one last quarter; one version of each episode).

Wishes, weighed in one objective (each unmet one is reported for the device):
must-carry lessons of the quarter > the group's topics (e.g. fishers: maritime safety,
aquaculture) > village orders (點單) by priority > the own-dialect share (as far as the
library has lessons in that dialect) and the listening-time minimum > more listening,
own dialect before the fallback, lessons for the device's group, shorter lessons for
groups that prefer them. Lessons the device carried last quarter (unless evergreen, or
asked for by an order or a must-carry) are left out first; they come back, at a cost,
only when the hard rules, the listening minimum or the own-dialect share need them.
The solver stops within ``gap_s`` seconds of listening of the best objective.

Devices with identical requirements share one solve (:func:`requirement_key`), so the
cost grows with the number of distinct requirement sets, not with the number of
devices; the solves go through ``mapper`` (e.g. a process pool's map), and the workers
build the problems they solve from the requirement keys. Equal inputs give equal plans,
whatever their order.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import itertools
import math
from collections import defaultdict
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Mapping, Sequence

from pipeline.models import (Device, DevicePlaylist, PlanProblem, PlaylistItem, Quarter, Track,
                             VillageOrder)
from pipeline.vocab import GROUPS

from . import rules as county
from . import solver
from .cardnames import card_path, number_width
from .demand import QuarterRules, episode_slot, ms, must_carry, series_order, topic_wants
from .explain import Context, explain_infeasible, shortfalls
from .listens import value_factor
from .orders import ResolvedOrder, VillageOrders

#: play order of categories when no series binds the order
CATEGORY_ORDER = ("party-spirit", "theory", "policy", "red-culture", "skills", "other")

# Objective weights, in value units: one second of own-dialect listening is worth 8.
OWN_PER_S, FALLBACK_PER_S = 8, 4
#: lessons longer than the group's preferred length are worth this fraction
LONG_FACTOR = 0.25
#: lessons meant for the device's group (``audiences``) are worth more, others less
AUDIENCE_MATCH, AUDIENCE_OTHER = 1.5, 0.5
#: a lesson carried last quarter (not evergreen) costs this per second
REPEAT_PER_S = 4
#: per second below the listening minimum, and per second the own-dialect share lacks
SHORT_PER_S, OWN_SHORT_PER_S = 16, 24
HOUR = 16 * 3600
#: an order is worth (10 - priority) hours; a group-topic lesson 20 h; a must-carry 100 h
ORDER_POINT, TOPIC_BONUS, MUST_BONUS = HOUR, 20 * HOUR, 100 * HOUR


@dataclass(frozen=True)
class QuarterPlan:
    """The plan of a quarter.

    ``playlists``: the devices planned; ``problems``: devices not planned and why;
    ``shortfalls``: wishes a planned device's playlist could not meet; ``notes``:
    fleet-wide findings (library gaps, orders that match nothing); ``solves``: distinct
    requirement sets solved.
    """

    quarter: str
    playlists: tuple[DevicePlaylist, ...]
    problems: tuple[PlanProblem, ...]
    shortfalls: tuple[PlanProblem, ...] = ()
    notes: tuple[str, ...] = ()
    solves: int = 0


def candidates(device: Device, tracks: Iterable[Track], quarter: Quarter, fallback: str) -> list[Track]:
    """Tracks a device may carry: its dialect or the fallback, valid in the quarter."""
    return _pool(tracks, device.dialect, fallback, quarter)


def _pool(tracks: Iterable[Track], dialect: str, fallback: str, quarter: Quarter) -> list[Track]:
    first, last = quarter.first_day, quarter.last_day
    return sorted((t for t in tracks if t.dialect in (dialect, fallback)
                   and (t.valid_from is None or t.valid_from <= last)
                   and (t.valid_until is None or t.valid_until >= first)), key=lambda t: t.lesson_id)


def play_order(tracks: Iterable[Track]) -> list[Track]:
    """Series together in episode order (placed by their first episode's category), then
    by category order, title and id."""
    tracks = list(tracks)

    def rank(category: str) -> int:
        return CATEGORY_ORDER.index(category) if category in CATEGORY_ORDER else len(CATEGORY_ORDER)

    series_rank: dict[str, int] = {}
    for t in sorted(tracks, key=lambda t: (t.episode or 0, t.lesson_id)):
        if t.series:
            series_rank.setdefault(t.series, rank(t.category))

    def key(t: Track) -> tuple:
        r = series_rank[t.series] if t.series else rank(t.category)
        return (r, t.series or "\uffff", t.episode or 0, t.title, t.lesson_id)
    return sorted(tracks, key=key)


class _Planner:
    """Caches shared by the devices of one plan: pools per (profile, dialect), orders
    resolved per village, requirement keys."""

    def __init__(self, tracks_by_profile: Mapping[str, Sequence[Track]], quarter: Quarter,
                 settings: QuarterRules, orders: Sequence[VillageOrder]) -> None:
        self.tracks = tracks_by_profile
        self.quarter = quarter
        self.settings = settings
        self.orders = VillageOrders([o for o in orders if o.quarter in ("", str(quarter))])
        self._pools: dict[tuple[str, str], tuple[Track, ...]] = {}
        self._ids: dict[tuple[str, str], frozenset[str]] = {}
        self._caps: dict[tuple[str, str, int], int] = {}
        self._prev: dict[tuple, tuple[str, ...]] = {}
        self._ord: dict[tuple, tuple[tuple[ResolvedOrder, ...], tuple]] = {}
        self._classes: dict[tuple[str, str, str], str] = {}
        self._playlists: dict[tuple, tuple[list[Track], tuple[PlaylistItem, ...]]] = {}
        self._missed: dict[tuple[int, int], list[str]] = {}
        #: unmet wishes by what their messages depend on (see :func:`_planned`)
        self.wanted: dict[tuple, list[tuple[str, str]]] = {}
        #: ``(township, village)`` of the devices seen by :meth:`keys`
        self.villages: set[tuple[str, str]] = set()

    def pool(self, profile: str, dialect: str) -> tuple[Track, ...]:
        k = (profile, dialect)
        if k not in self._pools:
            self._pools[k] = tuple(_pool(self.tracks.get(profile, ()), dialect, self.settings.fallback_dialect,
                                         self.quarter))
            self._ids[k] = frozenset(t.lesson_id for t in self._pools[k])
        return self._pools[k]

    def capacity(self, profile: str, dialect: str, usable: int) -> int:
        """``usable`` bytes, or -1 when no selection the other hard rules allow can exceed it."""
        k = (profile, dialect, usable)
        if k not in self._caps:
            pool = self.pool(profile, dialect)
            binding = usable < sum(t.bytes for t in pool)
            limit = self.settings.max_listening_s
            if binding and limit and pool:
                ratio = max(t.bytes / max(t.duration_s, 1e-3) for t in pool)
                binding = usable < ratio * limit
            self._caps[k] = usable if binding else -1
        return self._caps[k]

    def previous(self, profile: str, dialect: str, prev: tuple[str, ...]) -> tuple[str, ...]:
        k = (profile, dialect, prev)
        if k not in self._prev:
            self.pool(profile, dialect)
            ids = self._ids[(profile, dialect)]
            self._prev[k] = tuple(sorted(set(prev) & ids))
        return self._prev[k]

    def village_orders(self, device: Device) -> tuple[ResolvedOrder, ...]:
        """The orders of the device's village, resolved against its pool."""
        return self._orders_of(device)[0]

    def _orders_of(self, device: Device) -> tuple[tuple[ResolvedOrder, ...], tuple]:
        k = (device.township, device.village, device.profile, device.dialect)
        found = self._ord.get(k)
        if found is None:
            resolved = self.orders.resolve(device.township, device.village, self.pool(device.profile, device.dialect))
            found = self._ord[k] = (resolved, tuple(sorted({(o.keys, o.weight) for o in resolved if o.keys})))
        return found

    def missed_orders(self, ctx: Context, device: Device, chosen: list[Track]) -> list[str]:
        """Why each order of the device's village that ``chosen`` (a list from
        :meth:`playlist`) does not honour is not honoured."""
        village = self.village_orders(device)
        if not village:
            return []
        k = (id(village), id(chosen))
        found = self._missed.get(k)
        if found is None:
            ids = {t.lesson_id for t in chosen}
            found = self._missed[k] = [m for m in (ctx.order_missed(o, ids, device.dialect) for o in village) if m]
        return found

    def group_class(self, profile: str, dialect: str, group: str) -> str:
        """The first listener group that is planned exactly like ``group`` for this pool:
        same wishes, same must-carry lessons, same lessons meant for it."""
        k = (profile, dialect, group)
        if k not in self._classes:
            pool = self.pool(profile, dialect)

            def signature(g: str) -> tuple:
                w = self.settings.wishes(g)
                return ((w.topics, w.per_topic, w.prefer_max_s), tuple(must_carry(self.settings, g, pool)),
                        tuple(t.lesson_id for t in pool if g in t.audiences))
            mine = signature(group)
            self._classes[k] = next((g for g in sorted({*GROUPS, group}) if signature(g) == mine), group)
        return self._classes[k]

    def key(self, device: Device, prev: tuple[str, ...]) -> tuple:
        """The requirement key of ``device`` (see :func:`requirement_key`)."""
        profile, dialect = device.profile, device.dialect
        return (profile, dialect, self.group_class(profile, dialect, device.group),
                self.capacity(profile, dialect, self.settings.usable_bytes(device)),
                self._orders_of(device)[1], self.previous(profile, dialect, prev))

    def keys(self, devices: Iterable[Device], previous: Mapping[str, Sequence[str]]) -> dict[tuple, list[Device]]:
        """The devices by requirement key (:meth:`key`), each key's devices in their
        order; the parts that do not depend on last quarter are worked out once per
        profile, dialect, group, card and village."""
        groups: dict[tuple, list[Device]] = defaultdict(list)
        parts: dict[tuple, tuple] = {}
        prevs: dict[tuple, tuple[str, ...]] = {}
        for d in devices:
            k = (d.profile, d.dialect, d.group, d.capacity_mb, d.township, d.village)
            part = parts.get(k)
            if part is None:
                part = parts[k] = self.key(d, ())[:5]
            heard = tuple(previous.get(d.device_id, ()))
            pk = (d.profile, d.dialect, heard)
            prev = prevs.get(pk)
            if prev is None:
                prev = prevs[pk] = self.previous(d.profile, d.dialect, heard)
            groups[part + (prev,)].append(d)
        self.villages.update((k[4], k[5]) for k in parts)
        return groups

    def playlist(self, profile: str, dialect: str, keys: tuple[str, ...]) -> tuple[list[Track], tuple[PlaylistItem, ...]]:
        """The chosen tracks of the pool and their playlist items (one shared tuple for
        every requirement set with this answer)."""
        k = (profile, dialect, keys)
        found = self._playlists.get(k)
        if found is None:
            ids = set(keys)
            chosen = [t for t in self.pool(profile, dialect) if t.lesson_id in ids]
            found = self._playlists[k] = (chosen, _items(chosen))
        return found

    def problems(self, keys: Iterable[tuple]) -> "_Problems":
        """The problem builder for ``keys`` (their pools only)."""
        return _Problems(self.settings, {k[:2]: self.pool(*k[:2]) for k in keys})


class _Problems:
    """Builds and solves the selection problem of a requirement key: ``problems(key)``
    gives ``(answer, fresh)`` of :func:`select_fresh_first`. Picklable (settings and
    pools only), so a process pool's workers build the problems they solve; what does
    not depend on last quarter's lessons (candidates, must-carry, share rules) is built
    once per pool and group."""

    def __init__(self, settings: QuarterRules, pools: Mapping[tuple[str, str], tuple[Track, ...]]) -> None:
        self.settings = settings
        self.pools = dict(pools)
        self._cache: dict[tuple, tuple] = {}

    def __getstate__(self) -> dict:
        return {"settings": self.settings, "pools": self.pools, "_cache": {}}

    def __call__(self, key: tuple) -> tuple[solver.Selected | None, bool]:
        problem = self.selection(key)
        return (None, True) if problem is None else select_fresh_first(problem)

    def _fixed(self, profile: str, dialect: str, group: str) -> tuple:
        """Per pool and group: candidates as not heard, candidates as heard, must-carry
        bonuses, share rules and the own-dialect milliseconds of the pool."""
        k = (profile, dialect, group)
        found = self._cache.get(k)
        if found is None:
            pool = self.pools[(profile, dialect)]
            s = self.settings
            wishes = s.wishes(group)
            completed = dict(s.completion)
            fresh, heard = [], []
            for t in pool:
                own = t.dialect == dialect
                value = t.duration_s * (OWN_PER_S if own else FALLBACK_PER_S)
                if wishes.prefer_max_s and t.duration_s > wishes.prefer_max_s:
                    value *= LONG_FACTOR
                if t.audiences:
                    value *= AUDIENCE_MATCH if group in t.audiences else AUDIENCE_OTHER
                if t.lesson_id in completed:
                    value *= value_factor(completed[t.lesson_id])
                c = solver.Candidate(key=t.lesson_id, ms=ms(t.duration_s), size=t.bytes, category=t.category,
                                     value=int(round(value)), own=own or dialect == s.fallback_dialect, slot=episode_slot(t))
                fresh.append(c)
                heard.append(c if t.evergreen else dataclasses.replace(
                    c, value=int(round(-REPEAT_PER_S * t.duration_s))))
            musts = tuple(solver.Bonus((lid,), MUST_BONUS) for lid in must_carry(s, group, pool))
            shares = county.share_rules(s.rules)
            own_cap = sum(c.ms for c, t in zip(fresh, pool) if t.dialect == dialect)
            found = self._cache[k] = (fresh, heard, musts, shares, own_cap)
        return found

    def selection(self, key: tuple) -> solver.Selection | None:
        """The selection problem of a requirement key, or None when the pool is empty."""
        profile, dialect, group, cap, orders, prev = key
        pool = self.pools[(profile, dialect)]
        if not pool:
            return None
        s = self.settings
        fresh, as_heard, musts, shares, own_cap = self._fixed(profile, dialect, group)
        heard = set(prev)
        cands = tuple(h if t.lesson_id in heard else f for t, f, h in zip(pool, fresh, as_heard))
        bonuses = list(musts)
        for _topic, keys, want in topic_wants(s.wishes(group), pool, heard):
            bonuses.append(solver.Bonus(keys, TOPIC_BONUS, want))
        bonuses += [solver.Bonus(keys, ORDER_POINT * weight) for keys, weight in orders]
        own_bp = 0 if dialect == s.fallback_dialect else county.basis_points(s.own_dialect_min_share)
        return solver.Selection(
            candidates=cands, shares=shares,
            max_size=None if cap < 0 else cap,
            max_ms=int(s.max_listening_s * 1000) if s.max_listening_s else None,
            after=series_order(pool, heard), bonuses=tuple(bonuses),
            min_ms=math.ceil(s.min_listening_s * 1000), short_weight=SHORT_PER_S,
            own_bp=own_bp, own_cap_ms=own_cap,
            own_weight=OWN_SHORT_PER_S, gap=int(s.gap_s * OWN_PER_S), work_limit=s.work_limit)

def requirement_key(device: Device, tracks: Sequence[Track], quarter: Quarter, settings: QuarterRules,
                    previous: tuple[str, ...] = (), orders: Sequence[VillageOrder] = ()) -> tuple:
    """What decides a device's playlist; devices with equal keys get equal playlists:
    profile, dialect, group (groups planned alike count as one), the card's capacity
    when it can bind, the village's orders as lessons of its pool, and the lessons of
    its pool it carried last quarter."""
    return _Planner({device.profile: tracks}, quarter, settings, orders).key(device, tuple(previous))


def _items(chosen: Sequence[Track]) -> tuple[PlaylistItem, ...]:
    ordered = play_order(chosen)
    width = number_width(len(ordered))
    return tuple(PlaylistItem(position=n, lesson_id=t.lesson_id, title=t.title, category=t.category,
                              dialect=t.dialect, duration_s=round(t.duration_s, 3), bytes=t.bytes,
                              sha256=t.sha256, key=t.key,
                              card_path=card_path(n, t.title, t.key.rsplit(".", 1)[-1], width))
                 for n, t in enumerate(ordered, start=1))


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector for the block. A fleet plan makes
    millions of small objects without cycles (playlists, problems, diffs); each
    collection of the oldest generation walks all of them, which cost about a quarter
    of the main process's time on the benchmark fleet. Reference counting still frees
    everything; the collector resumes (if it was on) at the end."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def who(device: Device) -> str:
    """How messages name a device: ``LJ-01234 (fisher, cdo)``."""
    return f"{device.device_id} ({device.group}, {device.dialect})"


def plan_quarter(devices: Iterable[Device], tracks_by_profile: Mapping[str, Sequence[Track]],
                 quarter: Quarter, settings: QuarterRules,
                 previous: Mapping[str, Sequence[str]] | None = None,
                 orders: Sequence[VillageOrder] = (),
                 mapper: Callable = map) -> QuarterPlan:
    """Plan every device.

    Args:
        devices: the fleet (any order).
        tracks_by_profile: the lessons as rendered for each profile.
        quarter: the quarter planned (validity dates, must-carry and orders of it).
        settings: rules and wishes.
        previous: lesson ids each device carried last quarter (avoided unless evergreen).
        orders: village orders; those of other quarters are ignored.
        mapper: ``map``-like callable used for the solves (e.g. a process pool's map);
            when it is lazy like ``map``, the playlists of the answers known so far are
            built while the other solves run.

    Returns:
        The :class:`QuarterPlan`; devices whose hard rules cannot be met have a problem
        instead of a playlist, and the other devices are still planned.
    """
    with gc_paused():
        return _plan(devices, tracks_by_profile, quarter, settings, previous or {}, orders, mapper)


def _plan(devices: Iterable[Device], tracks_by_profile: Mapping[str, Sequence[Track]], quarter: Quarter,
          settings: QuarterRules, previous: Mapping[str, Sequence[str]], orders: Sequence[VillageOrder],
          mapper: Callable) -> QuarterPlan:
    planner = _Planner(tracks_by_profile, quarter, settings, orders)
    groups = planner.keys(devices, previous)
    answers, solves = _solve(planner, sorted(groups), mapper)
    ctx = Context(quarter, settings)
    playlists: list[DevicePlaylist] = []
    failed: list[PlanProblem] = []
    short: list[PlanProblem] = []
    for key, answer in answers:  # any order: the lists are sorted below
        members = sorted(groups[key], key=lambda d: d.device_id)
        if answer is None:
            failed += _not_planned(ctx, planner, key, members)
        else:
            _planned(ctx, planner, key, members, answer, playlists, short)
    villages = planner.villages
    notes = planner.orders.notes(tracks_by_profile, villages) + ctx.library_notes(planner, groups)
    return QuarterPlan(str(quarter), tuple(sorted(playlists, key=lambda p: p.device_id)),
                       tuple(sorted(failed, key=lambda p: p.device_id)),
                       tuple(sorted(short, key=lambda p: (p.device_id, p.kind, p.message))),
                       tuple(notes), solves)


def _not_planned(ctx: Context, planner: _Planner, key: tuple, members: list[Device]) -> list[PlanProblem]:
    """The problems of devices whose requirement set has no playlist (one explanation per
    card size)."""
    profile, dialect, _group, _cap, _orders, prev = key
    pool = planner.pool(profile, dialect)
    why: dict[int, str] = {}
    out = []
    for d in members:
        usable = ctx.settings.usable_bytes(d)
        if usable not in why:
            why[usable] = explain_infeasible(ctx, pool, d, usable, set(prev))
        out.append(PlanProblem(d.device_id, f"{who(d)}: {why[usable]}"))
    return out


def _planned(ctx: Context, planner: _Planner, key: tuple, members: list[Device], answer: solver.Selected,
             playlists: list[DevicePlaylist], short: list[PlanProblem]) -> None:
    """Add the playlists of a requirement set's devices (one shared item tuple) and the
    wishes they miss: the set's own, then each village's orders."""
    profile, dialect, _group, cap, _orders, prev = key
    pool = planner.pool(profile, dialect)
    chosen, items = planner.playlist(profile, dialect, answer.keys)
    first = members[0]
    # what the wishes' messages depend on (requirement sets with equal answers share them)
    same = (first.group, first.dialect, first.capacity_mb, profile, id(chosen), prev, cap)
    wanted = planner.wanted.get(same)
    if wanted is None:
        wanted = planner.wanted[same] = shortfalls(ctx, first, pool, chosen, set(prev), cap)
    villages: dict[tuple[str, str], list[str]] = {}
    q = str(planner.quarter)
    for d in members:
        playlists.append(DevicePlaylist(d.device_id, q, d.profile, items))
        if wanted:
            short += [PlanProblem(d.device_id, f"{who(d)}: {text}", kind) for kind, text in wanted]
        missed = villages.get((d.township, d.village))
        if missed is None:
            missed = villages[(d.township, d.village)] = planner.missed_orders(ctx, d, chosen)
        if missed:
            short += [PlanProblem(d.device_id, f"{who(d)}: {m}", "order") for m in missed]


def select_fresh_first(problem: solver.Selection) -> tuple[solver.Selected | None, bool]:
    """Solve ``problem`` without the lessons the device carried last quarter (negative
    values, unless a bonus asks for them); only when that misses the listening minimum or
    the own-dialect share, or cannot meet the hard rules, solve it with them. Returns the
    answer and whether it came from the first solve. (The avoided lessons make the model
    about twice as slow; most devices never need them.)"""
    wanted = {k for b in problem.bonuses for k in b.keys}
    fresh = tuple(c for c in problem.candidates if c.value >= 0 or c.key in wanted)
    if len(fresh) < len(problem.candidates):
        first_problem = dataclasses.replace(problem, candidates=fresh)
        if not solver.own_lack_certain(first_problem):  # else the first answer could not be kept
            first = solver.select(first_problem)
            if first is not None and not first.short_s and not first.own_lack_s:
                return first, True
        return solver.select(problem), False
    return solver.select(problem), True


def _base(key: tuple) -> tuple:
    """The requirement key without its village orders."""
    return key[:4] + ((),) + key[5:]


def _solve(planner: _Planner, keys: Sequence[tuple],
           mapper: Callable) -> tuple[Iterator[tuple[tuple, solver.Selected | None]], int]:
    """Answers per requirement key (an iterator of ``(key, answer)``, every key once),
    and how many solves they take.

    First the keys without their village orders; then each key with orders whose base
    answer does not already honour all of them (when it does, and came without last
    quarter's lessons, the base answer is also the best answer with the orders: it is
    best without their bonuses and gets all of them). The second round's solves are
    handed to ``mapper`` before the iterator is returned: with a lazy ``mapper`` (a
    process pool) the caller uses the answers known so far while they run."""
    problems = planner.problems(keys)
    todo = sorted({_base(k) for k in keys})
    bases = dict(zip(todo, mapper(problems, todo)))
    known: list[tuple[tuple, solver.Selected | None]] = []
    rest = []
    for k in keys:
        if k in bases:
            known.append((k, bases[k][0]))
            continue
        b, fresh = bases[_base(k)]
        if b is None or (fresh and all(set(ids) & set(b.keys) for ids, _w in k[4])):
            known.append((k, b))  # no playlist without orders means none with them either
        else:
            rest.append(k)
    later = mapper(problems, rest)
    return itertools.chain(known, ((k, a) for k, (a, _fresh) in zip(rest, later))), len(bases) + len(rest)


def explain(device: Device, pool: Sequence[Track], settings: QuarterRules, quarter: Quarter | None = None) -> str:
    """Why no compliant playlist exists for ``device``, in plain words."""
    ctx = Context(quarter, settings)
    return f"{who(device)}: {explain_infeasible(ctx, pool, device, settings.usable_bytes(device))}"


def check_playlist(playlist: DevicePlaylist, device: Device, settings: QuarterRules,
                   library: Mapping[str, Track] | None = None, quarter: Quarter | None = None) -> list[str]:
    """Independent check of a produced playlist against the hard rules: category shares,
    capacity, listening maximum, dialects, numbering and card names, and, given the
    ``library`` and ``quarter``, validity dates and series order. Returns the breaches."""
    out = county.violations(settings.rules, county.seconds_by_category(
        (i.category, i.duration_s) for i in playlist.items))
    if playlist.bytes > settings.usable_bytes(device):
        out.append(f"{playlist.bytes} bytes exceed the usable capacity {settings.usable_bytes(device)}")
    if settings.max_listening_s and playlist.duration_s > settings.max_listening_s + 1e-6:
        out.append(f"{playlist.duration_s:.0f} s exceed the listening maximum {settings.max_listening_s:.0f} s")
    out += [f"{i.lesson_id} is in {i.dialect}" for i in playlist.items
            if i.dialect not in (device.dialect, settings.fallback_dialect)]
    if [i.position for i in playlist.items] != list(range(1, len(playlist.items) + 1)):
        out.append("positions are not 1..n")
    names = [i.card_path for i in playlist.items]
    if names != sorted(names) or len(set(n.casefold() for n in names)) != len(names):
        out.append("card paths are not unique and in play order")
    if library is not None and quarter is not None:
        tracks = [library.get(i.lesson_id) for i in playlist.items]
        out += [f"{i.lesson_id} is not in the library" for i, t in zip(playlist.items, tracks) if t is None]
        for i, t in zip(playlist.items, tracks):
            if t is not None and ((t.valid_from and t.valid_from > quarter.last_day)
                                  or (t.valid_until and t.valid_until < quarter.first_day)):
                out.append(f"{i.lesson_id} is not valid in {quarter}")
        seen: dict[str, int] = {}
        for t in tracks:
            if t is not None and t.series and t.episode is not None:
                if t.episode < seen.get(t.series, 0):
                    out.append(f"series {t.series}: episode {t.episode} plays after episode {seen[t.series]}")
                seen[t.series] = max(seen.get(t.series, 0), t.episode)
    return out
