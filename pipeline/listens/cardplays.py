"""What one card's read-back says was played (pure: parsed logs in, facts out).

A play is matched to the lesson of a file the card carried: by the log's title against
the titles in deployment.json, then by file name (Rockbox logs the path of an untagged
file as its title), then by a lesson title that is unique in the catalog. Plays that
match nothing are counted as unmatched (a holder's own music, say).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Mapping

from .playlog import FileCount, PlayLog


@dataclass(frozen=True)
class CardFile:
    """A file the card carried (from deployment.json): card name, lesson id ("" when
    unknown), title, sha256."""

    card_path: str
    lesson_id: str
    title: str
    sha256: str


@dataclass(frozen=True)
class CardPlay:
    """Plays of one log line or counter line: ``key`` unique per device (start time and
    title for a timed line, else the read-back and line), ``rating`` ``L``/``S`` for a
    log line, ``C`` for a counter; ``completed`` plays when known."""

    key: str
    lesson_id: str
    title: str
    rating: str
    plays: int
    completed: int | None
    started: dt.datetime | None
    length_s: int | None


@dataclass(frozen=True)
class CardListening:
    """The read-back in numbers, for the crew's one line and the catalog: ``kind``
    ``scrobbler``, ``timeless``, ``counter`` or ``none`` (the player keeps no log);
    plays, listened (at least half) and skipped plays, lessons played of those carried,
    lessons played fully (at least once listened / completed), unmatched plays, the
    last play's time, and unreadable lines (``truncated`` + ``bad``)."""

    kind: str
    carried: int
    plays: int
    listened: int
    skipped: int
    lessons_played: int
    lessons_completed: int
    unmatched: int
    last_play: dt.datetime | None
    truncated: int = 0
    bad: int = 0


def card_files(deployment: Mapping) -> tuple[CardFile, ...]:
    """The lesson files of a deployment.json (playlist.m3u left out)."""
    out = []
    for f in deployment.get("files", []) or []:
        if not isinstance(f, Mapping):
            continue
        name = str(f.get("card_path", ""))
        if name and not name.casefold().endswith(".m3u"):
            out.append(CardFile(name, str(f.get("lesson_id") or ""), str(f.get("title") or ""),
                                str(f.get("sha256") or "")))
    return tuple(out)


class Matcher:
    """Finds the lesson of a log title or counter file name among the card's files and,
    failing that, the catalog's (``by_sha``: rendition sha256 -> lesson id; ``by_title``:
    lesson titles that are unique -> lesson id)."""

    def __init__(self, files: tuple[CardFile, ...], by_sha: Mapping[str, str] = {},
                 by_title: Mapping[str, str] = {}) -> None:
        self.files = tuple(f if f.lesson_id or f.sha256 not in by_sha else
                           CardFile(f.card_path, by_sha[f.sha256], f.title, f.sha256) for f in files)
        self.titles = {f.title: f.lesson_id for f in self.files if f.title and f.lesson_id}
        self.names = {f.card_path.casefold(): f.lesson_id for f in self.files if f.lesson_id}
        self.by_title = by_title

    def lesson(self, title: str) -> str:
        """The lesson id of ``title`` (a tag title or a path), or ""."""
        if title in self.titles:
            return self.titles[title]
        base = title.replace("\\", "/").rsplit("/", 1)[-1].casefold()
        if base in self.names:
            return self.names[base]
        return self.by_title.get(title, "")


def _key(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()[:32]


def log_plays(log: PlayLog, matcher: Matcher, readback_id: str,
              not_before: dt.datetime | None = None) -> tuple[CardPlay, ...]:
    """One :class:`CardPlay` per log line (corrupted lines flagged by the player are
    left out). A start before ``not_before`` (the card's loading, less a day) comes
    from a player whose clock was reset (Rockbox then logs dates such as 2000-01-01):
    the play counts, undated."""
    out = []
    for p in log.plays:
        if p.failed:
            continue
        started = p.started if p.started and (not_before is None or p.started >= not_before) else None
        key = _key(started.isoformat(), p.title, p.rating) if started else _key(readback_id, p.line)
        out.append(CardPlay(key, matcher.lesson(p.title), p.title, p.rating, 1,
                            1 if p.listened else 0, started, p.length_s))
    return tuple(out)


def counter_plays(counts: tuple[FileCount, ...], matcher: Matcher, readback_id: str) -> tuple[CardPlay, ...]:
    """One :class:`CardPlay` per counter line with plays."""
    return tuple(CardPlay(_key(readback_id, c.name), matcher.lesson(c.name), c.name, "C", c.plays, c.completed,
                          None, None) for c in counts if c.plays > 0)


def summarize(kind: str, files: tuple[CardFile, ...], plays: tuple[CardPlay, ...], truncated: int = 0,
              bad: int = 0) -> CardListening:
    """The :class:`CardListening` of a card's plays."""
    played = {p.lesson_id for p in plays if p.lesson_id}
    completed = {p.lesson_id for p in plays if p.lesson_id and (p.completed or 0) > 0}
    times = [p.started for p in plays if p.started]
    return CardListening(
        kind=kind, carried=len({f.lesson_id or f.card_path for f in files}),
        plays=sum(p.plays for p in plays),
        listened=sum(p.plays for p in plays if p.rating == "L"),
        skipped=sum(p.plays for p in plays if p.rating == "S"),
        lessons_played=len(played), lessons_completed=len(completed),
        unmatched=sum(p.plays for p in plays if not p.lesson_id),
        last_play=max(times) if times else None, truncated=truncated, bad=bad)
