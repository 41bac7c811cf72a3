"""Closed-loop rendering of one source into every missing profile.

Measure the prepared signal once (BS.1770-4 via ffmpeg ``ebur128``), decode the source
once writing every missing rendition with its own gain and limiter, then measure each
output as decoded. A rendition off target (more than the tolerance) or above its
true-peak ceiling is corrected and rendered again, at most :data:`MAX_ATTEMPTS` times.
"""

from __future__ import annotations

import math
import os
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from ..errors import ToolError
from ..fsutil import sha256_file
from ..media import ffmpeg
from ..media.ffmpeg import Filter, Output
from ..models import DeviceProfile, Rendition
from . import chain

MAX_ATTEMPTS = 6


@dataclass(frozen=True)
class Target:
    """One rendition to make: the profile, its cache key, where it goes, and how to tag it
    (``tag`` is called with the finished file's path and its measured loudness)."""

    profile: DeviceProfile
    profile_hash: str
    dest: Path
    tag: Callable[[Path, "ffmpeg.Measurement"], None] | None = None
    title: str = ""


@dataclass(frozen=True)
class SourceJob:
    """A source to render: ``key`` identifies it in the cache (its sha256, or sha256 plus a
    recipe for derived audio such as fillers); ``prepare`` are the shared filters."""

    key: str
    path: Path
    prepare: tuple[Filter, ...]
    duration_s: float
    targets: tuple[Target, ...]
    label: str = ""


@dataclass(frozen=True)
class JobResult:
    """Renditions made (paths are the final ``dest`` paths) and per-profile errors."""

    key: str
    label: str
    renditions: tuple[Rendition, ...] = ()
    errors: tuple[tuple[str, str], ...] = field(default=())


@dataclass
class _Attempt:
    target: Target
    extra_db: float = 0.0
    limit_offset_db: float = 0.0
    tmp: Path | None = None
    gain: chain.Gain | None = None
    history: list[tuple[float, float]] = field(default_factory=list)


def _accepts(profile: DeviceProfile, result: ffmpeg.Measurement, gain: chain.Gain, aim_lu: float) -> bool:
    tp_ok = result.loudness.true_peak_dbtp <= profile.true_peak_dbtp
    i = result.loudness.integrated_lufs
    if gain.capped:
        return tp_ok and (not math.isfinite(i) or i <= profile.loudness_lufs + aim_lu)
    return tp_ok and math.isfinite(i) and abs(i - profile.loudness_lufs) <= aim_lu


def _correct(a: _Attempt, result: ffmpeg.Measurement) -> None:
    """Adjust the next attempt: lower the limiter by the true-peak overshoot; move the
    gain toward the target by a secant step over the attempts so far (a limiter makes
    loudness grow more slowly than gain)."""
    p = a.target.profile
    over = result.loudness.true_peak_dbtp - p.true_peak_dbtp
    if over > 0:
        a.limit_offset_db += over + 0.2
    i = result.loudness.integrated_lufs
    if not math.isfinite(i):
        return
    a.history.append((a.extra_db, i))
    step = p.loudness_lufs - i
    if len(a.history) >= 2:
        (e1, i1), (e2, i2) = a.history[-2], a.history[-1]
        slope = (i2 - i1) / (e2 - e1) if abs(e2 - e1) > 1e-6 else 1.0
        if 0.05 < slope < 2.0:
            step = (p.loudness_lufs - i2) / slope
    a.extra_db += max(-10.0, min(10.0, step))


def render_job(job: SourceJob, max_gain_db: float, tolerance_lu: float) -> JobResult:
    """Make every target of ``job``. Never raises for one profile's failure: failures
    come back in :attr:`JobResult.errors` as ``(profile, message)``."""
    if not job.targets:
        return JobResult(job.key, job.label)
    try:
        measured = ffmpeg.measure(job.path, prepare=job.prepare, duration_hint=job.duration_s)
    except ToolError as exc:
        return JobResult(job.key, job.label, errors=tuple((t.profile.name, str(exc)) for t in job.targets))
    aim = max(0.1, tolerance_lu - 0.2)
    pending = [_Attempt(t) for t in job.targets]
    done: list[Rendition] = []
    errors: list[tuple[str, str]] = []
    for attempt in range(1, MAX_ATTEMPTS + 1):
        outputs = []
        for a in pending:
            p = a.target.profile
            a.gain = chain.decide_gain(p, measured.loudness.integrated_lufs, measured.loudness.true_peak_dbtp,
                                       max_gain_db, a.extra_db, a.limit_offset_db)
            a.target.dest.parent.mkdir(parents=True, exist_ok=True)
            a.tmp = a.target.dest.with_name(f".{uuid.uuid4().hex}.tmp.{p.extension}")
            outputs.append(Output(a.tmp, chain.level_filters(p, a.gain),
                                  chain.output_options(p, a.target.title)))
        try:
            ffmpeg.render(job.path, job.prepare, outputs, duration_hint=job.duration_s)
        except ToolError as exc:
            for a in pending:
                _discard(a.tmp)
                errors.append((a.target.profile.name, str(exc)))
            pending = []
            break
        still = []
        for a in pending:
            try:
                result = ffmpeg.measure(a.tmp, duration_hint=job.duration_s)
            except ToolError as exc:
                _discard(a.tmp)
                errors.append((a.target.profile.name, f"output unreadable: {exc}"))
                continue
            if _accepts(a.target.profile, result, a.gain, aim) or attempt == MAX_ATTEMPTS:
                if not _accepts(a.target.profile, result, a.gain, tolerance_lu):
                    _discard(a.tmp)
                    errors.append((a.target.profile.name, _miss(a.target.profile, result)))
                    continue
                done.append(_finish(job, a, result))
            else:
                _discard(a.tmp)
                _correct(a, result)
                still.append(a)
        pending = still
        if not pending:
            break
    return JobResult(job.key, job.label, tuple(done), tuple(errors))


def _miss(p: DeviceProfile, result: ffmpeg.Measurement) -> str:
    return (f"could not reach {p.loudness_lufs} LUFS / {p.true_peak_dbtp} dBTP after {MAX_ATTEMPTS} attempts"
            f" (got {result.loudness.integrated_lufs:.1f} LUFS, {result.loudness.true_peak_dbtp:.1f} dBTP)")


def _discard(path: Path | None) -> None:
    if path is not None:
        path.unlink(missing_ok=True)


def _finish(job: SourceJob, a: _Attempt, result: ffmpeg.Measurement) -> Rendition:
    t, g = a.target, a.gain
    assert a.tmp is not None and g is not None
    if t.tag is not None:
        t.tag(a.tmp, result)
    with open(a.tmp, "rb+") as f:
        os.fsync(f.fileno())
    sha = sha256_file(a.tmp)
    os.replace(a.tmp, t.dest)
    notes = []
    if g.capped:
        short = t.profile.loudness_lufs - result.loudness.integrated_lufs
        notes.append(f"{t.profile.name}: {short:.1f} LU short of target (max gain {g.gain_db:.1f} dB reached)")
    return Rendition(source_sha256=job.key, profile=t.profile.name, profile_hash=t.profile_hash,
                     path=str(t.dest), sha256=sha, bytes=t.dest.stat().st_size,
                     duration_s=result.duration_s, extension=t.profile.extension,
                     integrated_lufs=result.loudness.integrated_lufs,
                     true_peak_dbtp=result.loudness.true_peak_dbtp, gain_db=g.gain_db,
                     notes=tuple(notes))


def relative(r: Rendition, library: Path) -> Rendition:
    """The rendition with its path relative to the library folder (as catalogued)."""
    return replace(r, path=str(Path(r.path).resolve().relative_to(library.resolve())))
