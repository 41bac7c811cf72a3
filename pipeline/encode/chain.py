"""The processing chain of a rendition, as plain filter values (pure, no ffmpeg run).

Per source: channel handling (take the live channel of a stereo file with a dead one,
average otherwise) and DC / rumble removal, shared by every rendition. Per profile:
resampling, a static gain (target minus measured integrated loudness, BS.1770-4), and a
look-ahead limiter only when the gain would push the peaks above the ceiling.
Encoder and muxer options follow each profile's format.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..media.ffmpeg import Filter
from ..models import DeviceProfile

#: headroom (dB) below the true-peak ceiling for the limiter, by format; lossy encoders
#: overshoot (standards.md §0 item 5: +2.4 dB at 64 kb/s MP3).
LIMITER_MARGIN_DB = {"wav": 0.3, "mp3": 1.5, "m4a": 1.0}


def prepare(channel_mode: str, channels_out: int = 1) -> tuple[Filter, ...]:
    """Filters shared by all renditions of a source.

    ``channel_mode`` comes from ingest: ``mono``, ``mix``, ``left``, ``right`` or
    ``invert-right`` (channels in opposite phase: the right is inverted before the mix,
    never summed as is), or ``downmix`` (more than two channels: no pan here, so the
    encoder's ``ac`` option applies ffmpeg's standard downmix matrix, centre included).
    """
    pans = {
        "left": "mono|c0=c0",
        "right": "mono|c0=c1",
        "mix": "mono|c0=0.5*c0+0.5*c1",
        "invert-right": "mono|c0=0.5*c0-0.5*c1",
    }
    filters: list[Filter] = []
    if channels_out == 1 and channel_mode in pans:
        filters.append(Filter.of("pan", args=pans[channel_mode]))
    filters.append(Filter.of("highpass", f=20, poles=2))
    return tuple(filters)


@dataclass(frozen=True)
class Gain:
    """The level decision for one rendition.

    ``gain_db`` is applied as a static gain; ``limit_dbtp`` is the limiter ceiling
    (None: no limiter); ``capped`` is True when ``[encode] max_gain_db`` stopped the
    gain short of the target.
    """

    gain_db: float
    limit_dbtp: float | None
    capped: bool


def decide_gain(profile: DeviceProfile, measured_lufs: float, measured_tp_dbtp: float,
                max_gain_db: float, extra_db: float = 0.0, limit_offset_db: float = 0.0) -> Gain:
    """Gain to bring ``measured_lufs`` to the profile's target, and whether to limit.

    ``extra_db`` and ``limit_offset_db`` are corrections from a previous attempt measured
    on the encoded output (closed loop).
    """
    wanted = profile.loudness_lufs - measured_lufs + extra_db
    gain = min(wanted, max_gain_db)
    margin = LIMITER_MARGIN_DB.get(profile.format, 1.0) + limit_offset_db
    ceiling = profile.true_peak_dbtp - margin
    needs_limit = measured_tp_dbtp + gain > ceiling
    return Gain(gain_db=round(gain, 3), limit_dbtp=round(ceiling, 3) if needs_limit else None,
                capped=wanted > max_gain_db + 1e-9)


def level_filters(profile: DeviceProfile, gain: Gain) -> tuple[Filter, ...]:
    """Resample, apply the gain, and limit when needed (in that order, so the limiter
    sees the output sample rate)."""
    filters = [Filter.of("aresample", profile.sample_rate),
               Filter.of("volume", f"{gain.gain_db:.3f}dB")]
    if gain.limit_dbtp is not None:
        limit = 10 ** (gain.limit_dbtp / 20)
        filters.append(Filter.of("alimiter", limit=f"{max(0.0625, limit):.5f}", attack=5, release=80,
                                 level=0, latency=1))
    return tuple(filters)


def output_options(profile: DeviceProfile, title: str = "") -> tuple[tuple[str, object], ...]:
    """ffmpeg output options for a profile (codec, rate, channels, container)."""
    common = {"ac": profile.channels, "ar": profile.sample_rate, "map_metadata": -1,
              "fflags": "+bitexact", "flags": "+bitexact"}
    if profile.format == "mp3":
        opts = {"acodec": "libmp3lame", "b:a": f"{profile.bitrate_kbps}k", "format": "mp3",
                "id3v2_version": 0, "write_id3v1": 0, "write_xing": 1}
        if profile.bitrate_mode == "vbr":
            opts.pop("b:a")
            opts["q:a"] = 4
    elif profile.format == "wav":
        codec = {"s16": "pcm_s16le", "s24": "pcm_s24le", "f32": "pcm_f32le"}[profile.sample_format]
        opts = {"acodec": codec, "format": "wav", "write_bext": 1, "rf64": "auto"}
        if title:
            opts["metadata"] = f"title={title}"
    else:
        opts = {"acodec": "aac", "b:a": f"{profile.bitrate_kbps}k", "format": "ipod",
                "movflags": "+faststart"}
    return tuple(sorted({**common, **opts}.items()))
