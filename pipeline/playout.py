"""``dangke playout``: keep a station's local copy of a channel's published days, and the
cue file and liquidsoap script that air them (:mod:`pipeline.playout_script`).

One sync reads the store's ``index.json`` (the public ``base_url`` over HTTP, or a
``file://``/``s3://`` store), then every ``broadcast/<channel>/<YYYY-MM-DD>.json`` it lists
from yesterday on, checked against the index's sha256, and every audio file those days air
(the whole-slot file, or the items when a slot has none), checked against the index and
kept by sha256 in ``<cache>/audio/<sha256>.<ext>``. Only when all of that is local does it
replace the day in ``<cache>/<channel>/days/`` and rewrite ``<cache>/<channel>/cue.tsv``
atomically. When the store cannot be reached (or a file is damaged) nothing local changes:
liquidsoap keeps airing the last known schedule. A day the store no longer lists (and that
has not begun) is dropped from the cue file.

Layout of the cache (``<cache>`` defaults to ``$XDG_CACHE_HOME/dangke/playout``)::

    <cache>/audio/<sha256>.<ext>          verified audio, shared by channels
    <cache>/<channel>/days/<date>.json    the last verified schedule of each day
    <cache>/<channel>/cue.tsv             start, end (Unix seconds), files; one slot a line
    <cache>/<channel>/playout.liq         the station script
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from .cardsource import Source
from .errors import DangkeError, StoreError
from .fsutil import write_atomic
from .models import BroadcastDay
from .layout import read_index, read_schedule

_DAY = re.compile(r"^broadcast/(?P<channel>[^/]+)/(?P<date>\d{4}-\d\d-\d\d)\.json$")


def cache_root() -> Path:
    """The default playout cache: ``$XDG_CACHE_HOME/dangke/playout`` (``~/.cache``)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dangke" / "playout"


@dataclass(frozen=True)
class SyncReport:
    """One sync: ``days`` the cue file airs (dates), ``fetched`` day files newly taken from
    the store, ``downloaded`` audio files, ``slots`` the cue file's lines, ``error`` why
    the store could not be read (then nothing local changed)."""

    days: tuple[str, ...]
    fetched: tuple[str, ...]
    downloaded: int
    slots: int
    error: str = ""


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _verified_get(source: Source, key: str, sha256: str) -> bytes:
    data = source.get(key)
    if _sha(data) != sha256:
        raise StoreError(f"{key} from {source.describe()} does not match index.json",
                         fix="the store is being published or is damaged; the last schedule stays on air")
    return data


def cached_audio(source: Source, key: str, sha256: str, size: int, audio: Path) -> tuple[Path, bool]:
    """A verified local copy of ``key`` named ``<sha256><ext>`` (liquidsoap picks its
    decoder by extension); returns the path and whether it was downloaded now.

    Raises:
        StoreError: it cannot be fetched, or its bytes are not ``sha256``/``size``.
    """
    audio.mkdir(parents=True, exist_ok=True)
    path = audio / f"{sha256}{PurePosixPath(key).suffix.lower()}"
    if path.is_file() and path.stat().st_size == size:
        return path, False
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        source.fetch(key, tmp)
        with open(tmp, "rb") as f:
            got = hashlib.file_digest(f, "sha256").hexdigest()
        if got != sha256 or tmp.stat().st_size != size:
            raise StoreError(f"{key} from {source.describe()} does not match index.json",
                             fix="the store is being published or is damaged; the last schedule stays on air")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path, True


def _air_files(day: BroadcastDay) -> list[list[tuple[str, str]]]:
    """Per slot, ``(key, sha256)`` of what it airs: the whole-slot file, else its items
    in order."""
    return [[(s.key, s.sha256 or "")] if s.key else [(a.key, a.sha256 or "") for a in s.items if a.key]
            for s in day.slots]


def _local(audio: Path, key: str, sha256: str) -> Path:
    return audio / f"{sha256}{PurePosixPath(key).suffix.lower()}"


def cue_lines(day: BroadcastDay, audio: Path) -> list[str]:
    """The cue file's lines of one day: ``start<TAB>end<TAB>file...`` (Unix seconds, three
    decimals) for each slot whose audio is all in ``audio``."""
    out = []
    for slot, files in zip(day.slots, _air_files(day)):
        paths = [_local(audio, key, sha) for key, sha in files]
        if paths and all(p.is_file() for p in paths):
            out.append("\t".join([f"{slot.start.timestamp():.3f}", f"{slot.end.timestamp():.3f}",
                                   *map(str, paths)]))
    return out


def sync(source: Source, channel: str, cache: Path, now: dt.datetime) -> SyncReport:
    """Bring ``cache`` up to date with the store for ``channel`` and rewrite the cue file.

    ``now`` (aware) decides which days count: from the day before today (UTC) on; slots
    that have ended are left out of the cue file. Never raises for the store: a failure is
    the report's ``error``, and the cue file is rebuilt from what is local.
    """
    folder, audio = cache / channel, cache / "audio"
    days_dir = folder / "days"
    days_dir.mkdir(parents=True, exist_ok=True)
    since = (now.astimezone(dt.timezone.utc) - dt.timedelta(days=1)).date().isoformat()
    fetched, downloaded, error = [], 0, ""
    try:
        files = read_index(source.get("index.json")).files
        listed = {m["date"]: key for key in files if (m := _DAY.match(key)) and m["channel"] == channel
                  and m["date"] >= since}
        for date, key in sorted(listed.items()):
            local = days_dir / f"{date}.json"
            sha = files[key].sha256
            if local.is_file() and _sha(local.read_bytes()) == sha:
                continue
            data = _verified_get(source, key, sha)
            day = read_schedule(data)
            for slot_files in _air_files(day):
                for k, k_sha in slot_files:
                    meta = files.get(k)
                    if meta is None or meta.sha256 != k_sha:
                        raise StoreError(f"{k} (aired on {date}) is not in index.json as scheduled",
                                         fix="publish the station again; the last schedule stays on air")
                    _, new = cached_audio(source, k, k_sha, meta.bytes, audio)
                    downloaded += new
            write_atomic(local, data)
            fetched.append(date)
        for stale in days_dir.glob("????-??-??.json"):  # withdrawn days that have not begun
            if stale.stem not in listed and stale.stem > now.date().isoformat():
                stale.unlink()
    except (StoreError, ValueError, KeyError, TypeError, OSError) as exc:
        error = exc.message if isinstance(exc, DangkeError) else f"{type(exc).__name__}: {exc}"
    lines, aired = [], []
    for local in sorted(days_dir.glob("????-??-??.json")):
        if local.stem < since:
            continue
        try:
            day = read_schedule(local.read_bytes())
        except ValueError:
            continue
        day_lines = [line for line in cue_lines(day, audio) if float(line.split("\t")[1]) > now.timestamp()]
        if day_lines:
            aired.append(day.date.isoformat())
            lines += day_lines
    lines.sort(key=lambda line: float(line.split("\t")[0]))
    write_atomic(folder / "cue.tsv", ("\n".join(lines) + "\n" if lines else "").encode("utf-8"))
    return SyncReport(tuple(aired), tuple(fetched), downloaded, len(lines), error)
