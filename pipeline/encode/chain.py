"""The processing chain of a rendition, as plain filter values (pure, no ffmpeg run).

Per source (shared by every rendition): channel handling (take the live channel of a
stereo file with a dead one; invert the right channel of an opposite-phase pair before
the mix, never sum it as is) and DC removal. Per profile, before the level is decided:
the optional treatments (presence lift and high-pass for clarity and for loudspeakers,
slower speech without a pitch change). Then the gain curve of :mod:`.dynamics` (one
``amultiply``, or one ``volume`` when it is constant), the trimming of leading and
trailing silence, resampling (SoX resampler), and the encoder.

The lossy encoders change level and peaks a little: :data:`CODEC` holds, per format,
the level change and the true-peak headroom the first render plans with; a render whose
decoded output still misses is corrected with the measured values.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..media.ffmpeg import Filter
from ..models import DeviceProfile
from .dynamics import Shape

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


@dataclass(frozen=True)
class Codec:
    """What an encoder does to level and peaks, planned for before the first render:
    ``level_db`` is the change of integrated loudness (LAME's output is about 0.45 dB
    lower than its input, measured on tones and speech at 32-128 kb/s); ``headroom_db`` is
    kept below the true-peak ceiling for the encoder's overshoot (standards.md §0 item 5;
    on limited speech we measured up to +2.3 dB for ffmpeg's AAC at 64 kb/s, +2.7 dB
    (once +4.2 dB) for MPEG-2 Layer III at 32 kb/s, +1.1 dB for MP3 at 64 kb/s).

    ``onset_headroom_db`` more is kept for the first ``onset_s`` seconds after the first
    sound: ffmpeg's AAC encoder overshoots most on the first loud syllable of a file (on
    10 and 20 min lessons limited by 11 dB, the only overshoots beyond +2 dB were within
    1 s of the first sound: +3.6 and +4.0 dB; elsewhere at most +1.5 dB)."""

    level_db: float
    headroom_db: float
    onset_headroom_db: float = 0.0
    onset_s: float = 0.0


def codec(profile: DeviceProfile) -> Codec:
    """The planning values of a profile's encoder."""
    kbps = profile.bitrate_kbps or 128
    if profile.format == "mp3":
        return Codec(level_db=-0.45, headroom_db=3.0 if kbps <= 32 else 1.5 if kbps <= 64 else 1.0)
    if profile.format == "m4a":
        return Codec(level_db=-0.05, headroom_db=2.5 if kbps <= 64 else 1.5, onset_headroom_db=3.0, onset_s=2.0)
    return Codec(level_db=0.0, headroom_db=0.1)


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


LEVELLER = Shape(compress_ratio=2.0, compress_threshold_lu=3.0)
"""Used instead of the limiter alone when it would cut peaks by more than
:data:`DEEP_LIMITING_DB`: syllables 3 LU over the programme loudness are compressed 2:1
first, so the limiter only catches what is left (far less distortion, and far less
encoder overshoot, than 10 dB of limiting)."""
DEEP_LIMITING_DB = 8.0
FAST_RELEASE_DB_MS = 1.0
"""Limiter release (dB per ms) used when the normal one (0.2) cannot reach the target
under a low ceiling: recovery within milliseconds, like a soft clipper."""


def shape(profile: DeviceProfile) -> Shape:
    """Compression and limiter settings of a profile.

    Loudspeakers: 3:1 above the programme loudness (syllables are held together so the
    quiet ones carry outdoors). Clarity: a gentle 2:1 above programme loudness + 2 LU.
    """
    if profile.speech_compression:
        return Shape(compress_ratio=3.0, compress_threshold_lu=0.0)
    if profile.clarity:
        return Shape(compress_ratio=2.0, compress_threshold_lu=2.0)
    return Shape()


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
    if profile.format == "wav" and profile.sample_format == "s16":
        resample.update(osf="s16", dither_method="triangular")
    filters.append(Filter.of("aresample", profile.sample_rate, **resample))
    if profile.channels == 2:
        filters.append(Filter.of("pan", args="stereo|c0=c0|c1=c0"))
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
        codec_name = {"s16": "pcm_s16le", "s24": "pcm_s24le", "f32": "pcm_f32le"}[profile.sample_format]
        opts = {"acodec": codec_name, "format": "wav", "write_bext": 1, "rf64": "auto"}
        if title:
            opts["metadata"] = f"title={title}"
    else:
        opts = {"acodec": "aac", "b:a": f"{profile.bitrate_kbps}k", "format": "ipod",
                "movflags": "+faststart"}
    return tuple(sorted({**common, **opts}.items()))
