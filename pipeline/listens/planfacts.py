"""The listening facts the quarterly plan takes (``[plan] use_listens``), read from the
catalog's card read-backs into :class:`playlists.listens.ListeningForPlan`."""

from __future__ import annotations

from collections import defaultdict

from playlists.listens import DeviceListening, ListeningForPlan

from .store import ensure_schema


def listening_for_plan(catalog, previous_quarter: str) -> ListeningForPlan:
    """What the cards read back up to ``previous_quarter`` say: per device whether it
    reported a play log for that quarter and what it has played fully (any quarter up to
    it); per lesson its completed and rated plays (fleet-wide, every quarter)."""
    ensure_schema(catalog.db)
    db = catalog.db
    reported = {r[0] for r in db.execute("SELECT DISTINCT device_id FROM card_readbacks WHERE quarter=? AND"
                                         " kind != 'none'", (previous_quarter,))}
    fully: dict[str, set[str]] = defaultdict(set)
    lessons: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for device, quarter, lesson, rating, plays, completed in db.execute(
            "SELECT device_id, quarter, lesson_id, rating, plays, completed FROM card_plays"
            " WHERE lesson_id IS NOT NULL"):
        done = plays if rating == "L" else (completed or 0)
        if quarter != "unknown" and quarter <= previous_quarter and done > 0:
            fully[device].add(lesson)
        if rating in ("L", "S") or completed is not None:
            lessons[lesson][0] += done
            lessons[lesson][1] += plays
    devices = tuple(DeviceListening(d, d in reported, frozenset(fully.get(d, ())))
                    for d in sorted(reported | set(fully)))
    return ListeningForPlan(previous_quarter, devices, tuple((l, c, r) for l, (c, r) in sorted(lessons.items())))
