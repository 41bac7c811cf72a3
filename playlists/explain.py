"""Plain-words explanations: why a device cannot be planned, which wishes its playlist
could not meet, and what the library lacks fleet-wide. Messages say what is missing in
minutes, hours or megabytes, so an editor or a crew knows what to do."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, AbstractSet, Mapping, Sequence

from pipeline.models import Device, Quarter, Track

from . import rules as county
from . import solver
from .demand import QuarterRules, episode_slot, ms, must_carry, series_order, topic_wants

if TYPE_CHECKING:  # pragma: no cover
    from .orders import ResolvedOrder


def hours(seconds: float) -> str:
    """``35 min`` below an hour, else ``3.2 h``."""
    if seconds < 3600:
        return f"{max(1, round(seconds / 60))} min"
    return f"{seconds / 3600:.1f}".removesuffix(".0") + " h"


class Context:
    """What explanations need to know: the quarter and the settings."""

    def __init__(self, quarter: Quarter | None, settings: "QuarterRules") -> None:
        self.quarter = quarter
        self.settings = settings

    @property
    def when(self) -> str:
        return f"in {self.quarter}" if self.quarter else "in this quarter"

    def langs(self, dialect: str) -> str:
        return " or ".join(dict.fromkeys((dialect, self.settings.fallback_dialect)))

    def shares(self) -> tuple[solver.ShareRule, ...]:
        return county.share_rules(self.settings.rules)

    def card(self, device: Device) -> str:
        reserve = self.settings.card_reserve_share
        usable = self.settings.usable_bytes(device) / 1e6
        return f"{device.capacity_mb:g} MB" + (f" ({usable:.1f} MB after the {reserve:.0%} kept free)" if reserve else "")

    def order_missed(self, o: "ResolvedOrder", chosen: AbstractSet[str], dialect: str) -> str | None:
        """Why an order of the device's village is not honoured by the playlist of lesson
        ids ``chosen``, or None when it is."""
        if any(k in chosen for k in o.keys):
            return None
        what = f"the order of {o.order.village} for {o.order.target!r} (priority {o.order.priority})"
        if not o.keys:
            return f"{what} cannot be met: no lesson for it in {self.langs(dialect)} is valid {self.when}"
        return f"{what} is not honoured: its lessons do not fit with the county rule, the card and the wishes before it"

    def library_notes(self, planner, groups: Mapping[tuple, list[Device]]) -> list[str]:
        """Fleet-wide findings: dialects with no lessons, group topics with no lessons,
        must-carry lessons that cannot go anywhere."""
        s = self.settings
        out = []
        devices: Counter = Counter()
        topic_gaps: Counter = Counter()
        for key, members in groups.items():
            profile, dialect, group = key[:3]
            pool = planner.pool(profile, dialect)
            if s.own_dialect_min_share and dialect != s.fallback_dialect and not any(t.dialect == dialect for t in pool):
                devices[(profile, dialect)] += len(members)
            wanted = {topic for topic, _keys, _n in topic_wants(s.wishes(group), pool, set())}
            for topic in s.wishes(group).topics:
                if topic not in wanted:
                    topic_gaps[(group, topic)] += len(members)
        for (profile, dialect), n in sorted(devices.items()):
            out.append(f"no lessons in {dialect} are valid {self.when} for profile {profile}: "
                       f"{n} device(s) speaking {dialect} get {s.fallback_dialect} only; record lessons in {dialect}")
        for (group, topic), n in sorted(topic_gaps.items()):
            out.append(f"{group} listeners should get {topic} lessons, but {n} device(s) have none in their "
                       f"languages valid {self.when}; record or tag one")
        every = {t.lesson_id: t for ts in planner.tracks.values() for t in ts}
        for lid, _groups in s.must_carry:
            t = every.get(lid)
            if t is None:
                out.append(f"must-carry lesson {lid} is not in the library (or not encoded yet)")
            elif self.quarter and ((t.valid_from and t.valid_from > self.quarter.last_day)
                                   or (t.valid_until and t.valid_until < self.quarter.first_day)):
                out.append(f"must-carry lesson {lid} ({t.title}) is not valid {self.when} "
                           f"(valid {t.valid_from or '…'} to {t.valid_until or '…'})")
        return out


def _zero(pool: Sequence[Track], value=lambda t: 0) -> tuple[solver.Candidate, ...]:
    return tuple(solver.Candidate(t.lesson_id, ms(t.duration_s), t.bytes, t.category, value(t), slot=episode_slot(t))
                 for t in pool)


def explain_infeasible(ctx: Context, pool: Sequence[Track], device: Device, usable: int,
                       heard: set[str] | None = None) -> str:
    """Why no playlist meets the hard rules: no lessons at all; lessons missing in some
    category (how many minutes would make the rules reachable); a card too small for the
    smallest compliant selection; a listening maximum below the shortest one."""
    s = ctx.settings
    langs = ctx.langs(device.dialect)
    if not pool:
        return f"no lessons in {langs} are valid {ctx.when}"
    shares = ctx.shares()
    if solver.select(solver.Selection(_zero(pool), shares, work_limit=s.work_limit)) is None:
        wanted = frozenset().union(*(r.categories for r in s.rules))
        best = county.seconds_by_category((t.category, t.duration_s) for t in pool if t.category in wanted)
        for rule in s.rules:
            need = county.missing_seconds(rule, best)
            if need > 0 or not best:
                cats = " or ".join(sorted(rule.categories))
                return (f"{max(1, round(need / 60))} more minutes of {cats} lessons in {langs} "
                        f"are needed (rule: {rule.describe()})")
    after = series_order(pool, heard or set())
    max_ms = int(s.max_listening_s * 1000) if s.max_listening_s else None
    smallest = solver.select(solver.Selection(_zero(pool, lambda t: -t.bytes), shares, max_ms=max_ms, after=after,
                                              work_limit=s.work_limit))
    if smallest is not None:
        need = sum(t.bytes for t in pool if t.lesson_id in set(smallest.keys))
        if need > usable:
            return (f"the smallest selection that meets the county rule needs {need / 1e6:.1f} MB but the device "
                    f"holds {ctx.card(device)}; give it a larger card")
    elif max_ms is not None:
        shortest = solver.select(solver.Selection(_zero(pool, lambda t: -int(t.duration_s)), shares, after=after,
                                                  work_limit=s.work_limit))
        if shortest is not None:
            length = sum(t.duration_s for t in pool if t.lesson_id in set(shortest.keys))
            return (f"the shortest selection that meets the county rule lasts {hours(length)}, more than the "
                    f"listening maximum of {hours(s.max_listening_s)}; raise max_listening_hours")
    return (f"no selection of lessons in {langs} meets the county rule, the card's {ctx.card(device)}, the "
            "listening maximum and the series' episode order together")


def shortfalls(ctx: Context, device: Device, pool: Sequence[Track], chosen: Sequence[Track],
               heard: set[str], cap: int) -> list[tuple[str, str]]:
    """``(kind, message)`` for each wish the chosen playlist does not meet, measured on the
    playlist itself (not on the solver's claims). ``cap`` is the binding capacity in
    bytes, or -1 when the card cannot bind."""
    s = ctx.settings
    out: list[tuple[str, str]] = []
    ids = {t.lesson_id for t in chosen}
    by_id = {t.lesson_id: t for t in pool}
    limits = "the county rule" + (f", the card's {ctx.card(device)}" if cap >= 0 else "") + \
        (f", the {hours(s.max_listening_s)} listening maximum" if s.max_listening_s else "")
    for lid in must_carry(s, device.group, pool):
        if lid not in ids:
            t = by_id[lid]
            if t.bytes > s.usable_bytes(device):
                why = f"at {t.bytes / 1e6:.1f} MB it is larger than the card's {ctx.card(device)}"
            elif s.max_listening_s and t.duration_s > s.max_listening_s:
                why = f"at {hours(t.duration_s)} it is longer than the listening maximum"
            else:
                why = f"it does not fit together with {limits} and the other must-carry lessons"
            out.append(("must-carry", f"must-carry lesson {lid} ({t.title}) is not on the playlist: {why}"))
    for topic, keys, want in topic_wants(s.wishes(device.group), pool, heard):
        got = len(ids & set(keys))
        if got < want:
            out.append(("group-topic", f"{got} of the {want} {topic} lesson(s) meant for its group are on the "
                                       f"playlist; the others do not fit with {limits}"))
    total = sum(t.duration_s for t in chosen)
    if s.own_dialect_min_share and device.dialect != s.fallback_dialect and total > 0:
        own = sum(t.duration_s for t in chosen if t.dialect == device.dialect)
        available = sum(t.duration_s for t in pool if t.dialect == device.dialect)
        if available > 0 and own < min(s.own_dialect_min_share * total, available) - 1.0:
            out.append(("own-dialect", f"{own / total:.0%} of the time is in {device.dialect} (at least "
                                       f"{s.own_dialect_min_share:.0%} wanted); the library has "
                                       f"{hours(available)} in {device.dialect} valid {ctx.when}, which does not "
                                       f"fit with {limits}"))
    if s.min_listening_s and total < s.min_listening_s - 1e-6:
        out.append(("listening-time", f"{hours(total)} of listening, at least {hours(s.min_listening_s)} wanted: "
                                      + _why_short(ctx, device, pool, cap)))
    return out


def _why_short(ctx: Context, device: Device, pool: Sequence[Track], cap: int) -> str:
    s = ctx.settings
    available = sum(t.duration_s for t in pool)
    langs = ctx.langs(device.dialect)
    if available < s.min_listening_s:
        return f"the library has only {hours(available)} of lessons in {langs} valid {ctx.when}"
    by_cat = county.seconds_by_category((t.category, t.duration_s) for t in pool)
    bound = county.share_bound_seconds(s.rules, by_cat)
    if bound < s.min_listening_s:
        core = sorted(frozenset().union(*(r.categories for r in s.rules)))
        have = sum(v for k, v in by_cat.items() if k in core)
        return (f"with {hours(have)} of {' and '.join(core)} lessons in {langs}, the county rule allows at most "
                f"{hours(bound)}; record more of them")
    if cap >= 0 and available:
        rate = sum(t.bytes for t in pool) / available
        if cap / rate < s.min_listening_s:
            return f"a card of {ctx.card(device)} holds about {hours(cap / rate)} of these lessons; give it a larger card"
    return "the lessons there are do not combine to more within the county rule and the card"


__all__ = ["Context", "explain_infeasible", "shortfalls", "hours"]
