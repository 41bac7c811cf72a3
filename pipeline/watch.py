"""``dangke watch``: ingest as files arrive.

watchdog delivers file events (created, modified, closed, and moved-to for files that
arrive by rename, BR-02); each event wakes an ingest pass. A pass takes only files that
are complete (see :mod:`pipeline.ingest.files`): the :class:`~pipeline.ingest.files.Settler`
kept across passes remembers since when each file has been unchanged, so a file is taken
``settle_s`` after its last change, and a burst of events costs a few cheap passes.
A scan every ``poll_s`` seconds covers network shares where events never arrive; when
the system refuses file events (no inotify, watch limit reached) the scan alone runs.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Callable

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from .catalog import Catalog
from .config import Config
from .ingest import IngestReport, ingest_pass
from .ingest.files import Settler

#: after an event, wait this long (seconds) for the burst that usually follows
COALESCE_S = 0.2


class _Wake(FileSystemEventHandler):
    """Sets ``event`` on any file event in the inbox, including a rename into it."""

    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def on_any_event(self, event: FileSystemEvent) -> None:
        if not event.is_directory:
            self.event.set()


def _start_observer(cfg: Config, wake: threading.Event) -> tuple[object | None, str | None]:
    """A running watchdog observer of the inbox, or None and why not."""
    observer = Observer()
    try:
        observer.schedule(_Wake(wake), str(cfg.inbox), recursive=True)
        observer.start()
    except OSError as exc:
        return None, f"file events are not available ({exc.strerror or exc}); scanning the inbox instead"
    return observer, None


def watch_inbox(cfg: Config, catalog: Catalog, poll_s: float | None = None,
                on_report: Callable[[IngestReport], None] | None = None,
                stop: threading.Event | None = None,
                on_note: Callable[[str], None] | None = None,
                use_events: bool = True) -> None:
    """Run ingest passes until ``stop`` is set (or KeyboardInterrupt is raised).

    A pass runs at start, soon after file events, when a waiting file may have settled,
    and at least every ``poll_s`` seconds (default ``[ingest] poll_s``). ``on_report``
    gets each pass's report when it took or rejected a file, or newly left one waiting
    for a reason worth telling (copies in progress are not reported);
    ``on_note`` gets remarks such as the fallback to scanning. Setting ``stop`` lets the
    file being ingested finish, then returns.

    Raises:
        DangkeError: the ingest lock could not be had (another ingest ran too long).
    """
    poll_s = cfg.ingest.poll_s if poll_s is None else poll_s
    cfg.inbox.mkdir(parents=True, exist_ok=True)
    stop = stop or threading.Event()
    wake = threading.Event()
    observer, why = _start_observer(cfg, wake) if use_events else (None, None)
    if why and on_note is not None:
        on_note(why)
    settler = Settler(cfg.ingest.settle_s)
    announced: set[str] = set()
    try:
        timeout = 0.0
        while not stop.is_set():
            if wake.wait(timeout=timeout):
                wake.clear()
                stop.wait(COALESCE_S)
            if stop.is_set():
                break
            report = ingest_pass(cfg, catalog, settler=settler, should_stop=stop.is_set)
            notable = [w for w in report.waiting if not w.routine]
            new_waiting = tuple(w for w in notable if w.name not in announced)
            announced = {w.name for w in notable}
            report = replace(report, waiting=new_waiting)
            if on_report is not None and (report.changed or report.retry or report.waiting):
                on_report(report)
            due = settler.next_due()
            timeout = poll_s if due is None else min(poll_s, due + 0.05)
    finally:
        if observer is not None:
            observer.stop()
            observer.join(timeout=10)
