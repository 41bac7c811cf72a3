"""Downloads counted by the IAB Podcast Measurement Technical Guidelines v2.1 (pure: logged
requests and the catalog's renditions in, counts out; the caller keeps the state).

A request counts towards a download of an episode (a lesson's rendition) when it is a
``GET`` answered 200 or 206, from a user agent that is not a known bot
(:mod:`.bots`) nor one of ours (``dangke-card`` loading cards), for
``audio/<profile>/<sha256>.<ext>`` of a rendition we published, and
delivered more than 2 bytes (the ``bytes=0-1`` probes players send first do not count).
The requests of one client (IP address + user agent) for one episode in one day are
assembled: byte ranges are united when the log carries the Range header, a whole answer
is bytes 0..n, and a 206 whose offset the log does not give (S3 server access logs)
adds its bytes. The client's download is counted once, when the bytes delivered reach
one minute of audio (the file's bytes x 60 / its duration; the whole file when it is
shorter). One download per client and episode per day.

The day is the station's calendar day of the request (the guidelines' 24-hour window,
taken as a fixed day): the client is known only as an HMAC-SHA256 of its IP address and
user agent under a random salt of that day, and the salt and the hashes are dropped
when the day is closed, so no personal data outlives the day.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Mapping

from .accesslog import Request
from .bots import is_bot

AUDIO = re.compile(r"(?:^|/)audio/([^/]+)/([0-9a-f]{64})\.[A-Za-z0-9]+$")
#: seconds of audio a download must deliver (IAB v2.1)
MIN_SECONDS = 60.0
#: requests delivering this many bytes or fewer are probes, not listening
PROBE_BYTES = 2
#: user agents of our own tools (the card loader fetching audio for a crew is not a listener)
OWN_AGENTS = ("dangke",)


@dataclass(frozen=True)
class Episode:
    """A published rendition: its sha256, lesson, the feed it is an enclosure of (""
    when none), size (bytes) and duration (seconds)."""

    sha256: str
    lesson_id: str
    feed: str
    bytes: int
    duration_s: float

    @property
    def needed(self) -> int:
        """Bytes that make a download: one minute of audio, or the whole file."""
        if self.duration_s <= MIN_SECONDS or self.bytes <= 0:
            return self.bytes
        return min(self.bytes, math.ceil(self.bytes * MIN_SECONDS / self.duration_s))


@dataclass(frozen=True)
class Visit:
    """What one client fetched of one episode in one day: byte ranges ``(start, end)``
    (end exclusive, united), bytes of ranges whose offset is unknown, and whether its
    download was counted."""

    ranges: tuple[tuple[int, int], ...] = ()
    loose: int = 0
    counted: bool = False

    def delivered(self, size: int) -> int:
        return min(size, sum(b - a for a, b in self.ranges) + self.loose)

    def add(self, start: int | None, sent: int) -> "Visit":
        if start is None:
            return Visit(self.ranges, self.loose + sent, self.counted)
        merged: list[tuple[int, int]] = []
        for a, b in sorted(self.ranges + ((start, start + sent),)):
            if merged and a <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], b))
            else:
                merged.append((a, b))
        return Visit(tuple(merged), self.loose, self.counted)


def visitor(salt: bytes, ip: str, user_agent: str) -> str:
    """The day's pseudonym of a client: HMAC-SHA256(salt, IP + user agent), hex."""
    return hmac.new(salt, f"{ip}\x1f{user_agent}".encode(), hashlib.sha256).hexdigest()


class DownloadCounter:
    """Counts downloads from requests (see the module docstring).

    Args:
        episodes: ``{sha256: Episode}`` of the published renditions.
        tz: the station's time zone (its calendar days).
        salt: the salt of a day (the caller makes and keeps one per open day).
        is_open: whether a day may still be counted (closed days are skipped).
        visits: the open days' visits so far, ``{(day, visitor, sha256): Visit}``
            (updated in place).
    """

    def __init__(self, episodes: Mapping[str, Episode], tz: dt.tzinfo, salt: Callable[[dt.date], bytes],
                 is_open: Callable[[dt.date], bool], visits: dict | None = None) -> None:
        self.episodes = episodes
        self.tz = tz
        self.salt = salt
        self.is_open = is_open
        self.visits: dict[tuple[dt.date, str, str], Visit] = visits if visits is not None else {}
        #: new downloads by (day, sha256)
        self.downloads: Counter = Counter()
        #: what became of each request: counted, partial, repeat, bot, own, method, status, other, probe, closed
        self.outcomes: Counter = Counter()
        #: the (day, visitor, sha256) keys changed since the caller last saved
        self.changed: set[tuple[dt.date, str, str]] = set()

    def add(self, r: Request) -> str:
        """Take one request into account; returns its outcome (also tallied)."""
        outcome = self._add(r)
        self.outcomes[outcome] += 1
        return outcome

    def _add(self, r: Request) -> str:
        if r.method != "GET":
            return "method"
        if r.status not in (200, 206):
            return "status"
        m = AUDIO.search(r.path)
        episode = self.episodes.get(m.group(2)) if m else None
        if episode is None:
            return "other"
        if r.user_agent.lower().startswith(OWN_AGENTS):
            return "own"
        if is_bot(r.user_agent):
            return "bot"
        if r.bytes_sent <= PROBE_BYTES:
            return "probe"
        day = r.time.astimezone(self.tz).date()
        if not self.is_open(day):
            return "closed"
        key = (day, visitor(self.salt(day), r.ip, r.user_agent), episode.sha256)
        before = self.visits.get(key, Visit())
        start = 0 if r.status == 200 else r.range_start
        after = before.add(start, r.bytes_sent)
        if before.counted:
            self.visits[key] = after
            self.changed.add(key)
            return "repeat"
        if after.delivered(episode.bytes) >= episode.needed:
            after = Visit(after.ranges, after.loose, True)
            self.downloads[(day, episode.sha256)] += 1
            outcome = "counted"
        else:
            outcome = "partial"
        self.visits[key] = after
        self.changed.add(key)
        return outcome
