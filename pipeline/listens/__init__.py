"""What people listened to: play logs read back from cards at refresh time, downloads
counted from the object store's access logs (IAB Podcast Measurement v2.1), and the
summaries the status, the report and the plan use.

- :mod:`.playlog` parses Rockbox ``.scrobbler.log`` files and per-file play counters;
- :mod:`.readback` copies them off a card into a verified file set before it is loaded;
- :mod:`.store` owns the listening tables of the catalog;
- :mod:`.accesslog` (apachelogs) reads S3 server access logs and common/combined logs,
  :mod:`.bots` (crawlerdetect) knows bots, :mod:`.iab` counts downloads;
- :mod:`.summary` turns the tables into frozen dataclasses for status and reports.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from pipeline.cardfs import CardError

from .cardplays import CardListening
from .readback import Readback, clear_logs, load_readback, read_back, readback_folders
from .store import analyze, ensure_schema, index_readback, lesson_index


def default_readback_root() -> Path:
    """Where a crew laptop without a station keeps read-backs:
    ``$XDG_DATA_HOME/dangke/readback`` (``~/.local/share``)."""
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "dangke" / "readback"


def station_readback_root(library: Path) -> Path:
    """A station's read-back file set: ``<library>/readback``."""
    return library / "readback"


@dataclass(frozen=True)
class CardReadback:
    """A card's read-back and what it says was played (None: nothing to read back)."""

    readback: Readback | None
    listening: CardListening | None
    indexed: bool = False


def read_card(card, device_id: str, root: Path, tz: dt.tzinfo, catalog=None,
              now: dt.datetime | None = None) -> CardReadback:
    """Read back ``card`` into ``root`` (verified; see :func:`.readback.read_back`) and,
    with a ``catalog``, record it there. Changes nothing on the card.

    Raises:
        CardError: the card could not be read or the copy not stored and verified.
    """
    rb = read_back(card, device_id, root, now=now)
    if rb is None:
        return CardReadback(None, None)
    if catalog is None:
        return CardReadback(rb, analyze(rb, tz)[0])
    listening, _new = index_readback(catalog, rb, tz, root)
    return CardReadback(rb, listening, True)


@dataclass(frozen=True)
class ImportReport:
    """What :func:`import_readbacks` did: read-backs found, newly recorded, and folders
    that did not verify."""

    found: int
    recorded: int
    broken: tuple[Path, ...] = ()


def import_readbacks(catalog, root: Path, tz: dt.tzinfo) -> ImportReport:
    """Record every complete read-back under ``root`` (a crew's folder brought back to
    the station, or the station's own) in the catalog; each only once."""
    index = lesson_index(catalog)
    ensure_schema(catalog.db)
    known = {r[0][:20] for r in catalog.db.execute("SELECT readback_id FROM card_readbacks")}
    found = recorded = 0
    broken = []
    for folder in readback_folders(root):
        found += 1
        if folder.name in known:  # recorded before (the folder is named by its id)
            continue
        try:
            rb = load_readback(folder)
        except CardError:
            broken.append(folder)
            continue
        recorded += index_readback(catalog, rb, tz, root, index)[1]
    return ImportReport(found, recorded, tuple(broken))


__all__ = ["CardListening", "CardReadback", "ImportReport", "Readback", "clear_logs", "default_readback_root",
           "import_readbacks", "read_card", "station_readback_root"]
