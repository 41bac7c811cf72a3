"""Pure parsers of ffmpeg/ffprobe output. Tested on captured text; no I/O here."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Loudness:
    """An ITU-R BS.1770-4 / EBU Tech 3342 measurement of a whole file.

    ``integrated_lufs`` is ``-inf`` when every block is below the -70 LUFS absolute gate;
    ``true_peak_dbtp`` is the 4x-oversampled peak (BS.1770-4 Annex 2) over all channels.
    """

    integrated_lufs: float
    lra_lu: float
    true_peak_dbtp: float
    threshold_lufs: float = float("nan")


def _db(linear: float) -> float:
    return 20 * math.log10(linear) if linear > 0 else float("-inf")


def parse_r128_metadata(text: str) -> Loudness:
    """Read the last values printed by ``ebur128=metadata=1,ametadata=mode=print``.

    Raises:
        ValueError: when no loudness values are present (nothing was decoded).
    """
    last: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("lavfi.r128."):
            key, _, value = line.partition("=")
            last[key[len("lavfi.r128."):]] = value.strip()
    if "I" not in last:
        raise ValueError("no ebur128 values in the output")
    integrated = float(last["I"])
    if integrated <= -70.0:
        integrated = float("-inf")
    peaks = [float(v) for k, v in last.items() if k == "true_peak"]
    return Loudness(integrated_lufs=integrated, lra_lu=float(last.get("LRA", "0")),
                    true_peak_dbtp=_db(peaks[0]) if peaks else float("nan"))


_ASTATS_LINE = re.compile(r"^\[Parsed_astats_\d+ @ [^\]]+\] (?P<key>[^:]+): (?P<value>.*)$")


@dataclass(frozen=True)
class ChannelStats:
    """``astats`` figures of one channel (or of all channels for "overall").

    Levels are in dBFS; ``dc_offset`` is a fraction of full scale.
    """

    dc_offset: float
    peak_db: float
    rms_db: float
    peak_count: float
    flat_factor: float
    noise_floor_db: float


@dataclass(frozen=True)
class Stats:
    """Parsed ``astats`` summary: per-channel figures, the overall figures and samples."""

    channels: tuple[ChannelStats, ...]
    overall: ChannelStats
    samples: int


def _num(value: str) -> float:
    value = value.strip().split()[0] if value.strip() else "nan"
    try:
        return float(value)
    except ValueError:
        return float("nan")


def parse_astats(stderr: str) -> Stats:
    """Parse the summary ``astats`` prints at the end of a run.

    Raises:
        ValueError: when the summary is missing (no audio was decoded).
    """
    sections: list[dict[str, str]] = []
    current: dict[str, str] | None = None
    for line in stderr.splitlines():
        m = _ASTATS_LINE.match(line.strip())
        if not m:
            if "Overall" in line and "Parsed_astats" in line:
                current = {"_name": "overall"}
                sections.append(current)
            continue
        key, value = m.group("key"), m.group("value")
        if key == "Channel":
            current = {"_name": value}
            sections.append(current)
        elif current is not None:
            current[key] = value
    if not sections or sections[-1].get("_name") != "overall":
        raise ValueError("no astats summary in the output")

    def stats(d: dict[str, str]) -> ChannelStats:
        return ChannelStats(dc_offset=_num(d.get("DC offset", "nan")),
                            peak_db=_num(d.get("Peak level dB", "nan")),
                            rms_db=_num(d.get("RMS level dB", "nan")),
                            peak_count=_num(d.get("Peak count", "0")),
                            flat_factor=_num(d.get("Flat factor", "0")),
                            noise_floor_db=_num(d.get("Noise floor dB", "nan")))

    overall = sections[-1]
    return Stats(channels=tuple(stats(s) for s in sections[:-1]), overall=stats(overall),
                 samples=int(_num(overall.get("Number of samples", "0")) or 0))


_SILENCE = re.compile(r"silence_(start|end): (-?[\d.]+)")


def parse_silencedetect(stderr: str, duration_s: float) -> tuple[tuple[float, float], ...]:
    """Silent spans ``(start_s, end_s)`` reported by ``silencedetect``.

    A span still open at the end of the file is closed at ``duration_s``.
    """
    spans: list[tuple[float, float]] = []
    start: float | None = None
    for kind, value in _SILENCE.findall(stderr):
        t = max(0.0, float(value))
        if kind == "start":
            start = t
        elif start is not None:
            spans.append((start, t))
            start = None
    if start is not None:
        spans.append((start, duration_s))
    return tuple(spans)
