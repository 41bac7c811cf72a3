"""Encode: every current lesson for every profile, cached by (source, profile settings).

A rendition is keyed by the sha256 of its source and :func:`.lifecycle.profile_hash`
(the profile's settings plus the chain version): a lesson already rendered for a profile
is never encoded again, and a changed profile re-renders just that profile
(:mod:`.lifecycle` owns a rendition's key, lookup, measurement, finishing and record). Lessons run
in parallel (``[encode] jobs``, default one per core, or as tasks on a Dask cluster with
``[compute] scheduler``: :mod:`pipeline.compute`); one lesson's failure never stops the batch.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from .. import compute
from ..catalog import Catalog
from ..config import Config
from ..errors import DangkeError
from ..media import bext, repair, tags
from ..media.meter import Loudness
from ..models import DeviceProfile, Lesson, Rendition
from ..vocab import CATEGORY_NAMES_ZH
from . import chain, lifecycle
from .lifecycle import Wanted
from .render import JobResult, Settings, SourceJob, Target, relative


@dataclass(frozen=True)
class EncodeReport:
    """``made`` renditions encoded now, ``cached`` already present, ``errors`` as
    ``(lesson or asset, profile, message)``, ``notes`` worth telling an editor."""

    made: tuple[Rendition, ...] = ()
    cached: int = 0
    errors: tuple[tuple[str, str, str], ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def failed(self) -> bool:
        return bool(self.errors)


def cover_for(cfg: Config, series: str) -> Path | None:
    """The series' cover image, ``<[encode] covers>/<series>.jpg`` (or ``.png``), if any."""
    if not series or not cfg.encode.covers:
        return None
    folder = cfg.resolve(cfg.encode.covers)
    for ext in ("jpg", "jpeg", "png"):
        candidate = folder / f"{series}.{ext}"
        if candidate.is_file():
            return candidate
    return None


@dataclass(frozen=True)
class Tagger:
    """Writes a finished rendition's tags (a plain value, so a job pickles for a process
    pool or a cluster): ``kind`` is the profile's ``tags``, the tag style of its format
    (:attr:`pipeline.formats.Format.tag_style`): ``bext`` here (it needs the measured
    loudness), every other one through :func:`pipeline.media.tags.write`; called with the
    file's path and its measured loudness."""

    kind: str
    tag_set: tags.TagSet = tags.TagSet(title="")
    id3v1: bool = False
    description: str = ""
    reference: str = ""
    #: bext OriginationDate/Time, ISO 8601 local time ("" = now); a value of the inputs
    #: (see :func:`origination_of`), so a render is byte-identical wherever it runs
    origination: str = ""

    def __call__(self, path: Path, m: Loudness) -> None:
        if self.kind == "bext":
            _bext(path, m, self.description, self.reference, self.tag_set.title, self.tag_set.artist,
                  dt.datetime.fromisoformat(self.origination) if self.origination else None)
        else:
            tags.write(self.kind, path, self.tag_set, self.id3v1)


def tagger(profile: DeviceProfile, tag_set: tags.TagSet, description: str, reference: str,
           origination: str = "") -> "Tagger | None":
    """The tag writer of ``profile`` (None for ``tags = "none"``): ``tag_set`` for its tag
    style, and for a Broadcast WAVE the bext ``description``, ``reference`` and
    ``origination`` (see :attr:`Tagger.origination`)."""
    if profile.tags == "none":
        return None
    return Tagger(profile.tags, tag_set, profile.id3v1, description, reference, origination)


def origination_of(when: "str | float", tz: dt.tzinfo) -> str:
    """A bext origination time (ISO 8601, seconds, local in ``tz``) from an ISO timestamp
    (a lesson's ``ingested_at``: when the station received the original) or a POSIX time
    (a station asset's modification time); "" when unknown."""
    try:
        t = (dt.datetime.fromtimestamp(when, dt.timezone.utc) if isinstance(when, (int, float))
             else dt.datetime.fromisoformat(when))
    except (TypeError, ValueError, OverflowError):
        return ""
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return t.astimezone(tz).replace(microsecond=0).isoformat()


def lesson_origination(lesson: Lesson, tz: dt.tzinfo) -> str:
    """A lesson rendition's bext origination: the day it was recorded (``recorded_on``
    from the sidecar or tags, at 00:00:00) when known, else when the station received the
    original (``ingested_at``). Never the render time, so a lesson renders to the same
    bytes on any machine, at any time, from the same catalog."""
    if lesson.recorded_on is not None:
        return dt.datetime.combine(lesson.recorded_on, dt.time(0, 0, 0)).isoformat()
    return origination_of(lesson.ingested_at, tz)


def lesson_tagger(profile: DeviceProfile, lesson: Lesson,
                  cover: Path | None = None, origination: str = "") -> "Tagger | None":
    """The tag writer for a lesson's rendition in ``profile`` (None: no tags);
    ``origination``: see :attr:`Tagger.origination`."""
    tag_set = tags.TagSet(title=lesson.title, artist=lesson.speaker, album=lesson.series,
                          genre=CATEGORY_NAMES_ZH.get(lesson.category, lesson.category),
                          language=lesson.dialect, comment=lesson.description,
                          lesson_id=lesson.lesson_id,
                          track=str(lesson.episode) if lesson.episode else "",
                          cover=cover.read_bytes() if cover is not None else b"",
                          cover_mime="image/png" if cover is not None and cover.suffix == ".png" else "image/jpeg")
    return tagger(profile, tag_set, f"dangke {lesson.lesson_id} {lesson.category} {lesson.dialect}",
                  lesson.lesson_id, origination)


def _bext(path: Path, m: Loudness, description: str, reference: str, title: str = "", artist: str = "",
          origination: "dt.datetime | None" = None) -> None:
    """Broadcast WAVE metadata of a finished WAV: every bext loudness field of the
    decoded measurement ``m``, the origination time (None: now), and the title in an
    ``id3 `` chunk (what MediaInfo and ExifTool show in Chinese)."""
    bext.write_loudness(path, m.integrated_lufs, m.lra_lu, m.true_peak_dbtp,
                        max_momentary_lufs=m.max_momentary_lufs, max_short_term_lufs=m.max_short_term_lufs,
                        description=description, reference=reference, origination=origination)
    tags.write_wav_title(path, title, artist)


def settings(cfg: Config) -> Settings:
    """The render settings of ``[encode]``."""
    e = cfg.encode
    return Settings(max_gain_db=e.max_gain_db, tolerance_lu=e.tolerance_lu,
                    silence_threshold_dbfs=e.silence_threshold_dbfs, keep_silence_s=e.keep_silence_s)


def lesson_jobs(cfg: Config, catalog: Catalog, lessons: Iterable[Lesson],
                profiles: Iterable[DeviceProfile]) -> tuple[list[SourceJob], int]:
    """Jobs for the renditions that are missing, and the number already cached."""
    profiles = list(profiles)
    jobs, cached = [], 0
    for lesson in lessons:
        src = catalog.source(lesson.source_sha256)
        findings = dict(src.analysis)
        targets = []
        for p in profiles:
            if lifecycle.cached(cfg, catalog, lesson.source_sha256, p) is not None:
                cached += 1
                continue
            want = lifecycle.wanted(cfg, lesson.source_sha256, p)
            targets.append(Target(profile=p, profile_hash=want.profile_hash, dest=want.dest,
                                  tag=lesson_tagger(p, lesson, cover_for(cfg, lesson.series),
                                                     lesson_origination(lesson, cfg.tz)),
                                  title=lesson.title))
        if targets:
            mode = _channel_mode(findings)
            jobs.append(SourceJob(key=lesson.source_sha256,
                                  path=repair.library_copy(cfg.library, lesson.source_sha256, cfg.library / src.path),
                                  prepare=chain.prepare(mode),
                                  duration_s=lesson.duration_s, targets=tuple(targets),
                                  label=lesson.lesson_id, steps=(f"channels {mode}",)))
    return jobs, cached


def _channel_mode(findings: dict) -> str:
    """The ingest decision on channels (``findings["channel_mode"]``); a mono source is
    always ``mono`` (a mix formula would halve it)."""
    if findings.get("channels") == 1:
        return "mono"
    return str(findings.get("channel_mode") or "mix")


def run_jobs(cfg: Config, catalog: Catalog, jobs: list[SourceJob],
             progress: Callable[[JobResult], None] | None = None) -> tuple[list[Rendition], list[tuple[str, str, str]], list[str]]:
    """Render jobs in parallel and record every finished rendition in the catalog."""
    made: list[Rendition] = []
    errors: list[tuple[str, str, str]] = []
    notes: list[str] = []
    with compute.render_jobs(cfg, jobs, settings(cfg)) as results:  # local pool or Dask ([compute])
        for result in results:
            for r in result.renditions:
                rel = relative(r, cfg.library)
                lifecycle.record(catalog, rel)
                made.append(rel)
                notes.extend(f"{result.label}: {n}" for n in r.notes)
            for profile, message in result.errors:
                errors.append((result.label, profile, message))
                catalog.log("encode", "error", result.label, f"{profile}: {message}")
            if progress is not None:
                progress(result)
    return made, errors, notes


def encode_all(cfg: Config, catalog: Catalog,
               progress: Callable[[JobResult], None] | None = None,
               on_total: Callable[[int], None] | None = None) -> EncodeReport:
    """Render every current lesson for every configured profile that lacks it.

    ``on_total`` is told how many lessons need work before it starts; ``progress`` is
    called as each lesson finishes (for a progress bar)."""
    jobs, cached = lesson_jobs(cfg, catalog, catalog.lessons(), cfg.profiles.values())
    if on_total is not None:
        on_total(len(jobs))
    made, errors, notes = run_jobs(cfg, catalog, jobs, progress)
    return EncodeReport(made=tuple(made), cached=cached, errors=tuple(sorted(errors)), notes=tuple(sorted(notes)))


def current_rendition(cfg: Config, catalog: Catalog, source_key: str, profile: str) -> Rendition | None:
    """The cached rendition of ``source_key`` for the profile as configured now
    (:func:`.lifecycle.current`; its file is not checked)."""
    return lifecycle.current(cfg, catalog, source_key, profile)


def render_one(cfg: Config, catalog: Catalog, job: SourceJob, failure: str, path: Path) -> Rendition:
    """Render the one target of ``job`` and record it (:func:`run_jobs`).

    Raises:
        DangkeError: ``failure`` (what could not be made), with the render's message,
            about ``path``.
    """
    made, errors, _ = run_jobs(cfg, catalog, [job])
    if errors or not made:
        raise DangkeError(f"{failure}: {errors[0][2] if errors else 'unknown error'}", path=path)
    return made[0]


def bed_filters(duration_s: float, bed_duration_s: float, rate: int) -> tuple:
    """Filters that turn a bed into a filler of exactly ``duration_s``: mono at the bed's
    own ``rate``, looped, cut to length at the sample, faded in and out."""
    from ..media.ffmpeg import Filter

    fade = round(min(2.0, duration_s / 4), 3)
    return (Filter.of("aformat", channel_layouts="mono"),
            Filter.of("aloop", loop=-1, size=int((bed_duration_s + 1) * rate)),
            Filter.of("atrim", end_sample=int(round(duration_s * rate))),
            Filter.of("afade", t="in", d=fade),
            Filter.of("afade", t="out", st=round(duration_s - fade, 3), d=fade))


def filler_rendition(cfg: Config, catalog: Catalog, bed: Path, profile_name: str,
                     duration_s: float) -> Rendition:
    """A filler of ``duration_s`` seconds made from ``bed``, normalised like any rendition
    of ``profile_name`` and cached under ``<bed sha256>+filler-<ms>``.

    Raises:
        DangkeError: the bed is missing or the filler cannot be rendered.
    """
    from ..fsutil import sha256_file
    from ..media import ffmpeg

    if not bed.is_file():
        raise DangkeError("filler bed not found", path=bed, fix="set [channels.<name>] filler to an audio file")
    profile = cfg.profiles[profile_name]
    ms = int(round(duration_s * 1000))

    def make(want: Wanted) -> Rendition:
        bed_len = ffmpeg.measure(bed).duration_s
        rate = ffmpeg.probe(bed).sample_rate
        desc = f"dangke filler {ms / 1000:.3f} s"
        tag = (Tagger("bext", tags.TagSet(title="filler"), description=desc, reference="filler",
                      origination=origination_of(bed.stat().st_mtime, cfg.tz)) if profile.tags == "bext" else None)
        job = SourceJob(key=want.key, path=bed, prepare=bed_filters(ms / 1000, bed_len, rate),
                        duration_s=ms / 1000, label=f"filler {ms / 1000:.3f} s",
                        steps=(f"filler bed looped to {ms / 1000:.3f} s; fades",),
                        targets=(Target(profile, want.profile_hash, want.dest, tag, "filler"),))
        return render_one(cfg, catalog, job, "filler could not be rendered", bed)

    return lifecycle.obtain(cfg, catalog, f"{sha256_file(bed)}+filler-{ms}", profile, make)
