"""``dangke gc``: remove the renditions and whole-slot files the station no longer needs.

What is kept is decided by :mod:`pipeline.retention` (pure); this module gathers the
facts and does the deleting. Originals (``library/originals``, ``library/sidecars``)
and decodable copies (``library/decodable``) are never touched.

Crash safety: the catalog is changed first, in one transaction that deletes the
rendition rows and records every file to remove in ``gc_removed`` (with the run, path,
kind, key and bytes); only then are the files unlinked. Killed at any moment, the
library is consistent: every rendition row the catalog still has keeps its file, and
files whose rows are gone are removed by the next gc (it finishes the recorded
removals first; a path that a new rendition row uses again is left alone). Files in
``library/renditions`` that no row refers to and that are older than
:data:`ORPHAN_AGE_S` (left by a stopped encode) are removed too. The publish lock is
held, so no publish reads the library meanwhile. Crash tests:
``DANGKE_CRASH_AT=gc-after-catalog`` and ``gc-after-first-unlink``.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from .catalog import Catalog, now_iso
from .config import Config
from .encode.lifecycle import profile_hash
from .errors import DangkeError
from .fsutil import sha256_file
from .ingest.journal import crash_point
from .publish import store_for
from .publish.objects import collect_build, referenced_keys
from .retention import Needs, Selection, kind, orphans, select

ORPHAN_AGE_S = 3600.0
"""A rendition file without a catalog row is removed only when older than this: a
running encode moves its file in place a moment before it records the row."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS gc_removed (
  id INTEGER PRIMARY KEY AUTOINCREMENT, run TEXT NOT NULL, path TEXT NOT NULL, kind TEXT NOT NULL,
  source_key TEXT NOT NULL, profile TEXT NOT NULL, bytes INTEGER NOT NULL, done INTEGER NOT NULL DEFAULT 0);
"""


@dataclass(frozen=True)
class Removal:
    """One file removed (or, in a dry run, to remove): library-relative ``path``, its
    ``kind`` (``lesson``, ``asset``, ``filler``, ``slot`` or ``orphan``) and ``bytes``."""

    path: str
    kind: str
    bytes: int


@dataclass(frozen=True)
class GcReport:
    """What a gc did (or would do, ``dry_run``): ``removed`` files, ``kept`` rendition
    count and ``kept_bytes``, and ``finished`` removals of an interrupted gc completed."""

    removed: tuple[Removal, ...]
    kept: int
    kept_bytes: int
    dry_run: bool
    finished: int = 0

    @property
    def reclaimed_bytes(self) -> int:
        return sum(r.bytes for r in self.removed)


@contextmanager
def _publish_lock(cfg: Config) -> Iterator[None]:
    """The lock ``dangke publish`` holds (``library/.publish.lock``)."""
    cfg.library.mkdir(parents=True, exist_ok=True)
    fd = os.open(str(cfg.library / ".publish.lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise DangkeError("a `dangke publish` of this station is running", path=cfg.library,
                              fix="run `dangke gc` when it has finished") from exc
        yield
    finally:
        os.close(fd)


def needs(cfg: Config, catalog: Catalog, when: dt.datetime | None = None) -> Needs:
    """What the station still needs (see :class:`pipeline.retention.Needs`): the keys of
    the newest ``[publish] keep_generations`` generations of every store published to,
    the keys the next publish would refer to (staged plans and schedules of the kept
    quarters, the feeds at ``when``), and the current encodes of current lessons and of
    the channels' jingles for every configured profile."""
    published: set[str] = set()
    stores = catalog.stores() | {store_for(cfg).describe()}
    for store in stores:
        numbers = [g.number for g in catalog.store_generations(store)][:cfg.publish.keep_generations]
        published |= catalog.retained_keys(store, numbers)
    published |= referenced_keys(cfg, catalog, collect_build(cfg), when)
    current = {(lesson.source_sha256, name, profile_hash(p))
               for lesson in catalog.lessons() for name, p in cfg.profiles.items()}
    for channel in cfg.channels.values():
        p = cfg.profiles.get(channel.profile)
        for asset in (channel.intro, channel.outro):
            path = cfg.resolve(asset) if asset else None
            if p is not None and path is not None and path.is_file():
                current.add((f"{sha256_file(path)}+asset", channel.profile, profile_hash(p)))
    return Needs(frozenset(published), frozenset(current))


def _table(catalog: Catalog) -> None:
    catalog.db.executescript(SCHEMA)


def _rendition_files(library: Path) -> dict[str, int]:
    """``{library-relative path: bytes}`` of every file under ``library/renditions``."""
    out: dict[str, int] = {}
    root = library / "renditions"
    for dirpath, _dirs, names in os.walk(root):
        for n in names:
            p = Path(dirpath, n)
            try:
                out[p.relative_to(library).as_posix()] = p.stat().st_size
            except OSError:
                continue
    return out


def _orphans(cfg: Config, catalog: Catalog, now: float) -> list[Removal]:
    on_disk = _rendition_files(cfg.library)
    known = [r.path for r in catalog.renditions()]
    old = []
    for rel in orphans(on_disk, known):
        try:
            if now - (cfg.library / rel).stat().st_mtime >= ORPHAN_AGE_S:
                old.append(Removal(rel, "orphan", on_disk[rel]))
        except OSError:
            continue
    return old


def _finish(catalog: Catalog, library: Path) -> int:
    """Unlink the files an interrupted gc recorded as removed; returns how many."""
    live = {r.path for r in catalog.renditions()}
    done = 0
    for row in catalog.db.execute("SELECT id, path FROM gc_removed WHERE done = 0").fetchall():
        if row["path"] not in live:
            (library / row["path"]).unlink(missing_ok=True)
            done += 1
        catalog.db.execute("UPDATE gc_removed SET done = 1 WHERE id = ?", (row["id"],))
    return done


def plan(cfg: Config, catalog: Catalog, when: dt.datetime | None = None) -> Selection:
    """The catalog's renditions split into those to keep and those to remove."""
    return select(catalog.renditions(), needs(cfg, catalog, when))


def collect(cfg: Config, catalog: Catalog, dry_run: bool = True, when: dt.datetime | None = None) -> GcReport:
    """Remove (with ``dry_run`` False) every rendition no retained generation, kept
    quarter, pending plan or schedule, feed or current encode needs, and orphaned
    rendition files; record each removal in the catalog (``gc_removed``) and the run in
    the events.

    Raises:
        DangkeError: a publish of the station is running; or a staged document cannot
            be read.
    """
    _table(catalog)
    with _publish_lock(cfg):
        finished = 0 if dry_run else _finish(catalog, cfg.library)
        selection = plan(cfg, catalog, when)
        removals = [Removal(r.path, kind(r), r.bytes) for r in selection.remove]
        removals += _orphans(cfg, catalog, time.time())
        report = GcReport(tuple(removals), len(selection.keep), selection.kept_bytes, dry_run, finished)
        if dry_run or not removals:
            return report
        run = now_iso()
        by_path = {r.path: r for r in selection.remove}
        with catalog.transaction():
            for rem in removals:
                r = by_path.get(rem.path)
                catalog.db.execute("INSERT INTO gc_removed (run, path, kind, source_key, profile, bytes)"
                                   " VALUES (?,?,?,?,?,?)", (run, rem.path, rem.kind, r.source_sha256 if r else "",
                                                             r.profile if r else "", rem.bytes))
            for r in selection.remove:
                catalog.drop_rendition(r)
            catalog.log("gc", "info", str(cfg.library), f"removing {len(removals)} file(s), "
                        f"{report.reclaimed_bytes} bytes; keeping {report.kept} rendition(s), {report.kept_bytes} bytes")
        crash_point("gc-after-catalog")
        for i, rem in enumerate(removals):
            (cfg.library / rem.path).unlink(missing_ok=True)
            if i == 0:
                crash_point("gc-after-first-unlink")
        catalog.db.execute("UPDATE gc_removed SET done = 1 WHERE run = ?", (run,))
    return report


@dataclass(frozen=True)
class DiskUse:
    """Bytes on disk: ``originals`` (with sidecars), ``decodable`` copies, and the
    renditions by kind: ``lessons`` (lessons and jingles), ``fillers``, ``slots``
    (whole-slot files), ``other`` (files in renditions/ without a catalog row)."""

    originals: int
    decodable: int
    lessons: int
    fillers: int
    slots: int
    other: int


def _tree_bytes(root: Path) -> int:
    total = 0
    for dirpath, _dirs, names in os.walk(root):
        for n in names:
            try:
                total += Path(dirpath, n).stat().st_size
            except OSError:
                continue
    return total


def disk_use(cfg: Config, catalog: Catalog) -> DiskUse:
    """What the library holds on disk, by kind (for ``dangke status``)."""
    on_disk = _rendition_files(cfg.library)
    by_kind = {"lesson": 0, "asset": 0, "filler": 0, "slot": 0}
    seen = set()
    for r in catalog.renditions():
        if r.path in on_disk and r.path not in seen:
            seen.add(r.path)
            by_kind[kind(r)] += on_disk[r.path]
    other = sum(b for p, b in on_disk.items() if p not in seen)
    return DiskUse(originals=_tree_bytes(cfg.library / "originals") + _tree_bytes(cfg.library / "sidecars"),
                   decodable=_tree_bytes(cfg.library / "decodable"), lessons=by_kind["lesson"] + by_kind["asset"],
                   fillers=by_kind["filler"], slots=by_kind["slot"], other=other)
