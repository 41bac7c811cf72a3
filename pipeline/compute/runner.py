"""Tasks in child processes of the worker, with a memory cap and a wall-clock limit.

A Dask worker runs dangke tasks in child processes ``python -m pipeline.compute.runner
MEMORY_MB``; each thread of the worker uses one child at a time, and a child that ended
its task well is kept for the next one (its imports, numpy and scipy, cost about a
second of CPU; it is replaced after :data:`TASKS_PER_CHILD` tasks or when its peak memory
passed half its cap). Pickled ``(function, args)`` go to the child's standard input and
the pickled outcome (``("ok", value)`` or ``("fail", message)``) comes back on its
standard output, each framed by an 8-byte length. The child:

- caps its address space (``RLIMIT_AS``, inherited by the ffmpeg processes it starts, each
  of which gets the same cap) so a runaway decode fails its task, not the worker;
- dies with its worker (``PR_SET_PDEATHSIG``): a worker killed mid-task leaves no orphan;
- runs numpy single-threaded (one task per core, as the ``ffmpeg`` resource promises).

A task that times out, runs out of memory or crashes takes its child with it; the next
task gets a fresh one. This module imports nothing from Dask: the payload is a
cloudpickle, which plain :func:`pickle.loads` reads.
"""

from __future__ import annotations

import ctypes
import os
import pickle
import resource
import select
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time

from ..errors import DangkeError

PR_SET_PDEATHSIG = 1
SINGLE_THREADED = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
TASKS_PER_CHILD = 50
MEMORY_EXIT = 3
#: how running out of address space shows: Python's, the loader's (a library that cannot
#: be mapped) and the kernel's words
OUT_OF_MEMORY = ("MemoryError", "failed to map segment", "Cannot allocate memory")
_FRAME = struct.Struct("!Q")


class TaskFailed(DangkeError):
    """A task did not produce its outcome: it raised, ran out of its memory cap, timed out
    or was killed. The message says which (and the last line the task wrote)."""


class _Child:
    """One runner process and the file its stderr goes to."""

    def __init__(self, memory_mb: int) -> None:
        self.memory_mb, self.tasks = memory_mb, 0
        self.err = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([sys.executable, "-m", "pipeline.compute.runner", str(int(memory_mb))],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err,
                                     env=dict(os.environ, **SINGLE_THREADED))

    def peak_mb(self) -> float:
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1]) / 1024
        except OSError:
            pass
        return 0.0

    def stderr_tail(self) -> str:
        self.err.seek(0)
        lines = self.err.read().decode("utf-8", "replace").strip().splitlines()
        return lines[-1] if lines else ""

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout, self.err):
            if f is not None:
                f.close()


_idle: list[_Child] = []
_lock = threading.Lock()


def _take(memory_mb: int) -> _Child:
    with _lock:
        for i, child in enumerate(_idle):
            if child.memory_mb == memory_mb and child.proc.poll() is None:
                return _idle.pop(i)
    return _Child(memory_mb)


def _give_back(child: _Child) -> None:
    child.tasks += 1
    if child.tasks >= TASKS_PER_CHILD or (child.memory_mb and child.peak_mb() > child.memory_mb / 2):
        child.close()
        return
    with _lock:
        _idle.append(child)


def _read_exactly(fd: int, n: int, deadline: float) -> bytes:
    out = bytearray()
    while len(out) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            block = os.read(fd, min(n - len(out), 1 << 20))
            if not block:
                raise EOFError
            out += block
    return bytes(out)


def run_capped(payload: bytes, memory_mb: int, timeout_s: float) -> object:
    """Run the pickled ``(function, args)`` in a child process; return the function's value.

    Args:
        payload: ``pickle`` bytes of ``(callable, tuple)``.
        memory_mb: address-space cap of the child and each of its children (MB; 0 = none).
        timeout_s: wall-clock limit (seconds); the child is killed after it.

    Raises:
        TaskFailed: the function raised, the child exited abnormally or timed out.
    """
    child = _take(memory_mb)
    deadline = time.monotonic() + timeout_s
    try:
        assert child.proc.stdin is not None and child.proc.stdout is not None
        child.proc.stdin.write(_FRAME.pack(len(payload)) + payload)
        child.proc.stdin.flush()
        fd = child.proc.stdout.fileno()
        size, = _FRAME.unpack(_read_exactly(fd, _FRAME.size, deadline))
        kind, value = pickle.loads(_read_exactly(fd, size, deadline))
    except TimeoutError:
        child.close()
        raise TaskFailed(f"the task did not finish within {timeout_s:.0f} s and was stopped",
                         fix="raise [compute] task_timeout_s if such long lessons are expected") from None
    except (EOFError, BrokenPipeError):
        code = child.proc.wait()
        tail = child.stderr_tail()
        child.close()
        if code == MEMORY_EXIT or any(sign in tail for sign in OUT_OF_MEMORY):
            raise TaskFailed(f"the task ran out of its memory cap of {memory_mb} MB",
                             fix="raise [compute] task_memory_mb") from None
        how = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
        raise TaskFailed(f"the task process ended abnormally ({how}): {tail}") from None
    except BaseException:
        child.close()
        raise
    _give_back(child)
    if kind != "ok":
        raise TaskFailed(str(value))
    return value


def _die_with_parent() -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _out_of_memory(exc: BaseException) -> bool:
    return isinstance(exc, MemoryError) or any(sign in str(exc) for sign in OUT_OF_MEMORY)


def main(argv: list[str]) -> int:
    """The child's side (see the module docstring): tasks until standard input ends."""
    parent = os.getppid()
    _die_with_parent()
    if os.getppid() != parent:  # the worker died before the line above
        return 1
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything printed by a library goes to stderr, not into the outcomes
    memory_mb = int(argv[0]) if argv else 0
    if memory_mb > 0:
        cap = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    source = sys.stdin.buffer
    while True:
        head = source.read(_FRAME.size)
        if len(head) < _FRAME.size:
            return 0
        payload = source.read(_FRAME.unpack(head)[0])
        try:
            fn, args = pickle.loads(payload)
            outcome = ("ok", fn(*args))
        except DangkeError as exc:
            outcome = ("fail", str(exc))
        except (MemoryError, ImportError, OSError) as exc:
            if not _out_of_memory(exc):
                raise
            print(f"MemoryError: the task ran out of its memory cap ({exc})", file=sys.stderr)
            return MEMORY_EXIT
        blob = pickle.dumps(outcome)
        out.write(_FRAME.pack(len(blob)) + blob)
        out.flush()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
