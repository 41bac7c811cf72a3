"""The coordinator's half of a distributed batch: upload inputs, submit, fetch outputs.

Everything that touches this machine's files (library, inbox) happens here, in the
coordinating process; the tasks (:mod:`.tasks`) see only the exchange.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterator

from ..errors import DangkeError, ToolInterrupted
from . import tasks
from .types import Analysis, Failed, Status, Task
from .exchange import Blob, ExchangeSpec, blob_of


def render_remote(backend, spec: ExchangeSpec, jobs: list, settings, timeout: Callable[[object], float],
                  on_status: Callable[[Status], None]) -> Iterator:
    """Run encode jobs on the cluster; yield their JobResults with renditions moved, verified,
    to each target's ``dest`` (the rendition's ``path``)."""
    from ..encode.render import JobResult

    ex = spec.open()
    submitted: list[Task] = []
    by_task: dict[int, object] = {}
    for job in jobs:
        try:
            blob = _source_blob(job)
            ex.put(job.path, blob)  # refuses bytes that are not the ones the catalog names
        except (OSError, DangkeError) as exc:
            message = getattr(exc, "message", None) or str(exc)
            yield JobResult(job.key, job.label, errors=tuple((t.profile.name, f"cannot send the source to the "
                                                              f"cluster: {message}") for t in job.targets))
            continue
        remote = replace(job, path=Path(job.path.name),
                         targets=tuple(replace(t, dest=Path(f"{t.profile.name}.{t.profile.extension}"))
                                       for t in job.targets))
        task = Task("render", job.label or job.key, tasks.render, (spec, blob, remote, settings), timeout(job))
        by_task[id(task)] = job
        submitted.append(task)
    for task, outcome in backend.run(submitted, on_status):
        job = by_task[id(task)]
        if isinstance(outcome, Failed):
            where = f" (worker {outcome.worker})" if outcome.worker else ""
            yield JobResult(job.key, job.label, errors=tuple((t.profile.name, f"{outcome.message}{where}")
                                                             for t in job.targets))
            continue
        yield _fetch(ex, job, outcome.value)


def _source_blob(job) -> Blob:
    """The blob of a job's source: named by the sha256 its key gives (a lesson's key is its
    source's sha256; a derived source's key starts with it), else by hashing the file."""
    named = job.key.split("+", 1)[0]
    if len(named) == 64 and all(c in "0123456789abcdef" for c in named):
        return Blob(named, job.path.stat().st_size, job.path.suffix)
    return blob_of(job.path)


def _fetch(ex, job, result):
    """The remote result with each rendition downloaded (sha256 checked) to its target's
    ``dest``; a rendition that cannot be fetched becomes an error of its profile."""
    dests = {t.profile.name: t.dest for t in job.targets}
    made, errors = [], list(result.errors)
    for r in result.renditions:
        dest = dests[r.profile]
        try:
            ex.get(Blob(r.sha256, r.bytes, f".{r.extension}"), dest)
        except DangkeError as exc:
            errors.append((r.profile, f"cannot fetch the rendition from the exchange: {exc.message}"))
            continue
        made.append(replace(r, path=str(dest)))
    return replace(result, renditions=tuple(made), errors=tuple(errors))


def analyze_remote(connect: Callable[[], object], spec: ExchangeSpec, cfg, catalog, paths: list[Path], timeout_s: float,
                   on_status: Callable[[Status], None]) -> dict[str, Analysis]:
    """Ingest analysis of each new recording of ``paths`` on the cluster, by sha256
    (``connect`` opens the backend, only when there is something to analyse)."""
    ex = spec.open()
    out: dict[str, Analysis] = {}
    submitted: list[Task] = []
    for path in paths:
        try:
            blob = blob_of(path, path.suffix.lower())
            if catalog.has_source(blob.sha256) or blob.sha256 in out or blob.size == 0:
                continue
            ex.put(path, blob)
        except DangkeError as exc:
            out[blob.sha256] = Analysis(error=ToolInterrupted(f"cannot send it to the cluster: {exc.message}"))
            continue
        except OSError:
            continue  # gone or unreadable: ingest itself says so
        out[blob.sha256] = Analysis(error=ToolInterrupted("analysis on the cluster did not finish"))
        submitted.append(Task("analyze", path.name, tasks.analyze, (spec, blob, cfg), timeout_s))
    if not submitted:
        return out
    with connect() as backend:
        outcomes = list(backend.run(submitted, on_status))
    for task, outcome in outcomes:
        sha = task.args[1].sha256
        if isinstance(outcome, Failed):
            where = f" (worker {outcome.worker})" if outcome.worker else ""
            out[sha] = Analysis(error=ToolInterrupted(f"analysis on the cluster failed: {outcome.message}{where}"),
                                worker=outcome.worker)
            continue
        kind, value = outcome.value
        out[sha] = (Analysis(findings=value, worker=outcome.worker) if kind == "ok"
                    else Analysis(error=tasks.revive(value), worker=outcome.worker))
    return out
