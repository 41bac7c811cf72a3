"""A streaming ITU-R BS.1770-4 loudness and true-peak meter (numpy + scipy, no I/O).

Samples are fed in chunks (memory stays bounded whatever the length of the file); the
meter keeps, per 1 ms *frame*, the K-weighted energy and the true peak. From those
frames it gives the integrated loudness (BS.1770-4 gating: 400 ms blocks, 75 % overlap,
absolute gate -70 LUFS, relative gate -10 LU), the loudness range (EBU Tech 3342: 3 s
short-term values every 100 ms, gates -70 LUFS and -20 LU, 10th to 95th percentile),
the maximum momentary and short-term loudness (10 ms hop, finer than ffmpeg's 100 ms,
see standards.md §0 item 6) and the true peak (BS.1770-4 Annex 2: 4x oversampling).

The frames are also what :mod:`pipeline.encode.dynamics` plans gains on, so the
loudness of a rendition can be predicted before it is encoded.

K-weighting at any sample rate uses the analog prototype of the BS.1770 filters
(shelf f0 = 1681.97 Hz, G = +4.0 dB, Q = 0.7072; high-pass f0 = 38.14 Hz, Q = 0.5003),
the method of libebur128; at 48 kHz it reproduces the coefficients of BS.1770 Tables 1-2.

True peak: the signal is interpolated at 1/4, 1/2 and 3/4 of every gap between samples
with the 81-tap Kaiser filter of ``scipy.signal.resample_poly(x, 4, 1)`` (which passes
Tech 3341 cases 15-23, standards.md Appendix B). By default every gap is interpolated
(the measuring pass, whose per-frame peaks drive the limiter). A verifier that needs only
the highest peak passes ``exact_within_db``: a gap is then interpolated only when one of
its two samples plus 3.5 dB (the largest inter-sample overshoot taken possible: the Tech
3341 signals reach +3.01 dB) comes within that many dB of the highest peak so far (or of
``floor_dbtp``); other frames' peaks are that bound, an over-estimate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from scipy import signal

from . import spill

ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -10.0
LRA_RELATIVE_GATE_LU = -20.0
FRAME_S = 0.001
"""Length of one analysis frame (seconds)."""
BLOCK_FRAMES = 400
HOP_FRAMES = 100
SHORT_TERM_FRAMES = 3000
_OVERSHOOT = 10 ** (3.5 / 20)
"""Taken bound of a frame's true peak over the sample peaks of it and its neighbours:
+3.5 dB (the Tech 3341 true-peak signals, sines at fs/4 with the worst phase, reach
+3.01 dB; programme material reaches that only with strong content near Nyquist)."""
_OVERSAMPLE = 4
_TP_FILTER = signal.firwin(81, 1.0 / _OVERSAMPLE, window=("kaiser", 5.0)) * _OVERSAMPLE
_CONTEXT = 12  # input samples of context each side of an oversampled span
_PHASE_MATRIX = np.stack([_TP_FILTER[p::_OVERSAMPLE][:20][::-1] for p in range(1, _OVERSAMPLE)],
                         axis=1).astype(np.float32)
"""(20, 3): the signal at j + p/4 is x[j-9 .. j+10] @ column p-1 (81-tap filter phases)."""
_PHASE_ROWS = np.ascontiguousarray(_PHASE_MATRIX.T)
_WINDOW = np.arange(-9, 11)


def _interpolate_all(x: np.ndarray, n: int, phases: np.ndarray) -> np.ndarray:
    """max |signal| at the given phases (rows of :data:`_PHASE_ROWS`) of the gaps after
    samples ``_CONTEXT .. _CONTEXT + n - 1`` of ``x``: multiply-adds over shifted views
    (4x less CPU than ``oaconvolve`` for a 20-tap filter)."""
    first = _CONTEXT + int(_WINDOW[0])
    best = np.zeros(n, dtype=np.float32)
    for coef in phases:
        y = x[first:first + n] * coef[0]
        for t in range(1, coef.size):
            y += x[first + t:first + t + n] * coef[t]
        np.maximum(best, np.abs(y, out=y), out=best)
    return best


def _interpolate_at(x: np.ndarray, at: np.ndarray) -> np.ndarray:
    """max |signal| at 1/4, 1/2 and 3/4 of the gaps after samples ``at`` of ``x`` (the
    81-tap filter's phases over ``x[at-9 .. at+10]``). Plain multiply-adds over the
    gathered (20, n) rows: ~8x less CPU than a (n, 20) @ (20, 3) matrix product, which
    OpenBLAS runs badly (tiny inner dimension) and on threads that compete with the
    encoders for the cores."""
    rows = x[_WINDOW[:, None] + at[None, :]]
    best = np.zeros(at.size, dtype=np.float32)
    for coef in _PHASE_ROWS:
        y = rows[0] * coef[0]
        for t in range(1, coef.size):
            y += rows[t] * coef[t]
        np.maximum(best, np.abs(y, out=y), out=best)
    return best
_QUARTER_ALLOWANCE = np.float32(10 ** (0.2 / 20))
"""With ``midpoints_only``, what the quarter points may add over the midpoints: +0.2 dB
(a sine at a sixth of the sample rate gains 0.15 dB; speech peaks lie far lower)."""


def k_weighting_sos(rate: int) -> np.ndarray:
    """The two K-weighting biquads (BS.1770-4 Annex 1) at ``rate`` Hz, as scipy SOS rows."""
    f0, gain_db, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / rate)
    vh = 10 ** (gain_db / 20)
    vb = vh ** 0.4996667741545416
    a0 = 1 + k / q + k * k
    shelf = [(vh + vb * k / q + k * k) / a0, 2 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0,
             1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0]
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / rate)
    a0 = 1 + k / q + k * k
    highpass = [1.0, -2.0, 1.0, 1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0]
    return np.array([shelf, highpass], dtype=np.float64)


def lufs(mean_square: float | np.ndarray) -> float | np.ndarray:
    """Loudness (LUFS) of a channel-weighted mean square: -0.691 + 10 log10(z) (BS.1770-4 eq. 2)."""
    with np.errstate(divide="ignore"):
        return -0.691 + 10 * np.log10(mean_square)


def db(linear: float) -> float:
    """20 log10 of a linear amplitude; -inf for 0."""
    return 20 * math.log10(linear) if linear > 0 else float("-inf")


def frame_edges(rate: int, index: np.ndarray | int) -> np.ndarray:
    """Sample index of the start of frame ``index`` (int64; any shape) on the 1 ms grid of
    a signal at ``rate`` Hz: round(index x rate x :data:`FRAME_S`)."""
    return np.round(np.asarray(index, dtype=np.int64) * (rate * FRAME_S)).astype(np.int64)


@dataclass(frozen=True)
class Frames:
    """Per-frame (1 ms) figures of a whole signal, or of a window of one.

    ``energy`` is the sum over the frame's samples of the channel-weighted squared
    K-weighted signal; ``peak`` the frame's true peak (linear, never under-estimated);
    both float32 from :class:`Meter` (what it computes in; a verifier's peak bounds stay
    float64), 4 bytes per frame each; numpy arrays, or for a long signal measured with a
    duration hint :class:`~pipeline.media.spill.Spill` columns (slices only). ``rate`` in Hz; ``samples`` the signal's length;
    ``offset`` the index of the first frame on the 1 ms grid of the signal a window was
    cut from. The frame edges are not stored: :meth:`edges` computes them.
    """

    rate: int
    samples: int
    energy: np.ndarray
    peak: np.ndarray
    offset: int = 0

    @property
    def duration_s(self) -> float:
        return self.samples / self.rate if self.rate else 0.0

    def __len__(self) -> int:
        return int(self.energy.size)

    def edges_at(self, index: np.ndarray | int) -> np.ndarray:
        """Sample indices (int64, relative to the first frame) of the starts of frames
        ``index`` (0 .. len); the last edge is ``samples``."""
        base = int(frame_edges(self.rate, self.offset))
        return np.minimum(frame_edges(self.rate, np.asarray(index) + self.offset) - base, self.samples)

    def edges(self, lo: int = 0, hi: int | None = None) -> np.ndarray:
        """Edges of frames ``lo`` .. ``hi`` inclusive (default: all, ``len + 1`` values)."""
        return self.edges_at(np.arange(lo, len(self) + 1 if hi is None else hi + 1))

    def window(self, a: int, b: int) -> "Frames":
        """Frames ``a:b`` as a signal of their own (views, no copy)."""
        ea, eb = (int(v) for v in self.edges_at(np.array([a, b])))
        return Frames(self.rate, eb - ea, _cut(self.energy, a, b), _cut(self.peak, a, b), self.offset + a)


def _cut(x: "np.ndarray | spill.Spill", a: int, b: int) -> "np.ndarray | spill.Spill":
    return x.view(a, b) if isinstance(x, spill.Spill) else x[a:b]


@dataclass(frozen=True)
class Loudness:
    """A BS.1770-4 / Tech 3342 measurement: LUFS, LU, dBTP. ``integrated_lufs`` is
    ``-inf`` when every block is below the absolute gate."""

    integrated_lufs: float
    lra_lu: float
    true_peak_dbtp: float
    max_momentary_lufs: float
    max_short_term_lufs: float
    duration_s: float
    curve: "Curve | None" = field(default=None, compare=False, repr=False)
    """Loudness over time, when the measurer kept it (:func:`curve`)."""


class Meter:
    """Feed float samples of shape (n, channels) with :meth:`feed`, then :meth:`frames`.

    ``weights`` are the BS.1770 channel weights (default 1.0 each: mono, stereo, L/R/C).
    ``midpoints_only`` interpolates only the middle of each gap and allows 0.2 dB for the
    quarter points (three times cheaper; for planning, not for reporting).
    Frame true peaks are exact everywhere (``exact_within_db`` None, the default), or
    within ``exact_within_db`` of the highest peak so far, or
    of ``floor_dbtp`` when given (a verifier that only needs the peaks near a ceiling);
    a signal whose peaks all stay more than 3.5 dB under ``floor_dbtp`` is then reported
    with an over-estimated true peak.
    """

    def __init__(self, rate: int, channels: int = 1, weights: tuple[float, ...] | None = None,
                 exact_within_db: float | None = None, floor_dbtp: float | None = None,
                 midpoints_only: bool = False, duration_hint_s: float | None = None,
                 sink: "Callable[[np.ndarray, np.ndarray], None] | None" = None) -> None:
        if rate <= 0 or channels <= 0:
            raise ValueError(f"bad stream: {rate} Hz, {channels} channel(s)")
        self.rate, self.channels = rate, channels
        self.weights = np.asarray(weights or (1.0,) * channels, dtype=np.float64)
        sos = k_weighting_sos(rate)
        self._sos = sos.astype(np.float32)
        self._zi = [np.zeros((sos.shape[0], 2), dtype=np.float32) for _ in range(channels)]
        self._pos = 0          # samples fed so far
        self._framed = 0       # frames completed
        self._hist = np.zeros((0, channels), dtype=np.float32)  # context before _sig
        self._sig = np.zeros((0, channels), dtype=np.float32)
        self._energy_buf = np.zeros((0,), dtype=np.float32)
        # frame figures: float32 (what the meter computes in); the peak bounds of a
        # verifier (``exact_within_db``) are float64 products and stay float64
        # (a long signal's, by ``duration_hint_s``, in temporary files: :mod:`.spill`)
        capacity = int(duration_hint_s / FRAME_S * 1.01) + 1024 if duration_hint_s and sink is None else 0
        peak_type = np.float32 if exact_within_db is None else np.float64
        if capacity > spill.SPILL_FRAMES:
            self._energy: "_Column | spill.Spill" = spill.Spill(0, np.float32)
            self._peak: "_Column | spill.Spill" = spill.Spill(0, peak_type)
        else:
            self._energy, self._peak = _Column(np.float32, capacity), _Column(peak_type, capacity)
        self._sink = sink
        self._max_peak = 10 ** (floor_dbtp / 20) if floor_dbtp is not None else 0.0
        self._last_peak = 0.0
        self._exact_within = 0.0 if exact_within_db is None else 10 ** (-exact_within_db / 20)
        self._midpoints_only = midpoints_only
        self._done = False

    def _edges(self, first: int, last: int) -> np.ndarray:
        """Sample indices of the edges of frames ``first`` .. ``last`` (inclusive)."""
        return np.round(np.arange(first, last + 1) * (self.rate * FRAME_S)).astype(np.int64)

    def _edge(self, frame: int) -> int:
        return int(self._edges(frame, frame)[0])

    def feed(self, chunk: np.ndarray) -> None:
        """Add samples: float array of shape (n, channels) or (n,) for mono."""
        x = np.asarray(chunk, dtype=np.float32)
        if x.ndim == 1:
            x = x[:, None]
        if x.shape[1] != self.channels or self._done:
            raise ValueError("chunk does not match the meter (channels) or the meter is finished")
        if x.shape[0] == 0:
            return
        e = np.zeros(x.shape[0], dtype=np.float32)
        for ch in range(self.channels):
            y, self._zi[ch] = signal.sosfilt(self._sos, np.ascontiguousarray(x[:, ch]), zi=self._zi[ch])
            y *= y
            e += y if self.weights[ch] == 1.0 else np.float32(self.weights[ch]) * y
        self._energy_buf = np.concatenate([self._energy_buf, e])
        self._sig = np.concatenate([self._sig, x])
        self._pos += x.shape[0]
        self._frame(final=False)

    def _frame(self, final: bool) -> None:
        start = self._pos - self._sig.shape[0]          # sample index of _sig[0]
        limit = self._pos if final else self._pos - _CONTEXT
        first = self._framed
        last = max(first, int(limit / (self.rate * FRAME_S)) + 1)
        while last > first and self._edge(last) > limit:
            last -= 1
        if final and self._edge(last) < self._pos:
            last += 1                                    # a short last frame
        if last == first:
            return
        edges = np.minimum(self._edges(first, last), self._pos)
        rel = edges - start
        n = int(rel[-1])
        sig = self._sig[:n]
        mag = np.abs(sig).max(axis=1) if self.channels > 1 else np.abs(sig[:, 0])
        energy = np.add.reduceat(self._energy_buf[:n], rel[:-1])
        sample_peak = np.maximum.reduceat(mag, rel[:-1]).astype(np.float64)
        peak = self._true_peaks(sample_peak, rel, start)
        if self._sink is not None:
            self._sink(energy, peak)
        else:
            self._energy.extend(energy)
            self._peak.extend(peak)
        keep = max(0, n - _CONTEXT)
        self._hist = self._sig[keep:n].copy()
        self._sig = self._sig[n:]
        self._energy_buf = self._energy_buf[n:]
        self._framed = last

    def _true_peaks(self, sample_peak: np.ndarray, rel: np.ndarray, start: int) -> np.ndarray:
        """Per-frame true peaks: exact where they can matter, an upper bound elsewhere.

        A frame owns the gaps after each of its samples, so its gaps span its own samples
        and the first sample of the next frame. A gap is interpolated (at 1/4, 1/2, 3/4)
        only when one of its two samples is within 3.5 dB of the threshold; otherwise no
        inter-sample peak there can reach it, and the frame's peak is taken as 3.5 dB
        over its gaps' samples."""
        off = self._hist.shape[0]
        n = int(rel[-1])
        after = self._sig.shape[0] - n
        self._max_peak = max(self._max_peak, float(sample_peak.max(initial=0.0)))
        threshold = self._max_peak * self._exact_within
        following = np.zeros(sample_peak.size)
        inside = rel[1:] < self._sig.shape[0]
        if inside.any():
            following[inside] = np.abs(self._sig[rel[1:][inside]]).max(axis=1)
        peak = _OVERSHOOT * np.maximum(sample_peak, following)
        if not (peak >= threshold).any():
            return peak
        exact = sample_peak.copy()
        touched = np.zeros(sample_peak.size, dtype=bool)
        level = np.float32(threshold / _OVERSHOOT)
        for ch in range(self.channels):
            full = np.concatenate([np.zeros(_CONTEXT - off, np.float32), self._hist[:, ch], self._sig[:, ch],
                                   np.zeros(max(0, _CONTEXT + 1 - after), np.float32)])
            if threshold > 0:
                hot = np.abs(full[_CONTEXT:_CONTEXT + n + 1]) >= level
                j = np.flatnonzero(hot[:-1] | hot[1:])
                if j.size == 0:
                    continue
            else:
                j = None
            if j is None or j.size > n // 8:   # many: the whole batch by convolution, every gap
                values = _interpolate_all(full, n, _PHASE_ROWS[1:2] if self._midpoints_only else _PHASE_ROWS)
                if self._midpoints_only:
                    values *= _QUARTER_ALLOWANCE
                np.maximum(exact, np.maximum.reduceat(values, rel[:-1]), out=exact)
                touched[:] = True
                continue
            values = _interpolate_at(full, j + _CONTEXT).astype(np.float64)
            frame = np.searchsorted(rel, j, side="right") - 1
            first = np.flatnonzero(np.diff(frame, prepend=-1))
            frames = frame[first]
            np.maximum.at(exact, frames, np.maximum.reduceat(values, first))
            touched[frames] = True
        peak[touched] = np.maximum(exact[touched], np.minimum(peak[touched], threshold))
        if touched.any():
            self._max_peak = max(self._max_peak, float(exact[touched].max()))
        return peak

    def finish(self) -> int:
        """Finish the stream (the last frames go to the sink); the samples fed."""
        if not self._done:
            self._frame(final=True)
            self._done = True
        return self._pos

    def frames(self) -> Frames:
        """Finish the stream and return its frames (call once, after the last chunk;
        not with a ``sink``, which was handed them)."""
        if self._sink is not None:
            raise ValueError("the frames went to the sink")
        self.finish()
        if isinstance(self._energy, spill.Spill):
            return Frames(rate=self.rate, samples=self._pos, energy=self._energy, peak=self._peak)
        return Frames(rate=self.rate, samples=self._pos, energy=self._energy.array(), peak=self._peak.array())


class _Column:
    """A growing 1-D array (room for ``capacity`` at first, then +25 % at a time)."""

    def __init__(self, dtype: type, capacity: int = 0) -> None:
        self._a = np.empty(capacity, dtype=dtype)
        self.n = 0

    def extend(self, x: np.ndarray) -> None:
        need = self.n + x.size
        if need > self._a.size:
            grown = np.empty(max(need, int(self._a.size * 1.25) + 4096), dtype=self._a.dtype)
            grown[:self.n] = self._a[:self.n]
            self._a = grown
        self._a[self.n:need] = x
        self.n = need

    def array(self) -> np.ndarray:
        return self._a[:self.n]


# -- measurements over frames (pure functions) -------------------------------------------

def block_mean_squares(frames: Frames, energy: np.ndarray | None = None, span: int = BLOCK_FRAMES,
                       hop: int = HOP_FRAMES) -> np.ndarray:
    """Mean squares of windows of ``span`` frames every ``hop`` frames (complete windows
    only; a signal shorter than one window gives one window, padded with silence)."""
    e = frames.energy if energy is None else energy
    n = e.size
    window_samples = frames.rate * FRAME_S * span
    if n < span:
        return np.array([np.asarray(e[0:n], dtype=np.float64).sum() / window_samples]) if n else np.zeros(0)
    starts = np.arange(0, n - span + 1, hop)
    if span % hop:
        c = np.concatenate([[0.0], np.cumsum(e, dtype=np.float64)])
        return (c[starts + span] - c[starts]) / window_samples
    c = running_sums(e, hop)
    return (c[(starts + span) // hop] - c[starts // hop]) / window_samples


def running_sums(e: np.ndarray, step: int, chunk: int = 1 << 16) -> np.ndarray:
    """``c[0], c[step], c[2 step], ...`` of ``c = [0, cumsum(e)]`` (float64, summed in order
    exactly as ``np.cumsum``), a chunk at a time: no array of ``e``'s length is made."""
    marks = [np.zeros(1)]
    total = 0.0
    for a in range(0, e.size, chunk):
        c = np.cumsum(np.concatenate([[total], e[a:a + chunk]]), dtype=np.float64)
        marks.append(c[(-a) % step or step::step].copy())   # not a view of the chunk
        total = float(c[-1])
    return np.concatenate(marks)


def gated_loudness(blocks: np.ndarray) -> float:
    """Integrated loudness (LUFS) from 400 ms block mean squares, BS.1770-4 gating."""
    if blocks.size == 0:
        return float("-inf")
    levels = lufs(blocks)
    kept = blocks[levels > ABSOLUTE_GATE_LUFS]
    if kept.size == 0:
        return float("-inf")
    gate = lufs(kept.mean()) + RELATIVE_GATE_LU
    kept = blocks[(levels > ABSOLUTE_GATE_LUFS) & (levels > gate)]
    return float(lufs(kept.mean())) if kept.size else float("-inf")


def integrated(frames: Frames, energy: np.ndarray | None = None) -> float:
    """Integrated loudness (LUFS) of the frames, optionally with other ``energy``."""
    return gated_loudness(block_mean_squares(frames, energy))


def loudness_range(frames: Frames) -> float:
    """Loudness range (LU), EBU Tech 3342, from 3 s short-term values every 100 ms."""
    return _range(block_mean_squares(frames, span=SHORT_TERM_FRAMES, hop=HOP_FRAMES), len(frames))


def _range(st: np.ndarray, frames: int) -> float:
    """Loudness range (LU) from the 3 s mean squares every 100 ms of ``frames`` frames."""
    if st.size == 0 or frames < SHORT_TERM_FRAMES:
        return 0.0
    levels = lufs(st)
    kept = st[levels > ABSOLUTE_GATE_LUFS]
    if kept.size == 0:
        return 0.0
    gate = lufs(kept.mean()) + LRA_RELATIVE_GATE_LU
    values = np.sort(levels[(levels > ABSOLUTE_GATE_LUFS) & (levels > gate)])
    if values.size == 0:
        return 0.0

    def pct(p: float) -> float:
        i = int(round((values.size - 1) * p / 100 + 1)) - 1
        return float(values[min(max(i, 0), values.size - 1)])

    return max(0.0, pct(95) - pct(10))


def measure(frames: Frames) -> Loudness:
    """Integrated loudness, LRA, true peak, max momentary and short-term loudness."""
    m = block_mean_squares(frames, span=BLOCK_FRAMES, hop=10)
    s = block_mean_squares(frames, span=SHORT_TERM_FRAMES, hop=10)
    return Loudness(integrated_lufs=integrated(frames), lra_lu=loudness_range(frames),
                    true_peak_dbtp=db(float(frames.peak.max(initial=0.0))),
                    max_momentary_lufs=float(lufs(m.max())) if m.size else float("-inf"),
                    max_short_term_lufs=float(lufs(s.max())) if s.size else float("-inf"),
                    duration_s=frames.duration_s)


def measure_array(samples: np.ndarray, rate: int, chunk: int = 1 << 16, exact_within_db: float = 0.0) -> Loudness:
    """Measure an in-memory signal (n,) or (n, channels); for tests and small clips."""
    x = np.asarray(samples, dtype=np.float32)
    x = x[:, None] if x.ndim == 1 else x
    meter = Meter(rate, x.shape[1], exact_within_db=exact_within_db)
    for i in range(0, x.shape[0], chunk):
        meter.feed(x[i:i + chunk])
    return measure(meter.frames())


# -- compact loudness curves (for pictures; issue 14) ---------------------------------------

CURVE_BLOCK_S = 0.1
"""The curves' base resolution: 100 ms blocks (the BS.1770 momentary hop)."""
CURVE_MAX_POINTS = 2400
"""At most this many points per curve: the step grows in whole 100 ms blocks with length."""


@dataclass(frozen=True)
class Curve:
    """Loudness over time of one measured signal, every ``step_s`` seconds.

    ``momentary`` (400 ms window) and ``short_term`` (3 s window) loudness in LUFS (BS.1770-4,
    the windows ending at each point), ``peak`` the highest sample or true peak within each
    step in dBFS / dBTP, ``rms`` the K-weighted RMS level of each step in dB (a waveform's
    body). Values are floats; silence is ``-inf``.
    """

    step_s: float
    momentary: np.ndarray
    short_term: np.ndarray
    peak: np.ndarray
    rms: np.ndarray

    @property
    def duration_s(self) -> float:
        return self.step_s * self.momentary.size


def curve_from_blocks(energy: np.ndarray, peak: np.ndarray, block_samples: float,
                      max_points: int = CURVE_MAX_POINTS) -> Curve:
    """A :class:`Curve` from per-100 ms channel-weighted K-weighted energy sums and linear
    peaks. ``block_samples`` is the samples per block (rate x 0.1)."""
    n = int(energy.size)
    per = max(1, math.ceil(n / max_points))
    c = np.concatenate([[0.0], np.cumsum(energy, dtype=np.float64)])
    ends = np.minimum(np.arange(per, n + per, per), n) if n else np.zeros(0, dtype=np.int64)

    def window(blocks: int) -> np.ndarray:
        return (c[ends] - c[np.maximum(ends - blocks, 0)]) / (blocks * block_samples)

    starts = ends - np.minimum(per, ends)
    step_ms = (c[ends] - c[starts]) / (np.maximum(ends - starts, 1) * block_samples)
    pk = np.maximum.reduceat(peak, starts) if n else np.zeros(0)
    with np.errstate(divide="ignore"):
        return Curve(step_s=round(per * CURVE_BLOCK_S, 3), momentary=lufs(window(4)), short_term=lufs(window(30)),
                     peak=20 * np.log10(pk), rms=10 * np.log10(step_ms))


def curve(frames: Frames, max_points: int = CURVE_MAX_POINTS) -> Curve:
    """The :class:`Curve` of measured frames (true peaks per step)."""
    hop = _CURVE_HOP
    n = frames.energy.size // hop * hop
    if n == 0:
        return curve_from_blocks(np.array([frames.energy.astype(np.float64).sum()]),
                                 np.array([float(frames.peak.max(initial=0.0))]),
                                 frames.rate * CURVE_BLOCK_S, max_points)
    return curve_from_blocks(frames.energy[:n].astype(np.float64).reshape(-1, hop).sum(axis=1),
                             frames.peak[:n].reshape(-1, hop).max(axis=1).astype(np.float64),
                             frames.rate * CURVE_BLOCK_S, max_points)


_CURVE_HOP = int(round(CURVE_BLOCK_S / FRAME_S))
_C_STEP = 10
"""Frames between the cumulative energies a :class:`Summary` keeps: every window the
measurements use starts and ends on a multiple of 10 frames (hops of 10 and 100)."""


class Summary:
    """What :func:`measure` and :func:`curve` need of a stream of frames, in memory that
    does not grow with 1 ms frames: the running sum of the energy every 10 frames
    (float64, 0.8 byte per frame), per 100 ms block its energy and peak, the first
    3 s of frames (short signals), and the frames whose peak is above ``keep_above``
    (linear; a verifier's overshoots). Feed it frame batches (``Meter(sink=...)``);
    :meth:`loudness` and :meth:`curve` give exactly what :func:`measure` and
    :func:`curve` give for the same frames.
    """

    def __init__(self, rate: int, keep_above: float = math.inf, duration_hint_s: float | None = None) -> None:
        self.rate, self.samples, self.frames = rate, 0, 0
        self._keep_above = keep_above
        self._sum = 0.0
        marks = int(duration_hint_s / FRAME_S / _C_STEP * 1.01) + 1024 if duration_hint_s else 0
        self._c = _Column(np.float64, marks)
        self._c.extend(np.zeros(1))
        self._head: list[np.ndarray] = []
        self._head_n = 0
        self._block_e = _Column(np.float64, marks // _CURVE_HOP * _C_STEP)
        self._block_p = _Column(np.float64, marks // _CURVE_HOP * _C_STEP)
        self._tail_e = np.zeros(0)
        self._tail_p = np.zeros(0)
        self._max_peak = 0.0
        self._over: list[tuple[np.ndarray, np.ndarray]] = []

    def add(self, energy: np.ndarray, peak: np.ndarray) -> None:
        """Add the next frames' energies and true peaks."""
        e = energy.astype(np.float64)
        p = np.asarray(peak, dtype=np.float64)
        n0, k = self.frames, e.size
        if k == 0:
            return
        c = np.cumsum(np.concatenate([[self._sum], e]))   # sequential: as np.cumsum of all frames
        first = (-n0) % _C_STEP or _C_STEP
        self._c.extend(c[first::_C_STEP])
        self._sum = float(c[-1])
        if self._head_n < SHORT_TERM_FRAMES:
            self._head.append(e[:SHORT_TERM_FRAMES - self._head_n])
            self._head_n += self._head[-1].size
        te, tp = np.concatenate([self._tail_e, e]), np.concatenate([self._tail_p, p])
        whole = te.size // _CURVE_HOP * _CURVE_HOP
        if whole:
            self._block_e.extend(te[:whole].reshape(-1, _CURVE_HOP).sum(axis=1))
            self._block_p.extend(tp[:whole].reshape(-1, _CURVE_HOP).max(axis=1))
        self._tail_e, self._tail_p = te[whole:], tp[whole:]
        self._max_peak = max(self._max_peak, float(p.max()))
        hot = np.flatnonzero(p > self._keep_above)
        if hot.size:
            self._over.append((hot + n0, p[hot]))
        self.frames += k

    def overshoots(self) -> tuple[np.ndarray, np.ndarray]:
        """Frame indices and true peaks (linear) of the frames above ``keep_above``."""
        if not self._over:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        return np.concatenate([i for i, _ in self._over]), np.concatenate([v for _, v in self._over])

    def _blocks(self, span: int, hop: int) -> np.ndarray:
        """As :func:`block_mean_squares` of the frames."""
        n = self.frames
        window_samples = self.rate * FRAME_S * span
        if n < span:
            return np.array([np.concatenate(self._head).sum() / window_samples]) if n else np.zeros(0)
        c = self._c.array()
        starts = np.arange(0, n - span + 1, hop)
        return (c[(starts + span) // _C_STEP] - c[starts // _C_STEP]) / window_samples

    def loudness(self) -> Loudness:
        """As :func:`measure` of the frames."""
        m = self._blocks(BLOCK_FRAMES, 10)
        s = self._blocks(SHORT_TERM_FRAMES, 10)
        return Loudness(integrated_lufs=gated_loudness(self._blocks(BLOCK_FRAMES, HOP_FRAMES)),
                        lra_lu=_range(self._blocks(SHORT_TERM_FRAMES, HOP_FRAMES), self.frames),
                        true_peak_dbtp=db(self._max_peak),
                        max_momentary_lufs=float(lufs(m.max())) if m.size else float("-inf"),
                        max_short_term_lufs=float(lufs(s.max())) if s.size else float("-inf"),
                        duration_s=self.samples / self.rate if self.rate else 0.0)

    def curve(self, max_points: int = CURVE_MAX_POINTS) -> Curve:
        """As :func:`curve` of the frames."""
        if self._block_e.n == 0:
            head = np.concatenate(self._head) if self._head else np.zeros(0)
            return curve_from_blocks(np.array([head.sum()]), np.array([self._max_peak]),
                                     self.rate * CURVE_BLOCK_S, max_points)
        return curve_from_blocks(self._block_e.array(), self._block_p.array(), self.rate * CURVE_BLOCK_S, max_points)


class CurveMeter:
    """A light streaming meter that only keeps what a :class:`Curve` needs: per 100 ms
    block the K-weighted, channel-weighted energy and the sample peak (no true peak, no
    1 ms frames; about a fifth of :class:`Meter`'s cost). Feed (n, channels) float
    samples, then call :meth:`curve`.

    Raises:
        ValueError: a bad stream shape or a chunk of other channels.
    """

    def __init__(self, rate: int, channels: int = 1, weights: tuple[float, ...] | None = None) -> None:
        if rate <= 0 or channels <= 0:
            raise ValueError(f"bad stream: {rate} Hz, {channels} channel(s)")
        self.rate, self.channels = rate, channels
        self.weights = np.asarray(weights or (1.0,) * channels, dtype=np.float32)
        self._sos = k_weighting_sos(rate).astype(np.float32)
        self._zi = [np.zeros((2, 2), dtype=np.float32) for _ in range(channels)]
        self._block = int(round(rate * CURVE_BLOCK_S))
        self._e_tail = np.zeros(0, dtype=np.float32)
        self._p_tail = np.zeros(0, dtype=np.float32)
        self._energy: list[np.ndarray] = []
        self._peak: list[np.ndarray] = []
        self._pending: list[np.ndarray] = []
        self._pending_n = 0
        self._batch = 1 << 16

    def feed(self, chunk: np.ndarray) -> None:
        """Add samples: float array of shape (n, channels) or (n,) for mono."""
        x = np.asarray(chunk, dtype=np.float32)
        x = x[:, None] if x.ndim == 1 else x
        if x.shape[1] != self.channels:
            raise ValueError("chunk does not match the meter's channels")
        self._pending.append(x.copy())
        self._pending_n += x.shape[0]
        if self._pending_n >= self._batch:
            self._process()

    def _process(self) -> None:
        """Work through the samples gathered so far (in batches of about 1.4 s: the filter
        and reductions cost far less per sample on long runs than on decoder-sized chunks)."""
        if not self._pending:
            return
        x = np.concatenate(self._pending) if len(self._pending) > 1 else self._pending[0]
        self._pending, self._pending_n = [], 0
        e = np.zeros(x.shape[0], dtype=np.float32)
        for ch in range(self.channels):
            y, self._zi[ch] = signal.sosfilt(self._sos, np.ascontiguousarray(x[:, ch]), zi=self._zi[ch])
            y *= y
            e += y if self.weights[ch] == 1.0 else self.weights[ch] * y
        p = np.abs(x[:, 0])
        for ch in range(1, self.channels):  # a max over a short axis 1 is slow in numpy; this is not
            np.maximum(p, np.abs(x[:, ch]), out=p)
        e = np.concatenate([self._e_tail, e])
        p = np.concatenate([self._p_tail, p])
        whole = e.size // self._block * self._block
        if whole:
            self._energy.append(e[:whole].reshape(-1, self._block).sum(axis=1, dtype=np.float64))
            self._peak.append(p[:whole].reshape(-1, self._block).max(axis=1))
        self._e_tail, self._p_tail = e[whole:], p[whole:]

    def curve(self, max_points: int = CURVE_MAX_POINTS) -> Curve:
        """The curve of everything fed (a last partial block counts as a whole block)."""
        self._process()
        energy, peak = list(self._energy), list(self._peak)
        if self._e_tail.size:
            energy.append(np.array([self._e_tail.sum(dtype=np.float64)]))
            peak.append(np.array([self._p_tail.max()]))
        e = np.concatenate(energy) if energy else np.zeros(0)
        p = np.concatenate(peak).astype(np.float64) if peak else np.zeros(0)
        return curve_from_blocks(e, p, self._block, max_points)
