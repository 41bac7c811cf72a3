"""Streaming statistics of decoded PCM, computed with numpy (pure: no I/O).

:class:`SignalMeter` takes blocks of float samples (shape ``(n, channels)``, full scale
±1.0) as a decoder produces them and keeps only running sums, one level per short frame
and an averaged power spectrum, so memory stays small for recordings of any length
(about 8 bytes per 50 ms frame). :meth:`SignalMeter.result` gives a
:class:`SignalStats`; :func:`silent_spans` and :func:`effective_bandwidth_hz` turn its
frame levels and spectrum into the figures ingest reports.

Levels are in dBFS (20·log10 of a linear value relative to full scale; a full-scale sine
has an RMS of -3.01 dBFS). Nothing here is a loudness measurement: loudness (BS.1770)
comes from ffmpeg's ``ebur128``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

#: |sample| at or above this (−0.1 dBFS) counts as clipped.
CLIP_LEVEL = 10 ** (-0.1 / 20)
#: the level reported for digital silence (dBFS), instead of −inf, so values stay JSON-ready.
FLOOR_DB = -150.0


def _db_power(power: float | np.ndarray) -> float | np.ndarray:
    """10·log10 of a mean-square value, floored at :data:`FLOOR_DB`."""
    return np.maximum(10 * np.log10(np.maximum(power, 1e-30)), FLOOR_DB)


def _db_amplitude(x: float) -> float:
    return max(20 * math.log10(x), FLOOR_DB) if x > 0 else FLOOR_DB


@dataclass(frozen=True)
class ChannelSignal:
    """Whole-file figures of one channel.

    ``rms_dbfs`` and ``peak_dbfs`` in dBFS (:data:`FLOOR_DB` for digital silence);
    ``dc_offset`` is the mean sample value as a fraction of full scale (signed);
    ``clipped_share`` the share of samples at or above −0.1 dBFS (0..1).
    """

    rms_dbfs: float
    peak_dbfs: float
    dc_offset: float
    clipped_share: float


@dataclass(frozen=True)
class SignalStats:
    """What :class:`SignalMeter` measured.

    ``frame_dbfs[i]`` is the RMS level (dBFS) of frame ``i`` (``frame_s`` seconds long),
    the loudest channel's, without the frame's DC component; ``spectrum_db[k]`` the average power (dB, arbitrary reference)
    at ``k * bin_hz`` Hz, averaged over frames and channels. ``correlation`` is the
    normalised correlation of the first two channels, ``2·Σ(L·R) / (ΣL² + ΣR²)``
    (+1 identical, 0 unrelated, −1 one channel the inverse of the other), or None for
    mono.
    """

    samples: int
    sample_rate: int
    channels: tuple[ChannelSignal, ...]
    correlation: float | None
    frame_s: float
    frame_dbfs: np.ndarray = field(compare=False, repr=False)
    bin_hz: float = 0.0
    spectrum_db: np.ndarray = field(default_factory=lambda: np.zeros(0), compare=False, repr=False)

    @property
    def duration_s(self) -> float:
        """Decoded duration: samples per channel / sample rate (seconds)."""
        return self.samples / self.sample_rate if self.sample_rate else 0.0


def frame_size(sample_rate: int) -> int:
    """Samples per analysis frame: the power of two nearest to 50 ms (e.g. 1024 at 16 kHz)."""
    return 1 << max(6, round(math.log2(max(1, sample_rate) * 0.05)))


class SignalMeter:
    """Accumulates :class:`SignalStats` over blocks of decoded samples.

    Internally channel-major (numpy reduces contiguous rows far faster than the columns
    of interleaved audio). The spectrum is averaged over every fourth frame, plenty for
    an effective bandwidth.

    Args:
        sample_rate: samples per second per channel (Hz).
        channels: number of interleaved channels in every block.

    Raises:
        ValueError: a block whose shape does not match ``(n, channels)``.
    """

    SPECTRUM_STRIDE = 4

    def __init__(self, sample_rate: int, channels: int) -> None:
        if sample_rate <= 0 or channels <= 0:
            raise ValueError(f"bad stream shape: {sample_rate} Hz, {channels} channel(s)")
        self.sample_rate = sample_rate
        self.channels = channels
        self.n = frame_size(sample_rate)
        self._window = np.hanning(self.n)
        self._count = 0
        self._sum = np.zeros(channels)
        self._sumsq = np.zeros(channels)
        self._peak = np.zeros(channels)
        self._clipped = np.zeros(channels)
        self._cross = 0.0
        self._tail = np.zeros((channels, 0))
        self._frames: list[np.ndarray] = []
        self._frame_index = 0
        self._power = np.zeros(self.n // 2 + 1)
        self._spectra = 0

    def add(self, block: np.ndarray) -> None:
        """Add a block of samples, shape ``(n, channels)``, float, full scale ±1.0."""
        if block.ndim != 2 or block.shape[1] != self.channels:
            raise ValueError(f"expected blocks of shape (n, {self.channels}), got {block.shape}")
        if not len(block):
            return
        b = np.ascontiguousarray(block.T, dtype=np.float64)
        self._count += b.shape[1]
        self._sum += b.sum(axis=1)
        self._sumsq += np.einsum("ij,ij->i", b, b)
        self._peak = np.maximum(self._peak, np.maximum(b.max(axis=1), -b.min(axis=1)))
        self._clipped += np.count_nonzero((b >= CLIP_LEVEL) | (b <= -CLIP_LEVEL), axis=1)
        if self.channels >= 2:
            self._cross += float(np.dot(b[0], b[1]))
        buf = np.concatenate([self._tail, b], axis=1) if self._tail.shape[1] else b
        whole = buf.shape[1] // self.n * self.n
        if whole:
            self._frames_of(buf[:, :whole])
        self._tail = buf[:, whole:].copy()

    def _frames_of(self, buf: np.ndarray) -> None:
        frames = buf.reshape(self.channels, -1, self.n)
        frames = frames - frames.mean(axis=2, keepdims=True)  # a DC offset is not a steady level
        ms = np.einsum("cfn,cfn->cf", frames, frames) / self.n
        self._frames.append(_db_power(ms.max(axis=0)).astype(np.float32))
        first = (-self._frame_index) % self.SPECTRUM_STRIDE
        picked = frames[:, first::self.SPECTRUM_STRIDE]
        if picked.shape[1]:
            spectra = np.fft.rfft(picked * self._window, axis=2)
            self._power += (spectra.real ** 2 + spectra.imag ** 2).mean(axis=0).sum(axis=0)
            self._spectra += picked.shape[1]
        self._frame_index += frames.shape[1]

    def result(self) -> SignalStats:
        """The statistics of everything added so far."""
        frames = list(self._frames)
        if self._tail.shape[1]:
            t = self._tail - self._tail.mean(axis=1, keepdims=True)
            frames.append(_db_power(np.array([(t * t).mean(axis=1).max()])).astype(np.float32))
        count = max(1, self._count)
        chans = tuple(ChannelSignal(rms_dbfs=float(_db_power(self._sumsq[c] / count)),
                                    peak_dbfs=_db_amplitude(float(self._peak[c])),
                                    dc_offset=float(self._sum[c] / count),
                                    clipped_share=float(self._clipped[c] / count))
                      for c in range(self.channels))
        corr = None
        if self.channels >= 2:
            energy = self._sumsq[0] + self._sumsq[1]
            corr = float(2 * self._cross / energy) if energy > 0 else 0.0
        power = self._power / max(1, self._spectra)
        return SignalStats(samples=self._count, sample_rate=self.sample_rate, channels=chans,
                           correlation=corr, frame_s=self.n / self.sample_rate,
                           frame_dbfs=np.concatenate(frames) if frames else np.zeros(0, np.float32),
                           bin_hz=self.sample_rate / self.n,
                           spectrum_db=np.asarray(_db_power(power)) if self._spectra else np.zeros(0))


def silent_spans(stats: SignalStats, threshold_dbfs: float, min_s: float) -> tuple[tuple[float, float], ...]:
    """Spans ``(start_s, end_s)`` of at least ``min_s`` seconds where every frame's level
    is below ``threshold_dbfs`` (like ffmpeg ``silencedetect``, at frame resolution)."""
    quiet = stats.frame_dbfs < threshold_dbfs
    spans = []
    i, n = 0, len(quiet)
    while i < n:
        if not quiet[i]:
            i += 1
            continue
        j = i
        while j < n and quiet[j]:
            j += 1
        start, end = i * stats.frame_s, min(j * stats.frame_s, stats.duration_s)
        if end - start >= min_s:
            spans.append((round(start, 3), round(end, 3)))
        i = j
    return tuple(spans)


def level_spread_db(stats: SignalStats, floor_dbfs: float) -> float:
    """Difference (dB) between the loud (95th percentile) and quiet (10th percentile)
    frames above ``floor_dbfs``. Speech, with its pauses between words, spreads 20 dB
    or more; hum, hiss and room tone stay within a few dB. 0.0 when nothing is above
    the floor."""
    levels = stats.frame_dbfs[stats.frame_dbfs >= floor_dbfs]
    if len(levels) < 2:
        return 0.0
    return float(np.percentile(levels, 95) - np.percentile(levels, 10))


def effective_bandwidth_hz(stats: SignalStats, drop_db: float = 50.0) -> float:
    """The highest frequency (Hz) whose averaged power is within ``drop_db`` of the
    strongest 100 Hz band between 150 Hz and 4 kHz (where speech carries its energy).

    A telephone-band recording (300–3400 Hz) gives about 4 kHz whatever its sample rate;
    wide-band speech 7–8 kHz and more. Measured on 100 Hz bands of the averaged
    spectrum; 0.0 when there is no spectrum (shorter than one frame).
    """
    if not len(stats.spectrum_db) or stats.bin_hz <= 0:
        return 0.0
    band_hz = 100.0
    freqs = np.arange(len(stats.spectrum_db)) * stats.bin_hz
    bands = (freqs // band_hz).astype(int)
    levels = np.full(bands.max() + 1, -np.inf)
    np.maximum.at(levels, bands, stats.spectrum_db)
    lows = np.arange(len(levels)) * band_hz
    speech = levels[(lows >= 100) & (lows < 4000)]
    if not len(speech) or not np.isfinite(speech.max()) or speech.max() <= FLOOR_DB + 1:
        return 0.0
    above = np.nonzero(levels >= speech.max() - drop_db)[0]
    top = (above[-1] + 1) * band_hz if len(above) else 0.0
    return float(min(top, stats.sample_rate / 2))
