"""One task in its own process, with a memory cap and a wall-clock limit.

A Dask worker runs each dangke task as ``python -m pipeline.compute.runner MEMORY_MB``:
the pickled ``(function, args)`` arrive on standard input, the pickled outcome
(``("ok", value)`` or ``("fail", message)``) leaves on standard output. The child:

- caps its address space (``RLIMIT_AS``, inherited by the ffmpeg processes it starts, each
  of which gets the same cap) so a runaway decode fails its task, not the worker;
- dies with its worker (``PR_SET_PDEATHSIG``): a worker killed mid-task leaves no orphan;
- runs numpy single-threaded (one task per core, as the ``ffmpeg`` resource promises).

This module imports nothing from Dask: the payload is a cloudpickle, which plain
:func:`pickle.loads` reads.
"""

from __future__ import annotations

import ctypes
import os
import pickle
import resource
import signal
import subprocess
import sys

from ..errors import DangkeError

PR_SET_PDEATHSIG = 1
SINGLE_THREADED = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


class TaskFailed(DangkeError):
    """A task did not produce its outcome: it raised, ran out of its memory cap, timed out
    or was killed. The message says which (and the last line the task wrote)."""


def run_capped(payload: bytes, memory_mb: int, timeout_s: float) -> object:
    """Run the pickled ``(function, args)`` in a child process; return the function's value.

    Args:
        payload: ``pickle`` bytes of ``(callable, tuple)``.
        memory_mb: address-space cap of the child and each of its children (MB; 0 = none).
        timeout_s: wall-clock limit (seconds); the child is killed after it.

    Raises:
        TaskFailed: the function raised, the child exited abnormally or timed out.
    """
    env = dict(os.environ, **SINGLE_THREADED)
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.compute.runner", str(int(memory_mb))],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        out, err = proc.communicate(payload, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise TaskFailed(f"the task did not finish within {timeout_s:.0f} s and was stopped",
                         fix="raise [compute] task_timeout_s if such long lessons are expected") from None
    if proc.returncode != 0:
        tail = err.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        if proc.returncode == MEMORY_EXIT or any(sign in tail[0] for sign in OUT_OF_MEMORY):
            raise TaskFailed(f"the task ran out of its memory cap of {memory_mb} MB",
                             fix="raise [compute] task_memory_mb")
        how = f"killed by signal {-proc.returncode}" if proc.returncode < 0 else f"exit status {proc.returncode}"
        raise TaskFailed(f"the task process ended abnormally ({how}): {tail[0]}")
    kind, value = pickle.loads(out)
    if kind != "ok":
        raise TaskFailed(str(value))
    return value


MEMORY_EXIT = 3
#: how running out of address space shows: Python's, the loader's (a library that cannot
#: be mapped) and the kernel's words
OUT_OF_MEMORY = ("MemoryError", "failed to map segment", "Cannot allocate memory")


def _die_with_parent() -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def main(argv: list[str]) -> int:
    """The child's side (see the module docstring)."""
    parent = os.getppid()
    _die_with_parent()
    if os.getppid() != parent:  # the worker died before the line above
        return 1
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything printed by a library goes to stderr, not into the outcome
    memory_mb = int(argv[0]) if argv else 0
    if memory_mb > 0:
        cap = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    try:
        fn, args = pickle.loads(sys.stdin.buffer.read())
        outcome = ("ok", fn(*args))
    except MemoryError:
        print("MemoryError: the task ran out of its memory cap", file=sys.stderr)
        return MEMORY_EXIT
    except (ImportError, OSError) as exc:
        if not any(sign in str(exc) for sign in OUT_OF_MEMORY):
            raise
        print(f"MemoryError: the task ran out of its memory cap ({exc})", file=sys.stderr)
        return MEMORY_EXIT
    except DangkeError as exc:
        outcome = ("fail", str(exc))
    out.write(pickle.dumps(outcome))
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
