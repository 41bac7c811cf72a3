"""The processing chain of a rendition, as plain filter values (pure, no ffmpeg run).

Per source (shared by every rendition): channel handling (take the live channel of a
stereo file with a dead one; invert the right channel of an opposite-phase pair before
the mix, never sum it as is) and DC removal. Per profile, before the level is decided:
the optional treatments (presence lift and high-pass for clarity and for loudspeakers,
slower speech without a pitch change). Then the gain curve of :mod:`.dynamics` (one
``amultiply``, or one ``volume`` when it is constant), the trimming of leading and
trailing silence, resampling (SoX resampler), and the encoder.

The lossy encoders change level and peaks a little: :func:`codec` gives, per format
(:mod:`pipeline.formats`), the level change and the true-peak headroom the first render
plans with; a render whose decoded output still misses is corrected with the measured values.
"""

from __future__ import annotations

from dataclasses import replace

from .. import formats
from ..media.ffmpeg import Filter
from ..models import DeviceProfile
from .dynamics import Shape

CHAIN_VERSION = "4"
"""Version of the encode chain; part of every rendition's cache key
(:func:`pipeline.encode.lifecycle.profile_hash`): change it when the chain's output for
the same profile changes, and every rendition is made again."""

PANS = {
    "left": "mono|c0=c0",
    "right": "mono|c0=c1",
    "mix": "mono|c0=0.5*c0+0.5*c1",
    "invert-right": "mono|c0=0.5*c0-0.5*c1",
}


def prepare(channel_mode: str, channels_out: int = 1) -> tuple[Filter, ...]:
    """Filters shared by all renditions of a source: a mono signal, DC removed.

    ``channel_mode`` comes from ingest: ``mono``, ``mix``, ``left``, ``right`` or
    ``invert-right`` (channels in opposite phase: the right is inverted before the mix,
    never summed as is), or ``downmix`` (more than two channels: ffmpeg's standard downmix
    matrix, centre included, through ``aformat``). Every rendition is made from this mono
    signal (``channels_out`` is kept for callers; two-channel profiles get it on both
    channels, see :func:`post_filters`).
    """
    filters: list[Filter] = []
    if channel_mode in PANS:
        filters.append(Filter.of("pan", args=PANS[channel_mode]))
    else:
        filters.append(Filter.of("aformat", channel_layouts="mono"))
    filters.append(Filter.of("highpass", f=20, poles=2))
    return tuple(filters)


Codec = formats.Codec
"""The encoder model (see :class:`pipeline.formats.Codec`)."""

NOISE_FACTORS = {(f.name, kbps): factor for f in formats.FORMATS.values() for kbps, factor in f.noise_factors}
"""Fitted ``noise_factor`` per (format, kb/s), from :data:`pipeline.formats.FORMATS`;
other bitrates take the next lower one."""


def codec(profile: DeviceProfile) -> Codec:
    """The model of a profile's encoder, from its format's entry in :mod:`pipeline.formats`
    (PCM: exact, 0.1 dB for the dither).

    Raises:
        DangkeError: the profile's format is not in the table.
    """
    return formats.get(profile.format).codec(profile.bitrate_kbps, profile.sample_rate)


def treatment(profile: DeviceProfile) -> tuple[Filter, ...]:
    """Filters that change the sound before its level is decided (measured with it).

    * loudspeakers (``speech_compression``): high-pass at 150 Hz (horns cannot play lower
      and the low end only muddies speech outdoors) and a +3 dB presence lift at 2.5 kHz;
    * elderly clarity (``clarity``): high-pass at 80 Hz and a +4 dB lift at 3 kHz
      (consonants carry intelligibility; age-related hearing loss starts there);
    * ``tempo`` below 1: slower speech at the same pitch (ffmpeg ``atempo``, WSOLA).
    """
    filters: list[Filter] = []
    if profile.speech_compression:
        filters += [Filter.of("highpass", f=150, poles=2),
                    Filter.of("equalizer", f=2500, t="q", w=1.0, g=3)]
    if profile.clarity:
        filters += [Filter.of("highpass", f=80, poles=2),
                    Filter.of("equalizer", f=3000, t="q", w=1.2, g=4)]
    if abs(profile.tempo - 1.0) > 1e-6:
        filters.append(Filter.of("atempo", f"{profile.tempo:.4f}"))
    return tuple(filters)


FAST_LIMITERS_DB_MS = ((3.0, 1.0), (8.0, 4.0), (16.0, 16.0))
"""Limiter (attack, release) rates in dB per ms tried, in order, when the profile's own
(1.5, 0.2) cannot reach the target under the ceiling (a source whose peaks stand 18 dB
or more over its loudness): recovery within milliseconds, like a soft clipper; the plan
then says how deep it limited."""


def shape(profile: DeviceProfile) -> Shape:
    """Compression, levelling and limiter settings of a profile.

    Loudspeakers: 3:1 above the programme loudness (syllables are held together so the
    quiet ones carry outdoors). Clarity: a gentle 2:1 above programme loudness + 2 LU.
    ``levelling``: 3 s passages brought halfway to the programme loudness (2:1, boosts
    up to 12 dB) and syllables 3 LU over it compressed 2:1; without it, only the
    true-peak limiter touches the dynamics.
    """
    base = Shape()
    if profile.speech_compression:
        base = Shape(compress_ratio=3.0, compress_threshold_lu=0.0)
    elif profile.clarity:
        base = Shape(compress_ratio=2.0, compress_threshold_lu=2.0)
    elif profile.levelling:
        base = Shape(compress_ratio=2.0, compress_threshold_lu=3.0)
    if profile.levelling:
        base = replace(base, level_ratio=2.0)
    return base


def post_filters(profile: DeviceProfile, trim: tuple[int, int] | None, gain_db: float | None) -> tuple[Filter, ...]:
    """Filters after the gain curve: a constant ``gain_db`` (when no curve is used), the
    trim to samples ``[start, end)`` of the working rate, resampling to the profile's
    rate, and two-channel output when the profile asks for it."""
    filters: list[Filter] = []
    if gain_db is not None:
        filters.append(Filter.of("volume", f"{gain_db:.4f}dB", precision="double"))
    if trim is not None:
        filters += [Filter.of("atrim", start_sample=trim[0], end_sample=trim[1]),
                    Filter.of("asetpts", "N/SR/TB")]
    resample: dict[str, object] = {"resampler": "soxr"}   # SoX HQ (20-bit precision)
    if formats.get(profile.format).pcm and profile.sample_format == "s16":
        resample.update(osf="s16", dither_method="triangular")
    filters.append(Filter.of("aresample", profile.sample_rate, **resample))
    if profile.channels == 2:
        filters.append(Filter.of("pan", args="stereo|c0=c0|c1=c0"))
    return tuple(filters)


def output_options(profile: DeviceProfile, title: str = "", coding_history: str = "") -> tuple[tuple[str, object], ...]:
    """ffmpeg output options for a profile (codec, rate, channels, container, from its
    format's entry in :mod:`pipeline.formats`); for a Broadcast WAVE, the INFO title and
    the bext CodingHistory (see :mod:`.history`).

    Raises:
        DangkeError: the profile's format is not in the table.
    """
    fmt = formats.get(profile.format)
    opts: dict[str, object] = {"ac": profile.channels, "ar": profile.sample_rate, "map_metadata": -1,
                               "fflags": "+bitexact", "flags": "+bitexact",
                               "acodec": fmt.encoder_for(profile.sample_format), "format": fmt.container,
                               **dict(fmt.options)}
    if fmt.lossy:
        if profile.bitrate_mode == "vbr" and fmt.vbr_quality is not None:
            opts["q:a"] = fmt.vbr_quality
        else:
            opts["b:a"] = f"{profile.bitrate_kbps}k"
    if fmt.pcm:
        if title:
            opts["metadata"] = f"title={title}"
        if coding_history:
            opts["metadata:g"] = f"coding_history={coding_history}"
    return tuple(sorted(opts.items()))
