"""The published layout's files, serialised (pure: values in, bytes out).

Device ``manifest.json`` and ``playlist.m3u``; broadcast ``<date>.json`` and ``.m3u8``;
the formats are the contract of design.md. JSON is UTF-8 (not ASCII-escaped), two-space
indented, with a final newline; playlists are UTF-8 without a byte-order mark.
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote

from .models import BroadcastDay, DevicePlaylist
from .vocab import CATEGORIES

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff\ud800-\udfff]")


def clean_text(text: str) -> str:
    """Text without control characters (BR-23) or anything else XML 1.0 cannot carry
    (lone surrogates, U+FFFE, U+FFFF), single-line, trimmed."""
    return _CONTROL.sub("", text).replace("\r", " ").replace("\n", " ").strip()


def _json(obj: object) -> bytes:
    return (json.dumps(obj, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def manifest(playlist: DevicePlaylist) -> bytes:
    """``devices/<quarter>/<device_id>/manifest.json``."""
    seconds = {c: 0.0 for c in CATEGORIES}
    for i in playlist.items:
        seconds[i.category] = round(seconds.get(i.category, 0.0) + i.duration_s, 3)
    return _json({
        "device_id": playlist.device_id, "quarter": playlist.quarter, "profile": playlist.profile,
        "items": [{"position": i.position, "lesson_id": i.lesson_id, "title": clean_text(i.title),
                   "category": i.category, "dialect": i.dialect, "duration_s": i.duration_s,
                   "bytes": i.bytes, "sha256": i.sha256, "key": i.key, "card_path": i.card_path}
                  for i in playlist.items],
        "totals": {"duration_s": round(playlist.duration_s, 3), "bytes": playlist.bytes},
        "category_seconds": seconds,
    })


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
