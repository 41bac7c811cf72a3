"""The small types of the compute boundary: a task, its outcome (done or failed), the
progress of a batch, and an ingest analysis done elsewhere. No imports of the rest of
dangke, so the coordinator, the Dask backend and the callers share them without a cycle."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Task:
    """One unit of work: ``fn(*args)`` on a worker (both picklable), ``label`` for people
    (a lesson id or file name), ``kind`` (``analyze``, ``render``), ``timeout_s``."""

    kind: str
    label: str
    fn: Callable[..., Any]
    args: tuple
    timeout_s: float


@dataclass(frozen=True)
class Done:
    """A task's value and the name of the worker that produced it."""

    value: Any
    worker: str


@dataclass(frozen=True)
class Failed:
    """Why a task failed (after its retries) and the worker it last ran on ("" unknown)."""

    message: str
    worker: str


@dataclass(frozen=True)
class Status:
    """Progress of a batch of tasks: ``total``, ``done``, ``failed`` and ``running`` as
    ``(label, worker name)`` pairs."""

    total: int
    done: int
    failed: int
    running: tuple[tuple[str, str], ...] = ()

    def line(self) -> str:
        """One line for a person: ``3/10 done, 1 failed, running: L-a on w1, L-b on w2``."""
        text = f"{self.done}/{self.total} done, {self.failed} failed, {len(self.running)} running"
        if self.running:
            text += ": " + ", ".join(f"{label} on {worker}" for label, worker in self.running)
        return text


class Analysis:
    """The ingest analysis of one recording done elsewhere: :meth:`get` gives its
    ``(Findings, Curve)`` or raises what the analysis raised (as :func:`pipeline.ingest.judge.judge`)."""

    def __init__(self, findings: Any = None, error: Exception | None = None, worker: str = "") -> None:
        self.findings, self.error, self.worker = findings, error, worker

    def get(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.findings
