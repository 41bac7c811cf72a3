"""What a device's plan is asked for, shared by the planner (:mod:`.quarter`) and its
explanations (:mod:`.explain`): the planning settings, the groups' wishes, must-carry
lessons, topics, series order and the solver's units. Pure: no I/O."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Sequence

from pipeline.models import CategoryRule, Device, Track


@dataclass(frozen=True)
class GroupWishes:
    """What one listener group gets (``[[plan.groups]]``): every lesson on ``topics`` (or
    ``per_topic`` of each when above 0) and, when ``prefer_max_s`` is above 0, lessons
    no longer than that many seconds first."""

    group: str
    topics: tuple[str, ...] = ()
    per_topic: int = 0
    prefer_max_s: float = 0.0


@dataclass(frozen=True)
class QuarterRules:
    """Planning settings (from ``[plan]`` and ``[rules]``). Seconds and shares; 0 means
    "no such limit". ``must_carry`` holds ``(lesson_id, groups)`` of this quarter, empty
    groups meaning every device."""

    rules: tuple[CategoryRule, ...]
    fallback_dialect: str = "cmn"
    work_limit: float = 10.0
    min_listening_s: float = 0.0
    max_listening_s: float = 0.0
    own_dialect_min_share: float = 0.0
    card_reserve_share: float = 0.0
    groups: tuple[GroupWishes, ...] = ()
    must_carry: tuple[tuple[str, tuple[str, ...]], ...] = ()
    #: the solver stops when within this many seconds of own-dialect listening of the best
    #: (below the weight of any must-carry lesson, topic lesson or order)
    gap_s: float = 600.0
    #: ``(lesson_id, completion share)`` of lessons listeners completed (``[plan]
    #: use_listens``): their value is raised by :func:`playlists.listens.value_factor`
    completion: tuple[tuple[str, float], ...] = ()

    def wishes(self, group: str) -> GroupWishes:
        """The wishes of ``group`` (none when it has no ``[[plan.groups]]`` entry)."""
        for g in self.groups:
            if g.group == group:
                return g
        return GroupWishes(group)

    def usable_bytes(self, device: Device) -> int:
        """The bytes a playlist may take on the device's card."""
        return int(device.capacity_bytes * (1.0 - self.card_reserve_share))


def ms(seconds: float) -> int:
    """Whole milliseconds of a duration as published (rounded to 3 decimals)."""
    return int(round(round(seconds, 3) * 1000))


def episode_slot(t: Track) -> str:
    """Versions of one episode of a series share a slot (at most one is carried)."""
    return f"{t.series}\x1f{t.episode}" if t.series and t.episode is not None else ""


def series_order(pool: Sequence[Track], heard: set[str]) -> tuple[tuple[str, str], ...]:
    """``(later, earlier)`` slot pairs: within each series, an episode the device did not
    carry last quarter comes only with the previous such episode."""
    episodes: dict[str, dict[int, bool]] = defaultdict(dict)
    for t in pool:
        if t.series and t.episode is not None:
            done = episodes[t.series].get(t.episode, False)
            episodes[t.series][t.episode] = done or t.lesson_id in heard
    pairs = []
    for series in sorted(episodes):
        fresh = sorted(e for e, done in episodes[series].items() if not done)
        pairs += [(f"{series}\x1f{b}", f"{series}\x1f{a}") for a, b in zip(fresh, fresh[1:])]
    return tuple(pairs)


def must_carry(settings: QuarterRules, group: str, pool: Sequence[Track]) -> list[str]:
    """Must-carry lesson ids for ``group`` that are in the device's pool."""
    ids = {t.lesson_id for t in pool}
    return sorted({lid for lid, groups in settings.must_carry if (not groups or group in groups) and lid in ids})


def topic_wants(wishes: GroupWishes, pool: Sequence[Track], heard: set[str]) -> list[tuple[str, tuple[str, ...], int]]:
    """``(topic, lesson ids, how many wanted)`` of the group's topics: lessons of the pool
    on the topic that the device did not carry last quarter (or that are evergreen)."""
    out = []
    for topic in wishes.topics:
        keys = tuple(t.lesson_id for t in pool if topic in t.topics and (t.lesson_id not in heard or t.evergreen))
        if keys:
            out.append((topic, keys, min(wishes.per_topic, len(keys)) if wishes.per_topic else len(keys)))
    return out
