"""Documents derived from the stored schedules, rendered again at every publish.

A broadcast day's ``<date>.json`` is the stored schedule; everything else about the day
(the ``.m3u8``, its plain-M3U twin ``<date>.m3u``, the per-slot playlists
``<date>/<HHMMSS>.m3u``, the ``.ics`` and the channel's ``calendar.ics``) is derived from
it with the *current* ``[station] base_url`` and channel titles, so a changed base URL
reaches every published day at the next publish without planning anything again
(issue 13). Rendering is pure (bytes in, bytes out) apart from reading the staged JSON
(:func:`pipeline.layout.read_schedule`).
"""

from __future__ import annotations

from pathlib import Path

from .. import ical, layout
from ..config import Config
from ..models import BroadcastDay, SlotPlan
from ..staged import read_staged


def slot_name(slot: SlotPlan) -> str:
    """The per-slot playlist's file name: the slot's local start ``HHMMSS.m3u``."""
    return f"{slot.start:%H%M%S}.m3u"


def slot_m3u(day: BroadcastDay, slot: SlotPlan, base_url: str) -> bytes:
    """``broadcast/<channel>/<date>/<HHMMSS>.m3u``: what one slot airs, for a controller
    that can only "play this list at this time". Extended M3U, UTF-8 without BOM:
    ``#EXTM3U``, ``#PLAYLIST`` (channel, start, title), a ``#DANGKE-SLOT`` comment with
    the slot's start and end (ISO 8601 with offset; players skip unknown comments), then
    the whole-slot file (exactly the slot's length) when there is one, else the items in
    air order, each with ``#EXTINF`` (seconds) and its absolute URL."""
    label = " ".join(x for x in (day.channel, f"{slot.start:%Y-%m-%d %H:%M:%S}", layout.clean_text(slot.title)) if x)
    lines = ["#EXTM3U", f"#PLAYLIST:{label}",
             f"#DANGKE-SLOT:start={slot.start.isoformat()},end={slot.end.isoformat()}"]
    if slot.key:
        length = (slot.end - slot.start).total_seconds()
        lines += [f"#EXTINF:{length:.3f},{label}", layout.url(base_url, slot.key)]
    else:
        for a in slot.items:
            if a.key:
                lines += [f"#EXTINF:{a.duration_s:.3f},{layout.clean_text(a.title)}", layout.url(base_url, a.key)]
    return ("\n".join(lines) + "\n").encode("utf-8")


def day_documents(day: BroadcastDay, channel_title: str, base_url: str) -> dict[str, bytes]:
    """The derived files of one day, by name relative to ``broadcast/<channel>/``:
    ``<date>.m3u8``, ``<date>.m3u`` (the same bytes: a ``.m3u`` name is served as a
    plain playlist by web servers' default type maps), ``<date>.ics`` and one
    ``<date>/<HHMMSS>.m3u`` per slot."""
    stem = day.date.isoformat()
    m3u8 = layout.schedule_m3u8(day, base_url)
    out = {f"{stem}.m3u8": m3u8, f"{stem}.m3u": m3u8,
           f"{stem}.ics": ical.day_calendar(day, channel_title, base_url)}
    for slot in day.slots:
        out[f"{stem}/{slot_name(slot)}"] = slot_m3u(day, slot, base_url)
    return out


def staged_days(cfg: Config) -> list[tuple[str, Path]]:
    """``(channel, path)`` of every staged ``build/broadcast/<channel>/<date>.json`` of a
    configured channel, sorted."""
    root = cfg.build / "broadcast"
    if not root.is_dir():
        return []
    return [(p.parent.name, p) for p in sorted(root.glob("*/????-??-??.json")) if p.parent.name in cfg.channels]


def derived_documents(cfg: Config) -> dict[str, bytes]:
    """``{key: bytes}`` of every derived broadcast document of every staged day, and each
    channel's ``calendar.ics``, rendered now from the staged schedules.

    Raises:
        DangkeError: a staged schedule cannot be read (it names the file).
    """
    out: dict[str, bytes] = {}
    calendars: dict[str, list[bytes]] = {}
    for name, path in staged_days(cfg):
        channel = cfg.channels[name]
        day = read_staged(layout.read_schedule, path)
        docs = day_documents(day, channel.title or name, cfg.station.base_url)
        out.update({f"broadcast/{name}/{k}": v for k, v in docs.items()})
        calendars.setdefault(name, []).append(docs[f"{day.date.isoformat()}.ics"])
    for name, days in calendars.items():
        channel = cfg.channels[name]
        out[f"broadcast/{name}/calendar.ics"] = ical.merge_calendars(days, channel.title or name,
                                                                     cfg.station.timezone)
    return out
