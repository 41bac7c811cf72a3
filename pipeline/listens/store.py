"""The listening tables of the catalog (created here, ``CREATE TABLE IF NOT EXISTS``) and
how card read-backs get into them.

``card_readbacks`` (one row per stored read-back; its files are in the file set named by
``folder``), ``card_files`` (what the card carried, with FAT access dates), ``card_plays``
(plays per device, keyed so that a card read twice or a log read again adds nothing),
``downloads`` (IAB downloads per day and object, with the lesson and feed),
``download_open`` / ``download_salts`` (the hashed visitors and the salt of days still
open; dropped when the day is closed) and ``download_sources`` (log files already
counted).
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from .cardplays import CardListening, CardPlay, Matcher, card_files, counter_plays, log_plays, summarize
from .playlog import parse_counter, parse_scrobbler
from .readback import COUNTERS, DEPLOYMENT, Readback, stored_bytes

SCHEMA = """
CREATE TABLE IF NOT EXISTS card_readbacks (
  readback_id TEXT PRIMARY KEY, device_id TEXT NOT NULL, quarter TEXT NOT NULL, generation INTEGER,
  loaded_at TEXT, read_at TEXT NOT NULL, folder TEXT NOT NULL, kind TEXT NOT NULL,
  plays INTEGER NOT NULL, truncated INTEGER NOT NULL, bad INTEGER NOT NULL, unmatched INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS card_files (
  readback_id TEXT NOT NULL, card_path TEXT NOT NULL, lesson_id TEXT, access_date TEXT,
  PRIMARY KEY (readback_id, card_path));
CREATE TABLE IF NOT EXISTS card_plays (
  device_id TEXT NOT NULL, play_key TEXT NOT NULL, quarter TEXT NOT NULL, lesson_id TEXT,
  title TEXT, rating TEXT NOT NULL, plays INTEGER NOT NULL, completed INTEGER, started TEXT,
  length_s INTEGER, readback_id TEXT NOT NULL, PRIMARY KEY (device_id, play_key));
CREATE TABLE IF NOT EXISTS downloads (
  day TEXT NOT NULL, key TEXT NOT NULL, lesson_id TEXT, feed TEXT NOT NULL DEFAULT '',
  downloads INTEGER NOT NULL, PRIMARY KEY (day, key));
CREATE TABLE IF NOT EXISTS download_open (
  day TEXT NOT NULL, visitor TEXT NOT NULL, key TEXT NOT NULL, ranges TEXT NOT NULL,
  counted INTEGER NOT NULL, PRIMARY KEY (day, visitor, key));
CREATE TABLE IF NOT EXISTS download_salts (day TEXT PRIMARY KEY, salt BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS download_sources (
  source_id TEXT PRIMARY KEY, name TEXT NOT NULL, lines INTEGER NOT NULL, at TEXT NOT NULL);
"""


def ensure_schema(db: sqlite3.Connection) -> None:
    """Create the listening tables when missing."""
    db.executescript(SCHEMA)


@dataclass(frozen=True)
class LessonIndex:
    """The catalog's lessons as the matcher needs them: rendition sha256 -> lesson id,
    and titles that name exactly one lesson -> lesson id."""

    by_sha: dict
    by_title: dict


def lesson_index(catalog) -> LessonIndex:
    """The :class:`LessonIndex` of a catalog (every version's renditions)."""
    lessons = {l.source_sha256: l for l in catalog.lessons(include_superseded=True)}
    by_sha = {r.sha256: lessons[r.source_sha256].lesson_id for r in catalog.renditions()
              if r.source_sha256 in lessons}
    titles: dict[str, set[str]] = {}
    for l in lessons.values():
        titles.setdefault(l.title, set()).add(l.lesson_id)
    return LessonIndex(by_sha, {t: next(iter(ids)) for t, ids in titles.items() if len(ids) == 1})


def analyze(rb: Readback, tz: dt.tzinfo, index: LessonIndex | None = None
            ) -> tuple[CardListening, tuple[CardPlay, ...]]:
    """Parse a stored read-back's logs: its :class:`CardListening` and plays."""
    dep_bytes = stored_bytes(rb, DEPLOYMENT)
    try:
        dep = json.loads(dep_bytes) if dep_bytes else {}
    except ValueError:
        dep = {}
    files = card_files(dep if isinstance(dep, dict) else {})
    matcher = Matcher(files, index.by_sha if index else {}, index.by_title if index else {})
    plays: list[CardPlay] = []
    kind, truncated, bad = "none", 0, 0
    for f in rb.logs:
        data = (rb.folder / f.stored).read_bytes()
        if f.card_path in COUNTERS:
            counts, wrong = parse_counter(data)
            plays += counter_plays(counts, matcher, rb.readback_id)
            bad += wrong
            kind = kind if kind != "none" else "counter"
        else:
            log = parse_scrobbler(data, tz)
            plays += log_plays(log, matcher, rb.readback_id, _loaded(rb))
            truncated += log.truncated
            bad += log.bad
            kind = "timeless" if log.timeless or (log.plays and not any(p.started for p in log.plays)) \
                else "scrobbler"
    return summarize(kind, files, tuple(plays), truncated, bad), tuple(plays)


def _loaded(rb: Readback) -> dt.datetime | None:
    """A day before the card was loaded (from deployment.json's ``written_at``), or None."""
    try:
        return dt.datetime.fromisoformat(rb.loaded_at) - dt.timedelta(days=1) if rb.loaded_at else None
    except ValueError:
        return None


def index_readback(catalog, rb: Readback, tz: dt.tzinfo, root: Path | None = None,
                   index: LessonIndex | None = None) -> tuple[CardListening, bool]:
    """Record a stored read-back in the catalog (once: a read-back or a play already
    recorded is left as it is). Returns its :class:`CardListening` and whether the
    read-back was new to the catalog."""
    ensure_schema(catalog.db)
    index = index or lesson_index(catalog)
    listening, plays = analyze(rb, tz, index)
    dep_bytes = stored_bytes(rb, DEPLOYMENT)
    try:
        dep = json.loads(dep_bytes) if dep_bytes else {}
    except ValueError:
        dep = {}
    matcher = Matcher(card_files(dep if isinstance(dep, dict) else {}), index.by_sha, index.by_title)
    folder = str(rb.folder.relative_to(root)) if root and rb.folder.is_relative_to(root) else str(rb.folder)
    with catalog.transaction() as db:
        cur = db.execute(
            "INSERT OR IGNORE INTO card_readbacks (readback_id, device_id, quarter, generation, loaded_at, read_at,"
            " folder, kind, plays, truncated, bad, unmatched) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (rb.readback_id, rb.device_id, rb.quarter, rb.generation, rb.loaded_at, rb.read_at, folder,
             listening.kind, listening.plays, listening.truncated, listening.bad, listening.unmatched))
        if cur.rowcount == 0:
            return listening, False
        dates = {n.casefold(): a for n, _s, a in rb.listing}
        db.executemany("INSERT OR IGNORE INTO card_files (readback_id, card_path, lesson_id, access_date)"
                       " VALUES (?,?,?,?)",
                       [(rb.readback_id, f.card_path, f.lesson_id or None, dates.get(f.card_path.casefold()))
                        for f in matcher.files])
        db.executemany(
            "INSERT OR IGNORE INTO card_plays (device_id, play_key, quarter, lesson_id, title, rating, plays,"
            " completed, started, length_s, readback_id) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            [(rb.device_id, p.key, rb.quarter, p.lesson_id or None, p.title, p.rating, p.plays, p.completed,
              p.started.isoformat() if p.started else None, p.length_s, rb.readback_id) for p in plays])
    return listening, True
