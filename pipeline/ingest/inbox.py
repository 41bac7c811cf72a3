"""The one account of an inbox file's state, used by ``dangke ingest``, ``dangke watch``
and ``dangke status`` alike, in the same words.

A file is *waiting* (with a reason) or *ready* for the next ingest. Most waits are seen
from the file itself (a temporary name, open for writing, still changing); an
*incomplete* file is only known by decoding it, so ingest records that wait in the
catalog (table ``inbox_waits``: the file's size and times when judged, the reason, and
when it will be rejected) and status reads it back for as long as the file is unchanged.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

from ..catalog import Catalog
from ..config import Config
from . import files
from .report import Waiting

SCHEMA = """
CREATE TABLE IF NOT EXISTS inbox_waits (
  name TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, ctime_ns INTEGER NOT NULL,
  message TEXT NOT NULL, reject_at REAL NOT NULL, recorded_at REAL NOT NULL);
"""


def busy(name: str) -> Waiting:
    """Open for writing by a program on this machine."""
    return Waiting(name, "still being written (open in another program)", "仍在寫入中（另一個程式正開著它）",
                   routine=True)


def changing(name: str) -> Waiting:
    """Changed within ``[ingest] settle_s``."""
    return Waiting(name, "still changing: waiting until it stays the same", "仍在變動中，等它不再變化", routine=True)


def _clock(cfg: Config, at: float) -> str:
    return dt.datetime.fromtimestamp(at, cfg.tz).strftime("%Y-%m-%d %H:%M")


def incomplete(cfg: Config, name: str, message: str, reject_at: float, now: float | None = None) -> Waiting:
    """A file that looks incomplete (a prefix of a longer one, see
    :class:`~pipeline.ingest.quality.Truncated`): it is rejected at ``reject_at`` (epoch
    seconds; shown in the station's time zone) unless it changes."""
    now = time.time() if now is None else now
    left = max(0.0, reject_at - now)
    minutes = max(1, round(left / 60))
    when = _clock(cfg, reject_at)
    return Waiting(name, f"looks incomplete ({message}); rejected at {when} (in {minutes} min) unless it changes",
                   f"看起來不完整，若到 {when}（{minutes} 分鐘後）仍沒有變化將被退回", retry_after_s=left)


def _table(catalog: Catalog) -> None:
    catalog.db.executescript(SCHEMA)


def record_incomplete(catalog: Catalog, name: str, seen: files.Snapshot, message: str, reject_at: float) -> None:
    """Remember that ``name``, as ``seen``, waits as incomplete (``message``: what is
    missing) until ``reject_at`` (epoch seconds)."""
    _table(catalog)
    catalog.db.execute("INSERT OR REPLACE INTO inbox_waits VALUES (?,?,?,?,?,?,?)",
                       (name, seen.size, seen.mtime_ns, seen.ctime_ns, message, reject_at, time.time()))


def forget(catalog: Catalog, keep: set[str]) -> None:
    """Drop the recorded waits of files not named in ``keep`` (taken, rejected, gone)."""
    _table(catalog)
    for (name,) in catalog.db.execute("SELECT name FROM inbox_waits").fetchall():
        if name not in keep:
            catalog.db.execute("DELETE FROM inbox_waits WHERE name = ?", (name,))


def recorded(cfg: Config, catalog: Catalog, name: str, snap: files.Snapshot | None,
             now: float | None = None) -> Waiting | None:
    """The incomplete-file wait ingest recorded for ``name``, if the file is unchanged
    since (same size and times), with the minutes left counted from ``now``."""
    _table(catalog)
    row = catalog.db.execute("SELECT * FROM inbox_waits WHERE name = ?", (name,)).fetchone()
    if row is None or snap is None or (row["size"], row["mtime_ns"], row["ctime_ns"]) != (
            snap.size, snap.mtime_ns, snap.ctime_ns):
        return None
    return incomplete(cfg, name, row["message"], row["reject_at"], now)


def state(cfg: Config, catalog: Catalog, path: Path, busy_paths: set[Path], now: float | None = None) -> Waiting | None:
    """What ``dangke status`` says of inbox file ``path``: the :class:`Waiting` ingest
    would report (open for writing, changed within ``settle_s``, recorded as incomplete),
    or None when the next ingest will take it."""
    name = files.display_name(path.name)
    if path in busy_paths:
        return busy(name)
    snap = files.snapshot(path)
    now = time.time() if now is None else now
    if snap is not None and now - max(snap.mtime_ns, snap.ctime_ns) / 1e9 < cfg.ingest.settle_s:
        return changing(name)
    return recorded(cfg, catalog, name, snap, now)
