"""What a plan means for the crews and the county: each device's diff against its
previous quarter, and the fleet summary per township (pure: values in, values out)."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from pipeline.models import Device, DevicePlaylist, PlanProblem, PlaylistItem
from pipeline.vocab import CATEGORIES

from .quarter import QuarterPlan, gc_paused


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


def lesson_ids(previous: Mapping[str, Sequence[CardFile]]) -> dict[str, tuple[str, ...]]:
    """``{device_id: lesson ids}`` of what each device carried (for the planner); devices
    that share their file tuple share one id tuple."""
    memo: dict[int, tuple[str, ...]] = {}
    out = {}
    for device_id, files in previous.items():
        ids = memo.get(id(files))
        if ids is None:
            ids = memo[id(files)] = tuple(f.lesson_id for f in files)
        out[device_id] = ids
    return out


def device_diffs(playlists: Iterable[DevicePlaylist], previous: Mapping[str, Sequence[CardFile]],
                 previous_quarter: str) -> dict[str, DeviceDiff]:
    """:func:`diff` of every playlist against ``previous[device_id]`` (nothing when
    absent), worked out once per shared item tuple and previous file tuple: devices
    with the same playlist and the same previous files share their keep, add and remove
    tuples. Returns ``{device_id: DeviceDiff}``."""
    memo: dict[tuple[int, int], DeviceDiff] = {}
    out = {}
    with gc_paused():
        for pl in playlists:
            old = previous.get(pl.device_id, ())
            k = (id(pl.items), id(old))
            d = memo.get(k)
            if d is None:
                d = memo[k] = diff(pl, old, previous_quarter)
            out[pl.device_id] = d if d.device_id == pl.device_id else DeviceDiff(
                pl.device_id, d.quarter, d.previous_quarter, d.keep, d.add, d.remove)
    return out


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
    """Rows per township (sorted) and a last row for the whole fleet (``TOTAL``).

    Devices are first tallied by what they share (township, playlist, diff figures,
    status), so a million devices cost one pass of dictionary look-ups."""
    with gc_paused():
        return _summary(devices, plan, diffs or {})


def _summary(devices: Iterable[Device], plan: QuarterPlan, diffs: Mapping[str, DeviceDiff]) -> list[TownshipSummary]:
    playlists = {p.device_id: p.items for p in plan.playlists}
    failed = {p.device_id for p in plan.problems}
    short = {p.device_id for p in plan.shortfalls}
    items_of: dict[int, tuple[PlaylistItem, ...]] = {}
    tally: Counter = Counter()
    counted: dict[tuple[int, int], tuple[int, int, int]] = {}  # diffs often share their tuples
    for d in devices:
        items = playlists.get(d.device_id)
        if items is not None:
            items_of[id(items)] = items
        dd = diffs.get(d.device_id)
        if dd is None:
            figures = (0, 0, 0)
        else:
            figures = counted.get((id(dd.add), id(dd.remove)))
            if figures is None:
                figures = counted[(id(dd.add), id(dd.remove))] = (dd.bytes_to_write, len(dd.add), len(dd.remove))
        tally[(d.township, id(items) if items is not None else 0, figures,
               d.device_id in failed, d.device_id in short)] += 1
    millis: dict[int, Counter] = {}  # whole milliseconds: sums exact, whatever the device order
    for key, items in items_of.items():
        c: Counter = Counter()
        for i in items:
            c[i.category] += round(i.duration_s * 1000)
        millis[key] = c
    rows: dict[str, dict] = defaultdict(lambda: {"n": Counter(), "sec": Counter()})
    for (township, items_id, (write, add, remove), is_failed, is_short), n in tally.items():
        for name in (township, TOTAL):
            row = rows[name]
            row["n"]["devices"] += n
            if items_id:
                row["n"]["planned"] += n
                for cat, ms in millis[items_id].items():
                    row["sec"][cat] += ms * n
            row["n"]["not_planned"] += n * is_failed
            row["n"]["with_shortfalls"] += n * is_short
            row["n"]["bytes_to_write"] += n * write
            row["n"]["files_to_add"] += n * add
            row["n"]["files_to_remove"] += n * remove
    out = []
    for name in sorted(k for k in rows if k != TOTAL) + ([TOTAL] if TOTAL in rows else []):
        n, sec = rows[name]["n"], rows[name]["sec"]
        out.append(TownshipSummary(name, n["devices"], n["planned"], n["not_planned"], n["with_shortfalls"],
                                   tuple((c, sec.get(c, 0) / 1000) for c in CATEGORIES),
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
