"""``dangke card``: the refresh crews' card loader.

It reads a device's manifest, playlist and audio from the published store (a
``file://`` or ``s3://`` target through :mod:`pipeline.publish.store`, or the public
``base_url`` over HTTP(S)), verifies every checksum (manifest and playlist against
``index.json``, each audio file against the manifest) before it touches the card, then:

1. refuses a card that belongs to another device (``deployment.json``) or that is too
   small, before changing anything;
2. deletes last quarter's files that are not kept;
3. builds the folder afresh, ``DANGKE_NEW/``, moving kept files and copying new ones in
   play order, ``playlist.m3u`` last, so directory-entry order equals play order
   (deletes followed by adds in one folder scramble it, standards.md §3.6);
4. swaps ``DANGKE_NEW/`` in for ``DANGKE/`` and writes ``deployment.json`` (device,
   quarter, generation, time, files) at the card's root.

An interrupted run is resumed by running again: the verified prefix of ``DANGKE_NEW/``
is kept, the rest is redone. Audio is cached locally by sha256, so a crew loading many
cards downloads each file once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from . import __version__
from .cardfs import Card
from .cardsource import HttpSource, Source, StoreSource, open_source
from .errors import DangkeError, StoreError
from .layout import read_index, read_manifest
from .models import Quarter

FOLDER = "DANGKE"
BUILDING = "DANGKE_NEW"
DEPLOYMENT = "deployment.json"
PLAYLIST = "playlist.m3u"
#: clusters kept in hand for directory entries and deployment.json
SLACK_CLUSTERS = 16


class CardRefused(DangkeError):
    """The card cannot be loaded as asked (another device's card, too small)."""


@dataclass(frozen=True)
class Target:
    """One file the card must hold, in play order."""

    name: str
    sha256: str
    bytes: int
    key: str = ""
    #: the lesson the file is (written to deployment.json, so play logs can be matched)
    lesson_id: str = ""
    title: str = ""


@dataclass(frozen=True)
class Published:
    """A device's published playlist: its files in play order (``playlist.m3u`` last)."""

    device_id: str
    quarter: str
    generation: int
    manifest_sha256: str
    targets: tuple[Target, ...]
    playlist: bytes


@dataclass(frozen=True)
class CardReport:
    """What a load did."""

    device_id: str
    quarter: str
    generation: int
    card: str
    kept: int
    copied: int
    removed: int
    bytes_copied: int
    resumed: int = 0
    #: every file was in place already
    up_to_date: bool = False
    #: with ``up_to_date``: the quarter and generation the card was labelled with before,
    #: when they differ from this load's (only deployment.json was rewritten); else ""
    relabelled_from: str = ""


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


_SAFE_NAME = re.compile(r'^[^/\\\x00-\x1f"*:<>?|\[\]]{1,200}$')


def read_published(source: Source, device_id: str, quarter: str) -> Published:
    """The device's manifest and playlist, checked against ``index.json``.

    Raises:
        StoreError: the store cannot be read.
        CardRefused: the device has no playlist in the published generation, or a file
            does not match its checksum (a publish in progress or a stale cache).
    """
    try:
        index = read_index(source.get("index.json"))
    except ValueError as exc:
        raise StoreError(f"index.json of {source.describe()} is not a dangke index", fix="check --from") from exc
    files, generation = index.files, index.generation
    base = f"devices/{quarter}/{device_id}/"
    if base + "manifest.json" not in files:
        raise CardRefused(f"{device_id} has no playlist for {quarter} in generation {generation} of "
                          f"{source.describe()}", fix="check the device id and quarter; see the plan's problems.csv")
    docs = {}
    for name in ("manifest.json", PLAYLIST):
        data = source.get(base + name)
        want = files.get(base + name)
        if want is None or _sha(data) != want.sha256 or len(data) != want.bytes:
            raise CardRefused(f"{base + name} does not match index.json (generation {generation})",
                              fix="the store is being published or a cache is stale; try again in a few minutes")
        docs[name] = data
    try:
        manifest = read_manifest(docs["manifest.json"])
    except ValueError as exc:
        raise CardRefused(f"{base}manifest.json is not a dangke manifest ({exc})", fix="republish the plan") from exc
    if manifest.device_id != device_id or manifest.quarter != quarter:
        raise CardRefused(f"{base}manifest.json is for {manifest.device_id} {manifest.quarter}",
                          fix="republish the plan")
    targets = []
    for i in manifest.items:
        name, sha, key = str(i.card_path), str(i.sha256), str(i.key)
        if not _SAFE_NAME.match(name) or name.casefold() in (PLAYLIST, DEPLOYMENT) or \
                not re.fullmatch(r"[0-9a-f]{64}", sha) or not key or not isinstance(i.bytes, int):
            raise CardRefused(f"{base}manifest.json has an unusable item {name!r}", fix="republish the plan")
        targets.append(Target(name, sha, i.bytes, key, str(i.lesson_id or ""), str(i.title or "")))
    if len({t.name.casefold() for t in targets}) != len(targets):
        raise CardRefused(f"{base}manifest.json repeats a card path", fix="republish the plan")
    targets.append(Target(PLAYLIST, _sha(docs[PLAYLIST]), len(docs[PLAYLIST])))
    return Published(device_id, quarter, generation, _sha(docs["manifest.json"]), tuple(targets), docs[PLAYLIST])


def cache_dir() -> Path:
    """The default local audio cache: ``$XDG_CACHE_HOME/dangke/audio`` (``~/.cache``)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dangke" / "audio"


def cached(source: Source, target: Target, cache: Path) -> Path:
    """A verified local copy of ``target`` (downloaded once, kept by sha256).

    Raises:
        CardRefused: the downloaded bytes do not match the manifest's checksum.
    """
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / target.sha256
    if path.is_file() and path.stat().st_size == target.bytes:
        with open(path, "rb") as f:
            if hashlib.file_digest(f, "sha256").hexdigest() == target.sha256:
                return path
    tmp = path.with_name(f".{target.sha256}.{os.getpid()}.part")
    source.fetch(target.key, tmp)
    with open(tmp, "rb") as f:
        got = hashlib.file_digest(f, "sha256").hexdigest()
    size = tmp.stat().st_size
    if got != target.sha256 or size != target.bytes:
        tmp.unlink(missing_ok=True)
        raise CardRefused(f"{target.key} from {source.describe()} does not match the manifest "
                          f"(sha256 {got[:12]}…, {size} bytes; expected {target.sha256[:12]}…, {target.bytes} bytes)",
                          fix="nothing was written to the card; the store is damaged or being published, "
                              "try again later or tell the station")
    os.replace(tmp, path)
    return path


def _deployment(card: Card) -> dict | None:
    data = card.read(DEPLOYMENT)
    if data is None:
        return None
    try:
        doc = json.loads(data)
        return doc if isinstance(doc, dict) else {}
    except ValueError:
        return {}


class _Known:
    """sha256 of the card's files: from deployment.json when the folder is exactly as it
    recorded, else by reading them (only those whose size could match)."""

    def __init__(self, card: Card, listing: list[tuple[str, int]], deployment: dict | None) -> None:
        self.card = card
        recorded = [(f.get("card_path", ""), f.get("bytes")) for f in (deployment or {}).get("files", [])]
        same = deployment is not None and [(n.casefold(), s) for n, s in listing] == \
            [(str(n).casefold(), s) for n, s in recorded] and deployment.get("folder") == FOLDER
        self.sha = {n.casefold(): f["sha256"] for n, f in
                    zip((n for n, _ in listing), deployment["files"])} if same else {}

    def of(self, folder: str, name: str) -> str:
        key = name.casefold()
        if key not in self.sha or folder != FOLDER:
            self.sha[key] = self.card.sha256(f"{folder}/{name}")
        return self.sha[key]


def _resume_point(card: Card, building: list[tuple[str, int]], targets: tuple[Target, ...]) -> int:
    """How many leading entries of ``DANGKE_NEW/`` are already right (name, size, sha256)."""
    k = 0
    for (name, size), t in zip(building, targets):
        if name.casefold() != t.name.casefold() or size != t.bytes or card.sha256(f"{BUILDING}/{name}") != t.sha256:
            break
        k += 1
    return k


def _round(n: int, cluster: int) -> int:
    return -(-n // cluster) * cluster


def load_card(pub: Published, source: Source, card: Card, cache: Path, *, reassign: bool = False,
              now: dt.datetime | None = None, progress: Callable[[str, str, int], None] | None = None) -> CardReport:
    """Load ``pub`` onto ``card`` (see the module's docstring for the steps).

    Args:
        pub: the device's published playlist (:func:`read_published`).
        source: where the audio is read.
        card: the card.
        cache: local audio cache folder.
        reassign: load a card that belongs to another device.
        now: the time written to deployment.json (default: now, local time zone).
        progress: called with ``(action, name, bytes)`` after each step
            (``remove``, ``keep``, ``copy``, ``done``).

    Raises:
        CardRefused: another device's card, or too small; nothing was changed.
        CardError: the card could not be read or written; run again to resume.
        StoreError: the store could not be read; nothing was changed.
    """
    tell = progress or (lambda *_: None)
    old = _deployment(card)
    if old is not None and old.get("device_id") not in (None, pub.device_id) and not reassign:
        raise CardRefused(f"this card belongs to {old.get('device_id')} ({old.get('quarter')}), not {pub.device_id}",
                          path=card.describe(), fix=f"use {old.get('device_id')}'s card, or --reassign to load it "
                                                    f"for {pub.device_id}")
    current = card.listdir(FOLDER) or []
    building = card.listdir(BUILDING)
    known = _Known(card, current, old)
    targets = pub.targets
    if building is None and [n.casefold() for n, _ in current] == [t.name.casefold() for t in targets] and all(
            s == t.bytes and known.of(FOLDER, n) == t.sha256 for (n, s), t in zip(current, targets)):
        _write_deployment(card, pub, old, now)
        tell("done", FOLDER, 0)
        before = (old or {}).get("quarter"), (old or {}).get("generation")
        relabelled = "" if before == (pub.quarter, pub.generation) else \
            f"{before[0] or 'no deployment.json'}" + (f" generation {before[1]}" if before[1] is not None else "")
        return CardReport(pub.device_id, pub.quarter, pub.generation, card.describe(), len(targets) - 1, 0, 0, 0,
                          up_to_date=True, relabelled_from=relabelled)
    done = _resume_point(card, building, targets) if building else 0
    todo = targets[done:]
    wanted = {t.sha256 for t in todo if t.name != PLAYLIST}
    sizes = {t.bytes for t in todo}
    reuse: dict[str, str] = {}
    for name, size in current:
        if size in sizes:
            sha = known.of(FOLDER, name)
            if sha in wanted and sha not in reuse:
                reuse[sha] = name
    steps, spare = [], dict(reuse)
    for t in todo:
        if t.name == PLAYLIST:
            steps.append(("write", t, ""))
        elif t.sha256 in spare:
            steps.append(("keep", t, spare.pop(t.sha256)))
        else:
            steps.append(("copy", t, ""))
    copying = [t for action, t, _ in steps if action == "copy"]
    removing = [(n, s) for n, s in current if n not in reuse.values()]
    dropping = (building or [])[done:]
    cluster = card.cluster_bytes()
    need = sum(_round(t.bytes, cluster) for t in copying) + _round(len(pub.playlist), cluster) + \
        SLACK_CLUSTERS * cluster
    free = card.free_bytes()
    freed = sum(_round(s, cluster) for _, s in removing + dropping)
    if need > free + freed:
        total = sum(_round(t.bytes, cluster) for t in targets) + SLACK_CLUSTERS * cluster
        raise CardRefused(f"the card is too small: {pub.device_id}'s {pub.quarter} playlist needs {need / 1e6:.1f} MB "
                          f"more, but the card has {free / 1e6:.1f} MB free and {freed / 1e6:.1f} MB of old files "
                          f"to remove; the whole playlist takes {total / 1e6:.1f} MB on this card", path=card.describe(),
                          fix="use a larger card (and correct capacity_mb in the fleet registry), or free space")
    local = {t.sha256: cached(source, t, cache) for t in copying}
    for name, _size in dropping:
        card.delete(f"{BUILDING}/{name}")
    for name, size in removing:
        card.delete(f"{FOLDER}/{name}")
        tell("remove", name, size)
    if building is None:
        card.mkdir(BUILDING)
    copied = kept = 0
    for action, t, old_name in steps:
        dest = f"{BUILDING}/{t.name}"
        if action == "write":
            card.write(dest, pub.playlist)
        elif action == "keep":
            card.move(f"{FOLDER}/{old_name}", dest)
            kept += 1
            tell("keep", t.name, t.bytes)
        else:
            card.copy_in(local[t.sha256], dest)
            copied += t.bytes
            tell("copy", t.name, t.bytes)
    for name, _size in card.listdir(FOLDER) or []:
        card.delete(f"{FOLDER}/{name}")
    if card.listdir(FOLDER) is not None:
        card.rmdir(FOLDER)
    card.move(BUILDING, FOLDER)
    _write_deployment(card, pub, old, now)
    tell("done", FOLDER, copied)
    return CardReport(pub.device_id, pub.quarter, pub.generation, card.describe(), kept=kept, copied=len(copying),
                      removed=len(removing), bytes_copied=copied, resumed=done)


def _write_deployment(card: Card, pub: Published, old: dict | None, now: dt.datetime | None) -> None:
    when = (now or dt.datetime.now().astimezone()).replace(microsecond=0)
    doc = {"device_id": pub.device_id, "quarter": pub.quarter, "generation": pub.generation,
           "written_at": when.isoformat(), "folder": FOLDER, "manifest_sha256": pub.manifest_sha256,
           "files": [{"card_path": t.name, "sha256": t.sha256, "bytes": t.bytes,
                      **({"lesson_id": t.lesson_id, "title": t.title} if t.lesson_id else {})} for t in pub.targets],
           "tool": f"dangke {__version__}"}
    if old and all(old.get(k) == doc[k] for k in ("device_id", "quarter", "generation", "manifest_sha256", "files")):
        return
    card.delete(DEPLOYMENT)
    card.write(DEPLOYMENT, (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8"))


def quarter_text(text: str) -> str:
    """``YYYYQn`` from the command line.

    Raises:
        ValueError: not a quarter.
    """
    return str(Quarter.parse(text))


__all__ = ["CardRefused", "CardReport", "Published", "Target", "read_published", "load_card", "cached",
           "cache_dir", "quarter_text", "Source", "StoreSource", "HttpSource", "open_source"]
