"""Per-frame arrays of a long lesson worked through in bounded chunks (numpy, no policy).

The gain plan of :mod:`.dynamics` needs several per-frame (1 ms) float64 arrays at once:
at 2 hours each is 58 MB. Here they are :class:`~pipeline.media.spill.Spill` columns
(arrays in an unlinked temporary file, read and written a chunk at a time), so resident
memory does not grow with the lesson. Short signals use plain numpy arrays (:func:`column`).

The primitives compute what the whole-array numpy expressions of :mod:`.dynamics`
compute, bit for bit: running sums are sequential like ``np.cumsum`` and restart from
stored partial sums (:class:`Cumulative`), running maxima and minima carry their value
from chunk to chunk, both ways.
"""

from __future__ import annotations

from typing import Callable, Iterator

import numpy as np

from ..media import spill
from ..media.spill import Spill

__all__ = ["CHUNK", "Spill", "Column", "column", "zeros", "copy", "spans", "Cumulative",
           "window_sums", "ramps", "slew"]

CHUNK = 1 << 16
"""Frames per step (65 s of 1 ms frames: 512 KiB of float64)."""


Column = "np.ndarray | Spill"


def column(n: int, dtype: type = np.float64) -> "np.ndarray | Spill":
    """An array of ``n`` values: numpy for short signals, a :class:`Spill` for long ones."""
    return np.empty(n, dtype=dtype) if n <= spill.SPILL_FRAMES else Spill(n, dtype)


def zeros(n: int) -> "np.ndarray | Spill":
    """A :func:`column` of ``n`` float64 zeros."""
    out = column(n)
    for a, b in spans(n):
        out[a:b] = 0.0
    return out


def copy(x: "np.ndarray | Spill") -> "np.ndarray | Spill":
    """A :func:`column` holding the values of ``x``."""
    out = column(len(x), x.dtype)
    for a, b in spans(len(x)):
        out[a:b] = x[a:b]
    return out


def spans(n: int, reverse: bool = False) -> Iterator[tuple[int, int]]:
    """``(a, b)`` chunks covering ``0 .. n``, forwards or backwards."""
    starts = range(0, n, CHUNK)
    for a in (reversed(starts) if reverse else starts):
        yield a, min(n, a + CHUNK)


class Cumulative:
    """The running sum ``c`` of a per-frame series (``c[0] = 0``, ``c[i]`` the sum of the
    first ``i`` values, summed in order in float64 exactly as ``np.cumsum``), kept every
    :data:`STEP` frames; :meth:`at` gives any stretch by summing on from the nearest one.
    ``values(a, b)`` returns the series' frames ``a:b`` (float64 or float32)."""

    STEP = 100

    def __init__(self, n: int, values: Callable[[int, int], np.ndarray]) -> None:
        self.n, self._values = n, values
        marks = [np.zeros(1)]
        total = 0.0
        for a, b in spans(n):
            c = np.cumsum(np.concatenate([[total], values(a, b)]), dtype=np.float64)
            first = (-a) % self.STEP or self.STEP
            marks.append(c[first::self.STEP].copy())   # not a view: it would keep the chunk
            total = float(c[-1])
        self.marks = np.concatenate(marks)
        """``c`` at frames 0, 100, 200, ... (the last at or before ``n``)."""
        self.total = total

    def at(self, lo: int, hi: int) -> np.ndarray:
        """``c[lo .. hi]`` (both inclusive; 0 <= lo <= hi <= n)."""
        base = lo // self.STEP * self.STEP
        if hi == base:
            return self.marks[base // self.STEP:base // self.STEP + 1]
        c = np.cumsum(np.concatenate([[self.marks[base // self.STEP]], self._values(base, hi)]), dtype=np.float64)
        return c[lo - base:]


def window_sums(cum: Cumulative, a: int, b: int, before: int, after: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For frames ``a:b``: ``c[hi] - c[lo]`` with ``lo = max(i - before, 0)`` and
    ``hi = min(i + after, n)``, and ``lo``, ``hi`` (int64)."""
    idx = np.arange(a, b)
    lo, hi = np.maximum(idx - before, 0), np.minimum(idx + after, cum.n)
    first, last = int(lo[0]), int(hi[-1])
    c = cum.at(first, last)
    return c[hi - first] - c[lo - first], lo, hi


def ramps(need: Callable[[int, int], np.ndarray], n: int, attack: float, release: float,
          into: "np.ndarray | Spill") -> float:
    """:func:`.dynamics._ramps` of the series ``need(a, b)`` (frames ``a:b``, float64)
    written into ``into``: the smallest curve >= need rising at most ``attack`` per frame
    before a peak and falling at most ``release`` after; returns its maximum (0 for n=0)."""
    carry = -np.inf
    for a, b in spans(n, reverse=True):       # before: running max from the end
        idx = np.arange(a, b, dtype=np.float64)
        t = (need(a, b) - attack * idx)[::-1]
        t[0] = max(t[0], carry)
        np.maximum.accumulate(t, out=t)
        carry = float(t[-1])
        into[a:b] = t[::-1] + attack * idx
    carry, top = -np.inf, 0.0
    for a, b in spans(n):                      # after: running max from the start
        idx = np.arange(a, b, dtype=np.float64)
        t = need(a, b) + release * idx
        t[0] = max(t[0], carry)
        np.maximum.accumulate(t, out=t)
        carry = float(t[-1])
        out = np.maximum(np.maximum(t - release * idx, into[a:b]), 0.0)
        top = max(top, float(out.max()))
        into[a:b] = out
    return top


def slew(x: Callable[[int, int], np.ndarray], n: int, rate: float, into: "np.ndarray | Spill") -> None:
    """:func:`.dynamics._slew` of the series ``x(a, b)`` written into ``into``."""
    carry = np.inf
    for a, b in spans(n, reverse=True):
        idx = np.arange(a, b, dtype=np.float64)
        t = (x(a, b) + rate * idx)[::-1]
        t[0] = min(t[0], carry)
        np.minimum.accumulate(t, out=t)
        carry = float(t[-1])
        into[a:b] = t[::-1] - rate * idx
    carry = np.inf
    for a, b in spans(n):
        idx = np.arange(a, b, dtype=np.float64)
        t = x(a, b) - rate * idx
        t[0] = min(t[0], carry)
        np.minimum.accumulate(t, out=t)
        carry = float(t[-1])
        into[a:b] = np.minimum(t + rate * idx, into[a:b])
