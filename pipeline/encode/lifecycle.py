"""A rendition's life, in one place: its cache key, where its file lives, "use the cached
one or make it", how an output is measured, finished and recorded.

* **Key.** A rendition is cached by ``(source key, profile name, profile_hash)``:
  :func:`profile_hash` hashes the profile's settings and
  :data:`~pipeline.encode.chain.CHAIN_VERSION`, so a changed profile or chain makes it again.
* **Lookup.** :func:`current` is the catalogued rendition for the profile as configured
  now; :func:`cached` the same when its file is also in the library (a rendition whose
  file was lost is made again). :func:`obtain` returns the cached rendition or the one
  its caller's ``make`` produces at the place :func:`wanted` gives.
* **Measure.** :func:`verify` decodes an output and measures it with the BS.1770-4 meter
  (the render's check of every rendition and the slot files' only measurement).
* **Finish.** :func:`finish` tags the temporary output, syncs it to disk, takes its
  sha256 and moves it into place (atomic: a reader never sees a partial rendition).
* **Record.** :func:`record` puts it in the catalog with its loudness curve.

How an output is made (the gain plan and the render) stays in :mod:`.render` and
:mod:`.assemble`; this module never runs an encoder.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from .. import curves
from ..fsutil import sha256_file
from ..media import ffmpeg, meter
from ..models import DeviceProfile, Rendition
from .chain import CHAIN_VERSION

if TYPE_CHECKING:
    from ..catalog import Catalog
    from ..config import Config

Tag = Callable[[Path, meter.Loudness], None]
"""Writes a finished output's tags, given its path and its measured loudness."""


def profile_hash(profile: DeviceProfile) -> str:
    """A short hash (16 hex digits) of a profile's settings and the chain version: the
    rendition cache key besides the source key and the profile name."""
    blob = json.dumps([CHAIN_VERSION, dataclasses.asdict(profile)], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def rendition_path(cfg: "Config", key: str, profile: DeviceProfile, phash: str) -> Path:
    """Where the cached rendition of ``key`` for ``profile`` lives in the library."""
    safe = key.replace(":", "-").replace("/", "-")
    return cfg.library / "renditions" / profile.name / safe[:2] / f"{safe}-{phash}.{profile.extension}"


@dataclass(frozen=True)
class Wanted:
    """A rendition to make: the source ``key``, the ``profile``, its ``profile_hash`` and
    the final path ``dest`` in the library."""

    key: str
    profile: DeviceProfile
    profile_hash: str
    dest: Path


def wanted(cfg: "Config", key: str, profile: DeviceProfile) -> Wanted:
    """The rendition of ``key`` in ``profile`` as configured now, and where it goes."""
    ph = profile_hash(profile)
    return Wanted(key, profile, ph, rendition_path(cfg, key, profile, ph))


def current(cfg: "Config", catalog: "Catalog", key: str, profile: str) -> Rendition | None:
    """The catalogued rendition of ``key`` for the profile named ``profile`` as configured
    now (its file is not checked), or None."""
    return catalog.rendition(key, profile, profile_hash(cfg.profiles[profile]))


def cached(cfg: "Config", catalog: "Catalog", key: str, profile: DeviceProfile) -> Rendition | None:
    """The catalogued rendition of ``key`` for ``profile`` whose file is in the library, or None."""
    have = catalog.rendition(key, profile.name, profile_hash(profile))
    return have if have is not None and (cfg.library / have.path).is_file() else None


def obtain(cfg: "Config", catalog: "Catalog", key: str, profile: DeviceProfile,
           make: Callable[[Wanted], Rendition]) -> Rendition:
    """The cached rendition of ``key`` for ``profile``, else ``make(wanted(...))``
    (which makes, records and returns it). Raises what ``make`` raises."""
    have = cached(cfg, catalog, key, profile)
    return have if have is not None else make(wanted(cfg, key, profile))


def verify(path: Path, profile: DeviceProfile, duration_hint: float | None = None,
           expected_peak_dbtp: float | None = None) -> meter.Loudness:
    """Decode a rendition and measure it (BS.1770-4 loudness, exact true peak).

    ``expected_peak_dbtp`` (the planned peak) lets the meter skip interpolating samples
    far below it; the true peak stays exact unless it falls more than 5.5 dB below.

    Raises:
        ToolError: the file cannot be decoded.
    """
    s = verify_summary(path, profile, duration_hint, expected_peak_dbtp)
    return replace(s.loudness(), curve=s.curve())


def verify_summary(path: Path, profile: DeviceProfile, duration_hint: float | None = None,
                   expected_peak_dbtp: float | None = None,
                   keep_above_dbtp: float = math.inf) -> meter.Summary:
    """:func:`verify`, streamed: the :class:`~pipeline.media.meter.Summary` of the decoded
    frames (loudness, curve, and the frames whose true peak passes ``keep_above_dbtp``);
    memory does not grow with the rendition's length, unlike :func:`verify_frames`.

    Raises:
        ToolError: the file cannot be decoded.
    """
    floor = min(profile.true_peak_dbtp, expected_peak_dbtp) - 2.0 if expected_peak_dbtp is not None else None
    keep = 10 ** ((keep_above_dbtp - 0.001) / 20) if math.isfinite(keep_above_dbtp) else math.inf
    summary = meter.Summary(profile.sample_rate, keep_above=keep, duration_hint_s=duration_hint)
    m = meter.Meter(profile.sample_rate, profile.channels, exact_within_db=0.0, floor_dbtp=floor, sink=summary.add)
    ffmpeg.stream_pcm(path, [()], profile.sample_rate, profile.channels, [m.feed], duration_hint=duration_hint)
    summary.samples = m.finish()
    return summary


def verify_frames(path: Path, profile: DeviceProfile, duration_hint: float | None = None,
                  expected_peak_dbtp: float | None = None) -> meter.Frames:
    """The 1 ms frames of a decoded output, at the profile's rate and channels (see
    :func:`verify`; peaks exact within 2 dB of the expected peak or the ceiling,
    over-estimated below).

    Raises:
        ToolError: the file cannot be decoded.
    """
    floor = min(profile.true_peak_dbtp, expected_peak_dbtp) - 2.0 if expected_peak_dbtp is not None else None
    m = meter.Meter(profile.sample_rate, profile.channels, exact_within_db=0.0, floor_dbtp=floor)
    ffmpeg.stream_pcm(path, [()], profile.sample_rate, profile.channels, [m.feed], duration_hint=duration_hint)
    return m.frames()


def loudness(frames: meter.Frames) -> meter.Loudness:
    """The measurement of decoded ``frames``, with their loudness curve."""
    return replace(meter.measure(frames), curve=meter.curve(frames))


def finish(tmp: Path, dest: Path, tag: Tag | None, got: meter.Loudness) -> tuple[str, int]:
    """Finish an accepted output: write its tags (``tag(tmp, got)``), sync it to disk and
    move it to ``dest`` (atomic). Returns its ``(sha256, bytes)``.

    Raises:
        OSError: the file cannot be synced or moved; what the tag writer raises.
    """
    if tag is not None:
        tag(tmp, got)
    with open(tmp, "rb+") as f:
        os.fsync(f.fileno())
    sha = sha256_file(tmp)
    os.replace(tmp, dest)
    return sha, dest.stat().st_size


def discard(path: Path | None) -> None:
    """Remove a temporary output that will not be used (None or gone: nothing)."""
    if path is not None:
        path.unlink(missing_ok=True)


def record(catalog: "Catalog", r: Rendition) -> None:
    """Put a made rendition (its path relative to the library) in the catalog, with the
    loudness curve it was verified with, if it carries one (for the report's pictures)."""
    catalog.add_rendition(r)
    curves.store_rendition(catalog, r)
