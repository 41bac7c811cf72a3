"""Read back what a device left on its card, before the card loader changes anything.

:func:`read_back` copies ``deployment.json``, the play log (Rockbox ``.scrobbler.log`` or
``.scrobbler-timeless.log``, at the root or in ``.rockbox/``) and a per-file play
counter (``PLAYCNT.TXT``), and lists ``DANGKE/`` with the files' FAT last-access dates
where they can be read, into a file set beside the catalog::

    <root>/<device_id>/<quarter>/<readback_id>/
        deployment.json, .scrobbler.log, ...   the card's bytes, as read
        readback.json                           written last: sha256 and size of each

Each file is written to a temporary name, fsynced, renamed, read back and compared by
sha256; ``readback.json`` comes last. Only then does :func:`read_back` return, so a load
that is interrupted (or a card that dies while being written) never loses a log. The id
is the sha256 of the device and the files' hashes: reading the same card twice gives the
same folder (stored once). After a load finished, :func:`clear_logs` removes from the
card the logs whose bytes are stored (Amplio's TB-Loader likewise clears a Talking
Book's statistics once they are collected), so next quarter's log holds next quarter's
plays only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from pipeline import __version__
from pipeline.cardfs import Card, CardError, ImageCard, MountedCard
from pipeline.fsutil import fsync_dir

DEPLOYMENT = "deployment.json"
#: play logs and counters looked for, in this order (Rockbox writes the first two at the
#: root of a native target, the plugin under HOME_DIR which may be ``/.rockbox``)
LOGS = (".scrobbler.log", ".scrobbler-timeless.log", ".rockbox/.scrobbler.log",
        ".rockbox/.scrobbler-timeless.log")
COUNTERS = ("PLAYCNT.TXT", "DANGKE/PLAYCNT.TXT")
RECORD = "readback.json"
FOLDER = "DANGKE"


@dataclass(frozen=True)
class StoredFile:
    """One file copied from the card: its card path, the name in the file set, sha256
    (hex) and size (bytes)."""

    card_path: str
    stored: str
    sha256: str
    bytes: int


@dataclass(frozen=True)
class Readback:
    """One read-back of a card: who (``device_id``, ``quarter`` and ``generation`` the
    card was loaded with, from its deployment.json; ``"unknown"`` quarter without one),
    where it is stored (``folder``), the files copied, the ``DANGKE/`` listing as
    ``(name, bytes, last-access date or None)``, and ``new``: False when the same
    read-back was stored before (the card was read twice)."""

    readback_id: str
    device_id: str
    quarter: str
    generation: int | None
    loaded_at: str
    read_at: str
    folder: Path
    files: tuple[StoredFile, ...]
    listing: tuple[tuple[str, int, str | None], ...]
    new: bool = True

    @property
    def logs(self) -> tuple[StoredFile, ...]:
        """The play logs and counters (everything but deployment.json)."""
        return tuple(f for f in self.files if f.card_path != DEPLOYMENT)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _safe(card_path: str) -> str:
    return card_path.replace("/", "__")


def _store(folder: Path, name: str, data: bytes) -> None:
    """Write ``data`` to ``folder/name`` durably and check it by reading it back.

    Raises:
        CardError: the stored bytes differ from ``data``.
    """
    tmp = folder / f".{name}.part"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, folder / name)
    if _sha((folder / name).read_bytes()) != _sha(data):
        raise CardError(f"the read-back copy {folder / name} does not match the card",
                        fix="nothing was written to the card; check the disk and run again")


def access_dates(card: Card, folder: str = FOLDER) -> dict[str, str]:
    """``{name (case-folded): ISO date}`` of the files' FAT last-access dates (FAT keeps
    a date only, no time), where the card lets us read them: a mounted card through
    ``stat`` (the vfat driver reports the entry's access date), an image through
    pyfatfs (:mod:`pipeline.listens.fatdates`); empty when they cannot be read."""
    if isinstance(card, MountedCard):
        out = {}
        base = card.root / folder
        if base.is_dir():
            for p in base.iterdir():
                if p.is_file():
                    out[p.name.casefold()] = dt.date.fromtimestamp(p.stat().st_atime).isoformat()
        return out
    if isinstance(card, ImageCard):
        from .fatdates import image_access_dates
        return image_access_dates(card.image, folder)
    return {}


def _deployment(data: bytes | None) -> dict:
    if not data:
        return {}
    try:
        doc = json.loads(data)
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def _hours_since(stamp: object, now: dt.datetime) -> float:
    """Hours from an ISO time (deployment.json's ``written_at``) to ``now``; infinite
    when there is none or it cannot be read."""
    try:
        then = dt.datetime.fromisoformat(str(stamp))
        return (now - then).total_seconds() / 3600 if then.tzinfo else float("inf")
    except ValueError:
        return float("inf")


def read_back(card: Card, device_id: str, root: Path, *, now: dt.datetime | None = None) -> Readback | None:
    """Copy what the device left on ``card`` into the file set under ``root`` (see the
    module docstring) and verify it; change nothing on the card.

    Args:
        card: the card, before the loader touches it.
        device_id: the device being loaded (used when the card has no deployment.json).
        root: the file set's folder (``library/readback`` of a station).
        now: the time recorded as ``read_at`` (default: now).

    Returns:
        The :class:`Readback`, or None when the card holds nothing a device left there
        (a new card, or one loaded less than 24 hours ago that has no play log).

    Raises:
        CardError: the card could not be read, or the copy could not be stored and
            verified; nothing was written to the card.
    """
    found: dict[str, bytes] = {}
    for path in (DEPLOYMENT, *LOGS, *COUNTERS):
        data = card.read(path)
        if data is not None:
            found[path] = data
    if not found:
        return None
    dep = _deployment(found.get(DEPLOYMENT))
    when_dt = (now or dt.datetime.now().astimezone()).replace(microsecond=0)
    if set(found) == {DEPLOYMENT} and _hours_since(dep.get("written_at"), when_dt) < 24:
        return None  # loaded within the day (a crew running the loader again): no quarter to read back
    device = str(dep.get("device_id") or device_id)
    quarter = str(dep.get("quarter") or "unknown")
    generation = dep.get("generation") if isinstance(dep.get("generation"), int) else None
    dates = access_dates(card)
    listing = tuple((name, size, dates.get(name.casefold())) for name, size in (card.listdir(FOLDER) or []))
    ident = _sha(json.dumps([device, sorted((p, _sha(d)) for p, d in found.items())]).encode())
    folder = root / _safe(device) / quarter / ident[:20]
    when = when_dt.isoformat()
    files = tuple(StoredFile(p, _safe(p), _sha(d), len(d)) for p, d in found.items())
    existing = folder / RECORD
    if existing.is_file() and verify(folder):
        doc = json.loads(existing.read_text(encoding="utf-8"))
        return _from_record(folder, doc, new=False)
    folder.mkdir(parents=True, exist_ok=True)
    for f in files:
        _store(folder, f.stored, found[f.card_path])
    record = {"readback_id": ident, "device_id": device, "quarter": quarter, "generation": generation,
              "loaded_at": str(dep.get("written_at") or ""), "read_at": when, "card": card.describe(),
              "files": [vars(f) for f in files],
              "listing": [{"card_path": n, "bytes": s, "access_date": a} for n, s, a in listing],
              "tool": f"dangke {__version__}"}
    _store(folder, RECORD, (json.dumps(record, ensure_ascii=False, indent=2) + "\n").encode("utf-8"))
    fsync_dir(folder)
    if not verify(folder):
        raise CardError(f"the read-back in {folder} does not verify", fix="nothing was written to the card; run again")
    return _from_record(folder, record, new=True)


def _from_record(folder: Path, doc: dict, new: bool) -> Readback:
    return Readback(
        readback_id=doc["readback_id"], device_id=doc["device_id"], quarter=doc["quarter"],
        generation=doc.get("generation"), loaded_at=doc.get("loaded_at", ""), read_at=doc.get("read_at", ""),
        folder=folder, files=tuple(StoredFile(**f) for f in doc.get("files", [])),
        listing=tuple((i["card_path"], int(i["bytes"]), i.get("access_date")) for i in doc.get("listing", [])),
        new=new)


def load_readback(folder: Path) -> Readback:
    """The read-back stored in ``folder`` (its readback.json).

    Raises:
        CardError: the folder holds no complete, verified read-back.
    """
    if not verify(folder):
        raise CardError("not a complete read-back (readback.json missing or a file differs)", path=folder,
                        fix="read the card again with `dangke card`")
    return _from_record(folder, json.loads((folder / RECORD).read_text(encoding="utf-8")), new=False)


def verify(folder: Path) -> bool:
    """Whether ``folder`` holds a readback.json and every file it lists, unchanged."""
    try:
        doc = json.loads((folder / RECORD).read_text(encoding="utf-8"))
        return all(_sha((folder / f["stored"]).read_bytes()) == f["sha256"] for f in doc["files"])
    except (OSError, ValueError, KeyError, TypeError):
        return False


def stored_bytes(rb: Readback, card_path: str) -> bytes | None:
    """The stored bytes of one of the read-back's files, or None."""
    for f in rb.files:
        if f.card_path == card_path:
            return (rb.folder / f.stored).read_bytes()
    return None


def readback_folders(root: Path) -> list[Path]:
    """Every read-back folder under ``root`` (``<device>/<quarter>/<id>/``), sorted."""
    return sorted(p.parent for p in root.glob(f"*/*/*/{RECORD}")) if root.is_dir() else []


def clear_logs(card: Card, rb: Readback) -> int:
    """After a finished load: delete from the card each play log and counter whose bytes
    the read-back holds (verified again first). Returns how many were deleted."""
    if not verify(rb.folder):
        return 0
    gone = 0
    for f in rb.logs:
        data = card.read(f.card_path)
        if data is not None and _sha(data) == f.sha256:
            card.delete(f.card_path)
            gone += 1
    return gone
