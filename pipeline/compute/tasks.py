"""What a distributed task does on its worker (inside :mod:`.runner`'s capped process).

Each task is idempotent: it reads a content-addressed input from the exchange (verifying
its sha256), works in a private temporary folder, writes content-addressed outputs (the
same bytes to the same keys when run twice) and returns small metadata. It never touches
the catalog, the library or any path of the coordinator.
"""

from __future__ import annotations

import importlib
import tempfile
from dataclasses import replace
from pathlib import Path

from ..errors import DangkeError
from .exchange import Blob, ExchangeSpec


def portable(exc: DangkeError) -> dict:
    """A dangke error as plain data (its class needs keyword arguments, so it does not
    unpickle by itself)."""
    cls = type(exc)
    return {"cls": f"{cls.__module__}:{cls.__qualname__}", "args": exc.args, "attrs": dict(vars(exc))}


def revive(data: dict) -> DangkeError:
    """The error :func:`portable` described (only dangke error classes)."""
    module, _, name = data["cls"].partition(":")
    cls = getattr(importlib.import_module(module), name)
    if not (isinstance(cls, type) and issubclass(cls, DangkeError)):
        raise TypeError(f"not a dangke error: {data['cls']}")
    exc = cls.__new__(cls)
    Exception.__init__(exc, *data["args"])
    exc.__dict__.update(data["attrs"])
    return exc


def analyze(spec: ExchangeSpec, blob: Blob, cfg) -> tuple[str, object]:
    """Ingest analysis of one recording: ``("ok", (Findings, Curve))``, or ``("raise", portable
    error)`` when ingest would reject it or let it wait (see :func:`pipeline.ingest.judge.judge`).

    Raises:
        ExchangeError: the recording cannot be fetched or is not the bytes its blob names.
    """
    from ..ingest.judge import judge

    with tempfile.TemporaryDirectory(prefix="dangke-task-") as tmp:
        local = Path(tmp) / f"{blob.sha256}{blob.suffix}"
        spec.open().get(blob, local)
        try:
            return "ok", judge(cfg, local)
        except DangkeError as exc:
            return "raise", portable(exc)


def render(spec: ExchangeSpec, blob: Blob, job, settings):
    """Render one source job (:func:`pipeline.encode.render.render_job`) from the exchange.

    ``job`` has placeholder paths: ``job.path`` and each target's ``dest`` only give file
    names. Returns the job's :class:`~pipeline.encode.render.JobResult` whose renditions'
    ``path`` is their exchange key (``blobs/...``), uploaded and sha256-checked.

    Raises:
        ExchangeError: the source cannot be fetched or an output cannot be stored.
    """
    from ..encode.render import render_job

    with tempfile.TemporaryDirectory(prefix="dangke-task-") as tmp:
        ex = spec.open()
        src = Path(tmp) / f"{blob.sha256}{blob.suffix}"
        ex.get(blob, src)
        local = replace(job, path=src, targets=tuple(replace(t, dest=Path(tmp) / "out" / t.dest.name)
                                                     for t in job.targets))
        result = render_job(local, settings)
        made = []
        for r in result.renditions:
            out = Blob(r.sha256, r.bytes, f".{r.extension}")
            ex.put(Path(r.path), out)
            made.append(replace(r, path=out.key))
        return replace(result, renditions=tuple(made))
