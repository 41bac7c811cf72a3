"""Parallel uploads with progress events and a batched ledger.

Uploads run in a bounded thread pool (boto3 clients are thread-safe); results come back
to the calling thread, which alone touches the catalog. The first failure stops new
uploads, lets those in flight finish (and be remembered), then is raised.
"""

from __future__ import annotations

import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Callable, Iterable

from ..catalog import Catalog
from ..errors import StoreError
from .store import Put, Store


@dataclass(frozen=True)
class Progress:
    """One finished step of a publish, for a display.

    ``phase``: ``audio``, ``documents``, ``feeds``, ``index`` or ``delete``; ``done`` and
    ``total`` count objects of this publish, ``bytes_done`` and ``bytes_total`` their
    bytes; ``key`` is the object just finished.
    """

    phase: str
    done: int
    total: int
    bytes_done: int
    bytes_total: int
    key: str = ""


ProgressFn = Callable[[Progress], None]


class LedgerWriter:
    """Records uploads in the catalog in batches (one transaction per ``every`` objects
    or ``seconds``), so thousands of small uploads do not cost thousands of fsyncs. Use as
    a context manager: what is pending is written on exit, whatever happened."""

    def __init__(self, catalog: Catalog, store: str, generation: int, every: int = 200,
                 seconds: float = 1.0) -> None:
        self.catalog, self.store, self.generation = catalog, store, generation
        self.every, self.seconds = every, seconds
        self.pending: list[tuple[str, str, int, str]] = []
        self.last = time.monotonic()
        self.recorded = 0

    def add(self, obj: Put, etag: str) -> None:
        self.pending.append((obj.key, obj.sha256, obj.size, etag))
        if len(self.pending) >= self.every or time.monotonic() - self.last >= self.seconds:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.catalog.record_uploads(self.store, self.pending, self.generation)
            self.recorded += len(self.pending)
            self.pending = []
        self.last = time.monotonic()

    def __enter__(self) -> "LedgerWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.flush()


class Tally:
    """Running totals across the phases of one publish, turned into Progress events."""

    def __init__(self, objects: list[Put], progress: ProgressFn | None) -> None:
        self.total, self.bytes_total = len(objects), sum(o.size for o in objects)
        self.done = self.bytes_done = 0
        self.progress = progress

    def step(self, phase: str, obj: Put) -> None:
        self.done += 1
        self.bytes_done += obj.size
        if self.progress:
            self.progress(Progress(phase, self.done, self.total, self.bytes_done, self.bytes_total, obj.key))


def upload_all(store: Store, objects: Iterable[Put], jobs: int, on_done: Callable[[Put, str], None]) -> None:
    """Upload ``objects`` with ``jobs`` parallel workers; ``on_done(obj, etag)`` runs in
    the calling thread after each success.

    Raises:
        StoreError: the first upload that failed (after botocore's retries); uploads in
            flight at that moment finish and are reported through ``on_done`` first.
    """
    source = iter(objects)
    first: BaseException | None = None
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="dangke-upload") as pool:
        running: dict[Future, Put] = {}

        def feed() -> None:
            while first is None and len(running) < 2 * jobs:
                obj = next(source, None)
                if obj is None:
                    return
                running[pool.submit(store.put, obj)] = obj

        feed()
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in done:
                obj = running.pop(fut)
                try:
                    etag = fut.result()
                except BaseException as exc:  # noqa: BLE001 - kept, re-raised once the pool is drained
                    first = first or exc
                else:
                    on_done(obj, etag)
            feed()
    if first is not None:
        if isinstance(first, StoreError) or not isinstance(first, Exception):
            raise first
        raise StoreError(f"upload failed: {type(first).__name__}: {first}") from first
