"""Where the per-lesson work runs: the local pool, or a Dask distributed cluster.

The one executor boundary of ingest analysis and encode. Without ``[compute] scheduler``
(or ``$DANGKE_SCHEDULER``) everything runs on this machine as before: encode's jobs in a
thread pool of ``[encode] jobs`` (each job's work is ffmpeg processes and numpy without
the GIL), ingest's analysis inline. With a scheduler, each lesson's work is a task on the
cluster (:mod:`.dask`, the only module that imports ``distributed``):

1. the coordinator (this process) uploads the task's input to the exchange, named by its
   sha256 (:mod:`.exchange`: an S3 prefix or a folder every machine sees);
2. a worker runs the task (:mod:`.tasks`) in a capped child process (:mod:`.runner`): it
   downloads and verifies the input, works in a temporary folder (ffmpeg with its usual
   timeouts), uploads its outputs named by their sha256 and returns small metadata;
3. the coordinator downloads and verifies each output into the library and is the only
   one to write the catalog.

A task run twice (its worker lost mid-task) writes the same bytes to the same keys, so
the result is the one a local run gives, byte for byte.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from .types import Analysis, Done, Failed, Status, Task

SCHEDULER_ENV = "DANGKE_SCHEDULER"


_listeners: list[Callable[[Status], None]] = []


@contextmanager
def reporting(listener: Callable[[Status], None]) -> Iterator[None]:
    """Tell ``listener`` the progress of every distributed batch run meanwhile (the CLI
    shows it; nothing is printed here)."""
    _listeners.append(listener)
    try:
        yield
    finally:
        _listeners.remove(listener)


def _status(s: Status) -> None:
    for listener in list(_listeners):
        listener(s)


def scheduler_address(cfg) -> str:
    """The Dask scheduler to use: ``$DANGKE_SCHEDULER`` when set, else ``[compute]
    scheduler``; ``""`` means the local pool."""
    return (os.environ.get(SCHEDULER_ENV) or cfg.compute.scheduler).strip()


def exchange_spec(cfg):
    """The configured exchange (S3 settings default to ``[publish]``'s).

    Raises:
        ConfigError: a scheduler is set but ``[compute] exchange`` is not."""
    from ..errors import ConfigError
    from .exchange import ExchangeSpec

    c, p = cfg.compute, cfg.publish
    if not c.exchange:
        raise ConfigError("a Dask scheduler is set but [compute] exchange is not", path=cfg.path,
                          fix='set [compute] exchange = "s3://bucket/prefix" or a folder every worker sees')
    url = c.exchange if c.exchange.startswith(("s3://", "file://")) else str(cfg.resolve(c.exchange))
    return ExchangeSpec(url, endpoint_url=c.endpoint_url or p.endpoint_url, region=c.region or p.region,
                        addressing_style=c.addressing_style or p.addressing_style)


def _backend(cfg, address: str):
    from .dask import DaskBackend

    c = cfg.compute
    return DaskBackend(address, c.task_memory_mb, c.retries, c.connect_timeout_s)


def _timeout(cfg, duration_s: float) -> float:
    return cfg.compute.task_timeout_s or 600.0 + 6.0 * max(0.0, duration_s)


@contextmanager
def render_jobs(cfg, jobs: list, settings) -> Iterator[Iterator]:
    """Render encode jobs (:class:`pipeline.encode.render.SourceJob`) where configured;
    yields an iterator of their :class:`~pipeline.encode.render.JobResult`, in the order
    they finish, with renditions at their final ``dest`` paths.

    A distributed job that fails (after retries) comes back as a result with an error for
    each of its profiles; the others are unaffected.

    Raises:
        ConfigError, DangkeError: the exchange or the scheduler is unusable (nothing run).
    """
    from ..encode.render import render_job

    address = scheduler_address(cfg) if jobs else ""
    if not address:
        workers = cfg.encode.jobs or os.cpu_count() or 1
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            futures = [pool.submit(render_job, j, settings) for j in jobs]
            yield (f.result() for f in as_completed(futures))
        return
    from .coordinator import render_remote

    spec = exchange_spec(cfg)
    with _backend(cfg, address) as backend:
        yield render_remote(backend, spec, jobs, settings, lambda j: _timeout(cfg, j.duration_s), _status)


def analyses(cfg, catalog, paths: list[Path]) -> dict[str, Analysis]:
    """With a scheduler: the ingest analysis of every recording in ``paths`` not yet in
    the catalog, run on the cluster, by the sha256 of the bytes analysed. Locally: ``{}``
    (ingest analyses each file itself, as before).

    A task that fails comes back as a :class:`~pipeline.errors.ToolInterrupted` (the file
    stays in the inbox and is tried again by the next pass).

    Raises:
        ConfigError, DangkeError: the exchange or the scheduler is unusable.
    """
    address = scheduler_address(cfg) if paths else ""
    if not address:
        return {}
    from .coordinator import analyze_remote

    return analyze_remote(lambda: _backend(cfg, address), exchange_spec(cfg), cfg, catalog, paths,
                          _timeout(cfg, 500.0), _status)


__all__ = ["Task", "Done", "Failed", "Status", "Analysis", "reporting", "scheduler_address", "exchange_spec",
           "render_jobs", "analyses"]
