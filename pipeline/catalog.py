"""The catalog: one SQLite database in the library folder, owned by this module.

It records sources (originals by sha256), lessons and their versions, renditions,
rejections, events for ``dangke status``, the publish ledger and generations, first
publication times of feed items, and what was aired and planned (for rotation and
last-quarter avoidance). WAL mode and a busy timeout let two processes share it.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

from . import layout
from .models import BroadcastDay, Lesson, Rendition

SCHEMA = """
CREATE TABLE IF NOT EXISTS sources (
  sha256 TEXT PRIMARY KEY, path TEXT NOT NULL, bytes INTEGER NOT NULL, original_name TEXT,
  added_at TEXT NOT NULL, kind TEXT NOT NULL DEFAULT 'lesson', probe TEXT, analysis TEXT);
CREATE TABLE IF NOT EXISTS lessons (
  lesson_id TEXT NOT NULL, version INTEGER NOT NULL, source_sha256 TEXT NOT NULL UNIQUE,
  title TEXT NOT NULL, category TEXT NOT NULL, dialect TEXT NOT NULL, duration_s REAL NOT NULL,
  speaker TEXT, series TEXT, episode INTEGER, recorded_on TEXT, valid_from TEXT,
  valid_until TEXT, audiences TEXT, description TEXT, evergreen INTEGER DEFAULT 0,
  original_name TEXT, ingested_at TEXT, superseded INTEGER NOT NULL DEFAULT 0,
  warnings TEXT, PRIMARY KEY (lesson_id, version));
CREATE TABLE IF NOT EXISTS renditions (
  source_sha256 TEXT NOT NULL, profile TEXT NOT NULL, profile_hash TEXT NOT NULL,
  path TEXT NOT NULL, sha256 TEXT NOT NULL, bytes INTEGER NOT NULL, duration_s REAL NOT NULL,
  extension TEXT NOT NULL, integrated_lufs REAL, true_peak_dbtp REAL, gain_db REAL,
  notes TEXT, created_at TEXT NOT NULL, PRIMARY KEY (source_sha256, profile, profile_hash));
CREATE TABLE IF NOT EXISTS rendition_dynamics (
  source_sha256 TEXT NOT NULL, profile TEXT NOT NULL, profile_hash TEXT NOT NULL,
  source_lra_lu REAL, lra_lu REAL, levelling INTEGER NOT NULL DEFAULT 0,
  renders INTEGER NOT NULL DEFAULT 1, PRIMARY KEY (source_sha256, profile, profile_hash));
CREATE TABLE IF NOT EXISTS rejections (
  id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, reason TEXT NOT NULL,
  at TEXT NOT NULL, sha256 TEXT);
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, stage TEXT NOT NULL,
  level TEXT NOT NULL, subject TEXT, message TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS feed_items (
  guid TEXT PRIMARY KEY, first_published_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS airings (
  channel TEXT NOT NULL, date TEXT NOT NULL, start TEXT NOT NULL, lesson_id TEXT NOT NULL,
  PRIMARY KEY (channel, date, start, lesson_id));
CREATE TABLE IF NOT EXISTS schedules (
  channel TEXT NOT NULL, date TEXT NOT NULL, document TEXT NOT NULL, PRIMARY KEY (channel, date));
CREATE TABLE IF NOT EXISTS plans (
  quarter TEXT NOT NULL, device_id TEXT NOT NULL, lesson_ids TEXT NOT NULL, files TEXT,
  PRIMARY KEY (quarter, device_id));
CREATE TABLE IF NOT EXISTS publish_ledger (
  store TEXT NOT NULL, key TEXT NOT NULL, sha256 TEXT NOT NULL, bytes INTEGER NOT NULL,
  etag TEXT NOT NULL DEFAULT '', generation INTEGER, PRIMARY KEY (store, key));
CREATE TABLE IF NOT EXISTS publish_generations (
  store TEXT NOT NULL, number INTEGER NOT NULL, published_at TEXT NOT NULL,
  objects INTEGER NOT NULL, bytes INTEGER NOT NULL, index_sha256 TEXT NOT NULL,
  PRIMARY KEY (store, number));
CREATE TABLE IF NOT EXISTS publish_files (
  store TEXT NOT NULL, generation INTEGER NOT NULL, key TEXT NOT NULL, sha256 TEXT NOT NULL,
  bytes INTEGER NOT NULL, PRIMARY KEY (store, generation, key));
CREATE TABLE IF NOT EXISTS publish_runs (
  store TEXT PRIMARY KEY, generation INTEGER NOT NULL, started_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ingest_intents (
  id INTEGER PRIMARY KEY AUTOINCREMENT, action TEXT NOT NULL, name TEXT NOT NULL,
  sha256 TEXT, detail TEXT NOT NULL, at TEXT NOT NULL);
"""


@dataclass(frozen=True)
class LedgerEntry:
    """One published object as the ledger remembers it: sha256 (hex), size (bytes), ETag."""

    sha256: str
    bytes: int
    etag: str = ""


# -- what the catalog hands out (frozen records; JSON columns already decoded) ----------------

@dataclass(frozen=True)
class Event:
    """One event for ``dangke status``: ``at`` (ISO 8601, UTC), ``stage``, ``level``
    (info, warning, error), ``subject`` and ``message``."""

    id: int
    at: str
    stage: str
    level: str
    subject: str | None
    message: str


@dataclass(frozen=True)
class Source:
    """One original in the library: ``path`` relative to the library, ``bytes``, the
    name it came with, when it was added, its ``kind`` (``lesson`` or an asset) and
    the ingest's ``probe`` and ``analysis`` findings (decoded JSON objects)."""

    sha256: str
    path: str
    bytes: int
    original_name: str | None
    added_at: str
    kind: str
    probe: Mapping[str, Any]
    analysis: Mapping[str, Any]


@dataclass(frozen=True)
class LessonRecord:
    """One recorded version of a lesson: the lesson, whether a newer version of its id
    superseded it, and the ingest's warnings."""

    lesson: Lesson
    superseded: bool
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Ingested:
    """A recently ingested lesson version with its source's ``analysis`` findings and
    size (bytes)."""

    record: LessonRecord
    analysis: Mapping[str, Any]
    bytes: int


@dataclass(frozen=True)
class Rejection:
    """One rejected inbox file: ``name``, ``reason`` (``"English / 中文"``), ``at``
    (ISO 8601, UTC) and its sha256 when it was read."""

    id: int
    name: str
    reason: str
    at: str
    sha256: str | None


@dataclass(frozen=True)
class Dynamics:
    """Loudness range (LU) of one rendition before (``source_lra_lu``, as the chain
    received the source) and after (``lra_lu``, decoded), its ``levelling`` setting and
    its ffmpeg ``renders``; None when not measured."""

    source_sha256: str
    source_lra_lu: float | None
    lra_lu: float | None
    levelling: bool
    renders: int


@dataclass(frozen=True)
class Generation:
    """One complete generation published to ``store``: its ``number``, ``published_at``
    (ISO 8601, UTC), ``objects`` and ``bytes`` (its index.json included in the count)
    and the sha256 of its index.json."""

    store: str
    number: int
    published_at: str
    objects: int
    bytes: int
    index_sha256: str


@dataclass(frozen=True)
class PublishRun:
    """A publish to ``store`` that started (generation ``generation``, at ``started_at``)
    and has not finished."""

    store: str
    generation: int
    started_at: str


@dataclass(frozen=True)
class Intent:
    """Unfinished ingest file work: ``action`` (``clear`` or ``reject``), the inbox
    ``name``, the file's sha256 and the ``detail`` the journal recorded (decoded)."""

    id: int
    action: str
    name: str
    sha256: str | None
    detail: Mapping[str, Any]
    at: str


@dataclass(frozen=True)
class PlannedFile:
    """A file a device's plan for a quarter puts on its card: lesson id, sha256 and
    size (bytes) of the audio and the name on the card. sha256 and card path are empty
    for plans recorded before the catalog kept them (lesson ids only)."""

    lesson_id: str
    sha256: str = ""
    bytes: int = 0
    card_path: str = ""


def now_iso() -> str:
    """The current time, UTC, ISO 8601 with offset, second precision."""
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


def _date(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


class Catalog:
    """A connection to the catalog database at ``path`` (created on first use)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(str(path), timeout=60.0, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA busy_timeout=60000")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        """Columns added after a catalog was created (``plans.files``)."""
        if "files" not in {r[1] for r in self.db.execute("PRAGMA table_info(plans)")}:
            self.db.execute("ALTER TABLE plans ADD COLUMN files TEXT")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "Catalog":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """An immediate (write-locked) transaction, committed on success."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # -- events -------------------------------------------------------------------------
    def log(self, stage: str, level: str, subject: str, message: str) -> None:
        """Record an event for ``dangke status`` (level: info, warning, error)."""
        self.db.execute("INSERT INTO events (at, stage, level, subject, message) VALUES (?,?,?,?,?)",
                        (now_iso(), stage, level, subject, message))

    def recent_events(self, limit: int = 50) -> list[Event]:
        """The newest ``limit`` events, newest first."""
        return [_event(r) for r in self.db.execute("SELECT * FROM events ORDER BY id DESC LIMIT ?", (limit,))]

    def events(self, stage: str, message_prefix: str = "") -> list[Event]:
        """Every event of ``stage`` whose message starts with ``message_prefix``, oldest first."""
        pattern = message_prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        return [_event(r) for r in self.db.execute(
            "SELECT * FROM events WHERE stage=? AND message LIKE ? ESCAPE '\\' ORDER BY id", (stage, pattern))]

    # -- sources and lessons ---------------------------------------------------------------
    def has_source(self, sha256: str) -> bool:
        return self.db.execute("SELECT 1 FROM sources WHERE sha256=?", (sha256,)).fetchone() is not None

    def source(self, sha256: str) -> Source | None:
        """The original with content ``sha256``, or None."""
        row = self.db.execute("SELECT * FROM sources WHERE sha256=?", (sha256,)).fetchone()
        return _source(row) if row else None

    def add_source(self, sha256: str, path: str, size: int, original_name: str, kind: str,
                   probe: dict, analysis: dict) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO sources (sha256, path, bytes, original_name, added_at, kind, probe,"
            " analysis) VALUES (?,?,?,?,?,?,?,?)",
            (sha256, path, size, original_name, now_iso(), kind, json.dumps(probe, ensure_ascii=False),
             json.dumps(analysis, ensure_ascii=False)))

    def next_version(self, lesson_id: str) -> int:
        row = self.db.execute("SELECT MAX(version) FROM lessons WHERE lesson_id=?", (lesson_id,)).fetchone()
        return (row[0] or 0) + 1

    def add_lesson(self, lesson: Lesson, warnings: tuple[str, ...] = ()) -> None:
        """Insert a lesson version and mark earlier versions of its id superseded."""
        self.db.execute("UPDATE lessons SET superseded=1 WHERE lesson_id=? AND version<?",
                        (lesson.lesson_id, lesson.version))
        self.db.execute(
            "INSERT INTO lessons (lesson_id, version, source_sha256, title, category, dialect, duration_s,"
            " speaker, series, episode, recorded_on, valid_from, valid_until, audiences, description,"
            " evergreen, original_name, ingested_at, warnings) VALUES"
            " (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (lesson.lesson_id, lesson.version, lesson.source_sha256, lesson.title, lesson.category,
             lesson.dialect, lesson.duration_s, lesson.speaker, lesson.series, lesson.episode,
             _iso(lesson.recorded_on), _iso(lesson.valid_from), _iso(lesson.valid_until),
             json.dumps(list(lesson.audiences)), lesson.description, int(lesson.evergreen),
             lesson.original_name, lesson.ingested_at or now_iso(),
             json.dumps(list(warnings), ensure_ascii=False)))

    def lesson_for_source(self, sha256: str) -> Lesson | None:
        row = self.db.execute("SELECT * FROM lessons WHERE source_sha256=?", (sha256,)).fetchone()
        return _lesson(row) if row else None

    def lessons(self, include_superseded: bool = False) -> list[Lesson]:
        """Current lessons (newest version of each id), ordered by lesson_id."""
        where = "" if include_superseded else "WHERE superseded=0"
        rows = self.db.execute(f"SELECT * FROM lessons {where} ORDER BY lesson_id, version").fetchall()
        return [_lesson(r) for r in rows]

    def lesson_rows(self) -> list[LessonRecord]:
        """Every lesson version (superseded ones too), in ingest order."""
        return [_record(r) for r in self.db.execute("SELECT * FROM lessons ORDER BY ingested_at, lesson_id")]

    # -- rejections -----------------------------------------------------------------------------
    def add_rejection(self, name: str, reason: str, sha256: str | None) -> None:
        self.db.execute("INSERT INTO rejections (name, reason, at, sha256) VALUES (?,?,?,?)",
                        (name, reason, now_iso(), sha256))

    def rejections(self, limit: int = 100) -> list[Rejection]:
        """The newest ``limit`` rejections, newest first."""
        return [Rejection(r["id"], r["name"], r["reason"], r["at"], r["sha256"]) for r in self.db.execute(
            "SELECT * FROM rejections ORDER BY id DESC LIMIT ?", (limit,))]

    # -- renditions -------------------------------------------------------------------------------
    def rendition(self, source_sha256: str, profile: str, profile_hash: str) -> Rendition | None:
        row = self.db.execute(
            "SELECT * FROM renditions WHERE source_sha256=? AND profile=? AND profile_hash=?",
            (source_sha256, profile, profile_hash)).fetchone()
        return _rendition(row) if row else None

    def add_rendition(self, r: Rendition) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO renditions (source_sha256, profile, profile_hash, path, sha256, bytes,"
            " duration_s, extension, integrated_lufs, true_peak_dbtp, gain_db, notes, created_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (r.source_sha256, r.profile, r.profile_hash, r.path, r.sha256, r.bytes, r.duration_s,
             r.extension, r.integrated_lufs, r.true_peak_dbtp, r.gain_db,
             json.dumps(list(r.notes), ensure_ascii=False), now_iso()))
        self.db.execute(
            "INSERT OR REPLACE INTO rendition_dynamics (source_sha256, profile, profile_hash, source_lra_lu,"
            " lra_lu, levelling, renders) VALUES (?,?,?,?,?,?,?)",
            (r.source_sha256, r.profile, r.profile_hash, r.source_lra_lu, r.lra_lu, int(r.levelling), r.renders))

    def rendition_dynamics(self, profile: str, profile_hash: str) -> list[Dynamics]:
        """Loudness range before and after (LU), levelling and renders of every rendition
        of ``profile`` as configured, by source sha256."""
        return [Dynamics(r[0], r[1], r[2], bool(r[3]), r[4] or 1) for r in self.db.execute(
            "SELECT source_sha256, source_lra_lu, lra_lu, levelling, renders FROM rendition_dynamics"
            " WHERE profile=? AND profile_hash=? ORDER BY source_sha256", (profile, profile_hash))]

    def renditions(self) -> list[Rendition]:
        return [_rendition(r) for r in self.db.execute(
            "SELECT * FROM renditions ORDER BY source_sha256, profile").fetchall()]

    # -- publishing --------------------------------------------------------------------------------
    def published_keys(self) -> set[str]:
        """Every key some store holds as far as the publish ledgers know."""
        return {r[0] for r in self.db.execute("SELECT DISTINCT key FROM publish_ledger")}

    def last_generation(self, store: str) -> Generation | None:
        """The newest generation published to ``store`` (its ``describe()``), or None."""
        row = self.db.execute("SELECT * FROM publish_generations WHERE store=? ORDER BY number DESC LIMIT 1",
                              (store,)).fetchone()
        return _generation(row) if row else None

    def stores(self) -> set[str]:
        """Every store (its ``describe()``) a generation was published to."""
        return {r[0] for r in self.db.execute("SELECT DISTINCT store FROM publish_generations")}

    def first_published(self, guids: list[str]) -> dict[str, str]:
        """``{guid: first publication time}`` of the guids already published."""
        out = {}
        for guid in guids:
            row = self.db.execute("SELECT first_published_at FROM feed_items WHERE guid=?", (guid,)).fetchone()
            if row:
                out[guid] = row[0]
        return out

    def record_published(self, guids: list[str], when: str) -> None:
        """Remember ``when`` as the first publication time of guids not seen before."""
        self.db.executemany("INSERT OR IGNORE INTO feed_items (guid, first_published_at) VALUES (?,?)",
                            [(g, when) for g in guids])

    # -- publishing, per store (ledger, generations and their files, unfinished runs) ---------
    def store_ledger(self, store: str) -> dict[str, LedgerEntry]:
        """``{key: LedgerEntry}``: what ``store`` holds as far as we know."""
        rows = self.db.execute("SELECT key, sha256, bytes, etag FROM publish_ledger WHERE store=?", (store,))
        return {r[0]: LedgerEntry(r[1], r[2], r[3]) for r in rows}

    def record_uploads(self, store: str, entries: list[tuple[str, str, int, str]], generation: int) -> None:
        """Remember uploaded objects ``[(key, sha256, bytes, etag)]`` in one transaction."""
        with self.transaction() as db:
            db.executemany("INSERT OR REPLACE INTO publish_ledger (store, key, sha256, bytes, etag, generation)"
                           " VALUES (?,?,?,?,?,?)", [(store, k, s, b, e, generation) for k, s, b, e in entries])

    def forget_uploads(self, store: str, keys: list[str]) -> None:
        """Forget objects (deleted, or found missing or different in the store)."""
        with self.transaction() as db:
            db.executemany("DELETE FROM publish_ledger WHERE store=? AND key=?", [(store, k) for k in keys])

    def store_generations(self, store: str) -> list[Generation]:
        """The generations published to ``store``, newest first."""
        return [_generation(r) for r in self.db.execute(
            "SELECT * FROM publish_generations WHERE store=? ORDER BY number DESC", (store,))]

    def generation_files(self, store: str, number: int) -> dict[str, tuple[str, int]]:
        """``{key: (sha256, bytes)}`` of one generation (as its index.json lists them)."""
        rows = self.db.execute("SELECT key, sha256, bytes FROM publish_files WHERE store=? AND generation=?",
                               (store, number))
        return {r[0]: (r[1], r[2]) for r in rows}

    def retained_keys(self, store: str, numbers: list[int]) -> set[str]:
        """Every key that one of the generations ``numbers`` refers to."""
        out: set[str] = set()
        for n in numbers:
            out.update(r[0] for r in self.db.execute(
                "SELECT key FROM publish_files WHERE store=? AND generation=?", (store, n)))
        return out

    def commit_generation(self, store: str, number: int, published_at: str, index_sha256: str,
                          files: list[tuple[str, str, int]]) -> None:
        """Record a complete generation (its index.json is in the store) and end the run."""
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO publish_generations (store, number, published_at, objects, bytes,"
                       " index_sha256) VALUES (?,?,?,?,?,?)",
                       (store, number, published_at, len(files) + 1, sum(f[2] for f in files), index_sha256))
            db.execute("DELETE FROM publish_files WHERE store=? AND generation=?", (store, number))
            db.executemany("INSERT INTO publish_files (store, generation, key, sha256, bytes) VALUES (?,?,?,?,?)",
                           [(store, number, k, s, b) for k, s, b in files])
            db.execute("DELETE FROM publish_runs WHERE store=?", (store,))

    def drop_generation_files(self, store: str, numbers: list[int]) -> None:
        """Forget the file lists of generations no longer retained (their rows stay)."""
        with self.transaction() as db:
            db.executemany("DELETE FROM publish_files WHERE store=? AND generation=?", [(store, n) for n in numbers])

    def begin_run(self, store: str, generation: int) -> None:
        """Mark a publish to ``store`` as started (cleared by commit_generation)."""
        self.db.execute("INSERT OR REPLACE INTO publish_runs (store, generation, started_at) VALUES (?,?,?)",
                        (store, generation, now_iso()))

    def unfinished_run(self, store: str) -> PublishRun | None:
        """The publish to ``store`` that started and never finished (failed or killed), if any."""
        row = self.db.execute("SELECT * FROM publish_runs WHERE store=?", (store,)).fetchone()
        return PublishRun(row["store"], row["generation"], row["started_at"]) if row else None

    # -- schedules and plans ---------------------------------------------------------------------
    def replace_airings(self, channel: str, date: dt.date, airings: list[tuple[str, str]]) -> None:
        """Record what airs on ``channel`` on ``date``: ``[(start_iso, lesson_id)]``."""
        self.db.execute("DELETE FROM airings WHERE channel=? AND date=?", (channel, date.isoformat()))
        self.db.executemany("INSERT OR IGNORE INTO airings (channel, date, start, lesson_id) VALUES (?,?,?,?)",
                            [(channel, date.isoformat(), s, lid) for s, lid in airings])

    def save_schedule(self, day: BroadcastDay) -> None:
        """Record ``day`` as scheduled for its channel (the catalog is the source of truth
        for what airs; ``build/broadcast`` is staged from it)."""
        self.db.execute("INSERT OR REPLACE INTO schedules (channel, date, document) VALUES (?,?,?)",
                        (day.channel, day.date.isoformat(), layout.schedule(day).decode("utf-8")))

    def schedule(self, channel: str, date: dt.date) -> BroadcastDay | None:
        """What ``channel`` airs on ``date`` as last scheduled, or None (not scheduled, or
        scheduled before the catalog kept schedules)."""
        row = self.db.execute("SELECT document FROM schedules WHERE channel=? AND date=?",
                              (channel, date.isoformat())).fetchone()
        return layout.read_schedule(row[0].encode("utf-8")) if row else None

    def airings_before(self, channel: str, date: dt.date, days: int) -> dict[str, dt.date]:
        """``{lesson_id: last date aired}`` on ``channel`` in the ``days`` before ``date``."""
        first = (date - dt.timedelta(days=days)).isoformat()
        rows = self.db.execute(
            "SELECT lesson_id, MAX(date) AS d FROM airings WHERE channel=? AND date>=? AND date<?"
            " GROUP BY lesson_id", (channel, first, date.isoformat())).fetchall()
        return {r["lesson_id"]: dt.date.fromisoformat(r["d"]) for r in rows}

    def channel_airings(self, channel: str) -> list[tuple[dt.date, str, str]]:
        """Every recorded airing of ``channel`` as ``(date, start_iso, lesson_id)``, in air order."""
        rows = self.db.execute("SELECT date, start, lesson_id FROM airings WHERE channel=? ORDER BY date, start,"
                               " lesson_id", (channel,)).fetchall()
        return [(dt.date.fromisoformat(r["date"]), r["start"], r["lesson_id"]) for r in rows]

    def save_plan(self, quarter: str, device_id: str, files: list[PlannedFile]) -> None:
        """Record what ``device_id`` carries in ``quarter``: its files in play order (the
        catalog is the source of truth for plans; ``build/devices`` is staged from them)."""
        self.db.execute("INSERT OR REPLACE INTO plans (quarter, device_id, lesson_ids, files) VALUES (?,?,?,?)",
                        (quarter, device_id, json.dumps([f.lesson_id for f in files]),
                         json.dumps([[f.lesson_id, f.sha256, f.bytes, f.card_path] for f in files],
                                    ensure_ascii=False)))

    def forget_plans(self, quarter: str, keep: set[str]) -> None:
        """Forget the plans of ``quarter`` for devices not in ``keep`` (no longer planned)."""
        rows = self.db.execute("SELECT device_id FROM plans WHERE quarter=?", (quarter,)).fetchall()
        self.db.executemany("DELETE FROM plans WHERE quarter=? AND device_id=?",
                            [(quarter, r[0]) for r in rows if r[0] not in keep])

    def planned_files(self, quarter: str, device_id: str) -> tuple[PlannedFile, ...] | None:
        """The files ``device_id`` carries in ``quarter`` in play order, or None when it
        was not planned (a plan recorded before files were kept: lesson ids only)."""
        row = self.db.execute("SELECT lesson_ids, files FROM plans WHERE quarter=? AND device_id=?",
                              (quarter, device_id)).fetchone()
        return _planned(row[0], row[1]) if row else None

    def plans(self, quarter: str) -> dict[str, tuple[PlannedFile, ...]]:
        """``{device_id: its files in play order}`` of every device planned for ``quarter``."""
        return {r[0]: _planned(r[1], r[2]) for r in self.db.execute(
            "SELECT device_id, lesson_ids, files FROM plans WHERE quarter=?", (quarter,))}

    # -- ingest journal (issue 3) -------------------------------------------------------------
    def add_intent(self, action: str, name: str, sha256: str | None, detail: dict) -> int:
        """Record file work that must be finished even after a crash (``action``:
        ``clear`` the inbox after an accept, ``reject`` to move a file to ``rejected/``).
        Call inside the transaction that records the decision; returns the intent id."""
        cur = self.db.execute("INSERT INTO ingest_intents (action, name, sha256, detail, at) VALUES (?,?,?,?,?)",
                              (action, name, sha256, json.dumps(detail), now_iso()))
        return int(cur.lastrowid)

    def intents(self) -> list[Intent]:
        """Unfinished file work, oldest first."""
        return [Intent(r["id"], r["action"], r["name"], r["sha256"], json.loads(r["detail"]), r["at"])
                for r in self.db.execute("SELECT * FROM ingest_intents ORDER BY id")]

    def drop_intent(self, intent_id: int) -> None:
        """Mark file work as finished."""
        self.db.execute("DELETE FROM ingest_intents WHERE id=?", (intent_id,))

    def lesson_versions(self, lesson_id: str) -> list[LessonRecord]:
        """Every version of a lesson, oldest first (history is kept when one supersedes another)."""
        return [_record(r) for r in self.db.execute(
            "SELECT * FROM lessons WHERE lesson_id=? ORDER BY version", (lesson_id,))]

    def recent_ingests(self, limit: int = 20) -> list[Ingested]:
        """The lessons most recently ingested, newest first, with their source's findings
        and size."""
        return [Ingested(_record(r), json.loads(r["analysis"] or "{}"), r["bytes"]) for r in self.db.execute(
            "SELECT l.*, s.analysis AS analysis, s.bytes AS bytes FROM lessons l"
            " JOIN sources s ON s.sha256 = l.source_sha256 ORDER BY l.ingested_at DESC, l.rowid DESC LIMIT ?",
            (limit,))]

    def drop_rendition(self, r: Rendition) -> None:
        """Forget rendition ``r`` (its file is the caller's to remove; call inside a
        transaction that records the removal)."""
        self.db.execute("DELETE FROM renditions WHERE source_sha256=? AND profile=? AND profile_hash=?",
                        (r.source_sha256, r.profile, r.profile_hash))


def _iso(d: dt.date | None) -> str | None:
    return d.isoformat() if d else None


def _lesson(row: sqlite3.Row) -> Lesson:
    return Lesson(
        lesson_id=row["lesson_id"], version=row["version"], source_sha256=row["source_sha256"],
        title=row["title"], category=row["category"], dialect=row["dialect"],
        duration_s=row["duration_s"], speaker=row["speaker"] or "", series=row["series"] or "",
        episode=row["episode"], recorded_on=_date(row["recorded_on"]),
        valid_from=_date(row["valid_from"]), valid_until=_date(row["valid_until"]),
        audiences=tuple(json.loads(row["audiences"] or "[]")), description=row["description"] or "",
        evergreen=bool(row["evergreen"]), original_name=row["original_name"] or "",
        ingested_at=row["ingested_at"] or "")


def _rendition(row: sqlite3.Row) -> Rendition:
    return Rendition(
        source_sha256=row["source_sha256"], profile=row["profile"], profile_hash=row["profile_hash"],
        path=row["path"], sha256=row["sha256"], bytes=row["bytes"], duration_s=row["duration_s"],
        extension=row["extension"], integrated_lufs=row["integrated_lufs"],
        true_peak_dbtp=row["true_peak_dbtp"], gain_db=row["gain_db"],
        notes=tuple(json.loads(row["notes"] or "[]")))


def _planned(lesson_ids: str, files: str | None) -> tuple[PlannedFile, ...]:
    if files is None:  # recorded before the catalog kept the files
        return tuple(PlannedFile(lid) for lid in json.loads(lesson_ids))
    return tuple(PlannedFile(lid, sha, size, path) for lid, sha, size, path in json.loads(files))


def _event(row: sqlite3.Row) -> Event:
    return Event(row["id"], row["at"], row["stage"], row["level"], row["subject"], row["message"])


def _source(row: sqlite3.Row) -> Source:
    return Source(sha256=row["sha256"], path=row["path"], bytes=row["bytes"], original_name=row["original_name"],
                  added_at=row["added_at"], kind=row["kind"], probe=json.loads(row["probe"] or "{}"),
                  analysis=json.loads(row["analysis"] or "{}"))


def _record(row: sqlite3.Row) -> LessonRecord:
    return LessonRecord(_lesson(row), bool(row["superseded"]), tuple(json.loads(row["warnings"] or "[]")))


def _generation(row: sqlite3.Row) -> Generation:
    return Generation(store=row["store"], number=row["number"], published_at=row["published_at"],
                      objects=row["objects"], bytes=row["bytes"], index_sha256=row["index_sha256"])
