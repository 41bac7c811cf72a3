"""Small frozen dataclasses shared by the stages.

Units: durations in seconds (float), sizes in bytes (int), loudness in LUFS, peaks in dBTP,
gains in dB. Dates are :class:`datetime.date`; datetimes are always timezone-aware.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from . import formats


@dataclass(frozen=True)
class Quarter:
    """A calendar quarter such as ``2027Q1``."""

    year: int
    number: int

    @classmethod
    def parse(cls, text: str) -> "Quarter":
        """Parse ``YYYYQn`` (n in 1..4).

        Raises:
            ValueError: when the text is not of that form.
        """
        m = re.fullmatch(r"\s*(\d{4})\s*-?\s*[Qq]([1-4])\s*", text or "")
        if not m:
            raise ValueError(f"not a quarter: {text!r}")
        return cls(int(m.group(1)), int(m.group(2)))

    @classmethod
    def containing(cls, day: dt.date) -> "Quarter":
        """The quarter that contains ``day``."""
        return cls(day.year, (day.month - 1) // 3 + 1)

    def next(self) -> "Quarter":
        """The quarter after this one."""
        return Quarter(self.year + (self.number == 4), self.number % 4 + 1)

    def previous(self) -> "Quarter":
        """The quarter before this one."""
        return Quarter(self.year - (self.number == 1), (self.number - 2) % 4 + 1)

    @property
    def first_day(self) -> dt.date:
        return dt.date(self.year, 3 * self.number - 2, 1)

    @property
    def last_day(self) -> dt.date:
        return self.next().first_day - dt.timedelta(days=1)

    def __str__(self) -> str:
        return f"{self.year}Q{self.number}"


@dataclass(frozen=True)
class LessonMeta:
    """Editorial metadata gathered at ingest (sidecar, then file name, then tags).

    Every field may be missing (None / empty) until the sources are merged.
    """

    lesson_id: str | None = None
    title: str | None = None
    speaker: str | None = None
    category: str | None = None
    dialect: str | None = None
    series: str | None = None
    episode: int | None = None
    recorded_on: dt.date | None = None
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    audiences: tuple[str, ...] = ()
    description: str | None = None
    evergreen: bool | None = None


@dataclass(frozen=True)
class Lesson:
    """A lesson in the catalog: one version of one recording with complete metadata."""

    lesson_id: str
    version: int
    source_sha256: str
    title: str
    category: str
    dialect: str
    duration_s: float
    speaker: str = ""
    series: str = ""
    episode: int | None = None
    recorded_on: dt.date | None = None
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    audiences: tuple[str, ...] = ()
    description: str = ""
    evergreen: bool = False
    original_name: str = ""
    ingested_at: str = ""

    def valid_between(self, first: dt.date, last: dt.date) -> bool:
        """True when the lesson may be used at some time in ``[first, last]``."""
        return (self.valid_from is None or self.valid_from <= last) and (
            self.valid_until is None or self.valid_until >= first)


@dataclass(frozen=True)
class DeviceProfile:
    """How renditions for one kind of device are made.

    ``format`` is a name of :data:`pipeline.formats.FORMATS`: ``mp3``, ``wav`` (Broadcast
    WAVE), ``m4a`` or ``opus`` (Ogg).
    ``loudness_lufs`` is the integrated-loudness target (ITU-R BS.1770-4) and
    ``true_peak_dbtp`` the ceiling, both measured on the decoded file. ``levelling``
    rides the gain of loud and quiet passages toward the programme loudness (see
    :func:`pipeline.encode.chain.shape`); without it the lesson's loudness range is kept.
    """

    name: str
    format: str
    extension: str
    sample_rate: int
    channels: int
    loudness_lufs: float
    true_peak_dbtp: float
    bitrate_kbps: int | None = None
    bitrate_mode: str = "cbr"
    sample_format: str = "s16"
    tags: str = "none"
    id3v1: bool = False
    speech_compression: bool = False
    clarity: bool = False
    tempo: float = 1.0
    levelling: bool = False

    @property
    def mime_type(self) -> str:
        """The feed enclosure type of the format (:mod:`pipeline.formats`).

        Raises:
            DangkeError: the format is not in the table."""
        return formats.get(self.format).mime_type


@dataclass(frozen=True)
class Rendition:
    """One encoded file of one source for one profile, as cached in the library.

    ``lra_lu`` is the loudness range (EBU Tech 3342) of the decoded rendition and
    ``source_lra_lu`` that of the source as the chain received it (after the profile's
    treatment, trimmed), so a profile's effect on the dynamics is visible; ``renders``
    counts the ffmpeg renders it took (1, or 2 after a correction); ``levelling`` is
    the profile's setting it was made with."""

    source_sha256: str
    profile: str
    profile_hash: str
    path: str
    sha256: str
    bytes: int
    duration_s: float
    extension: str
    integrated_lufs: float
    true_peak_dbtp: float
    gain_db: float
    notes: tuple[str, ...] = ()
    lra_lu: float | None = None
    source_lra_lu: float | None = None
    renders: int = 1
    levelling: bool = False
    curve: object = field(default=None, compare=False, repr=False)
    """The loudness curve measured when it was verified (a ``pipeline.media.meter.Curve``),
    on the way to the catalog; None when read back from the catalog."""

    @property
    def key(self) -> str:
        """The object key in the published store: ``audio/<profile>/<sha256>.<ext>``."""
        return f"audio/{self.profile}/{self.sha256}.{self.extension}"


@dataclass(frozen=True)
class Device:
    """One row of the fleet registry (personal columns are never loaded)."""

    device_id: str
    township: str
    village: str
    group: str
    dialect: str
    profile: str
    capacity_mb: float

    @property
    def capacity_bytes(self) -> int:
        return int(self.capacity_mb * 1_000_000)


@dataclass(frozen=True)
class Track:
    """A lesson as rendered for one profile: what planning and scheduling need."""

    lesson_id: str
    title: str
    category: str
    dialect: str
    duration_s: float
    bytes: int
    sha256: str
    key: str
    series: str = ""
    episode: int | None = None
    valid_from: dt.date | None = None
    valid_until: dt.date | None = None
    audiences: tuple[str, ...] = ()
    evergreen: bool = False
    #: topics of ``[[plan.topics]]`` the lesson is about (matched at plan time)
    topics: tuple[str, ...] = ()


@dataclass(frozen=True)
class CategoryRule:
    """At least ``min_share`` of the seconds of lessons are in ``categories``."""

    categories: frozenset[str]
    min_share: float

    def describe(self) -> str:
        return f"{' + '.join(sorted(self.categories))} >= {self.min_share:.0%}"


@dataclass(frozen=True)
class PlaylistItem:
    """One entry of a device manifest (design.md, "Device manifest")."""

    position: int
    lesson_id: str
    title: str
    category: str
    dialect: str
    duration_s: float
    bytes: int
    sha256: str
    key: str
    card_path: str


@dataclass(frozen=True)
class DevicePlaylist:
    """A device's playlist for a quarter, in play order."""

    device_id: str
    quarter: str
    profile: str
    items: tuple[PlaylistItem, ...]

    @property
    def duration_s(self) -> float:
        return sum(i.duration_s for i in self.items)

    @property
    def bytes(self) -> int:
        return sum(i.bytes for i in self.items)


@dataclass(frozen=True)
class PlanProblem:
    """Why a device got no playlist, or which wish its playlist could not meet, in plain
    words. ``kind`` is ``not-planned`` (no playlist: a hard rule cannot be met) or the
    wish that fell short: ``must-carry``, ``group-topic``, ``own-dialect``,
    ``listening-time``, ``order``."""

    device_id: str
    message: str
    kind: str = "not-planned"


@dataclass(frozen=True)
class SlotSpec:
    """A fixed daily slot of a broadcast clock.

    ``start`` is local wall-clock time; ``length_s`` seconds; empty ``dialects`` or
    ``categories`` mean "any".
    """

    start: dt.time
    length_s: float
    dialects: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    #: shown in schedules and feeds, e.g. "晨間黨課"
    title: str = ""
    #: bound series: the newest valid episode airs first in this slot every day
    series: str = ""
    #: lesson ids that air first in this slot, in this order (special days)
    pinned: tuple[str, ...] = ()


@dataclass(frozen=True)
class ClockSpec:
    """A variant of a channel's daily clock, used on some weekdays or dates.

    ``weekdays`` are ISO numbers (1 = Monday ... 7 = Sunday); ``dates`` are ``MM-DD``
    (every year) or ``YYYY-MM-DD`` (one day). A date match wins over a weekday match,
    which wins over the channel's default slots.
    """

    name: str
    slots: tuple[SlotSpec, ...]
    title: str = ""
    weekdays: tuple[int, ...] = ()
    dates: tuple[str, ...] = ()


@dataclass(frozen=True)
class ChannelSpec:
    """A broadcast channel: which profile feeds it and its daily clock."""

    name: str
    profile: str
    slots: tuple[SlotSpec, ...]
    filler: str | None = None
    title: str = ""
    #: jingles (paths as in the config) played at the start and the end of every slot
    intro: str | None = None
    outro: str | None = None
    #: weekday and date variants of the daily clock
    clocks: tuple[ClockSpec, ...] = ()


@dataclass(frozen=True)
class Airing:
    """One item of a slot. Only lessons carry ``lesson_id`` and ``category``.

    ``key`` and ``sha256`` of a filler are known only once its audio is rendered.
    """

    start: dt.datetime
    duration_s: float
    kind: str
    title: str
    lesson_id: str | None = None
    category: str | None = None
    key: str | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class SlotPlan:
    """A slot of one day, with its items in air order."""

    start: dt.datetime
    end: dt.datetime
    items: tuple[Airing, ...]
    title: str = ""
    series: str = ""
    #: the assembled audio of the whole slot (exactly its length), once rendered
    key: str | None = None
    sha256: str | None = None
    bytes: int | None = None


@dataclass(frozen=True)
class BroadcastDay:
    """One channel's schedule for one local date."""

    channel: str
    date: dt.date
    timezone: str
    slots: tuple[SlotPlan, ...]
    notes: tuple[str, ...] = field(default=())
    #: the clock used (``daily`` or a variant's name) and its title
    clock: str = "daily"
    clock_title: str = ""


@dataclass(frozen=True)
class VillageOrder:
    """One row of the village orders (點單): a village asks for a lesson or a topic.

    ``target`` is a lesson id, a title, a series, a topic of ``[[plan.topics]]`` or a
    category; ``priority`` 1 is the most wanted, 9 the least. ``township`` is empty when
    the village name alone identifies it; ``quarter`` is empty when the order stands for
    every quarter. ``line`` is the CSV line, for messages.
    """

    village: str
    target: str
    priority: int
    township: str = ""
    quarter: str = ""
    line: int = 0
