"""``dangke listens --logs``: read access logs (a file, a folder or an ``s3://`` prefix),
count IAB downloads (:mod:`.iab`) and store the counts per day, object, lesson and feed.

Each log file is counted once (by the sha256 of its bytes). A day stays open (its salt
and the hashed clients of its requests kept in the catalog, so logs delivered in several
files and runs are assembled and de-duplicated) until ``close_after_h`` hours after its
end; then the salt and the hashes are deleted and only the counts remain. Lines of a
day already closed are not counted (reported).
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from .accesslog import parse_line
from .iab import DownloadCounter, Episode, Visit
from .store import ensure_schema


@dataclass(frozen=True)
class DownloadReport:
    """What a run did: log files read and already counted before, lines, lines in no
    known format, the outcome of every request (``counted``, ``partial``, ``repeat``,
    ``bot``, ``probe``, ``method``, ``status``, ``other``, ``closed``), new downloads,
    and the days closed (salt and hashes dropped)."""

    sources: int
    seen_before: int
    lines: int
    unparsed: int
    outcomes: tuple[tuple[str, int], ...]
    downloads: int
    closed_days: tuple[str, ...]


def episodes(catalog, lesson_profile: str) -> dict[str, Episode]:
    """``{sha256: Episode}`` of every rendition in the catalog; those of the lessons
    feeds' profile are enclosures of ``lessons-<dialect>``."""
    lessons = {l.source_sha256: l for l in catalog.lessons(include_superseded=True)}
    out = {}
    for r in catalog.renditions():
        lesson = lessons.get(r.source_sha256)
        if lesson is None:
            continue
        feed = f"lessons-{lesson.dialect}" if r.profile == lesson_profile else ""
        out[r.sha256] = Episode(r.sha256, lesson.lesson_id, feed, r.bytes, r.duration_s)
    return out


def _open_bytes(name: str, data: bytes) -> bytes:
    return gzip.decompress(data) if name.endswith(".gz") or data[:2] == b"\x1f\x8b" else data


def log_sources(spec: str, store=None) -> Iterator[tuple[str, bytes]]:
    """``(name, bytes)`` of each log file: ``spec`` a file or a folder (every file under
    it, sorted), or, with ``store`` (an S3 store opened on ``s3://bucket/prefix``), every
    object under the prefix. Gzip files are decompressed."""
    if store is not None:
        for key in sorted(store.listing()):
            yield f"{spec.rstrip('/')}/{key}", _open_bytes(key, store.get(key))
        return
    path = Path(spec)
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for p in files:
        yield str(p), _open_bytes(p.name, p.read_bytes())


class _State:
    """The open days' salts and visits, loaded from and saved to the catalog."""

    def __init__(self, db) -> None:
        self.db = db
        self.salts: dict[dt.date, bytes] = {}
        self.closed: set[dt.date] = set()
        for day, salt in db.execute("SELECT day, salt FROM download_salts"):
            d = dt.date.fromisoformat(day)
            if salt:
                self.salts[d] = bytes(salt)
            else:
                self.closed.add(d)
        self.visits: dict[tuple[dt.date, str, str], Visit] = {}
        for day, who, key, ranges, counted in db.execute(
                "SELECT day, visitor, key, ranges, counted FROM download_open"):
            doc = json.loads(ranges)
            self.visits[(dt.date.fromisoformat(day), who, key)] = Visit(
                tuple(tuple(r) for r in doc.get("r", [])), int(doc.get("loose", 0)), bool(counted))

    def salt(self, day: dt.date) -> bytes:
        if day not in self.salts:
            self.salts[day] = secrets.token_bytes(32)
        return self.salts[day]


def count_downloads(catalog, spec: str, tz: dt.tzinfo, lesson_profile: str, *, store=None,
                    now: dt.datetime | None = None, close_after_h: float = 6.0) -> DownloadReport:
    """Count the downloads in the logs at ``spec`` and store them (see the module).

    Args:
        catalog: the station's catalog.
        spec: a log file, a folder of them, or ``s3://bucket/prefix`` (with ``store``).
        tz: the station's time zone (its days).
        lesson_profile: the profile whose renditions the lessons feeds enclose.
        store: the S3 store of an ``s3://`` spec.
        now: the time that decides which days are closed (default: now).
        close_after_h: hours after a day's end until it is closed.

    Raises:
        StoreError: an ``s3://`` prefix could not be listed or read.
        OSError: a log file could not be read.
    """
    ensure_schema(catalog.db)
    now = now or dt.datetime.now(dt.timezone.utc)
    state = _State(catalog.db)
    counter = DownloadCounter(episodes(catalog, lesson_profile), tz, state.salt,
                              lambda day: day not in state.closed, state.visits)
    seen = {r[0] for r in catalog.db.execute("SELECT source_id FROM download_sources")}
    sources = before = lines = unparsed = 0
    done: list[tuple[str, str, int]] = []
    for name, data in log_sources(spec, store):
        ident = hashlib.sha256(data).hexdigest()
        if ident in seen:
            before += 1
            continue
        seen.add(ident)
        sources += 1
        text = data.decode("utf-8", "replace").splitlines()
        for line in text:
            if not line.strip():
                continue
            lines += 1
            request = parse_line(line)
            if request is None:
                unparsed += 1
                continue
            counter.add(request)
        done.append((ident, name, len(text)))
    closing = sorted(d for d in state.salts if now >= dt.datetime.combine(d + dt.timedelta(days=1), dt.time(),
                                                                         tz) + dt.timedelta(hours=close_after_h))
    stamp = now.replace(microsecond=0).isoformat()
    with catalog.transaction() as db:
        for (day, sha), n in sorted(counter.downloads.items()):
            ep = counter.episodes[sha]
            db.execute("INSERT INTO downloads (day, key, lesson_id, feed, downloads) VALUES (?,?,?,?,?)"
                       " ON CONFLICT (day, key) DO UPDATE SET downloads = downloads + excluded.downloads",
                       (day.isoformat(), sha, ep.lesson_id, ep.feed, n))
        db.executemany("INSERT OR REPLACE INTO download_salts (day, salt) VALUES (?,?)",
                       [(d.isoformat(), s) for d, s in state.salts.items() if d not in closing])
        db.executemany("INSERT OR REPLACE INTO download_open (day, visitor, key, ranges, counted) VALUES (?,?,?,?,?)",
                       [(d.isoformat(), who, key, json.dumps({"r": v.ranges, "loose": v.loose}), int(v.counted))
                        for (d, who, key), v in ((k, state.visits[k]) for k in counter.changed) if d not in closing])
        for d in closing:  # the day is over: only the counts stay
            db.execute("DELETE FROM download_open WHERE day=?", (d.isoformat(),))
            db.execute("INSERT OR REPLACE INTO download_salts (day, salt) VALUES (?, X'')", (d.isoformat(),))
        db.executemany("INSERT OR IGNORE INTO download_sources (source_id, name, lines, at) VALUES (?,?,?,?)",
                       [(i, n, c, stamp) for i, n, c in done])
    return DownloadReport(sources, before, lines, unparsed, tuple(sorted(counter.outcomes.items())),
                          sum(counter.downloads.values()), tuple(d.isoformat() for d in closing))
