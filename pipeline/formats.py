"""The one table of rendition formats: what every part of dangke needs to know about one.

A profile's ``format`` (``[profiles.<name>] format``) names a :class:`Format` here. The
config validation, :attr:`pipeline.models.DeviceProfile.mime_type` (feed enclosures),
the encode chain (:func:`pipeline.encode.chain.codec` and ``output_options``), the tag
writers (:func:`pipeline.media.tags.write`) and the Content-Type of published objects
(:data:`CONTENT_TYPES`) all read this table; a format that is not in it is refused by
:func:`get` (and by the config, naming the file and the key) instead of falling through
to another format's settings. Pure data, no I/O.

To add a format: one :class:`Format` in :data:`FORMATS`, a writer for its tag style in
:mod:`pipeline.media.tags` if it is a new one, a profile in the config (docs/changing.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import DangkeError


@dataclass(frozen=True)
class Codec:
    """A model of what an encoder does to level and peaks, which the render plan solves
    with (so the first render is right; see :mod:`pipeline.encode.dynamics`).

    ``level_db`` is the change of integrated loudness (dB, decoded minus input);
    ``noise_factor`` models the quantisation noise: the decoded true peak of a frame is
    at most its planned true peak plus ``noise_factor`` times the planned signal's RMS
    over one encoder frame (``window_ms``); ``headroom_db`` is a small flat true-peak
    allowance on top (resampling, rounding); ``onset_headroom_db`` more is kept for the
    first ``onset_s`` seconds after the first sound."""

    level_db: float
    headroom_db: float
    noise_factor: float = 0.0
    window_ms: int = 24
    onset_headroom_db: float = 0.0
    onset_s: float = 0.0


@dataclass(frozen=True)
class Format:
    """One rendition format (container and codec) and everything the pipeline needs of it.

    * ``name``: the config value of ``format``; ``extension``: of the files (no dot).
    * ``mime_type``: the type of a feed enclosure; ``content_type``: the Content-Type of
      a published object of this extension (the same type here; kept apart because an
      upload may carry parameters a feed's ``type`` attribute must not).
    * ffmpeg: ``encoder`` (``-acodec``), or for PCM one per sample format in
      ``pcm_encoders`` (``(sample_format, encoder)``); ``container`` (``-f``); fixed
      ``options`` (``(option, value)``); ``lossy`` formats take ``b:a`` from
      ``bitrate_kbps`` (the config then requires it); ``vbr_quality``, when set, is
      the ``q:a`` used instead for ``bitrate_mode = "vbr"``; ``pcm`` (Broadcast WAVE):
      exact samples, TPDF dither to 16 bits, and ffmpeg writes the INFO title and the
      bext CodingHistory.
    * ``sample_rates``: the rates the encoder takes (Hz; empty: any).
    * ``tag_style``: the one ``tags`` value a profile of this format may name besides
      ``none`` (``id3v2.3``, ``mp4``, ``bext``, ``vorbis``; see
      :func:`pipeline.media.tags.write` and :class:`pipeline.encode.Tagger`).
    * The encoder model (:class:`Codec`): ``level_db``, ``headroom_db``,
      ``noise_factors`` as ``(kb/s, factor)`` (a bitrate takes the factor of the next
      lower one listed, the lowest when below all), ``window_ms`` (one encoder frame;
      ``low_rate_window_ms`` below 32 kHz when set), ``onset_headroom_db`` for
      ``onset_s`` seconds after the first sound.
    """

    name: str
    extension: str
    mime_type: str
    content_type: str
    container: str
    tag_style: str
    encoder: str = ""
    pcm_encoders: tuple[tuple[str, str], ...] = ()
    options: tuple[tuple[str, object], ...] = ()
    lossy: bool = True
    vbr_quality: int | None = None
    pcm: bool = False
    sample_rates: tuple[int, ...] = ()
    level_db: float = 0.0
    headroom_db: float = 0.1
    noise_factors: tuple[tuple[int, float], ...] = ()
    window_ms: int = 24
    low_rate_window_ms: int | None = None
    onset_headroom_db: float = 0.0
    onset_s: float = 0.0

    def noise_factor(self, kbps: int) -> float:
        """The fitted ``noise_factor`` for ``kbps`` (0 for a format with none)."""
        known = sorted(self.noise_factors)
        if not known:
            return 0.0
        lower = [f for k, f in known if k <= kbps] or [known[0][1]]
        return lower[-1]

    def codec(self, kbps: int | None, sample_rate: int) -> Codec:
        """The encoder model at ``kbps`` (None: 128) and ``sample_rate`` (Hz)."""
        window = self.window_ms
        if self.low_rate_window_ms is not None and sample_rate < 32000:
            window = self.low_rate_window_ms
        return Codec(level_db=self.level_db, headroom_db=self.headroom_db,
                     noise_factor=self.noise_factor(kbps or 128), window_ms=window,
                     onset_headroom_db=self.onset_headroom_db, onset_s=self.onset_s)

    def encoder_for(self, sample_format: str) -> str:
        """The ffmpeg encoder (``-acodec``) for a profile's ``sample_format``.

        Raises:
            DangkeError: a PCM format has no encoder for ``sample_format``.
        """
        if not self.pcm_encoders:
            return self.encoder
        table = dict(self.pcm_encoders)
        if sample_format not in table:
            raise DangkeError(f"format {self.name} has no sample format {sample_format!r}",
                              fix=f"use one of: {', '.join(table)}")
        return table[sample_format]


FORMATS: dict[str, Format] = {f.name: f for f in (
    # LAME's decoded output is 0.45 dB lower than its input at every bitrate (measured at
    # 32, 64 and 128 kb/s on speech, limited speech, synthetic speech and music beds:
    # -0.41 to -0.48 dB; not its lowpass, which removes < 0.05 LU of speech). Noise peaks:
    # up to +2.7 dB at 32 kb/s Layer III. Factors: the largest observed noise peak over
    # the local RMS on the test inputs, times 1.25.
    Format(name="mp3", extension="mp3", mime_type="audio/mpeg", content_type="audio/mpeg",
           container="mp3", tag_style="id3v2.3", encoder="libmp3lame",
           options=(("id3v2_version", 0), ("write_id3v1", 0), ("write_xing", 1)), vbr_quality=4,
           level_db=-0.45, headroom_db=0.3, noise_factors=((32, 1.0), (64, 0.5), (128, 0.3)),
           window_ms=26, low_rate_window_ms=52),
    # Broadcast WAVE (RF64 past 4 GiB): exact, 0.1 dB for the dither.
    Format(name="wav", extension="wav", mime_type="audio/wav", content_type="audio/wav",
           container="wav", tag_style="bext",
           pcm_encoders=(("s16", "pcm_s16le"), ("s24", "pcm_s24le"), ("f32", "pcm_f32le")),
           options=(("write_bext", 1), ("rf64", "auto")), lossy=False, pcm=True,
           level_db=0.0, headroom_db=0.1),
    # ffmpeg's AAC-LC in M4A: 0.07 dB lower; +2.3 dB noise peaks at 64 kb/s; it overshoots
    # most on the first loud syllable of a file (3 dB more for its first 0.5 s).
    Format(name="m4a", extension="m4a", mime_type="audio/mp4", content_type="audio/mp4",
           container="ipod", tag_style="mp4", encoder="aac", options=(("movflags", "+faststart"),),
           level_db=-0.07, headroom_db=0.3, noise_factors=((64, 1.1), (128, 0.5)),
           window_ms=23, onset_headroom_db=3.0, onset_s=0.5),
    # Opus in Ogg (RFC 7845: audio/ogg, .opus) by libopus, Vorbis comments; 48 kHz only
    # here (libopus's other rates are narrower bands). Measured on planned PCM (-16 LUFS,
    # levelled) of the test recordings, the jingles and the bed: the decoded loudness is
    # the input's within 0.01 dB at 64 and 96 kb/s (32 kb/s: 0.01-0.45 dB lower, its band
    # limit; the correction render takes it); noise peaks in the frames within 6 dB of
    # the ceiling up to 0.78 / 0.67 / 0.57 x the RMS over one 20 ms frame at 32 / 64 /
    # 96 kb/s, times 1.25, rounded up (benchmarks/codec_fit.py; it gives 0.56 for LAME at
    # 64 kb/s, fitted 0.5 on more inputs). No onset overshoot.
    Format(name="opus", extension="opus", mime_type="audio/ogg", content_type="audio/ogg",
           container="ogg", tag_style="vorbis", encoder="libopus", sample_rates=(48000,),
           level_db=0.0, headroom_db=0.3, noise_factors=((32, 1.0), (64, 0.85), (96, 0.7)), window_ms=20),
)}
"""Every format a profile may name, by name."""

CONTENT_TYPES: dict[str, str] = {f".{f.extension}": f.content_type for f in FORMATS.values()}
"""Content-Type of a published object by its extension (``.mp3`` ...), for every format."""


def get(name: str) -> Format:
    """The format called ``name``.

    Raises:
        DangkeError: no such format (the config refuses it first, naming the file).
    """
    try:
        return FORMATS[name]
    except KeyError:
        raise DangkeError(f"unknown audio format {name!r}", fix=f"use one of: {', '.join(FORMATS)}") from None
