"""What an ingest pass did, file by file: the values `dangke ingest`, `dangke watch` and
`dangke status` report to editors."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Accepted:
    """A file that became lesson ``lesson_id`` version ``version``. ``supersedes`` is the
    version it replaces in future plans (None for a new lesson); ``resumed`` is True when
    the lesson was recorded by an earlier, interrupted run and this pass only finished
    clearing the inbox."""

    name: str
    lesson_id: str
    version: int
    title: str
    category: str
    dialect: str
    duration_s: float
    warnings: tuple[str, ...] = ()
    supersedes: int | None = None
    resumed: bool = False


@dataclass(frozen=True)
class Rejected:
    """A file moved to ``rejected/<note_name>`` with ``<note_name>.reason.txt`` beside it."""

    name: str
    reason: str
    reason_zh: str
    fix: str = ""
    fix_zh: str = ""
    note_name: str = ""


@dataclass(frozen=True)
class Duplicate:
    """A file whose bytes are already in the library: removed from the inbox."""

    name: str
    lesson_id: str
    note: str


@dataclass(frozen=True)
class Waiting:
    """A file left in the inbox for now, and why (English, Chinese)."""

    name: str
    why: str
    why_zh: str = ""
    #: when set, the file need not be looked at again for this long unless it changes
    retry_after_s: float | None = None
    #: an ordinary wait (a copy or download in progress) that needs nobody's attention
    routine: bool = False

    def __str__(self) -> str:
        return f"{self.name} ({self.why})"


@dataclass(frozen=True)
class Retry:
    """A file that could not be judged this time for a reason that is not its fault
    (the decoder was killed, a disk error): left in the inbox, tried again next pass."""

    name: str
    problem: str


@dataclass(frozen=True)
class IngestReport:
    """What one pass did."""

    accepted: tuple[Accepted, ...] = ()
    rejected: tuple[Rejected, ...] = ()
    duplicates: tuple[Duplicate, ...] = ()
    waiting: tuple[Waiting, ...] = field(default=())
    retry: tuple[Retry, ...] = ()
    stopped: bool = False

    @property
    def failed(self) -> bool:
        """True when something was rejected or could not be done (exit status 1)."""
        return bool(self.rejected or self.retry)

    @property
    def changed(self) -> bool:
        """True when the pass took or moved any file."""
        return bool(self.accepted or self.rejected or self.duplicates)
