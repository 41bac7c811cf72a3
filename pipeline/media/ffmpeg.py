"""The one boundary to the ffmpeg and ffprobe binaries, driven through ffmpeg-python.

Every call has a timeout: a run may take at most ``60 s + 2 x`` the audio's duration.
Filter chains come in as plain :class:`Filter` values built elsewhere (pure code), so
what is done to the audio is decided and tested without running ffmpeg.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import ffmpeg as ffmpeg_python

from ..errors import ToolError
from .parse import Loudness, Stats, parse_astats, parse_r128_metadata, parse_silencedetect

FFMPEG = "ffmpeg"
FFPROBE = "ffprobe"


@dataclass(frozen=True)
class Filter:
    """One ffmpeg audio filter: ``name`` with keyword options, e.g. ``volume`` ``volume=3dB``."""

    name: str
    args: tuple[Any, ...] = ()
    options: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def of(cls, name: str, *args: Any, **options: Any) -> "Filter":
        return cls(name, tuple(args), tuple(options.items()))


@dataclass(frozen=True)
class Output:
    """One file written by :func:`render`: its own filters after the shared ones, and
    the encoder/muxer options (ffmpeg-python keyword form, e.g. ``{"acodec": "libmp3lame"}``)."""

    path: Path
    filters: tuple[Filter, ...]
    options: tuple[tuple[str, Any], ...] = field(default=())


@dataclass(frozen=True)
class Probe:
    """What ffprobe says of a file's first audio stream (header values, not decoded)."""

    format_name: str
    codec: str
    sample_rate: int
    channels: int
    header_duration_s: float | None
    bit_rate: int | None
    tags: dict[str, str]


@dataclass(frozen=True)
class Analysis:
    """Loudness, statistics and silences of a whole decoded file.

    ``duration_s`` is measured by decoding (samples / sample rate), never from headers.
    ``silences`` are spans (start_s, end_s) below the silence threshold.
    """

    duration_s: float
    sample_rate: int
    channels: int
    loudness: Loudness
    stats: Stats
    silences: tuple[tuple[float, float], ...]


def available() -> bool:
    """True when both binaries are on PATH."""
    return bool(shutil.which(FFMPEG) and shutil.which(FFPROBE))


def _timeout(duration_s: float | None) -> float:
    return 60.0 + 2.0 * (duration_s or 600.0)


def _run(args: Sequence[str], timeout_s: float, path: object) -> str:
    """Run a tool, return its stderr (text). Raises ToolError on failure or timeout."""
    try:
        proc = subprocess.run(list(args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        raise ToolError(f"{args[0]} did not finish within {timeout_s:.0f} s", path=path,
                        fix="check the file; very long or damaged files can stall the decoder") from exc
    except FileNotFoundError as exc:
        raise ToolError(f"{args[0]} is not installed", path=path,
                        fix="install ffmpeg (apt-get install ffmpeg)") from exc
    stderr = proc.stderr.decode("utf-8", "replace")
    if proc.returncode != 0:
        tail = " | ".join(line.strip() for line in stderr.strip().splitlines()[-3:])
        raise ToolError(f"{args[0]} failed (exit {proc.returncode}): {tail}", path=path,
                        fix="the file may be damaged or not audio")
    return stderr


def probe(path: Path, timeout_s: float = 30.0) -> Probe:
    """Describe the first audio stream of ``path`` from its headers.

    Raises:
        ToolError: ffprobe failed, timed out, or found no audio stream.
    """
    args = [FFPROBE, "-v", "error", "-print_format", "json", "-show_format", "-show_streams",
            str(path)]
    try:
        proc = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        raise ToolError(f"ffprobe did not finish within {timeout_s:.0f} s", path=path) from exc
    if proc.returncode != 0:
        msg = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise ToolError(f"ffprobe cannot read it: {msg[-1] if msg else 'unknown error'}",
                        path=path, fix="not a decodable audio file")
    data = json.loads(proc.stdout.decode("utf-8", "replace") or "{}")
    audio = [s for s in data.get("streams", []) if s.get("codec_type") == "audio"]
    if not audio:
        raise ToolError("no audio stream", path=path, fix="not a decodable audio file")
    stream, fmt = audio[0], data.get("format", {})
    tags = {str(k).lower(): str(v) for k, v in {**fmt.get("tags", {}), **stream.get("tags", {})}.items()}

    def number(value: object, kind: type) -> Any:
        try:
            return kind(float(value))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return None

    return Probe(format_name=str(fmt.get("format_name", "")), codec=str(stream.get("codec_name", "")),
                 sample_rate=number(stream.get("sample_rate"), int) or 0,
                 channels=int(stream.get("channels") or 0),
                 header_duration_s=number(stream.get("duration", fmt.get("duration")), float),
                 bit_rate=number(stream.get("bit_rate", fmt.get("bit_rate")), int), tags=tags)


def _chain(stream: Any, filters: Sequence[Filter]) -> Any:
    for f in filters:
        stream = stream.filter(f.name, *f.args, **dict(f.options))
    return stream


def _quiet(node: Any) -> list[str]:
    args = node.global_args("-nostdin", "-hide_banner", "-nostats").overwrite_output().compile(cmd=FFMPEG)
    return list(args)


def analyze(path: Path, prepare: Sequence[Filter] = (), duration_hint: float | None = None,
            silence_db: float = -50.0, silence_min_s: float = 0.5) -> Analysis:
    """Decode ``path`` once and measure it: BS.1770-4 loudness, LRA and true peak
    (ffmpeg ``ebur128``), per-channel ``astats`` and ``silencedetect`` spans.

    ``prepare`` filters run first (e.g. the downmix a rendition will get), so the figures
    describe the signal as the encoder will see it.

    Raises:
        ToolError: ffmpeg failed or timed out, or decoded no audio.
    """
    with tempfile.TemporaryDirectory(prefix="dangke-meter-") as tmp:
        meta = Path(tmp) / "r128.txt"
        src = _chain(ffmpeg_python.input(str(path)).audio, prepare)
        branches = src.filter_multi_output("asplit", 3)
        loud = (branches[0].filter("ebur128", peak="true", metadata=1)
                .filter("ametadata", mode="print", file=str(meta)))
        stats = branches[1].filter("astats", measure_perchannel="all", measure_overall="all")
        quiet = branches[2].filter("silencedetect", noise=f"{silence_db}dB", d=silence_min_s)
        outs = ffmpeg_python.merge_outputs(*(b.output("-", format="null") for b in (loud, stats, quiet)))
        stderr = _run(_quiet(outs), _timeout(duration_hint), path)
        try:
            parsed = parse_astats(stderr)
            loudness = parse_r128_metadata(meta.read_text(encoding="utf-8", errors="replace")
                                           if meta.exists() else "")
        except ValueError as exc:
            raise ToolError(f"no audio could be decoded ({exc})", path=path,
                            fix="not a decodable audio file") from exc
    rate = _output_rate(stderr)
    duration = parsed.samples / rate if rate else 0.0
    return Analysis(duration_s=duration, sample_rate=rate, channels=len(parsed.channels),
                    loudness=loudness, stats=parsed,
                    silences=parse_silencedetect(stderr, duration))


def _output_rate(stderr: str) -> int:
    rates = re.findall(r"Audio: [^,]+, (\d+) Hz", stderr)
    return int(rates[-1]) if rates else 0


def render(path: Path, prepare: Sequence[Filter], outputs: Sequence[Output],
           duration_hint: float | None = None) -> None:
    """Decode ``path`` once and write every output: shared ``prepare`` filters, then a
    split into one branch per output with its own filters and encoder options.

    Raises:
        ToolError: ffmpeg failed or timed out; partial outputs may exist and must be
            discarded by the caller.
    """
    if not outputs:
        return
    src = _chain(ffmpeg_python.input(str(path)).audio, prepare)
    if len(outputs) == 1:
        branches = [src]
    else:
        split = src.filter_multi_output("asplit", len(outputs))
        branches = [split[i] for i in range(len(outputs))]
    nodes = [_chain(branch, out.filters).output(str(out.path), **dict(out.options))
             for branch, out in zip(branches, outputs, strict=True)]
    node = nodes[0] if len(nodes) == 1 else ffmpeg_python.merge_outputs(*nodes)
    _run(_quiet(node), _timeout(duration_hint), path)


@dataclass(frozen=True)
class Measurement:
    """Loudness of a decoded file and its decoded duration (seconds)."""

    loudness: Loudness
    duration_s: float


def measure(path: Path, prepare: Sequence[Filter] = (), duration_hint: float | None = None) -> Measurement:
    """BS.1770-4 integrated loudness, LRA and true peak (ffmpeg ``ebur128``) of ``path``
    as decoded, after the ``prepare`` filters, and the decoded duration.

    Raises:
        ToolError: ffmpeg failed or timed out, or decoded no audio.
    """
    with tempfile.TemporaryDirectory(prefix="dangke-meter-") as tmp:
        meta = Path(tmp) / "r128.txt"
        split = _chain(ffmpeg_python.input(str(path)).audio, prepare).filter_multi_output("asplit", 2)
        loud = (split[0].filter("ebur128", peak="true", metadata=1)
                .filter("ametadata", mode="print", file=str(meta)))
        count = split[1].filter("astats", measure_perchannel="none", measure_overall="Number_of_samples")
        node = ffmpeg_python.merge_outputs(loud.output("-", format="null"), count.output("-", format="null"))
        stderr = _run(_quiet(node), _timeout(duration_hint), path)
        try:
            loudness = parse_r128_metadata(meta.read_text(encoding="utf-8", errors="replace")
                                           if meta.exists() else "")
            samples = parse_astats(stderr).samples
        except ValueError as exc:
            raise ToolError(f"no audio could be decoded ({exc})", path=path,
                            fix="not a decodable audio file") from exc
    rate = _output_rate(stderr)
    return Measurement(loudness, samples / rate if rate else 0.0)


def concat(parts: Sequence[tuple[Path, int]], sample_rate: int, channels: int, total_samples: int,
           output: Output, duration_hint: float | None = None) -> None:
    """Join audio files end to end into one file of exactly ``total_samples`` samples.

    Each part ``(path, samples)`` is decoded, resampled to ``sample_rate`` with
    ``channels`` channels, and padded with silence or cut to exactly ``samples``; the
    joined signal is padded with silence to ``total_samples``, then ``output``'s filters
    and encoder options apply. No loudness processing: parts are used as they are.

    Raises:
        ToolError: ffmpeg failed or timed out; a partial output may exist and must be
            discarded by the caller.
    """
    if not parts:
        raise ToolError("nothing to join", path=output.path)
    layout = "mono" if channels == 1 else "stereo"
    streams = []
    for path, samples in parts:
        s = (ffmpeg_python.input(str(path)).audio
             .filter("aresample", sample_rate).filter("aformat", channel_layouts=layout)
             .filter("apad", whole_len=samples).filter("atrim", end_sample=samples)
             .filter("asetpts", "N/SR/TB"))
        streams.append(s)
    joined = ffmpeg_python.concat(*streams, v=0, a=1) if len(streams) > 1 else streams[0]
    joined = joined.filter("apad", whole_len=total_samples).filter("atrim", end_sample=total_samples)
    node = _chain(joined, output.filters).output(str(output.path), **dict(output.options))
    _run(_quiet(node), _timeout(duration_hint), output.path)
