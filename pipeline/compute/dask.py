"""The Dask distributed backend: the one module that imports ``distributed``.

The coordinator connects a :class:`distributed.Client` to ``[compute] scheduler``, checks
that some worker advertises the ``ffmpeg`` resource (``dask worker --resources ffmpeg=N``),
and submits each task with ``resources={"ffmpeg": 1}``: a worker runs at most N of them at
once, one per core it advertises. A task's payload is pickled here (cloudpickle, through
``distributed.protocol``) and run on the worker by :func:`pipeline.compute.runner.run_capped`
in a child process with the memory cap and time limit.

Faults: a task whose worker dies (killed, out of memory, machine lost) is moved to another
worker by the scheduler (``distributed.scheduler.allowed-failures`` times, default 3);
a task that raised is run again ``[compute] retries`` times; then it fails, alone.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from typing import Callable, Iterator

from distributed import Client, get_worker
from distributed.protocol import pickle as dpickle

from ..errors import DangkeError
from .types import Done, Failed, Status, Task
from .runner import TaskFailed, run_capped

RESOURCE = "ffmpeg"
POLL_S = 0.25
WORKER_CHECK_S = 5.0
STATUS_S = 1.0
"""Seconds between progress reports while nothing finishes (a finished task is reported
at once); futures themselves are polled every POLL_S without asking the scheduler."""
CRASH_ENV, CRASH_ONCE_ENV = "DANGKE_CRASH_AT", "DANGKE_CRASH_ONCE"


def _crash_point(name: str) -> None:
    """Kill this worker, like ``kill -9``, when ``$DANGKE_CRASH_AT`` names this point; with
    ``$DANGKE_CRASH_ONCE=FILE``, only the first time (the file records it). Crash tests."""
    if os.environ.get(CRASH_ENV) != name:
        return
    once = os.environ.get(CRASH_ONCE_ENV)
    if once:
        try:
            os.close(os.open(once, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return
    os.kill(os.getpid(), signal.SIGKILL)


def _on_worker(payload: bytes, memory_mb: int, timeout_s: float, kind: str) -> tuple[str, object]:
    """The task as the worker runs it: ``(worker name, the function's value)``."""
    try:
        name = str(get_worker().name)
    except ValueError:
        name = "?"
    try:
        value = run_capped(payload, memory_mb, timeout_s)
    except TaskFailed as exc:
        exc.worker = name
        raise
    _crash_point(f"{kind}-after-outputs")  # render-after-outputs, analyze-after-outputs
    return name, value


class DaskBackend:
    """A connection to a Dask scheduler that runs dangke tasks.

    Raises (on construction):
        DangkeError: the scheduler cannot be reached within ``connect_timeout_s``, or no
            worker advertises the ``ffmpeg`` resource.
    """

    def __init__(self, address: str, memory_mb: int, retries: int, connect_timeout_s: float) -> None:
        self.address, self.memory_mb, self.retries = address, memory_mb, retries
        self.connect_timeout_s = connect_timeout_s
        self._known: dict[str, str] = {}
        try:
            self.client = Client(address, timeout=connect_timeout_s, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise DangkeError(f"cannot reach the Dask scheduler at {address}: {exc}",
                              fix="start it with `dask scheduler`, or correct [compute] scheduler / "
                                  "$DANGKE_SCHEDULER") from exc
        try:
            self._check_workers(connect_timeout_s)
        except BaseException:
            self.client.close()
            raise

    def _check_workers(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            workers = self.client.scheduler_info(n_workers=-1)["workers"]
            if any(w.get("resources", {}).get(RESOURCE, 0) >= 1 for w in workers.values()):
                return
            if time.monotonic() > deadline:
                raise DangkeError(f"no worker of the Dask scheduler at {self.address} advertises the "
                                  f"{RESOURCE!r} resource ({len(workers)} worker(s) connected)",
                                  fix=f"start workers with `dask worker {self.address} --nthreads N "
                                      f"--resources {RESOURCE}=N` (N = its cores)")
            time.sleep(POLL_S)

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> "DaskBackend":
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _names(self, addresses) -> dict[str, str]:
        """Worker names by address (asked of the scheduler only for addresses not seen yet)."""
        if not set(addresses) <= self._known.keys():
            workers = self.client.scheduler_info(n_workers=-1)["workers"]
            self._known.update({addr: str(w.get("name", addr)) for addr, w in workers.items()})
        return self._known

    def _has_workers(self) -> bool:
        workers = self.client.scheduler_info(n_workers=-1)["workers"]
        return any(w.get("resources", {}).get(RESOURCE, 0) >= 1 for w in workers.values())

    def run(self, tasks: list[Task], on_status: Callable[[Status], None] | None = None
            ) -> Iterator[tuple[Task, Done | Failed]]:
        """Submit every task; yield each with its outcome as it finishes (any order).

        ``on_status`` hears the counts and which task runs on which worker, about every
        :data:`STATUS_S` seconds while anything changes. When no worker with the ``ffmpeg``
        resource has been connected for ``connect_timeout_s``, the tasks still pending are
        cancelled and come back failed (the coordinator never waits on an empty cluster)."""
        run_id = uuid.uuid4().hex[:8]
        futures = {}
        for i, t in enumerate(tasks):
            fut = self.client.submit(_on_worker, dpickle.dumps((t.fn, t.args)), self.memory_mb, t.timeout_s, t.kind,
                                     key=f"dangke-{t.kind}-{run_id}-{i}", resources={RESOURCE: 1},
                                     retries=self.retries, pure=False)
            futures[fut.key] = (fut, t)
        pending = dict(futures)
        done = failed = 0
        last: Status | None = None
        next_report = next_check = 0.0
        workers_seen = time.monotonic()
        while pending:
            if time.monotonic() >= next_check:
                next_check = time.monotonic() + WORKER_CHECK_S
                if self._has_workers():
                    workers_seen = time.monotonic()
                elif time.monotonic() - workers_seen > self.connect_timeout_s:
                    self.client.cancel([f for f, _t in pending.values()])
                    for _k, (_f, task) in pending.items():
                        failed += 1
                        yield task, Failed(f"no worker with the {RESOURCE!r} resource has been connected to "
                                           f"{self.address} for {self.connect_timeout_s:.0f} s", "")
                    break
            finished = [k for k, (f, _t) in pending.items() if f.done()]
            for k in finished:
                fut, task = pending.pop(k)
                outcome = self._outcome(fut)
                if isinstance(outcome, Failed):
                    failed += 1
                else:
                    done += 1
                yield task, outcome
            if not pending:
                break
            if on_status is not None and (finished or time.monotonic() >= next_report):
                next_report = time.monotonic() + STATUS_S
                status = Status(len(tasks), done, failed, self._running(pending))
                if status != last:
                    on_status(status)
                    last = status
            time.sleep(POLL_S)
        if on_status is not None:
            on_status(Status(len(tasks), done, failed, ()))

    def _running(self, pending: dict) -> tuple[tuple[str, str], ...]:
        processing = self.client.processing()
        names = self._names(addr for addr, keys in processing.items() if keys)
        out = []
        for addr, keys in processing.items():
            for k in keys:
                if k in pending:
                    out.append((pending[k][1].label, names.get(addr, addr)))
        return tuple(sorted(out))

    def _outcome(self, fut) -> Done | Failed:
        if fut.status == "finished":
            worker, value = fut.result()
            fut.release()
            return Done(value, worker)
        exc = fut.exception()
        fut.release()
        if type(exc).__name__ == "KilledWorker":
            return Failed("its worker died every time it ran it (out of memory, or killed): "
                          "see the workers' logs", "")
        message = exc.message if isinstance(exc, DangkeError) else f"{type(exc).__name__}: {exc}"
        return Failed(message, str(getattr(exc, "worker", "")))
