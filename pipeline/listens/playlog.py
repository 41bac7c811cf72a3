"""Play logs a player leaves on its card, parsed (pure functions over bytes; no I/O).

Supported:

- **Rockbox ``.scrobbler.log``** (Audioscrobbler portable player format 1.1, as Rockbox's
  ``lastfm_scrobbler`` plugin and the older core scrobbler write it): header lines
  ``#AUDIOSCROBBLER/1.1``, ``#TZ/UNKNOWN`` or ``#TZ/UTC``, ``#CLIENT/Rockbox <target>
  <revision>[ Timeless]`` and a ``#ARTIST #ALBUM ...`` comment, then one line per play of
  8 tab-separated fields: artist (``<UNTAGGED>`` when the file has none), album, title
  (the file's path when it has no title tag), track number, length (whole seconds),
  rating ``L`` (listened: at least the plugin's save threshold, 50 % by default) or
  ``S`` (skipped), start time (Unix seconds) and MusicBrainz track id. Its quirks are
  handled: ``#TZ/UNKNOWN`` times are the player's local wall clock written as if it
  were UTC (Rockbox ``mktime`` of the RTC), so they are read as wall-clock time in the
  station's time zone; a player without a clock writes ``.scrobbler-timeless.log`` with
  every time 0 (counts, no dates), and one whose clock was reset logs dates such as
  2000-01-01 (plays before the card was loaded are kept undated, see
  :func:`pipeline.listens.cardplays.log_plays`); a line the plugin found corrupted is prefixed
  ``# FAILED - `` (kept, flagged); the last line of a log cut off by a power loss has no
  newline and is dropped (counted as truncated).
- **A per-file play counter** (``PLAYCNT.TXT`` at the root or in ``DANGKE/``), the
  simplest thing a cheap player's firmware can keep: UTF-8 (GBK accepted) text, ``#``
  comments, one line per file: ``<file name>,<plays>[,<completed plays>]`` (comma or
  tab separated, read with the csv module). The file name is the card name
  (``001_牢記初心使命.mp3``), matched case-insensitively.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass

#: Rockbox's marker of an entry it found corrupted in its cache
FAILED = "# FAILED - "
UNTAGGED = "<UNTAGGED>"


@dataclass(frozen=True)
class Play:
    """One line of a scrobbler log: ``length_s`` whole seconds; ``rating`` ``L``
    (listened at least half, by Rockbox's default threshold) or ``S`` (skipped);
    ``started`` timezone-aware, or None when the player has no clock; ``failed``: the
    player marked the entry corrupted; ``line``: its line number (1-based)."""

    artist: str
    album: str
    title: str
    track: str
    length_s: int
    rating: str
    started: dt.datetime | None
    mbid: str = ""
    failed: bool = False
    line: int = 0

    @property
    def listened(self) -> bool:
        return self.rating == "L"


@dataclass(frozen=True)
class PlayLog:
    """A parsed scrobbler log: its header (``client``, ``tz`` ``UNKNOWN``/``UTC``,
    ``timeless``), the plays, and the lines that could not be read: ``truncated``
    (an unterminated last line) and ``bad`` (wrong field count, rating or numbers)."""

    client: str
    tz: str
    timeless: bool
    plays: tuple[Play, ...]
    truncated: int = 0
    bad: int = 0


@dataclass(frozen=True)
class FileCount:
    """A per-file play counter's line: ``plays`` and, when the counter keeps it,
    ``completed`` plays (else None)."""

    name: str
    plays: int
    completed: int | None = None


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return data.decode("gb18030")
        except UnicodeDecodeError:
            return data.decode("utf-8", "replace")


def _started(value: str, tz_line: str, station_tz: dt.tzinfo) -> dt.datetime | None:
    seconds = int(value)
    if seconds <= 0:
        return None
    stamp = dt.datetime.fromtimestamp(seconds, tz=dt.timezone.utc)
    if tz_line == "UTC":
        return stamp
    # #TZ/UNKNOWN: the number is the player's wall clock read as if it were UTC
    return stamp.replace(tzinfo=station_tz)


def parse_scrobbler(data: bytes, station_tz: dt.tzinfo) -> PlayLog:
    """Parse a ``.scrobbler.log`` (or ``.scrobbler-timeless.log``).

    Args:
        data: the file's bytes.
        station_tz: the zone a ``#TZ/UNKNOWN`` log's wall-clock times are read in.

    Returns:
        The :class:`PlayLog`; unreadable lines are counted, never raised.
    """
    text = _text(data)
    lines = text.split("\n")
    truncated = 0
    if lines and lines[-1] != "":
        truncated = 1  # no newline after it: the write was cut off
    lines = lines[:-1]
    client, tz_line, timeless = "", "UNKNOWN", False
    plays: list[Play] = []
    bad = 0
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r")
        failed = line.startswith(FAILED)
        if failed:
            line = line[len(FAILED):]
        elif line.startswith("#"):
            if line.startswith("#TZ/"):
                tz_line = line[4:].strip().upper() or "UNKNOWN"
            elif line.startswith("#CLIENT/"):
                client = line[8:].strip()
                timeless = client.endswith("Timeless")
            continue
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) == 7:  # a writer that leaves off the empty MusicBrainz id
            fields.append("")
        if len(fields) != 8 or fields[5] not in ("L", "S"):
            bad += 1
            continue
        artist, album, title, track, length, rating, started, mbid = fields
        try:
            when = _started(started, tz_line, station_tz)
            seconds = int(length)
        except (ValueError, OverflowError, OSError):
            bad += 1
            continue
        plays.append(Play(artist, album, title, track, seconds, rating, when, mbid, failed, number))
    return PlayLog(client, tz_line, timeless, tuple(plays), truncated, bad)


def parse_counter(data: bytes) -> tuple[tuple[FileCount, ...], int]:
    """Parse a per-file play counter (``PLAYCNT.TXT``, see the module docstring).

    Returns:
        ``(counts, bad)``: one :class:`FileCount` per readable line, and how many lines
        could not be read.
    """
    out: list[FileCount] = []
    bad = 0
    for raw in _text(data).splitlines():
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        delimiter = "\t" if "\t" in raw else ","
        row = next(csv.reader(io.StringIO(raw), delimiter=delimiter), [])
        try:
            name, plays = row[0].strip(), int(row[1])
            completed = int(row[2]) if len(row) > 2 and row[2].strip() else None
        except (IndexError, ValueError):
            bad += 1
            continue
        if not name or plays < 0 or (completed is not None and not 0 <= completed <= plays):
            bad += 1
            continue
        out.append(FileCount(name, plays, completed))
    return tuple(out), bad
