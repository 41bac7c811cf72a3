"""Level planning of one rendition: a gain curve decided on measured frames (pure numpy).

The source is measured once (:mod:`pipeline.media.meter`: K-weighted energy and true
peak per 1 ms frame). For each rendition this module decides one gain per frame, in dB:

    gain(f) = static gain + levelling(f) + compression(f) - limiting(f)

* ``levelling`` (only where the profile asks for it, ``levelling = true``) rides the
  gain slowly, like a broadcast AGC: passages whose 3 s loudness is off the programme
  loudness are brought ``(1 - 1/level_ratio)`` of the way back, boosts limited to
  ``level_max_boost_db`` and never given to pauses (30 LU under the programme);

* ``compression`` (speech compression for loudspeakers, the gentle "clarity" treatment)
  reduces syllables louder than a threshold set relative to the source's own integrated
  loudness, so it acts the same on a quiet and on a loud recording;
* ``limiting`` is a look-ahead true-peak limiter: every frame whose true peak would pass
  the ceiling is brought down to it, with linear-in-dB attack ramps before the peak and
  release ramps after (so the gain is never above what a frame allows);
* the static gain is solved (secant method) so that the integrated loudness of the
  result, recomputed with the same BS.1770-4 gating, is the target; it never exceeds
  the configured maximum gain (then ``capped`` is set).

A lossy encoder is modelled by its quantisation noise (``noise_factor`` k): the
decoded peak of a frame is at most its planned peak plus k times the RMS of the planned
signal over the encoder's frame (the noise a perceptual coder adds follows the local
signal level, not the peak). With the gain locally constant both scale together, so the
limiter works on ``peak + k * local RMS`` of the source: a per-frame, level-independent
allowance, largest where the signal is dense (what limiting makes it).

Because the curve is applied by ffmpeg exactly as planned (``amultiply`` with the curve
interpolated linearly between frame edges), the loudness and peak of the rendered PCM
are known before the render; only the lossy encoder's small, measured, deviations remain.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from ..media import meter
from ..media.meter import Frames
from . import chunked


@dataclass(frozen=True)
class Shape:
    """How a rendition's dynamics are treated.

    ``compress_ratio`` 1 means no compression; ``compress_threshold_lu`` is relative to
    the source's integrated loudness; rates are in dB per millisecond. ``level_ratio``
    1 means no levelling (the lesson's loudness range is kept); 2 halves the deviation
    of each 3 s passage from the programme loudness (boosts at most
    ``level_max_boost_db``, gain moving at most ``level_rate_db_ms``).
    """

    compress_ratio: float = 1.0
    compress_threshold_lu: float = 0.0
    compress_window_ms: int = 50
    compress_attack_db_ms: float = 0.5
    compress_release_db_ms: float = 0.05
    limit_attack_db_ms: float = 1.5
    limit_release_db_ms: float = 0.2
    level_ratio: float = 1.0
    level_window_ms: int = 3000
    level_max_boost_db: float = 12.0
    level_rate_db_ms: float = 0.01


@dataclass(frozen=True)
class Plan:
    """The decided levels of one rendition.

    ``curve_db`` is the gain per frame (None: the constant ``gain_db``); ``predicted_lufs``
    and ``predicted_peak_dbtp`` describe the signal after the gain (before the encoder);
    ``limited_db`` is the deepest limiter reduction; ``capped`` is True when the source is
    too quiet to reach the target within the maximum gain.
    """

    gain_db: float
    curve_db: "np.ndarray | chunked.Spill | None"
    predicted_lufs: float
    predicted_peak_dbtp: float
    limited_db: float
    capped: bool

    def envelope(self, frames: Frames, chunk: int = 1 << 16) -> Iterator[np.ndarray]:
        """The linear gain per sample (float32 chunks), interpolated linearly between frame
        edges; the value at an edge is the smaller of the two frames' gains, so no sample
        gets more gain than its frame allows. Computed chunk by chunk (memory does not
        grow with the length)."""
        n = len(frames)
        per_chunk = max(1, chunk // max(1, int(frames.rate * meter.FRAME_S)))
        for f0 in range(0, n, per_chunk):
            f1 = min(n, f0 + per_chunk)
            lo, hi = max(0, f0 - 1), min(n, f1 + 1)
            g = self.curve_db[lo:hi] if self.curve_db is not None else np.full(hi - lo, self.gain_db)
            lin = 10 ** (np.asarray(g, dtype=np.float64) / 20)
            at = np.empty(f1 - f0 + 1)
            k0, k1 = f0 - lo, f1 - lo            # positions of frames f0 and f1 (exclusive) in lin
            at[0] = lin[k0] if f0 == 0 else min(lin[k0 - 1], lin[k0])
            at[-1] = lin[k1 - 1] if f1 == n else min(lin[k1 - 1], lin[k1])
            at[1:-1] = np.minimum(lin[k0:k1 - 1], lin[k0 + 1:k1])
            edges = frames.edges(f0, f1)
            lengths = np.diff(edges)
            start32 = at[:-1].astype(np.float32)
            slope32 = ((at[1:] - at[:-1]) / np.maximum(lengths, 1)).astype(np.float32)
            pos = np.arange(int(edges[-1] - edges[0]), dtype=np.float32)
            pos -= np.repeat((edges[:-1] - edges[0]).astype(np.float32), lengths)
            yield np.repeat(start32, lengths) + np.repeat(slope32, lengths) * pos


def _ramps(need: np.ndarray, attack: float, release: float) -> np.ndarray:
    """The smallest curve >= ``need`` (dB, per frame) that rises at most ``attack`` dB per
    frame before a peak and falls at most ``release`` dB per frame after it."""
    idx = np.arange(need.size, dtype=np.float64)
    after = np.maximum.accumulate(need + release * idx) - release * idx
    before = (np.maximum.accumulate((need - attack * idx)[::-1]) + attack * idx[::-1])[::-1]
    return np.maximum(np.maximum(after, before), 0.0)


def compression_db(frames: Frames, shape: Shape, reference_lufs: float) -> np.ndarray:
    """Compression gain per frame (dB, <= 0): syllables whose short loudness (K-weighted,
    ``compress_window_ms``) exceeds ``reference_lufs + compress_threshold_lu`` are reduced
    by (1 - 1/ratio) of the excess, with smoothed attack and release."""
    if shape.compress_ratio <= 1.0 or not math.isfinite(reference_lufs):
        return np.zeros(len(frames))
    w = max(1, shape.compress_window_ms)
    c = np.concatenate([[0.0], np.cumsum(frames.energy, dtype=np.float64)])
    idx = np.arange(len(frames))
    lo, hi = np.maximum(idx - w // 2, 0), np.minimum(idx + w - w // 2, len(frames))
    samples = np.maximum(frames.edges_at(hi) - frames.edges_at(lo), 1)
    level = meter.lufs((c[hi] - c[lo]) / samples)
    over = np.maximum(level - (reference_lufs + shape.compress_threshold_lu), 0.0)
    reduction = over * (1 - 1 / shape.compress_ratio)
    return -_ramps(reduction, shape.compress_attack_db_ms, shape.compress_release_db_ms)


def levelling_db(frames: Frames, shape: Shape, reference_lufs: float) -> np.ndarray:
    """Levelling gain per frame (dB): each frame's ``level_window_ms`` loudness (centred)
    is moved ``(1 - 1/level_ratio)`` of the way to ``reference_lufs``; boosts at most
    ``level_max_boost_db``; frames 30 LU or more under the reference (pauses, room
    tone) keep the gain of the passage around them; the gain moves at most
    ``level_rate_db_ms`` per frame (about 10 dB/s: slow enough to be inaudible)."""
    if shape.level_ratio <= 1.0 or not math.isfinite(reference_lufs) or len(frames) == 0:
        return np.zeros(len(frames))
    w = max(1, shape.level_window_ms)
    c = np.concatenate([[0.0], np.cumsum(frames.energy, dtype=np.float64)])
    idx = np.arange(len(frames))
    lo, hi = np.maximum(idx - w // 2, 0), np.minimum(idx + w - w // 2, len(frames))
    samples = np.maximum(frames.edges_at(hi) - frames.edges_at(lo), 1)
    level = meter.lufs((c[hi] - c[lo]) / samples)
    gain = -(level - reference_lufs) * (1 - 1 / shape.level_ratio)
    gain = np.minimum(gain, shape.level_max_boost_db)
    quiet = ~(level > reference_lufs - 30.0)
    if quiet.all():
        return np.zeros(len(frames))
    if quiet.any():   # hold the last passage's gain through pauses (first: the next one's)
        keep = np.where(quiet, 0, idx)
        np.maximum.accumulate(keep, out=keep)
        first = int(np.flatnonzero(~quiet)[0])
        keep[:first] = first
        gain = gain[keep]
    rate = shape.level_rate_db_ms
    up = gain.copy()
    # slew-limit both ways: a curve that follows gain but moves at most `rate` per frame
    out = _slew(up, rate)
    return out


def _slew(x: np.ndarray, rate: float) -> np.ndarray:
    """The curve nearest to ``x`` from below whose slope is at most ``rate`` per frame
    (a cut arrives early, a boost late: the curve never exceeds ``x``)."""
    idx = np.arange(x.size, dtype=np.float64)
    after = np.minimum.accumulate(x - rate * idx) + rate * idx
    before = (np.minimum.accumulate((x + rate * idx)[::-1]) - rate * idx[::-1])[::-1]
    return np.minimum(after, before)


def local_rms(energy_db_frames: np.ndarray, window: int) -> np.ndarray:
    """Root mean square (linear) over ``window`` frames centred on each frame, from per
    frame mean squares (linear)."""
    c = np.concatenate([[0.0], np.cumsum(energy_db_frames)])
    idx = np.arange(energy_db_frames.size)
    lo = np.maximum(idx - window // 2, 0)
    hi = np.minimum(idx + window - window // 2, energy_db_frames.size)
    return np.sqrt((c[hi] - c[lo]) / np.maximum(hi - lo, 1))


def applied_power(curve_db: np.ndarray) -> np.ndarray:
    """The mean power gain each frame really gets from :meth:`Plan.envelope` (linear
    interpolation between edge values, each edge the smaller of its two frames' gains):
    ``(a^2 + ab + b^2) / 3`` for a frame ramping from ``a`` to ``b``. With a fast
    limiter the edges sit well under the frame's own gain; planning with the frame gain
    itself would over-estimate the loudness of the rendered PCM."""
    lin = 10 ** (np.asarray(curve_db, dtype=np.float64) / 20)
    if lin.size < 2:
        return lin * lin
    edges = np.empty(lin.size + 1)
    edges[0], edges[-1] = lin[0], lin[-1]
    edges[1:-1] = np.minimum(lin[:-1], lin[1:])
    a, b = edges[:-1], edges[1:]
    return (a * a + a * b + b * b) / 3


def _curve(peak_db: np.ndarray, comp: np.ndarray, gain: float, ceiling: float | np.ndarray,
           shape: Shape) -> tuple[np.ndarray, float]:
    need = peak_db + gain + comp - ceiling
    if need.size == 0 or need.max() <= 0:
        return gain + comp, 0.0
    limit = _ramps(need, shape.limit_attack_db_ms, shape.limit_release_db_ms)
    return gain + comp - limit, float(limit.max())


def plan(frames: Frames, target_lufs: float, ceiling_dbtp: float, max_gain_db: float,
         shape: Shape = Shape(), start: int = 0, end: int | None = None,
         ceiling_offset_db: "np.ndarray | chunked.Spill | None" = None, noise_factor: float = 0.0,
         noise_window_ms: int = 24) -> Plan:
    """Decide the gain curve that brings frames ``start:end`` to ``target_lufs`` with every
    frame's true peak at or below ``ceiling_dbtp`` (minus ``ceiling_offset_db[frame]``
    when given: one value per frame, >= 0, a lower ceiling where an encoder is known to
    overshoot more), less the encoder noise allowance ``noise_factor`` x the RMS of the
    planned signal over ``noise_window_ms`` (see the module text; 0: none). The
    predicted peak is that of the rendered PCM (without the allowance).

    Frames outside ``start:end`` (trimmed silence) get the edge frames' gains. A silent
    source (no block above the -70 LUFS gate) gets 0 dB. ``capped`` is set when the
    target is not reached at ``max_gain_db`` (the only shortfall a plan may have).

    Worked through in chunks (:mod:`.chunked`): memory does not grow with the length
    (long signals keep their per-frame arrays, and the curve, in temporary files); the
    result is :func:`plan_whole`'s, bit for bit.
    """
    end = len(frames) if end is None else end
    sub = frames.window(start, end)
    n = len(sub)
    cum = chunked.Cumulative(n, lambda a, b: sub.energy[a:b])
    source = _integrated(sub, cum, lambda a, b: sub.energy[a:b])
    if not math.isfinite(source):
        return Plan(0.0, None, source, meter.db(float(sub.peak.max(initial=0.0))), 0.0, False)

    def pcm_peak_db(a: int, b: int) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return 20 * np.log10(np.maximum(sub.peak[a:b].astype(np.float64), 1e-12))

    comp = _dynamics(sub, cum, shape, source)
    peak_db = _noisy_peak_db(sub, noise_factor, noise_window_ms) if noise_factor > 0 else None

    def need_of(g: float) -> "Callable[[int, int], np.ndarray]":
        def need(a: int, b: int) -> np.ndarray:
            p = peak_db[a:b] if peak_db is not None else pcm_peak_db(a, b)
            ceiling = (ceiling_dbtp if ceiling_offset_db is None
                       else ceiling_dbtp - ceiling_offset_db[start + a:start + b])
            return p + g + comp[a:b] - ceiling
        return need

    curve = chunked.column(n)

    def loud(g: float) -> tuple[float, float]:
        depth = chunked.ramps(need_of(g), n, shape.limit_attack_db_ms, shape.limit_release_db_ms, curve)
        for a, b in chunked.spans(n):
            curve[a:b] = g + comp[a:b] - curve[a:b]
        applied = _applied_energy(sub, curve)
        return _integrated(sub, chunked.Cumulative(n, applied), applied), depth

    g, (level, depth), capped = solve_gain(loud, target_lufs, source, max_gain_db)
    full = chunked.column(len(frames), np.float32)
    first, last = float(curve[0:1][0]), float(curve[n - 1:n][0])
    full[0:start] = first
    full[end:len(frames)] = last
    constant, predicted_peak = True, float("-inf")
    for a, b in chunked.spans(n):
        c = curve[a:b]
        constant = constant and bool(np.all(c == first))
        full[start + a:start + b] = c.astype(np.float32)
        predicted_peak = max(predicted_peak, float((pcm_peak_db(a, b) + c).max()))
    constant = constant and last == first
    return Plan(gain_db=round(float(g), 3), curve_db=None if constant else full,
                predicted_lufs=level, predicted_peak_dbtp=predicted_peak,
                limited_db=depth, capped=capped)


def solve_gain(loud: "Callable[[float], tuple]", target_lufs: float, source_lufs: float,
               max_gain_db: float) -> tuple[float, tuple, bool]:
    """The gain (dB) at which the planned loudness ``loud(g)[0]`` (LUFS; the non-linear
    chain's, not ``source + g``) is within 0.01 LU of ``target_lufs``: secant steps from
    ``target - source``, the slope kept within 0.05..1 and each step within 20 dB, at
    most 16, never above ``max_gain_db``. Returns ``(g, loud(g), capped)``: the last
    evaluation (``loud`` may fill buffers in place, so it is the one at ``g``) and
    whether the target is out of reach at ``max_gain_db``."""
    g = min(target_lufs - source_lufs, max_gain_db)
    out = loud(g)
    prev = None
    for _ in range(16):
        err = target_lufs - out[0]
        if abs(err) < 0.01 or (err > 0 and g >= max_gain_db):
            break
        slope = 1.0
        if prev is not None and abs(g - prev[0]) > 1e-6:
            slope = min(1.0, max(0.05, (out[0] - prev[1]) / (g - prev[0])))
        prev = (g, out[0])
        g = min(max_gain_db, g + max(-20.0, min(20.0, err / slope)))
        out = loud(g)
    return g, out, g >= max_gain_db - 1e-9 and out[0] < target_lufs - 0.01


def _integrated(frames: Frames, cum: chunked.Cumulative, values: "Callable[[int, int], np.ndarray]") -> float:
    """:func:`meter.integrated` of a per-frame energy series from its running sums."""
    n = len(frames)
    span, hop = meter.BLOCK_FRAMES, meter.HOP_FRAMES
    window_samples = frames.rate * meter.FRAME_S * span
    if n < span:
        blocks = np.array([values(0, n).astype(np.float64).sum() / window_samples]) if n else np.zeros(0)
    else:
        starts = np.arange(0, n - span + 1, hop)
        m = cum.marks
        blocks = (m[(starts + span) // cum.STEP] - m[starts // cum.STEP]) / window_samples
    return meter.gated_loudness(blocks)


def _applied_energy(frames: Frames, curve: "np.ndarray | chunked.Spill") -> "Callable[[int, int], np.ndarray]":
    """Frames ``a:b`` of ``energy * applied_power(curve)``."""
    n = len(frames)

    def values(a: int, b: int) -> np.ndarray:
        lo = max(0, a - 1)
        lin = 10 ** (np.asarray(curve[lo:min(n, b + 1)], dtype=np.float64) / 20)
        if n < 2:
            return frames.energy[a:b] * (lin * lin)
        i = np.arange(a, b + 1)
        edges = np.minimum(lin[np.maximum(i - 1, 0) - lo], lin[np.minimum(i, n - 1) - lo])
        x, y = edges[:-1], edges[1:]
        return frames.energy[a:b] * ((x * x + x * y + y * y) / 3)
    return values


def _dynamics(sub: Frames, cum: chunked.Cumulative, shape: Shape, reference: float) -> "np.ndarray | chunked.Spill":
    """:func:`levelling_db` + :func:`compression_db`, chunk by chunk."""
    n = len(sub)
    lev, comp = _levelling(sub, cum, shape, reference), _compression(sub, cum, shape, reference)
    out = chunked.column(n)
    for a, b in chunked.spans(n):
        out[a:b] = (lev[a:b] if lev is not None else np.zeros(b - a)) + (comp[a:b] if comp is not None else np.zeros(b - a))
    return out


def _window_level(sub: Frames, cum: chunked.Cumulative, window_ms: int) -> "Callable[[int, int], np.ndarray]":
    w = max(1, window_ms)

    def level(a: int, b: int) -> np.ndarray:
        s, lo, hi = chunked.window_sums(cum, a, b, w // 2, w - w // 2)
        samples = np.maximum(sub.edges_at(hi) - sub.edges_at(lo), 1)
        return meter.lufs(s / samples)
    return level


def _levelling(sub: Frames, cum: chunked.Cumulative, shape: Shape, reference: float) -> "np.ndarray | chunked.Spill | None":
    """:func:`levelling_db` chunk by chunk (None: all zeros)."""
    n = len(sub)
    if shape.level_ratio <= 1.0 or not math.isfinite(reference) or n == 0:
        return None
    level = _window_level(sub, cum, shape.level_window_ms)

    def gain(lv: np.ndarray) -> np.ndarray:
        return np.minimum(-(lv - reference) * (1 - 1 / shape.level_ratio), shape.level_max_boost_db)

    first = None
    for a, b in chunked.spans(n):
        loud = np.flatnonzero(level(a, b) > reference - 30.0)
        if loud.size:
            first = a + int(loud[0])
            break
    if first is None:
        return None
    held = chunked.column(n)
    carry = gain(level(first, first + 1))[0]   # before the first passage: its gain
    for a, b in chunked.spans(n):
        lv = level(a, b)
        g, loud = gain(lv), lv > reference - 30.0
        k = np.where(loud, np.arange(b - a), -1)
        np.maximum.accumulate(k, out=k)
        held[a:b] = np.where(k >= 0, g[np.maximum(k, 0)], carry)
        if k[-1] >= 0:
            carry = g[k[-1]]
    out = chunked.column(n)
    chunked.slew(lambda a, b: held[a:b], n, shape.level_rate_db_ms, out)
    return out


def _compression(sub: Frames, cum: chunked.Cumulative, shape: Shape, reference: float) -> "np.ndarray | chunked.Spill | None":
    """:func:`compression_db` chunk by chunk (None: all zeros)."""
    n = len(sub)
    if shape.compress_ratio <= 1.0 or not math.isfinite(reference):
        return None
    level = _window_level(sub, cum, shape.compress_window_ms)
    reduction = chunked.column(n)
    for a, b in chunked.spans(n):
        over = np.maximum(level(a, b) - (reference + shape.compress_threshold_lu), 0.0)
        reduction[a:b] = over * (1 - 1 / shape.compress_ratio)
    out = chunked.column(n)
    chunked.ramps(lambda a, b: reduction[a:b], n, shape.compress_attack_db_ms, shape.compress_release_db_ms, out)
    for a, b in chunked.spans(n):
        out[a:b] = -out[a:b]
    return out


def _noisy_peak_db(sub: Frames, noise_factor: float, window: int) -> "np.ndarray | chunked.Spill":
    """Per frame, 20 log10(peak + k x local RMS) (see :func:`plan_whole`)."""
    n = len(sub)

    def mean_square(a: int, b: int) -> np.ndarray:
        return sub.energy[a:b] / np.maximum(np.diff(sub.edges(a, b)), 1)

    cum = chunked.Cumulative(n, mean_square)
    out = chunked.column(n)
    for a, b in chunked.spans(n):
        s, lo, hi = chunked.window_sums(cum, a, b, window // 2, window - window // 2)
        rms = np.sqrt(s / np.maximum(hi - lo, 1))
        with np.errstate(divide="ignore"):
            out[a:b] = 20 * np.log10(np.maximum(sub.peak[a:b] + noise_factor * rms, 1e-12))
    return out


def plan_whole(frames: Frames, target_lufs: float, ceiling_dbtp: float, max_gain_db: float,
               shape: Shape = Shape(), start: int = 0, end: int | None = None,
               ceiling_offset_db: np.ndarray | None = None, noise_factor: float = 0.0,
               noise_window_ms: int = 24) -> Plan:
    """:func:`plan` computed on whole arrays: the same arguments, units and result, which
    :func:`plan` matches bit for bit (``tests/test_encode_model.py``). Kept as that
    reference; memory: about ten float64 arrays of the signal's length."""
    end = len(frames) if end is None else end
    sub = frames.window(start, end)
    source = meter.integrated(sub)
    if not math.isfinite(source):
        return Plan(0.0, None, source, meter.db(float(sub.peak.max(initial=0.0))), 0.0, False)
    with np.errstate(divide="ignore"):
        peak_db = 20 * np.log10(np.maximum(sub.peak.astype(np.float64), 1e-12))
    pcm_peak_db = peak_db
    comp = levelling_db(sub, shape, source) + compression_db(sub, shape, source)
    ceiling = ceiling_dbtp if ceiling_offset_db is None else ceiling_dbtp - ceiling_offset_db[start:end]
    if noise_factor > 0:
        # the encoder's noise follows the local level: a frame's decoded peak is at most
        # G * (peak + k * rms) where G is the (locally constant) gain at that frame
        rms = local_rms(sub.energy / np.maximum(np.diff(sub.edges()), 1), noise_window_ms)
        with np.errstate(divide="ignore"):
            peak_db = 20 * np.log10(np.maximum(sub.peak + noise_factor * rms, 1e-12))

    def loud(g: float) -> tuple[float, np.ndarray, float]:
        curve, depth = _curve(peak_db, comp, g, ceiling, shape)
        return meter.integrated(sub, sub.energy * applied_power(curve)), curve, depth

    g, (level, curve, depth), capped = solve_gain(loud, target_lufs, source, max_gain_db)
    full = np.empty(len(frames))
    full[start:end] = curve
    full[:start] = curve[0] if curve.size else g
    full[end:] = curve[-1] if curve.size else g
    constant = bool(np.all(full == full[0])) if full.size else True
    predicted_peak = float((pcm_peak_db + curve).max()) if curve.size else float("-inf")
    return Plan(gain_db=round(float(g), 3), curve_db=None if constant else full.astype(np.float32),
                predicted_lufs=level, predicted_peak_dbtp=predicted_peak,
                limited_db=depth, capped=capped)


def at_least(level: float, dtype: np.dtype) -> float:
    """The smallest value of ``dtype`` that is >= ``level``: ``x >= at_least(level)`` is
    ``x >= level`` for every ``x`` of that dtype (numpy compares a float32 array with a
    Python float in float32, which rounds the level)."""
    v = np.asarray(level, dtype=dtype)
    if float(v) < level:
        v = np.nextafter(v, np.asarray(np.inf, dtype=dtype))
    return v.item() if np.dtype(dtype) == np.float64 else v


def trim_range(frames: Frames, threshold_dbfs: float, keep_s: float) -> tuple[int, int]:
    """Frames to keep, ``(start, end)``: leading and trailing silence (every peak below
    ``threshold_dbfs``) is cut down to ``keep_s`` seconds. A silent source is kept whole."""
    span = sounding(frames, threshold_dbfs)
    if span is None:
        return 0, len(frames)
    keep = int(round(keep_s / meter.FRAME_S))
    return max(0, span[0] - keep), min(len(frames), span[1] + 1 + keep)


def sounding(frames: Frames, threshold_dbfs: float) -> tuple[int, int] | None:
    """The first and the last frame whose peak reaches ``threshold_dbfs``; None if none."""
    level = at_least(10 ** (threshold_dbfs / 20), frames.peak.dtype)
    first = last = None
    for a, b in chunked.spans(len(frames)):
        loud = np.flatnonzero(frames.peak[a:b] >= level)
        if loud.size:
            first = a + int(loud[0]) if first is None else first
            last = a + int(loud[-1])
    return None if first is None else (first, last)
