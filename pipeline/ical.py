"""iCalendar (RFC 5545) files of broadcast days: the one module that imports icalendar.

``broadcast/<channel>/<date>.ics`` has one ``VEVENT`` per airing of the day (every item
of every slot: jingles, lessons, fillers), with the station's ``VTIMEZONE``;
``broadcast/<channel>/calendar.ics`` joins every scheduled day of the channel, the
address station staff subscribe to. An event's ``UID`` is the airing's guid (the same
as in the broadcast feed); ``DTSTAMP`` is pinned to the start of the scheduled day so
that identical schedules give identical bytes. Times carry the station's time zone
(``TZID``), to the second (iCalendar's resolution).
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Iterable

import icalendar

from .layout import airing_guid, clean_text, url
from .models import BroadcastDay
from .vocab import CATEGORY_NAMES_ZH

PRODID = "-//dangke//broadcast schedule//ZH"
KIND_NAMES = {"lesson": "黨課", "jingle": "片頭片尾", "filler": "間奏"}


def _calendar(name: str, timezone: str) -> icalendar.Calendar:
    cal = icalendar.Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", clean_text(name))
    cal.add("x-wr-timezone", timezone)
    return cal


def _finish(cal: icalendar.Calendar) -> bytes:
    cal.add_missing_timezones()
    return cal.to_ical()


def day_calendar(day: BroadcastDay, channel_title: str, base_url: str) -> bytes:
    """The iCalendar file of one channel's day: one event per airing, in air order."""
    cal = _calendar(f"{channel_title} {day.date.isoformat()}", day.timezone)
    tz = zoneinfo.ZoneInfo(day.timezone)
    stamp = dt.datetime.combine(day.date, dt.time(0), tzinfo=tz).astimezone(dt.timezone.utc)
    for slot in day.slots:
        for a in slot.items:
            ev = icalendar.Event()
            ev.add("uid", airing_guid(day.channel, a.start.isoformat(), a.sha256))
            ev.add("dtstamp", stamp)
            ev.add("dtstart", a.start.astimezone(tz))
            ev.add("dtend", (a.start + dt.timedelta(seconds=a.duration_s)).astimezone(tz))
            ev.add("summary", clean_text(a.title) or KIND_NAMES.get(a.kind, a.kind))
            lines = [f"{KIND_NAMES.get(a.kind, a.kind)} ({a.kind})", f"{a.duration_s:.3f} s"]
            if a.kind == "lesson":
                lines.insert(1, f"{CATEGORY_NAMES_ZH.get(a.category or '', a.category)} · {a.lesson_id}")
            if slot.title:
                lines.insert(0, clean_text(slot.title))
            ev.add("description", "\n".join(lines))
            ev.add("categories", [a.kind] + ([a.category] if a.category else []))
            ev.add("location", clean_text(channel_title))
            if a.key:
                ev.add("url", url(base_url, a.key))
            ev.add("transp", "TRANSPARENT")
            ev.add("status", "CONFIRMED")
            ev.add("sequence", 0)
            cal.add_component(ev)
    return _finish(cal)


def merge_calendars(calendars: Iterable[bytes], name: str, timezone: str) -> bytes:
    """One calendar with the events of ``calendars`` (day files), in start order; an
    event found twice (same ``UID``) is kept once.

    Raises:
        ValueError: a file is not iCalendar.
    """
    events = {}
    for data in calendars:
        for ev in icalendar.Calendar.from_ical(data).walk("VEVENT"):
            events[str(ev["UID"])] = ev
    cal = _calendar(name, timezone)
    for ev in sorted(events.values(), key=lambda e: (e.decoded("DTSTART"), str(e["UID"]))):
        cal.add_component(ev)
    return _finish(cal)
