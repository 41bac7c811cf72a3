"""Long per-frame arrays kept in a temporary file instead of in memory (numpy + os).

A :class:`Spill` is a 1-D array in an unlinked temporary file, read and written a slice
at a time with ``os.pread`` / ``os.pwrite``: its pages sit in the kernel's cache, not in
the process, so the resident memory of an encode does not grow with the lesson. Used
for the 1 ms analysis frames of long signals (:class:`~pipeline.media.meter.Meter`) and
the gain plan's per-frame columns (:mod:`pipeline.encode.chunked`); at 2 hours one
float64 column is 58 MB of disk.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

SPILL_FRAMES = 1 << 20
"""Columns longer than this (17 minutes of 1 ms frames) go to a temporary file."""


class Spill:
    """A 1-D array of ``n`` values of ``dtype`` in an unlinked temporary file; supports
    ``len``, ``.size``, ``x[a:b]`` (a numpy copy), ``x[a:b] = values``, :meth:`append`
    and :meth:`view`. The file goes with the last object that uses it.

    Raises:
        OSError: the temporary folder is not writable or full.
    """

    def __init__(self, n: int = 0, dtype: type = np.float64, _file: "_File | None" = None,
                 _start: int = 0) -> None:
        self.dtype = np.dtype(dtype)
        self.size = n
        self._file = _file if _file is not None else _File(n * self.dtype.itemsize)
        self._start = _start

    def __len__(self) -> int:
        return self.size

    def _span(self, key: slice) -> tuple[int, int]:
        if not isinstance(key, slice):
            raise IndexError("a Spill takes slices only")
        a, b, step = key.indices(self.size)
        if step != 1:
            raise IndexError("only contiguous slices")
        return a, max(a, b)

    def __getitem__(self, key: slice) -> np.ndarray:
        a, b = self._span(key)
        k = self.dtype.itemsize
        data = os.pread(self._file.fd, (b - a) * k, (self._start + a) * k)
        return np.frombuffer(data, dtype=self.dtype).copy()

    def __setitem__(self, key: slice, values: "np.ndarray | float") -> None:
        a, b = self._span(key)
        self._write(a, np.broadcast_to(np.asarray(values, dtype=self.dtype), (b - a,)))

    def _write(self, a: int, v: np.ndarray) -> None:
        data = np.ascontiguousarray(v).tobytes()
        at = (self._start + a) * self.dtype.itemsize
        while data:
            done = os.pwrite(self._file.fd, data, at)
            data, at = data[done:], at + done

    def append(self, values: np.ndarray) -> None:
        """Add values at the end (only on a whole column, not a view)."""
        if self._start:
            raise ValueError("append to a view")
        v = np.asarray(values, dtype=self.dtype)
        self._write(self.size, v)
        self.size += v.size

    extend = append

    def view(self, a: int, b: int) -> "Spill":
        """Values ``a:b`` as a Spill of their own, sharing the file (no copy)."""
        a, b = self._span(slice(a, b))
        return Spill(b - a, self.dtype, self._file, self._start + a)

    def max(self, initial: float = -np.inf) -> float:
        """The largest value (``initial`` when empty or larger)."""
        top = initial
        for a in range(0, self.size, 1 << 16):
            top = max(top, float(self[a:a + (1 << 16)].max(initial=initial)))
        return top

    def __array__(self, dtype: "type | None" = None, copy: "bool | None" = None) -> np.ndarray:
        whole = self[0:self.size]
        return whole if dtype is None else whole.astype(dtype)


class _File:
    """An unlinked temporary file, closed when no Spill holds it."""

    def __init__(self, nbytes: int) -> None:
        fd, name = tempfile.mkstemp(prefix="dangke-frames-")
        os.unlink(name)
        self.fd = fd
        if nbytes:
            os.ftruncate(fd, nbytes)

    def __del__(self) -> None:
        fd, self.fd = getattr(self, "fd", -1), -1
        if fd >= 0:
            os.close(fd)
