"""The published layout's files, serialised and read back (pure: values in, bytes out,
and bytes in, values out).

Device ``manifest.json``, ``playlist.m3u`` and ``diff.json``; broadcast ``<date>.json``
and ``.m3u8``; the generation's ``index.json``. The formats are the contract of
design.md and docs/contract-extensions.md. JSON is UTF-8 (not ASCII-escaped), two-space
indented, with a final newline; playlists are UTF-8 without a byte-order mark.

Every JSON document has its writer and its reader side by side (``manifest`` and
``read_manifest``, ``schedule`` and ``read_schedule``, ``diff`` and ``read_diff``,
``index`` and ``read_index``): a stage that needs a published document reads it with
the reader, never as a dict, and writing what a reader returns gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
from dataclasses import dataclass
from typing import Callable, Mapping, TypeVar
from urllib.parse import quote

from playlists.report import CardFile, DeviceDiff

from .models import Airing, BroadcastDay, DevicePlaylist, PlaylistItem, SlotPlan
from .vocab import CATEGORIES

T = TypeVar("T")

#: ``devices/<quarter>/<device_id>/manifest.json``
MANIFEST_KEY = re.compile(r"^devices/[^/]+/[^/]+/manifest\.json$")
#: ``broadcast/<channel>/<YYYY-MM-DD>.json``
SCHEDULE_KEY = re.compile(r"^broadcast/[^/]+/\d{4}-\d{2}-\d{2}\.json$")

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff\ud800-\udfff]")


def clean_text(text: str) -> str:
    """Text without control characters (BR-23) or anything else XML 1.0 cannot carry
    (lone surrogates, U+FFFE, U+FFFF), single-line, trimmed."""
    return _CONTROL.sub("", text).replace("\r", " ").replace("\n", " ").strip()


def _json(obj: object) -> bytes:
    return (json.dumps(obj, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _reader(kind: str) -> Callable[[Callable[[dict], T]], Callable[[bytes], T]]:
    """Wrap a reader of a decoded document: bytes in, and every way the bytes can fail
    to be that document (not JSON, not an object, a field missing or of the wrong
    type) raised as ValueError naming ``kind``."""
    def wrap(read: Callable[[dict], T]) -> Callable[[bytes], T]:
        @functools.wraps(read)
        def reader(data: bytes) -> T:
            try:
                doc = json.loads(data)
                if not isinstance(doc, dict):
                    raise TypeError("not a JSON object")
                return read(doc)
            except (KeyError, TypeError, AttributeError, ValueError) as exc:
                raise ValueError(f"not a dangke {kind}: {exc!r}") from exc
        reader.document = kind  # type: ignore[attr-defined]
        return reader
    return wrap


def category_seconds(playlist: DevicePlaylist) -> dict[str, float]:
    """Seconds of the playlist per category (every category of the vocabulary, then any
    other), as the manifest's ``category_seconds`` carries them."""
    seconds = {c: 0.0 for c in CATEGORIES}
    for i in playlist.items:
        seconds[i.category] = round(seconds.get(i.category, 0.0) + i.duration_s, 3)
    return seconds


def manifest(playlist: DevicePlaylist) -> bytes:
    """``devices/<quarter>/<device_id>/manifest.json``."""
    seconds = category_seconds(playlist)
    return _json({
        "device_id": playlist.device_id, "quarter": playlist.quarter, "profile": playlist.profile,
        "items": [{"position": i.position, "lesson_id": i.lesson_id, "title": clean_text(i.title),
                   "category": i.category, "dialect": i.dialect, "duration_s": i.duration_s,
                   "bytes": i.bytes, "sha256": i.sha256, "key": i.key, "card_path": i.card_path}
                  for i in playlist.items],
        "totals": {"duration_s": round(playlist.duration_s, 3), "bytes": playlist.bytes},
        "category_seconds": seconds,
    })


@_reader("manifest")
def read_manifest(doc: dict) -> DevicePlaylist:
    """A :class:`DevicePlaylist` from the bytes of a ``manifest.json`` (its totals and
    category seconds follow from the items).

    Raises:
        ValueError: the bytes are not a manifest.
    """
    items = tuple(PlaylistItem(position=i["position"], lesson_id=i["lesson_id"], title=i["title"],
                               category=i["category"], dialect=i["dialect"], duration_s=i["duration_s"],
                               bytes=i["bytes"], sha256=i["sha256"], key=i["key"], card_path=i["card_path"])
                  for i in doc["items"])
    return DevicePlaylist(device_id=doc["device_id"], quarter=doc["quarter"], profile=doc["profile"], items=items)


def _diff_item(i: PlaylistItem) -> dict:
    return {"position": i.position, "lesson_id": i.lesson_id, "sha256": i.sha256, "bytes": i.bytes,
            "card_path": i.card_path}


def diff(d: DeviceDiff) -> bytes:
    """``devices/<quarter>/<device_id>/diff.json`` (contract-extensions.md): keep, add,
    remove against the previous quarter, bytes to write and to free."""
    return _json({
        "device_id": d.device_id, "quarter": d.quarter, "previous_quarter": d.previous_quarter,
        "keep": [_diff_item(i) for i in d.keep], "add": [_diff_item(i) for i in d.add],
        "remove": [{"lesson_id": f.lesson_id, "sha256": f.sha256, "bytes": f.bytes, "card_path": f.card_path}
                   for f in d.remove],
        "bytes_to_write": d.bytes_to_write, "bytes_to_free": d.bytes_to_free,
    })


@_reader("diff")
def read_diff(doc: dict) -> DeviceDiff:
    """A :class:`DeviceDiff` from the bytes of a ``diff.json``. Its keep and add items
    carry what the document holds (position, lesson id, sha256, bytes, card path); title,
    category, dialect and key are empty and the duration 0 (the manifest has them).

    Raises:
        ValueError: the bytes are not a diff.
    """
    def item(i: dict) -> PlaylistItem:
        return PlaylistItem(position=i["position"], lesson_id=i["lesson_id"], title="", category="", dialect="",
                            duration_s=0.0, bytes=i["bytes"], sha256=i["sha256"], key="", card_path=i["card_path"])
    return DeviceDiff(device_id=doc["device_id"], quarter=doc["quarter"], previous_quarter=doc["previous_quarter"],
                      keep=tuple(item(i) for i in doc["keep"]), add=tuple(item(i) for i in doc["add"]),
                      remove=tuple(CardFile(f["lesson_id"], f["sha256"], f["bytes"], f["card_path"])
                                   for f in doc["remove"]))


def device_m3u(playlist: DevicePlaylist) -> bytes:
    """``playlist.m3u``: #EXTM3U, #EXTINF with whole seconds and title, relative card paths."""
    lines = ["#EXTM3U"]
    for i in playlist.items:
        lines += [f"#EXTINF:{int(round(i.duration_s))},{clean_text(i.title)}", i.card_path]
    return ("\n".join(lines) + "\n").encode("utf-8")


def schedule(day: BroadcastDay) -> bytes:
    """``broadcast/<channel>/<date>.json``. Only lessons carry lesson_id and category."""
    def item(a) -> dict:
        out = {"start": a.start.isoformat(), "duration_s": a.duration_s, "kind": a.kind}
        if a.kind == "lesson":
            out.update(lesson_id=a.lesson_id, category=a.category)
        out.update(title=clean_text(a.title), key=a.key, sha256=a.sha256)
        return out
    def slot(s) -> dict:
        out = {"start": s.start.isoformat(), "end": s.end.isoformat(), "items": [item(a) for a in s.items]}
        if s.title:
            out["title"] = clean_text(s.title)
        if s.series:
            out["series"] = clean_text(s.series)
        if s.key:
            out.update(key=s.key, sha256=s.sha256, bytes=s.bytes)
        return out
    body = {"channel": day.channel, "date": day.date.isoformat(), "timezone": day.timezone,
            "clock": day.clock, "slots": [slot(s) for s in day.slots]}
    if day.clock_title:
        body["clock_title"] = clean_text(day.clock_title)
    if day.notes:
        body["notes"] = list(day.notes)
    return _json(body)


@_reader("schedule")
def read_schedule(doc: dict) -> BroadcastDay:
    """A :class:`BroadcastDay` from the bytes of a ``broadcast/<channel>/<date>.json``
    (design.md "Daily schedule" plus the extensions of contract-extensions.md). Numbers
    are kept as written (a duration written ``30`` reads back as ``30``).

    Raises:
        ValueError: the bytes are not a schedule.
    """
    def airing(i: dict) -> Airing:
        return Airing(start=dt.datetime.fromisoformat(i["start"]), duration_s=i["duration_s"], kind=i["kind"],
                      title=i.get("title", ""), lesson_id=i.get("lesson_id"), category=i.get("category"),
                      key=i.get("key"), sha256=i.get("sha256"))

    slots = tuple(SlotPlan(start=dt.datetime.fromisoformat(s["start"]), end=dt.datetime.fromisoformat(s["end"]),
                           items=tuple(airing(i) for i in s.get("items", [])), title=s.get("title", ""),
                           series=s.get("series", ""), key=s.get("key"), sha256=s.get("sha256"),
                           bytes=s.get("bytes"))
                  for s in doc.get("slots", []))
    return BroadcastDay(channel=doc["channel"], date=dt.date.fromisoformat(doc["date"]), timezone=doc["timezone"],
                        slots=slots, notes=tuple(doc.get("notes", ())), clock=doc.get("clock", "daily"),
                        clock_title=doc.get("clock_title", ""))


@dataclass(frozen=True)
class IndexEntry:
    """One object of a generation as ``index.json`` lists it: sha256 (hex) and size (bytes)."""

    sha256: str
    bytes: int


@dataclass(frozen=True)
class Index:
    """A generation's ``index.json``: its number, when it was published (ISO 8601 with
    offset, as written: readers of a store never depend on it) and ``{key: IndexEntry}``
    of every object but the index itself."""

    generation: int
    published_at: str
    files: Mapping[str, IndexEntry]


def index(generation: int, published_at: str, files: Mapping[str, IndexEntry]) -> bytes:
    """``index.json``: ``{"generation", "published_at", "files": {key: {"sha256", "bytes"}}}``,
    keys sorted; ``published_at`` ISO 8601 with offset."""
    return _json({"generation": generation, "published_at": published_at,
                  "files": {k: {"sha256": files[k].sha256, "bytes": files[k].bytes} for k in sorted(files)}})


@_reader("index")
def read_index(doc: dict) -> Index:
    """An :class:`Index` from the bytes of an ``index.json``.

    Raises:
        ValueError: the bytes are not a dangke index (the generation is not a whole
            number, an entry lacks its sha256 or size).
    """
    generation = doc["generation"]
    if not isinstance(generation, int) or isinstance(generation, bool):
        raise TypeError(f"generation {generation!r}")
    files = {str(k): IndexEntry(str(v["sha256"]), int(v["bytes"])) for k, v in doc["files"].items()}
    return Index(generation, str(doc["published_at"]), files)


def url(base_url: str, key: str) -> str:
    """The public URL of a store key: ``base_url`` + the key, percent-encoded (RFC 3986
    §2.1; BR-27: spaces and CJK in a base URL or a key never reach a feed raw). Escapes
    already in ``base_url`` are kept."""
    return quote(base_url, safe=":/?#[]@!$&'()*+,;=%~") + quote(key, safe="/")


def airing_guid(channel: str, start_iso: str, sha256: str | None) -> str:
    """The stable id of one airing: channel, air start and the audio's sha256 (so a
    re-planned airing with other audio is a new item). Used by feeds and calendars."""
    return f"dangke-airing:{channel}:{start_iso}:{(sha256 or '-')[:16]}"


def schedule_m3u8(day: BroadcastDay, base_url: str) -> bytes:
    """``broadcast/<channel>/<date>.m3u8``: every item in air order, absolute URLs."""
    lines = ["#EXTM3U"]
    for s in day.slots:
        for a in s.items:
            lines += [f"#EXTINF:{a.duration_s:.3f},{clean_text(a.title)}", url(base_url, a.key or "")]
    return ("\n".join(lines) + "\n").encode("utf-8")
