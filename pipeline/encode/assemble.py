"""Audio the broadcast schedule needs besides lessons: jingles and whole-slot files.

* :func:`asset_rendition` renders a station asset (an intro or outro jingle) for a
  profile exactly like a lesson: the closed loudness loop of :mod:`pipeline.encode`
  (:func:`~pipeline.encode.run_jobs`), so it meets the profile's target and true-peak
  ceiling as decoded. Cached by the asset's sha256 and the profile settings.
* :func:`slot_rendition` joins the renditions of one slot (jingles, lessons, filler),
  each padded to its scheduled length, into one file of exactly the slot's length, for
  controllers that can only start one file at a time. The parts are used as they are:
  no part is re-measured or re-normalized (each already meets the profile's target), so
  their levels relative to each other stay. A PCM file is an exact copy of the samples,
  measured once as written for its bext loudness fields (every one, EBU Tech 3285 v2)
  and CodingHistory; a lossy file is re-encoded, so it is measured once as decoded and,
  when the codec moved its level, corrected by one uniform gain. Cached by its recipe (the parts' sha256 and lengths).
"""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from pathlib import Path
from typing import Sequence

from .. import formats
from ..catalog import Catalog
from ..config import Config
from ..errors import DangkeError, ToolError
from ..fsutil import sha256_file
from ..media import bext, ffmpeg, tags
from ..media import meter
from ..media.ffmpeg import Filter, Output
from ..models import DeviceProfile, Rendition
from . import chain, history, lifecycle, origination_of, render_one, tagger
from .lifecycle import Wanted, profile_hash
from .render import SourceJob, Target


def _tagger(profile: DeviceProfile, title: str, reference: str, origination: str = ""):
    """Tags of a non-lesson rendition in the profile's tag style (bext loudness for WAV,
    a title elsewhere); ``origination``: see :attr:`pipeline.encode.Tagger.origination`."""
    return tagger(profile, tags.TagSet(title=title, genre=reference), f"dangke {reference}", reference, origination)


def _newest_origination(paths: Sequence[Path]) -> str:
    """The latest bext origination among the WAV ``paths`` (a slot's parts), "" if none."""
    found = []
    for path in paths:
        info = bext.read_loudness(path) if path.suffix.lower() == ".wav" else None
        if info and info["origination_date"] and info["origination_time"]:
            found.append(f"{info['origination_date']}T{info['origination_time']}")
    return max(found, default="")


def asset_rendition(cfg: Config, catalog: Catalog, asset: Path, profile_name: str, title: str) -> Rendition:
    """The rendition of a station asset (a jingle) for ``profile_name``, made if missing.

    Raises:
        DangkeError: the asset is missing or cannot be rendered to the profile's target.
    """
    if not asset.is_file():
        raise DangkeError("jingle not found", path=asset,
                          fix="set [channels.<name>] intro / outro to an audio file, or remove the key")
    profile = cfg.profiles[profile_name]

    def make(want: Wanted) -> Rendition:
        try:
            length = ffmpeg.probe(asset).header_duration_s
        except ToolError as exc:
            raise DangkeError(f"jingle is not decodable audio: {exc.message}", path=asset,
                              fix="use a WAV, FLAC or MP3 file") from exc
        layout = "mono" if profile.channels == 1 else "stereo"
        prepare = (Filter.of("aformat", channel_layouts=layout),) + chain.prepare("mono", profile.channels)
        job = SourceJob(key=want.key, path=asset, prepare=prepare, duration_s=length or 60.0,
                        label=f"jingle {asset.name}", steps=("jingle",),
                        targets=(Target(profile, want.profile_hash, want.dest,
                                        _tagger(profile, title, "jingle",
                                                origination_of(asset.stat().st_mtime, cfg.tz)), title),))
        return render_one(cfg, catalog, job, f"jingle could not be rendered for {profile.name}", asset)

    return lifecycle.obtain(cfg, catalog, f"{sha256_file(asset)}+asset", profile, make)


LOSSY_ATTEMPTS = 3
"""Renders of a lossy slot file at most (the first plus gain corrections)."""


def _lossy_correction(profile: DeviceProfile, got: meter.Loudness) -> float | None:
    """The gain (dB) that brings a re-encoded slot back to the profile's target, or None
    when it is within 0.2 LU and under the true-peak ceiling. A lossy encoder changes
    the level of what it re-encodes (libmp3lame at 128 kb/s mono: about -0.4 LU), so a
    lossy slot file is measured once as decoded and corrected by a uniform gain, which
    keeps the parts' levels relative to each other; the true-peak ceiling wins."""
    if not math.isfinite(got.integrated_lufs):
        return None
    step = profile.loudness_lufs - got.integrated_lufs
    headroom = profile.true_peak_dbtp - got.true_peak_dbtp
    if abs(step) <= 0.2 and headroom >= 0:
        return None
    step = min(step, headroom - 0.1)
    return step if abs(step) > 0.05 else None


def slot_key(profile: DeviceProfile, parts: Sequence[tuple[Rendition, int]], length_ms: int) -> str:
    """The cache key of a slot file: a hash of its recipe."""
    recipe = json.dumps([profile_hash(profile), length_ms, [(r.sha256, ms) for r, ms in parts]])
    return "slot+" + hashlib.sha256(recipe.encode()).hexdigest()[:32]


def parts_loudness(parts: Sequence[tuple[Rendition, int]]) -> tuple[float, float]:
    """Integrated loudness (LUFS) and true peak (dBTP) of parts joined end to end,
    from their own measurements: the duration-weighted energy mean of their integrated
    loudness (BS.1770-4 sums mean squares, so this is exact up to gating) and the
    highest of their true peaks."""
    energy = seconds = 0.0
    peak = -math.inf
    for r, ms in parts:
        if r.integrated_lufs is not None and math.isfinite(r.integrated_lufs):
            energy += (ms / 1000) * 10 ** (r.integrated_lufs / 10)
            seconds += ms / 1000
        if r.true_peak_dbtp is not None and math.isfinite(r.true_peak_dbtp):
            peak = max(peak, r.true_peak_dbtp)
    loud = 10 * math.log10(energy / seconds) if energy > 0 else -math.inf
    return loud, peak


def slot_rendition(cfg: Config, catalog: Catalog, profile_name: str, parts: Sequence[tuple[Rendition, int]],
                   length_ms: int, title: str, reference: str) -> Rendition:
    """One file of exactly ``length_ms`` milliseconds (rounded to the sample) made of
    ``parts`` ``(rendition, scheduled milliseconds)`` in order, each padded with silence
    or cut to its scheduled length; silence after the last part up to the slot's end.

    Raises:
        DangkeError: a part's file is missing, or ffmpeg failed.
    """
    profile = cfg.profiles[profile_name]
    return lifecycle.obtain(cfg, catalog, slot_key(profile, parts, length_ms), profile,
                            lambda want: _join(cfg, catalog, want, parts, length_ms, title, reference))


def _join(cfg: Config, catalog: Catalog, want: Wanted, parts: Sequence[tuple[Rendition, int]],
          length_ms: int, title: str, reference: str) -> Rendition:
    """Make, finish and record the slot file ``want`` (see :func:`slot_rendition`)."""
    profile, dest = want.profile, want.dest
    pcm = formats.get(profile.format).pcm
    inputs = []
    rate = profile.sample_rate
    for r, ms in parts:
        path = cfg.library / r.path
        if not path.is_file():
            raise DangkeError(f"{r.key} is scheduled but its file is missing", path=path,
                              fix="run `dangke encode`, then `dangke schedule --force` for the day")
        inputs.append((path, int(round(ms * rate / 1000))))
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{uuid.uuid4().hex}.tmp.{profile.extension}")
    loud, peak = parts_loudness(parts)
    gain = 0.0
    coding = history.coding_history(
        [history.output_line(profile, f"dangke slot {reference[:40]}: {len(parts)} renditions joined end to end,"
                                      " each padded or cut to its scheduled length; no level change")])
    got = None
    try:
        for attempt in range(1, LOSSY_ATTEMPTS + 1):
            level = (Filter.of("volume", f"{gain:.2f}dB"),) if gain else ()
            ffmpeg.concat(inputs, rate, profile.channels, int(round(length_ms * rate / 1000)),
                          Output(tmp, level, chain.output_options(profile, title, coding if pcm else "")),
                          duration_hint=length_ms / 1000)
            got = lifecycle.verify(tmp, profile, duration_hint=length_ms / 1000)
            loud, peak = got.integrated_lufs, got.true_peak_dbtp
            if pcm:
                break
            step = _lossy_correction(profile, got)
            if step is None or attempt == LOSSY_ATTEMPTS:
                break
            gain += step
        sha, size = lifecycle.finish(
            tmp, dest, _tagger(profile, title, reference, _newest_origination([p for p, _ in inputs])),
            got if got is not None else
            meter.Loudness(loud, float("nan"), peak, float("nan"), float("nan"), length_ms / 1000))
    except ToolError as exc:
        lifecycle.discard(tmp)
        raise DangkeError(f"slot audio could not be assembled: {exc.message}", path=dest) from exc
    made = Rendition(source_sha256=want.key, profile=profile.name, profile_hash=want.profile_hash,
                     path=str(dest.resolve().relative_to(cfg.library.resolve())), sha256=sha,
                     bytes=size, duration_s=length_ms / 1000, extension=profile.extension,
                     integrated_lufs=round(loud, 2), true_peak_dbtp=round(peak, 2), gain_db=0.0,
                     notes=(f"joined from {len(parts)} rendition(s)"
                            + (f", {gain:+.2f} dB after re-encoding" if gain else ""),))
    lifecycle.record(catalog, made)
    return made
