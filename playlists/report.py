"""What a plan means for the crews and the county: each device's diff against its
previous quarter, and the fleet summary per township (pure: values in, values out)."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from pipeline.models import Device, DevicePlaylist, PlanProblem, PlaylistItem
from pipeline.vocab import CATEGORIES

from .quarter import QuarterPlan


@dataclass(frozen=True)
class CardFile:
    """A file a device carried last quarter (from its previous manifest)."""

    lesson_id: str
    sha256: str
    bytes: int
    card_path: str = ""


@dataclass(frozen=True)
class DeviceDiff:
    """A device's playlist against its previous quarter, file by file (sha256):
    ``keep`` stays on the card, ``add`` is copied, ``remove`` is deleted."""

    device_id: str
    quarter: str
    previous_quarter: str
    keep: tuple[PlaylistItem, ...]
    add: tuple[PlaylistItem, ...]
    remove: tuple[CardFile, ...]

    @property
    def bytes_to_write(self) -> int:
        return sum(i.bytes for i in self.add)

    @property
    def bytes_to_free(self) -> int:
        return sum(f.bytes for f in self.remove)


def diff(playlist: DevicePlaylist, previous: Sequence[CardFile], previous_quarter: str) -> DeviceDiff:
    """Compare by content (sha256): a lesson re-encoded since is removed and added."""
    before = {f.sha256 for f in previous}
    now = {i.sha256 for i in playlist.items}
    return DeviceDiff(playlist.device_id, playlist.quarter, previous_quarter,
                      keep=tuple(i for i in playlist.items if i.sha256 in before),
                      add=tuple(i for i in playlist.items if i.sha256 not in before),
                      remove=tuple(f for f in previous if f.sha256 not in now))


@dataclass(frozen=True)
class TownshipSummary:
    """One row of the fleet summary. ``seconds`` per category, summed over the planned
    devices' playlists; bytes and files to write and remove summed over their diffs."""

    township: str
    devices: int = 0
    planned: int = 0
    not_planned: int = 0
    with_shortfalls: int = 0
    seconds: tuple[tuple[str, float], ...] = ()
    bytes_to_write: int = 0
    files_to_add: int = 0
    files_to_remove: int = 0

    @property
    def hours(self) -> float:
        return sum(s for _, s in self.seconds) / 3600


TOTAL = "(all)"


def fleet_summary(devices: Iterable[Device], plan: QuarterPlan,
                  diffs: Mapping[str, DeviceDiff] | None = None) -> list[TownshipSummary]:
    """Rows per township (sorted) and a last row for the whole fleet (``TOTAL``)."""
    diffs = diffs or {}
    playlists = {p.device_id: p for p in plan.playlists}
    failed = {p.device_id for p in plan.problems}
    short = {p.device_id for p in plan.shortfalls}
    per_items: dict[int, Counter] = {}
    rows: dict[str, dict] = defaultdict(lambda: {"n": Counter(), "sec": Counter()})
    for d in devices:
        for t in (d.township, TOTAL):
            row = rows[t]
            row["n"]["devices"] += 1
            pl = playlists.get(d.device_id)
            if pl is not None:
                row["n"]["planned"] += 1
                key = id(pl.items)
                if key not in per_items:
                    c: Counter = Counter()
                    for i in pl.items:
                        c[i.category] += i.duration_s
                    per_items[key] = c
                row["sec"].update(per_items[key])
            row["n"]["not_planned"] += d.device_id in failed
            row["n"]["with_shortfalls"] += d.device_id in short
            dd = diffs.get(d.device_id)
            if dd is not None:
                row["n"]["bytes_to_write"] += dd.bytes_to_write
                row["n"]["files_to_add"] += len(dd.add)
                row["n"]["files_to_remove"] += len(dd.remove)
    out = []
    for name in sorted(k for k in rows if k != TOTAL) + ([TOTAL] if TOTAL in rows else []):
        n, sec = rows[name]["n"], rows[name]["sec"]
        out.append(TownshipSummary(name, n["devices"], n["planned"], n["not_planned"], n["with_shortfalls"],
                                   tuple((c, round(sec.get(c, 0.0), 3)) for c in CATEGORIES),
                                   n["bytes_to_write"], n["files_to_add"], n["files_to_remove"]))
    return out


@dataclass(frozen=True)
class Reason:
    """Devices that share one problem: its kind, how many, the first device and the text."""

    kind: str
    count: int
    first: str
    text: str


def reasons(problems: Iterable[PlanProblem]) -> list[Reason]:
    """Group problems whose text (after the device's name) is the same, most common first."""
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for p in problems:
        name, _, text = p.message.partition(": ")
        groups[(p.kind, text)].append(name)
    return sorted((Reason(kind, len(names), min(names), text) for (kind, text), names in groups.items()),
                  key=lambda r: (-r.count, r.kind, r.text))
