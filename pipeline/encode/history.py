"""CodingHistory lines of Broadcast WAVE files (EBU Tech 3285 §2.3, EBU R 98): one line
per processing step, ``A=<coding>,F=<rate>,W=<bits>,M=<mode>,T=<text>``, each ended by
CR LF, ASCII only. Pure code: the values come from the caller."""

from __future__ import annotations

from ..models import DeviceProfile

_CODINGS = {"pcm": "PCM", "mp3": "MPEG1L3", "mp2": "MPEG1L2", "flac": "FLAC", "aac": "AAC", "amr_nb": "AMR-NB",
            "amr_wb": "AMR-WB", "opus": "OPUS", "vorbis": "VORBIS", "wmav2": "WMA", "wmav1": "WMA"}


def _mode(channels: int) -> str:
    return {1: "mono", 2: "stereo"}.get(channels, f"{channels}ch")


def _ascii(text: str) -> str:
    return text.encode("ascii", "replace").decode("ascii").replace("\r", " ").replace("\n", " ").replace(",", ";")


def source_line(codec: str, rate: int, channels: int, text: str = "source") -> str:
    """The line of the source as delivered: ``codec`` is ffprobe's codec name (PCM
    variants are ``PCM`` with their width; MP3 below 32 kHz is MPEG-2 Layer III)."""
    if codec.startswith("pcm_"):
        bits = "".join(c for c in codec if c.isdigit()) or "16"
        return f"A=PCM,F={rate},W={bits},M={_mode(channels)},T={_ascii(text)}"
    coding = _CODINGS.get(codec, codec.upper() or "UNKNOWN")
    if coding == "MPEG1L3" and rate < 32000:
        coding = "MPEG2L3"
    return f"A={coding},F={rate},M={_mode(channels)},T={_ascii(text)}"


def processing_line(rate: int, text: str) -> str:
    """A step computed in 32-bit float, mono, at the working ``rate``."""
    return f"A=PCM,F={rate},W=32,M=mono,T={_ascii(text)}"


def output_line(profile: DeviceProfile, text: str) -> str:
    """The file's own coding (a PCM profile)."""
    bits = {"s16": 16, "s24": 24, "f32": 32}.get(profile.sample_format, 16)
    return f"A=PCM,F={profile.sample_rate},W={bits},M={_mode(profile.channels)},T={_ascii(text)}"


def coding_history(lines: list[str] | tuple[str, ...]) -> str:
    """The CodingHistory field: the lines, each ended by CR LF."""
    return "".join(line + "\r\n" for line in lines)
