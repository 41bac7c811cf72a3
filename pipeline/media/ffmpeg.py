"""The one boundary to the ffmpeg and ffprobe binaries, driven through ffmpeg-python.

Every call has a timeout: a run may take at most ``60 s + 2 x`` the audio's duration.
Filter chains come in as plain :class:`Filter` values built elsewhere (pure code), so
what is done to the audio is decided and tested without running ffmpeg.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import struct
import subprocess
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Sequence

import ffmpeg as ffmpeg_python
import numpy as np

from ..errors import ToolError, ToolInterrupted
from .decodelog import DecodeLog, parse_decode_log, parse_ebur128_summary
from .parse import Loudness

if TYPE_CHECKING:
    from . import meter
from .signal import SignalMeter, SignalStats

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
    """One file written by :func:`render`: after the shared filters, its own ``pre``
    filters, then (if given) a multiplication by a gain ``envelope``, then its ``filters``,
    and the encoder/muxer options (ffmpeg-python keyword form, e.g. ``{"acodec": "libmp3lame"}``).

    ``envelope`` yields float32 mono gain chunks, one value per sample of the stream after
    ``pre`` (at ``envelope_rate`` Hz); it is fed to ffmpeg through a pipe.
    """

    path: Path
    filters: tuple[Filter, ...]
    options: tuple[tuple[str, Any], ...] = field(default=())
    pre: tuple[Filter, ...] = ()
    envelope: Callable[[], Iterator[np.ndarray]] | None = None
    envelope_rate: int = 0


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
    #: ``(index, codec)`` of the streams that are not this audio stream (cover pictures)
    other_streams: tuple[tuple[int, str], ...] = ()


@dataclass(frozen=True)
class Analysis:
    """Loudness and signal statistics of a whole decoded file (see :func:`analyze`).

    ``duration_s`` is measured by decoding (samples / sample rate), never from headers.
    ``loudness`` is ITU-R BS.1770-4 (ffmpeg ``ebur128``); ``signal`` the per-channel,
    per-frame and spectral figures of :mod:`pipeline.media.signal`; ``log`` what the
    demuxer and decoder complained about on the way.
    """

    duration_s: float
    sample_rate: int
    channels: int
    loudness: Loudness
    signal: SignalStats
    log: DecodeLog
    curve: "meter.Curve | None" = None


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
                              timeout=timeout_s, check=False, start_new_session=True)
    except subprocess.TimeoutExpired as exc:
        raise ToolError(f"ffprobe did not finish within {timeout_s:.0f} s", path=path) from exc
    if proc.returncode < 0:
        raise ToolInterrupted(f"ffprobe was stopped by signal {-proc.returncode}", path=path,
                              fix="run the ingest again")
    if proc.returncode != 0:
        lines = [re.sub(r"^\[[^\]]*\] ", "", line.replace(str(path) + ": ", "").strip())
                 for line in proc.stderr.decode("utf-8", "replace").strip().splitlines()]
        raise ToolError(f"ffprobe cannot read it: {'; '.join(dict.fromkeys(lines)) or 'unknown error'}",
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
                 bit_rate=number(stream.get("bit_rate", fmt.get("bit_rate")), int), tags=tags,
                 other_streams=tuple((int(s.get("index", 0)), str(s.get("codec_name", "")))
                                     for s in data.get("streams", []) if s is not stream))


def _chain(stream: Any, filters: Sequence[Filter]) -> Any:
    for f in filters:
        stream = stream.filter(f.name, *f.args, **dict(f.options))
    return stream


def _quiet(node: Any) -> list[str]:
    args = node.global_args("-nostdin", "-hide_banner", "-nostats").overwrite_output().compile(cmd=FFMPEG)
    return list(args)


def analyze(path: Path, sample_rate: int, channels: int, duration_hint: float | None = None,
            timeout_s: float | None = None, other_streams: tuple[tuple[int, str], ...] = ()) -> Analysis:
    """Decode the first audio stream of ``path`` once and measure it: BS.1770-4
    integrated loudness, loudness range and true peak (``ebur128``) in ffmpeg, and the
    decoded samples, streamed as 32-bit float PCM at ``sample_rate`` Hz with ``channels``
    channels (the stream's own, from :func:`probe`), through a
    :class:`~pipeline.media.signal.SignalMeter` in blocks of 8192 samples (memory stays
    small for any length: about 35 MB for two hours of 48 kHz stereo).

    ffmpeg runs in its own session, so a Ctrl-C meant for dangke does not cut the
    decode short (a shortened decode would look like a truncated file); the run may take
    ``timeout_s`` (default ``60 s + 2 x duration_hint``). Only the audio stream is
    decoded (``-map`` of ``a:0``); what ffmpeg says about ``other_streams`` (see
    :class:`Probe`: cover pictures it looks at while opening the file) is kept apart
    from the audio's problems (:func:`~pipeline.media.decodelog.parse_decode_log`).

    Raises:
        ToolInterrupted: ffmpeg was killed by a signal (not a fault of the file).
        ToolError: ffmpeg failed, timed out, or decoded no audio.
    """
    if sample_rate <= 0 or channels <= 0:
        raise ToolError("no audio stream with a known sample rate and channel count", path=path,
                        fix="not a decodable audio file")
    timeout_s = timeout_s or _timeout(duration_hint)
    meter = SignalMeter(sample_rate, channels)
    from .meter import CurveMeter
    curve = CurveMeter(sample_rate, channels)  # loudness over time, for the report's pictures
    block = 8192 * channels * 4  # bytes per read: small blocks stay in the CPU cache
    with tempfile.TemporaryDirectory(prefix="dangke-decode-") as tmp, open(Path(tmp) / "log", "w+b") as log:
        source = _plain_name(path, Path(tmp))
        split = ffmpeg_python.input(str(source))["a:0"].filter_multi_output("asplit", 2)
        loud = split[0].filter("ebur128", peak="true", framelog="verbose").output("-", format="null")
        pcm = split[1].output("pipe:1", format="f32le", acodec="pcm_f32le", ac=channels, ar=sample_rate)
        args = (ffmpeg_python.merge_outputs(loud, pcm)
                .global_args("-nostdin", "-hide_banner", "-nostats", "-loglevel", "level+info")
                .compile(cmd=FFMPEG))
        try:
            proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log,
                                    start_new_session=True)
        except FileNotFoundError as exc:
            raise ToolError(f"{FFMPEG} is not installed", path=path,
                            fix="install ffmpeg (apt-get install ffmpeg)") from exc
        timed_out = threading.Event()

        def expire() -> None:
            timed_out.set()
            proc.kill()

        timer = threading.Timer(timeout_s, expire)
        timer.start()
        try:
            assert proc.stdout is not None
            while data := proc.stdout.read(block):
                whole = len(data) // (4 * channels) * 4 * channels
                meter.add(pcm := np.frombuffer(data[:whole], dtype="<f4").reshape(-1, channels))
                curve.feed(pcm)
            returncode = proc.wait()
        finally:
            timer.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.stdout.close()
        log.seek(0)
        text = log.read().decode("utf-8", "replace")
    if timed_out.is_set():
        raise ToolError(f"{FFMPEG} did not finish within {timeout_s:.0f} s", path=path,
                        fix="check the file; very long or damaged files can stall the decoder")
    if returncode < 0:
        raise ToolInterrupted(f"{FFMPEG} was stopped by signal {-returncode}", path=path,
                              fix="run the ingest again")
    decode_log = parse_decode_log(text, other_streams)
    if returncode != 0:
        detail = decode_log.incomplete + decode_log.errors
        tail = " | ".join(detail[-3:]) or f"exit status {returncode}"
        raise ToolError(f"{FFMPEG} failed: {tail}", path=path, fix="the file may be damaged or not audio")
    signal = meter.result()
    if signal.samples == 0:
        raise ToolError("no audio could be decoded", path=path, fix="not a decodable audio file")
    try:
        loudness = parse_ebur128_summary(text)
    except ValueError as exc:
        raise ToolError(f"no audio could be decoded ({exc})", path=path,
                        fix="not a decodable audio file") from exc
    return Analysis(duration_s=signal.duration_s, sample_rate=sample_rate, channels=channels,
                    loudness=loudness, signal=signal, log=decode_log, curve=curve.curve())


def demuxed_duration(path: Path, timeout_s: float = 600.0) -> float | None:
    """Seconds of audio the demuxer hands over for the first audio stream, without
    decoding (``-c copy`` to the null muxer; the end time ffmpeg's ``-progress`` reports).
    Compared with the decoded duration it shows a decoder that drops frames. None when
    ffmpeg reports no time.

    Raises:
        ToolInterrupted: ffmpeg was killed by a signal.
        ToolError: ffmpeg failed or timed out.
    """
    with tempfile.TemporaryDirectory(prefix="dangke-demux-") as tmp:
        source = _plain_name(path, Path(tmp))
        args = [FFMPEG, "-nostdin", "-hide_banner", "-nostats", "-v", "error", "-i", str(source),
                "-map", "0:a:0", "-c", "copy", "-f", "null", "-", "-progress", "pipe:1"]
        try:
            proc = subprocess.run(args, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout_s,
                                  check=False, start_new_session=True)
        except subprocess.TimeoutExpired as exc:
            raise ToolError(f"{FFMPEG} did not finish within {timeout_s:.0f} s", path=path) from exc
    if proc.returncode < 0:
        raise ToolInterrupted(f"{FFMPEG} was stopped by signal {-proc.returncode}", path=path,
                              fix="run the ingest again")
    if proc.returncode != 0:
        return None
    times = re.findall(r"^out_time_us=(\d+)$", proc.stdout.decode("ascii", "replace"), re.M)
    return int(times[-1]) / 1e6 if times else None


def _plain_name(path: Path, tmp: Path) -> Path:
    """``path``, or a symbolic link to it in ``tmp`` when its name is not valid UTF-8
    (GBK bytes from a Chinese zip or share), which ffmpeg-python cannot handle."""
    try:
        str(path).encode("utf-8")
        return path
    except UnicodeEncodeError:
        link = tmp / ("input" + "".join(c for c in path.suffix if c.isascii()))
        link.symlink_to(Path(path).resolve())
        return link


def _output_rate(stderr: str) -> int:
    rates = re.findall(r"Audio: [^,]+, (\d+) Hz", stderr)
    return int(rates[-1]) if rates else 0


FRAME_SAMPLES = 16384
"""Samples per audio frame inside ffmpeg's filter graphs. Decoders and the raw-PCM
demuxer hand over 1024-2048 samples at a time; every frame then costs a pass through
every filter of every branch, which for five renditions with gain envelopes made the
render ~1.7x slower than the encoders alone. 16384 (0.37 s at 44.1 kHz) makes that
overhead negligible."""
ENVELOPE_PACKET_BYTES = 4 * FRAME_SAMPLES


def _decoded(path: Path) -> Any:
    """The first audio stream of ``path``, decoded, in frames of :data:`FRAME_SAMPLES`
    and as planar float, so every later filter (high-pass, equaliser, gain) computes in
    float: with a 16-bit source, ffmpeg would otherwise run the biquads on 16-bit
    integers, which clip what a filter lifts over full scale."""
    return (ffmpeg_python.input(str(path)).audio
            .filter("asetnsamples", n=FRAME_SAMPLES, p=0)
            .filter("aformat", sample_fmts="fltp"))


def float_wav_header(rate: int, channels: int = 1) -> bytes:
    """A RIFF/WAVE header for 32-bit IEEE float samples (format tag 3) of unknown length
    (RIFF and data sizes 0xFFFFFFFF; read with ffmpeg's ``ignore_length``). Used to hand
    gain envelopes to ffmpeg through a pipe: unlike raw ``f32le`` (fixed 1024-sample
    packets), the WAV demuxer takes a packet size (``max_size``)."""
    block = 4 * channels
    fmt = struct.pack("<HHIIHH", 3, channels, rate, rate * block, block, 32)
    return (b"RIFF" + struct.pack("<I", 0xFFFFFFFF) + b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
            + b"data" + struct.pack("<I", 0xFFFFFFFF))


def render(path: Path, prepare: Sequence[Filter], outputs: Sequence[Output],
           duration_hint: float | None = None) -> None:
    """Decode ``path`` once and write every output: shared ``prepare`` filters, then a
    split into one branch per output with its own filters, gain envelope and encoder
    options.

    Raises:
        ToolError: ffmpeg failed or timed out; partial outputs may exist and must be
            discarded by the caller.
    """
    if not outputs:
        return
    src = _chain(_decoded(path), prepare)
    if len(outputs) == 1:
        branches = [src]
    else:
        split = src.filter_multi_output("asplit", len(outputs))
        branches = [split[i] for i in range(len(outputs))]
    writers, child_fds, nodes = [], [], []
    for branch, out in zip(branches, outputs, strict=True):
        stream = _chain(branch, out.pre)
        if out.envelope is not None:
            r, w = _pipe()
            child_fds.append(r)
            writers.append((w, _with_header(out.envelope, out.envelope_rate)))
            gain = ffmpeg_python.input(f"pipe:{r}", format="wav", ignore_length=1,
                                       max_size=ENVELOPE_PACKET_BYTES).audio
            stream = ffmpeg_python.filter([stream, gain], "amultiply")
        nodes.append(_chain(stream, out.filters).output(str(out.path), **dict(out.options)))
    node = nodes[0] if len(nodes) == 1 else ffmpeg_python.merge_outputs(*nodes)
    _run_piped(_quiet(node), _timeout(duration_hint), path, writers=writers, readers=[],
               child_fds=child_fds)


def stream_pcm(path: Path, chains: Sequence[Sequence[Filter]], rate: int, channels: int,
               sinks: Sequence[Callable[[np.ndarray], None]],
               duration_hint: float | None = None) -> None:
    """Decode ``path`` once and hand the samples of each filter chain, as float32 arrays
    of shape (n, ``channels``) at ``rate`` Hz, to the matching sink, chunk by chunk.

    Raises:
        ToolError: ffmpeg failed, timed out or gave no audio; or a sink raised.
    """
    src = _decoded(path)
    if len(chains) == 1:
        branches = [src]
    else:
        split = src.filter_multi_output("asplit", len(chains))
        branches = [split[i] for i in range(len(chains))]
    fds = [_pipe() for _ in chains]
    nodes = [_chain(b, c).output(f"pipe:{w}", format="f32le", ar=rate, ac=channels)
             for b, c, (_, w) in zip(branches, chains, fds, strict=True)]
    node = nodes[0] if len(nodes) == 1 else ffmpeg_python.merge_outputs(*nodes)
    _run_piped(_quiet(node), _timeout(duration_hint), path, writers=[],
               readers=[(r, sink, channels) for (r, _), sink in zip(fds, sinks, strict=True)],
               child_fds=[w for _, w in fds])


PIPE_BYTES = 1 << 20
"""Bytes per read from ffmpeg's PCM pipes (262144 float samples: the meter's per-call
cost is then negligible; with 64 KiB reads it was ~40 % of the meter's time), and the
capacity asked for each pipe (Linux ``F_SETPIPE_SZ``: fewer switches between ffmpeg and
the reader)."""


def _pipe() -> tuple[int, int]:
    """A pipe ``(read end, write end)``, enlarged to :data:`PIPE_BYTES` where the system
    allows it."""
    r, w = os.pipe()
    try:
        fcntl.fcntl(w, getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_BYTES)
    except OSError:
        pass   # the default capacity (64 KiB) works, only with more switches
    return r, w


def _read_pipe(fd: int, sink: Callable[[np.ndarray], None], channels: int) -> None:
    frame = 4 * channels
    rest = b""
    with os.fdopen(fd, "rb", buffering=PIPE_BYTES) as f:
        while True:
            block = f.read(PIPE_BYTES)   # buffered: whole blocks (a raw read stops at 64 KiB)
            if not block:
                break
            data = rest + block
            usable = len(data) - len(data) % frame
            rest = data[usable:]
            if usable:
                sink(np.frombuffer(data[:usable], dtype="<f4").reshape(-1, channels))


def _with_header(chunks: Callable[[], Iterator[np.ndarray]], rate: int) -> Callable[[], Iterator[bytes | np.ndarray]]:
    def gen() -> Iterator[bytes | np.ndarray]:
        yield float_wav_header(rate)
        yield from chunks()
    return gen


def _write_pipe(fd: int, chunks: Callable[[], Iterator[np.ndarray]]) -> None:
    with os.fdopen(fd, "wb", buffering=0) as f:
        for chunk in chunks():
            f.write(chunk if isinstance(chunk, bytes) else np.ascontiguousarray(chunk, dtype="<f4").tobytes())


def _run_piped(args: Sequence[str], timeout_s: float, path: object,
               writers: Sequence[tuple[int, Callable[[], Iterator[np.ndarray]]]],
               readers: Sequence[tuple[int, Callable[[np.ndarray], None], int]],
               child_fds: Sequence[int]) -> None:
    """Run ffmpeg with extra pipes: ``writers`` feed its inputs, ``readers`` drain its
    outputs, each in its own thread; ``child_fds`` are ffmpeg's ends. Every descriptor is
    closed here. Raises ToolError on failure, timeout, or a failed reader or writer."""
    failures: list[BaseException] = []
    own = [fd for fd, *_ in writers] + [fd for fd, *_ in readers]
    with tempfile.TemporaryFile() as err:
        try:
            proc = subprocess.Popen(list(args), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=err, pass_fds=tuple(child_fds))
        except FileNotFoundError as exc:
            for fd in list(child_fds) + own:
                os.close(fd)
            raise ToolError(f"{args[0]} is not installed", path=path,
                            fix="install ffmpeg (apt-get install ffmpeg)") from exc
        for fd in child_fds:  # ffmpeg holds its own copies now
            os.close(fd)
        threads = [threading.Thread(target=_guard, args=(_write_pipe, failures, proc, fd, source), daemon=True)
                   for fd, source in writers]
        threads += [threading.Thread(target=_guard, args=(_read_pipe, failures, proc, fd, sink, channels),
                                     daemon=True) for fd, sink, channels in readers]
        for t in threads:
            t.start()
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired as exc:
            proc.kill()
            proc.wait()
            raise ToolError(f"{args[0]} did not finish within {timeout_s:.0f} s", path=path,
                            fix="check the file; very long or damaged files can stall the decoder") from exc
        finally:
            for t in threads:
                t.join(timeout=60)
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    real = [f for f in failures if not isinstance(f, OSError)]
    if real:
        raise ToolError(f"processing the decoded audio failed: {real[0]}", path=path) from real[0]
    if proc.returncode != 0:
        tail = " | ".join(line.strip() for line in stderr.strip().splitlines()[-3:])
        raise ToolError(f"{args[0]} failed (exit {proc.returncode}): {tail}", path=path,
                        fix="the file may be damaged or not audio")


def _guard(fn: Callable[..., None], failures: list[BaseException], proc: subprocess.Popen, *args: Any) -> None:
    try:
        fn(*args)
    except BaseException as exc:  # reported by _run_piped; stop ffmpeg so nothing waits forever
        failures.append(exc)
        if not isinstance(exc, OSError):
            proc.kill()


def measure(path: Path, prepare: Sequence[Filter] = (), duration_hint: float | None = None,
            channels: int = 1) -> "meter.Loudness":
    """BS.1770-4 integrated loudness, LRA, true peak, max momentary and short-term
    loudness and decoded duration of ``path`` after the ``prepare`` filters, decoded at its
    own sample rate as ``channels`` channels (see :mod:`pipeline.media.meter`).

    Raises:
        ToolError: ffmpeg failed or timed out, or decoded no audio.
    """
    from . import meter

    rate = probe(path).sample_rate or 48000
    m = meter.Meter(rate, channels, exact_within_db=0.0)
    stream_pcm(path, [tuple(prepare)], rate, channels, [m.feed], duration_hint=duration_hint)
    frames = m.frames()
    if frames.samples == 0:
        raise ToolError("no audio could be decoded", path=path, fix="not a decodable audio file")
    return meter.measure(frames)


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
