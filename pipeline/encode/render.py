"""Rendering one source into every missing profile: measure once, render once, verify.

1. **Measure once.** One ffmpeg run decodes the source and streams the prepared signal
   (one stream per distinct treatment) into the BS.1770-4 meter: loudness, LRA, true
   peak, and per 1 ms frame the K-weighted energy and true peak.
2. **Plan.** For each profile, :func:`.dynamics.plan` decides the gain curve (static gain,
   levelling and compression as the profile sets them, look-ahead true-peak limiting)
   that gives the target loudness with every peak under the ceiling, solving a model of
   the chain and of the encoder (:func:`.chain.codec`: its level change, and its
   quantisation noise as a per-frame peak allowance); faster limiters are tried before a
   plan is left short, so only ``max_gain_db`` can leave a rendition short.
3. **Render once.** One ffmpeg run decodes the source again and writes every missing
   rendition, each with its curve (``amultiply`` from a pipe), trim, resampling, encoder.
4. **Verify.** Each output is decoded and measured with the same meter
   (:func:`.lifecycle.verify`; one accepted is finished by :func:`.lifecycle.finish`).
   A rendition more than the tolerance off target, or with its true peak above the ceiling, is planned
   again once with the measured level error and, where it overshot, a lower ceiling
   (:data:`MAX_ATTEMPTS` renders in all); over the test inputs about 1 rendition in 50,
   never a PCM one. ``Rendition.renders`` says how many it took.

Memory does not grow with the lesson: a long source's frames and the plans' per-frame
columns and curves live in temporary files (:mod:`pipeline.media.spill`; about 16 bytes
per ms per treatment plus 4 per rendition, ~0.6 GB of disk for a 2-hour lesson at the
peak of planning), the plan works in chunks (:mod:`.chunked`), and each output is
verified by streaming its decoded frames into a :class:`~pipeline.media.meter.Summary`.
"""

from __future__ import annotations

import math
import uuid
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from ..errors import ToolError
from ..media import ffmpeg, meter
from ..media.ffmpeg import Filter, Output
from ..models import DeviceProfile, Rendition
from . import chain, chunked, dynamics, history
from .chain import CHAIN_VERSION as CHAIN
from .lifecycle import discard as _discard, finish, verify_summary

MAX_ATTEMPTS = 2
"""Renders of one rendition at most: the planned one and one correction (the model of
the chain and encoder makes the first right; see tests counting renders)."""
VERIFY_THREADS = 2
"""Outputs decoded and measured at once by one job (wall time; the CPU time is the same)."""
PEAK_SLACK_DB = 0.02
"""True peak accepted up to this much below the ceiling (meter rounding)."""


@dataclass(frozen=True)
class Target:
    """One rendition to make: the profile, its cache key, where it goes, and how to tag it
    (``tag`` is called with the finished file's path and its measured loudness)."""

    profile: DeviceProfile
    profile_hash: str
    dest: Path
    tag: Callable[[Path, meter.Loudness], None] | None = None
    title: str = ""


@dataclass(frozen=True)
class SourceJob:
    """A source to render: ``key`` identifies it in the cache (its sha256, or sha256 plus a
    recipe for derived audio such as fillers); ``prepare`` are the shared filters (mono
    out; the working rate, :func:`working_rate`, comes from the source file's rate)."""

    key: str
    path: Path
    prepare: tuple[Filter, ...]
    duration_s: float
    targets: tuple[Target, ...]
    label: str = ""
    steps: tuple[str, ...] = ()
    """What ``prepare`` does, for the CodingHistory of WAV renditions (e.g. ``mono mix``)."""


@dataclass(frozen=True)
class Settings:
    """The ``[encode]`` values a render uses (see :class:`pipeline.config.EncodeSection`)."""

    max_gain_db: float = 30.0
    tolerance_lu: float = 0.5
    silence_threshold_dbfs: float = -50.0
    keep_silence_s: float = 0.5


@dataclass(frozen=True)
class JobResult:
    """Renditions made (paths are the final ``dest`` paths) and per-profile errors."""

    key: str
    label: str
    renditions: tuple[Rendition, ...] = ()
    errors: tuple[tuple[str, str], ...] = field(default=())


@dataclass
class _Work:
    target: Target
    frames: meter.Frames
    trim: tuple[int, int]
    target_lufs: float
    ceiling_dbtp: float
    plan: dynamics.Plan | None = None
    ceiling_offset: "chunked.Column | None" = None
    tmp: Path | None = None
    attempts: int = 0
    codec: chain.Codec | None = None
    source_lra_lu: float = float("nan")
    decoded: meter.Summary | None = None


def working_rate(source_rate: int) -> int:
    """The rate a source is measured and levelled at: its own from 44.1 kHz up, else
    48 kHz. (The K-weighting filter cannot keep its shape close to a low Nyquist
    frequency: speech measured at 16 kHz reads 0.1-0.2 LU off its measure at 48 kHz.)"""
    return source_rate if source_rate >= 44100 else 48000


def _pre(job: SourceJob, profile: DeviceProfile, rate: int) -> tuple[Filter, ...]:
    return chain.treatment(profile) + (Filter.of("aresample", rate),)


def measure_source(job: SourceJob, rate: int) -> dict[tuple[Filter, ...], meter.Frames]:
    """Decode the source once; frames of the prepared signal for each distinct treatment."""
    tempo = {_pre(job, t.profile, rate): t.profile.tempo for t in job.targets}
    pres = list(tempo)
    meters = [meter.Meter(rate, 1, midpoints_only=True, duration_hint_s=job.duration_s / tempo[p]) for p in pres]
    ffmpeg.stream_pcm(job.path, [job.prepare + p for p in pres], rate, 1, [m.feed for m in meters],
                      duration_hint=job.duration_s)
    return {p: m.frames() for p, m in zip(pres, meters)}


def _plan(w: _Work, settings: Settings) -> None:
    """Plan with the profile's dynamics and the model of its encoder. When the limiter's
    release tails keep the programme under target below the ceiling, faster releases
    are tried (:data:`chain.FAST_LIMITERS_DB_MS`), so only the maximum gain can leave a
    rendition short. Levelling is never added silently: it is the profile's setting."""
    shape = chain.shape(w.target.profile)
    c = chain.codec(w.target.profile) if w.codec is None else w.codec

    def one(s: dynamics.Shape) -> dynamics.Plan:
        return dynamics.plan(w.frames, w.target_lufs, w.ceiling_dbtp, settings.max_gain_db, s,
                             start=w.trim[0], end=w.trim[1], ceiling_offset_db=w.ceiling_offset,
                             noise_factor=c.noise_factor, noise_window_ms=c.window_ms)

    w.plan = one(shape)
    for attack, release in chain.FAST_LIMITERS_DB_MS:
        if w.plan.predicted_lufs >= w.target_lufs - 0.05 or not math.isfinite(w.plan.predicted_lufs):
            break
        w.plan = one(replace(shape, limit_attack_db_ms=attack, limit_release_db_ms=release))


def onset_offsets(frames: meter.Frames, codec: chain.Codec, threshold_dbfs: float) -> "chunked.Column | None":
    """Per-frame ceiling offsets (dB): ``codec.onset_headroom_db`` for ``codec.onset_s``
    seconds from the first frame whose peak reaches ``threshold_dbfs`` (the first sound),
    else 0; None when the codec needs none."""
    if codec.onset_headroom_db <= 0 or codec.onset_s <= 0:
        return None
    loud = dynamics.sounding(frames, threshold_dbfs)
    offsets = chunked.zeros(len(frames))
    if loud is not None:
        first = loud[0]
        offsets[first:first + int(round(codec.onset_s / meter.FRAME_S))] = codec.onset_headroom_db
    return offsets


def _history(w: _Work, job: SourceJob, rate: int, source: ffmpeg.Probe | None) -> str:
    """The CodingHistory of a WAV rendition: the source, the chain, the output."""
    p, plan = w.target.profile, w.plan
    assert plan is not None
    lines = []
    if source is not None:
        lines.append(history.source_line(source.codec, source.sample_rate, source.channels, f"source {job.key[:16]}"))
    steps = list(job.steps) + ["DC high-pass 20 Hz"] + [f.name for f in chain.treatment(p)]
    lines.append(history.processing_line(rate, ", ".join(steps)))
    dyn = (f"gain {plan.gain_db:+.2f} dB" + (", levelling 2:1" if p.levelling else "")
           + (f", true-peak limiter {plan.limited_db:.1f} dB" if plan.limited_db > 0 else "")
           + f", {p.loudness_lufs:.1f} LUFS BS.1770-4, ceiling {p.true_peak_dbtp:.1f} dBTP")
    lines.append(history.processing_line(rate, f"dangke chain {CHAIN}: {dyn}"))
    lines.append(history.output_line(p, "soxr resampling" + (", TPDF dither" if p.sample_format == "s16" else "")))
    return history.coding_history(lines)


def _output(w: _Work, job: SourceJob, rate: int, source: ffmpeg.Probe | None = None) -> Output:
    p, plan = w.target.profile, w.plan
    assert plan is not None
    w.target.dest.parent.mkdir(parents=True, exist_ok=True)
    w.tmp = w.target.dest.with_name(f".{uuid.uuid4().hex}.tmp.{p.extension}")
    trim = tuple(int(v) for v in w.frames.edges_at(np.array(w.trim)))
    trim = None if trim == (0, w.frames.samples) else trim
    frames = w.frames
    coding = _history(w, job, rate, source) if p.format == "wav" else ""
    if plan.curve_db is None:
        return Output(w.tmp, chain.post_filters(p, trim, plan.gain_db), chain.output_options(p, w.target.title, coding),
                      pre=_pre(job, p, rate))
    return Output(w.tmp, chain.post_filters(p, trim, None), chain.output_options(p, w.target.title, coding),
                  pre=_pre(job, p, rate), envelope=lambda: plan.envelope(frames), envelope_rate=rate)


def _accepted_peak(p: DeviceProfile) -> float:
    """The highest true peak (dBTP) a rendition of ``p`` is accepted with."""
    return p.true_peak_dbtp - PEAK_SLACK_DB


def _accepts(w: _Work, got: meter.Loudness, settings: Settings) -> bool:
    p = w.target.profile
    if got.true_peak_dbtp > p.true_peak_dbtp - PEAK_SLACK_DB:
        return False
    i = got.integrated_lufs
    aim = max(0.1, settings.tolerance_lu - 0.1)
    if w.plan is not None and w.plan.capped:
        return not math.isfinite(i) or i <= p.loudness_lufs + aim
    return math.isfinite(i) and abs(i - p.loudness_lufs) <= aim


LOCAL_SPAN_MS = 60
"""Frames each side of a decoded true-peak overshoot whose ceiling a correction lowers."""


def _correct(w: _Work, got: meter.Loudness) -> None:
    """Plan again with what the decoded output showed: the level error of the encoder
    moves the target of the rendered PCM (the plan solves the non-linear chain for it);
    where the decoded true peak went over the ceiling, the ceiling is lowered by the
    overshoot + 0.5 dB for :data:`LOCAL_SPAN_MS` around it (the decoded frames share
    the source's 1 ms grid from the trim on; with a tempo change, everywhere)."""
    p, plan = w.target.profile, w.plan
    assert plan is not None
    if math.isfinite(got.integrated_lufs) and math.isfinite(plan.predicted_lufs) and not plan.capped:
        w.target_lufs += p.loudness_lufs - got.integrated_lufs
    over = got.true_peak_dbtp - (p.true_peak_dbtp - PEAK_SLACK_DB)
    if over <= 0:
        return
    n = len(w.frames)
    offsets = chunked.zeros(n) if w.ceiling_offset is None else chunked.copy(w.ceiling_offset)
    if w.decoded is None or abs(p.tempo - 1.0) > 1e-6:
        for a, b in chunked.spans(n):
            offsets[a:b] = offsets[a:b] + (over + 0.5)
    else:
        frames, peaks = w.decoded.overshoots()
        with np.errstate(divide="ignore"):
            excess = 20 * np.log10(np.maximum(peaks, 1e-12)) - (p.true_peak_dbtp - PEAK_SLACK_DB)
        for i in np.flatnonzero(excess > 0):
            at = w.trim[0] + int(frames[i])
            lo, hi = max(0, at - LOCAL_SPAN_MS), min(n, at + LOCAL_SPAN_MS + 1)
            offsets[lo:hi] = np.maximum(offsets[lo:hi], (w.ceiling_offset[lo:hi] if w.ceiling_offset is not None
                                                         else 0.0) + excess[i] + 0.5)
    w.ceiling_offset = offsets


def render_job(job: SourceJob, settings: Settings = Settings()) -> JobResult:
    """Make every target of ``job``. Never raises for one profile's failure: failures
    come back in :attr:`JobResult.errors` as ``(profile, message)``."""
    if not job.targets:
        return JobResult(job.key, job.label)
    try:
        source = ffmpeg.probe(job.path)
        rate = working_rate(source.sample_rate)
        measured = measure_source(job, rate)
    except ToolError as exc:
        return JobResult(job.key, job.label, errors=tuple((t.profile.name, str(exc)) for t in job.targets))
    pending: list[_Work] = []
    for t in job.targets:
        frames = measured[_pre(job, t.profile, rate)]
        c = chain.codec(t.profile)
        w = _Work(t, frames, dynamics.trim_range(frames, settings.silence_threshold_dbfs, settings.keep_silence_s),
                  target_lufs=t.profile.loudness_lufs - c.level_db,
                  ceiling_dbtp=t.profile.true_peak_dbtp - c.headroom_db,
                  ceiling_offset=onset_offsets(frames, c, settings.silence_threshold_dbfs))
        w.source_lra_lu = meter.loudness_range(_window(frames, w.trim))
        _plan(w, settings)
        pending.append(w)
    done: list[Rendition] = []
    errors: list[tuple[str, str]] = []
    while pending:
        outputs = [_output(w, job, rate, source) for w in pending]
        try:
            ffmpeg.render(job.path, job.prepare, outputs, duration_hint=job.duration_s)
        except ToolError as exc:
            for w in pending:
                _discard(w.tmp)
                errors.append((w.target.profile.name, str(exc)))
            break
        again = []
        for w, got in zip(pending, _verify_all(pending, job.duration_s)):
            w.attempts += 1
            if isinstance(got, ToolError):
                _discard(w.tmp)
                errors.append((w.target.profile.name, f"output unreadable: {got}"))
                continue
            if _accepts(w, got, settings):
                done.append(_finish(job, w, got))
            elif w.attempts >= MAX_ATTEMPTS:
                _discard(w.tmp)
                errors.append((w.target.profile.name, _miss(w.target.profile, got)))
            else:
                _discard(w.tmp)
                _correct(w, got)
                _plan(w, settings)
                again.append(w)
        pending = again
    return JobResult(job.key, job.label, tuple(done), tuple(errors))


def _window(frames: meter.Frames, span: tuple[int, int]) -> meter.Frames:
    """Frames ``span[0]:span[1]`` as a signal of their own."""
    return frames.window(*span)


def _verify_all(pending: list[_Work], duration_s: float) -> list[meter.Loudness | ToolError]:
    """:func:`.lifecycle.verify` every rendered output, :data:`VERIFY_THREADS` at a time (each is an
    ffmpeg decode feeding a numpy meter that mostly runs without the GIL)."""
    def one(w: _Work) -> meter.Loudness | ToolError:
        assert w.tmp is not None and w.plan is not None
        try:
            w.decoded = verify_summary(w.tmp, w.target.profile, duration_s, w.plan.predicted_peak_dbtp,
                                       keep_above_dbtp=_accepted_peak(w.target.profile))
            return replace(w.decoded.loudness(), curve=w.decoded.curve())
        except ToolError as exc:
            return exc

    if len(pending) == 1:
        return [one(pending[0])]
    with ThreadPoolExecutor(max_workers=VERIFY_THREADS) as pool:
        return list(pool.map(one, pending))


def _miss(p: DeviceProfile, got: meter.Loudness) -> str:
    return (f"could not reach {p.loudness_lufs} LUFS / {p.true_peak_dbtp} dBTP after {MAX_ATTEMPTS} renders"
            f" (got {got.integrated_lufs:.1f} LUFS, {got.true_peak_dbtp:.1f} dBTP)")


def _finish(job: SourceJob, w: _Work, got: meter.Loudness) -> Rendition:
    t, plan = w.target, w.plan
    assert w.tmp is not None and plan is not None
    sha, size = finish(w.tmp, t.dest, t.tag, got)
    notes = []
    if plan.capped:
        short = t.profile.loudness_lufs - got.integrated_lufs
        notes.append(f"{t.profile.name}: {short:.1f} LU short of target (max gain {plan.gain_db:.1f} dB reached)")
    return Rendition(source_sha256=job.key, profile=t.profile.name, profile_hash=t.profile_hash,
                     path=str(t.dest), sha256=sha, bytes=size,
                     duration_s=got.duration_s, extension=t.profile.extension,
                     integrated_lufs=got.integrated_lufs, true_peak_dbtp=got.true_peak_dbtp,
                     gain_db=plan.gain_db, notes=tuple(notes), lra_lu=round(got.lra_lu, 2),
                     source_lra_lu=round(w.source_lra_lu, 2), renders=w.attempts,
                     levelling=t.profile.levelling, curve=got.curve)


def relative(r: Rendition, library: Path) -> Rendition:
    """The rendition with its path relative to the library folder (as catalogued)."""
    return replace(r, path=str(Path(r.path).resolve().relative_to(library.resolve())))
