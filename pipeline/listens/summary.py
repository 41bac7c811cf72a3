"""Listening in numbers, for ``dangke status`` and the HTML report: :func:`load_facts`
reads the catalog, :func:`summarize_listening` (pure) turns the facts into frozen
dataclasses.

A share of devices is only ever taken over the devices that **reported** (their card
came back with a play log or counter): a player that logs nothing is "no data", never
"nobody listened" (like Amplio's statistics, which divide by the Talking Books whose
statistics were collected). Completion is the share of rated plays that were listened
to at least half (Rockbox ``L``) or counted as completed by a counter that says so.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Mapping

from .store import ensure_schema


@dataclass(frozen=True)
class DevicePlays:
    """One device's read-back of a quarter: ``kind`` of log (``none``: keeps no log),
    the lessons it carried, and per lesson ``(plays, rated plays, completed plays)``."""

    device_id: str
    kind: str
    carried: frozenset[str]
    plays: tuple[tuple[str, int, int, int], ...] = ()

    @property
    def reported(self) -> bool:
        return self.kind != "none"

    @property
    def total(self) -> int:
        return sum(p for _l, p, _r, _c in self.plays)


@dataclass(frozen=True)
class ListeningFacts:
    """What the catalog knows of a quarter: each device's newest read-back, downloads per
    ``(day, lesson_id, feed)``, and lesson titles."""

    quarter: str
    devices: tuple[DevicePlays, ...]
    downloads: tuple[tuple[str, str, str, int], ...] = ()
    titles: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class LessonListening:
    """One lesson in one township (``""``: all townships): devices that carried it,
    of those the devices that reported, played it and played it fully; plays, rated
    plays and completed plays."""

    lesson_id: str
    title: str
    township: str
    carrying: int
    reporting: int
    played: int
    completed_devices: int
    plays: int
    rated: int
    completed: int

    @property
    def share_played(self) -> float | None:
        """Share of the reporting devices that carried it which played it."""
        return self.played / self.reporting if self.reporting else None

    @property
    def completion(self) -> float | None:
        """Share of rated plays that were listened to at least half (completed)."""
        return self.completed / self.rated if self.rated else None


@dataclass(frozen=True)
class TownshipListening:
    """One township: cards read back, of those reporting, unplayed (reported, no play)."""

    township: str
    read: int
    reporting: int
    unplayed: tuple[str, ...]


@dataclass(frozen=True)
class FeedDownloads:
    """IAB downloads of one feed's enclosures (``""``: objects no feed encloses)."""

    feed: str
    downloads: int
    days: int
    first_day: str
    last_day: str


@dataclass(frozen=True)
class ListeningSummary:
    """A quarter's listening: per lesson (all townships and per township), per township,
    the devices whose cards came back unplayed or without a log, and downloads per feed
    and per lesson."""

    quarter: str
    read: int
    reporting: int
    unplayed: tuple[str, ...]
    without_log: tuple[str, ...]
    lessons: tuple[LessonListening, ...]
    by_township: tuple[LessonListening, ...]
    townships: tuple[TownshipListening, ...]
    feeds: tuple[FeedDownloads, ...]
    downloads_by_lesson: tuple[tuple[str, int], ...]


def latest_quarter(catalog) -> str | None:
    """The newest quarter any card was read back for (``unknown`` left out), or None."""
    ensure_schema(catalog.db)
    row = catalog.db.execute("SELECT MAX(quarter) FROM card_readbacks WHERE quarter != 'unknown'").fetchone()
    return row[0] if row and row[0] else None


def load_facts(catalog, quarter: str) -> ListeningFacts:
    """The :class:`ListeningFacts` of ``quarter`` from the catalog (each device's newest
    read-back; its plays are every play recorded for the device in the quarter)."""
    ensure_schema(catalog.db)
    db = catalog.db
    newest = {}
    for r in db.execute("SELECT readback_id, device_id, kind FROM card_readbacks WHERE quarter=?"
                        " ORDER BY read_at, readback_id", (quarter,)):
        newest[r[1]] = (r[0], r[2])
    kinds = {d: k for d, (_i, k) in newest.items()}
    for d, k in db.execute("SELECT device_id, kind FROM card_readbacks WHERE quarter=? AND kind != 'none'",
                           (quarter,)):
        kinds[d] = k  # a device that reported once in the quarter reported
    carried: dict[str, set[str]] = defaultdict(set)
    for rid, lesson in db.execute("SELECT f.readback_id, f.lesson_id FROM card_files f JOIN card_readbacks r"
                                  " USING (readback_id) WHERE r.quarter=? AND f.lesson_id IS NOT NULL", (quarter,)):
        carried[rid].add(lesson)
    plays: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0, 0]))
    for device, lesson, rating, n, completed in db.execute(
            "SELECT device_id, lesson_id, rating, plays, completed FROM card_plays WHERE quarter=? AND"
            " lesson_id IS NOT NULL", (quarter,)):
        p = plays[device][lesson]
        p[0] += n
        if rating in ("L", "S") or completed is not None:
            p[1] += n
            p[2] += completed or 0
    devices = tuple(DevicePlays(d, kinds[d], frozenset(carried.get(rid, ())),
                                tuple((l, *v) for l, v in sorted(plays.get(d, {}).items())))
                    for d, (rid, _k) in sorted(newest.items()))
    downloads = tuple(tuple(r) for r in db.execute(
        "SELECT day, COALESCE(lesson_id, ''), feed, downloads FROM downloads ORDER BY day, lesson_id, feed"))
    titles = tuple((l.lesson_id, l.title) for l in catalog.lessons())
    return ListeningFacts(quarter, devices, downloads, titles)  # type: ignore[arg-type]


def _lesson_rows(devices: list[DevicePlays], township: str, titles: Mapping[str, str]) -> list[LessonListening]:
    acc: dict[str, list[int]] = defaultdict(lambda: [0] * 7)
    for d in devices:
        mine = {l: (p, r, c) for l, p, r, c in d.plays}
        for lesson in d.carried | set(mine):
            a = acc[lesson]
            p, r, c = mine.get(lesson, (0, 0, 0))
            a[0] += lesson in d.carried
            a[1] += d.reported and lesson in d.carried
            a[2] += p > 0
            a[3] += c > 0
            a[4] += p
            a[5] += r
            a[6] += c
    return [LessonListening(l, titles.get(l, ""), township, *a) for l, a in sorted(acc.items())]


def summarize_listening(facts: ListeningFacts, townships: Mapping[str, str]) -> ListeningSummary:
    """The :class:`ListeningSummary` of ``facts``; ``townships`` maps device ids to
    their township (the fleet registry); devices not in it are ``(unknown)``."""
    titles = dict(facts.titles)
    devices = list(facts.devices)
    by_town: dict[str, list[DevicePlays]] = defaultdict(list)
    for d in devices:
        by_town[townships.get(d.device_id, "(unknown)")].append(d)
    unplayed = tuple(d.device_id for d in devices if d.reported and d.total == 0)
    feeds: dict[str, list] = defaultdict(list)
    per_lesson: dict[str, int] = defaultdict(int)
    for day, lesson, feed, n in facts.downloads:
        feeds[feed].append((day, n))
        if lesson:
            per_lesson[lesson] += n
    return ListeningSummary(
        quarter=facts.quarter, read=len(devices), reporting=sum(d.reported for d in devices), unplayed=unplayed,
        without_log=tuple(d.device_id for d in devices if not d.reported),
        lessons=tuple(_lesson_rows(devices, "", titles)),
        by_township=tuple(row for t in sorted(by_town) for row in _lesson_rows(by_town[t], t, titles)),
        townships=tuple(TownshipListening(t, len(ds), sum(d.reported for d in ds),
                                          tuple(d.device_id for d in ds if d.reported and d.total == 0))
                        for t, ds in sorted(by_town.items())),
        feeds=tuple(FeedDownloads(f, sum(n for _d, n in rows), len({d for d, _n in rows}),
                                  min(d for d, _n in rows), max(d for d, _n in rows))
                    for f, rows in sorted(feeds.items())),
        downloads_by_lesson=tuple(sorted(per_lesson.items())))


def listening_summary(catalog, townships: Mapping[str, str], quarter: str | None = None) -> ListeningSummary | None:
    """The summary of ``quarter`` (default: the newest quarter read back), or None when no
    card was read back and nothing was downloaded."""
    quarter = quarter or latest_quarter(catalog)
    facts = load_facts(catalog, quarter or "")
    if quarter is None and not facts.downloads:
        return None
    return summarize_listening(facts, townships)
