"""Village orders (點單): which lessons of a device's pool each order asks for.

An order names a lesson id, a title, a series, a topic or a category (tried in that
order; the first kind that matches any lesson wins). It is honoured when at least one
of the lessons it names is on the playlist; priority 1 weighs 9, priority 9 weighs 1.
Villages are matched on folded names, with the township when the order gives one.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from pipeline.models import Track, VillageOrder
from pipeline.vocab import category_code

from .rules import fold


@dataclass(frozen=True)
class ResolvedOrder:
    """An order with the lessons of one pool it names (``keys``, sorted) and its weight."""

    order: VillageOrder
    keys: tuple[str, ...]
    weight: int


def weight(priority: int) -> int:
    """Objective weight of a priority (1 most wanted .. 9 least): ``10 - priority``."""
    return max(1, 10 - priority)


def matching(target: str, tracks: Iterable[Track]) -> tuple[str, ...]:
    """Lesson ids ``target`` names among ``tracks``: by id, else title, else series or
    topic, else category; sorted, empty when nothing matches."""
    return PoolIndex(tracks).match(target)


class PoolIndex:
    """Lessons of a pool indexed by id, folded title, folded series and topics, category,
    so that matching an order costs a few dictionary look-ups."""

    def __init__(self, tracks: Iterable[Track]) -> None:
        self.ids: set[str] = set()
        self.titles: dict[str, set[str]] = defaultdict(set)
        self.names: dict[str, set[str]] = defaultdict(set)
        self.categories: dict[str, set[str]] = defaultdict(set)
        for t in tracks:
            self.ids.add(t.lesson_id)
            self.titles[fold(t.title)].add(t.lesson_id)
            for name in (t.series, *t.topics):
                if name:
                    self.names[fold(name)].add(t.lesson_id)
            self.categories[t.category].add(t.lesson_id)
        self._memo: dict[str, tuple[str, ...]] = {}

    def match(self, target: str) -> tuple[str, ...]:
        """Lesson ids ``target`` names (see :func:`matching`)."""
        if target not in self._memo:
            f, code = fold(target), category_code(target)
            hits = ({target.strip()} & self.ids or self.titles.get(f) or self.names.get(f)
                    or (self.categories.get(code) if code else None) or ())
            self._memo[target] = tuple(sorted(hits))
        return self._memo[target]


class VillageOrders:
    """The orders of one quarter, indexed by village."""

    def __init__(self, orders: Sequence[VillageOrder]) -> None:
        self.orders = sorted(orders, key=lambda o: (o.line, o.village, o.target))
        self._by_village: dict[tuple[str, str], list[VillageOrder]] = defaultdict(list)
        for o in self.orders:
            self._by_village[(fold(o.township), fold(o.village))].append(o)
        self._index: dict[int, tuple[Sequence[Track], PoolIndex]] = {}

    def for_village(self, township: str, village: str) -> list[VillageOrder]:
        """Orders of a village: those naming its township and those naming none."""
        v = fold(village)
        return self._by_village.get((fold(township), v), []) + self._by_village.get(("", v), [])

    def resolve(self, township: str, village: str, pool: Sequence[Track]) -> tuple[ResolvedOrder, ...]:
        """The village's orders, each with the lessons of ``pool`` it names."""
        orders = self.for_village(township, village)
        if not orders:
            return ()
        index = self._index.get(id(pool))
        if index is None or index[0] is not pool:
            index = self._index[id(pool)] = (pool, PoolIndex(pool))
        return tuple(ResolvedOrder(o, index[1].match(o.target), weight(o.priority)) for o in orders)

    def notes(self, tracks_by_profile: Mapping[str, Sequence[Track]],
              villages: set[tuple[str, str]]) -> list[str]:
        """Orders that name no lesson of the library, or no village of the fleet."""
        every = PoolIndex(t for ts in tracks_by_profile.values() for t in ts)
        known = {fold(v) for _, v in villages}
        known_tv = {(fold(t), fold(v)) for t, v in villages}
        out = []
        for o in self.orders:
            where = f"order line {o.line}" if o.line else "order"
            if not every.match(o.target):
                out.append(f"{where} ({o.village}: {o.target!r}) names no lesson id, title, series, topic "
                           "or category of the library; record or tag the lesson, or correct the order")
            if (o.township and (fold(o.township), fold(o.village)) not in known_tv) or \
                    (not o.township and fold(o.village) not in known):
                place = f"{o.township} {o.village}".strip()
                out.append(f"{where}: no device of the fleet is in the village {place!r}; check the spelling")
        return out
