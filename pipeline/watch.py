"""``dangke watch``: ingest as files arrive.

watchdog delivers file events (created, modified, moved-to, closed); each event wakes
an ingest pass, which takes only files whose size and mtime stayed stable for
``[ingest] settle_s`` and which are not temporary names. A periodic scan (``poll_s``)
covers network shares where events never arrive.
"""

from __future__ import annotations

import threading
from typing import Callable

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from .catalog import Catalog
from .config import Config
from .ingest import IngestReport, ingest_pass


class _Wake(FileSystemEventHandler):
    def __init__(self, event: threading.Event) -> None:
        self.event = event

    def on_any_event(self, event: FileSystemEvent) -> None:
        if not event.is_directory:
            self.event.set()


def watch_inbox(cfg: Config, catalog: Catalog, poll_s: float = 5.0,
                on_report: Callable[[IngestReport], None] | None = None,
                stop: threading.Event | None = None) -> None:
    """Run ingest passes until ``stop`` is set (or KeyboardInterrupt). A pass runs at
    start, after file events, and at least every ``poll_s`` seconds; a pass that left
    files waiting is retried after ``settle_s``."""
    cfg.inbox.mkdir(parents=True, exist_ok=True)
    stop = stop or threading.Event()
    wake = threading.Event()
    observer = Observer()
    observer.schedule(_Wake(wake), str(cfg.inbox), recursive=False)
    observer.start()
    try:
        wake.set()
        while not stop.is_set():
            wake.wait(timeout=poll_s)
            if stop.is_set():
                break
            wake.clear()
            report = ingest_pass(cfg, catalog)
            if on_report is not None and (report.accepted or report.rejected or report.duplicates):
                on_report(report)
            if report.waiting:
                stop.wait(min(poll_s, max(0.2, cfg.ingest.settle_s)))
                wake.set()
    finally:
        observer.stop()
        observer.join(timeout=10)
