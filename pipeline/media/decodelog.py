"""Pure parsers of what ffmpeg says while it decodes a file for ingest analysis.

Input is the text ffmpeg writes with ``-loglevel level+info``: every line that starts a
message carries its level in brackets (``[mp3 @ 0x5581] [warning] ...``). Tested on
captured text; no I/O here.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from .parse import Loudness

_LEVEL = re.compile(r"^(?:\[(?P<ctx>[^\]@]+?)(?: @ 0x[0-9a-f]+)?\] )?\[(?P<level>warning|error|fatal|panic)\] "
                    r"(?P<msg>.*)$")

#: messages that say nothing about the file's integrity
_HARMLESS = ("Guessed Channel Layout", "Estimating duration from bitrate", "Discarding ID3 tags",
             "max_analyze_duration", "Could not update timestamps for skipped samples",
             "Skipping 0 bytes of junk", "Multiple frames in a packet")
#: messages that mean the demuxer saw the file end before its header said it would
_INCOMPLETE = ("filesize and duration do not match", "partial file", "moov atom not found")
#: messages of ffmpeg's tag readers (ID3v2): about the tags, not the audio
_TAGS = ("Incorrect BOM value", "Error reading frame", "ID3v2", "id3v2", "Invalid ID3", "APE tag")
#: demuxers whose duration comes from the data size when a header gives none
_ESTIMATED = "Estimating duration from bitrate"


@dataclass(frozen=True)
class DecodeLog:
    """Problems ffmpeg reported while decoding.

    ``duration_estimated``: the demuxer had no duration in the header and guessed it
    from the bitrate (MP3 without a Xing/Info header, AMR, a WAV whose data chunk claims
    more bytes than the file holds). ``incomplete``: messages that mean the file stops
    before its header says it should. ``errors``: every other warning or error about the
    audio, as ``"context: message"`` lines, in order. ``other_streams``: messages about
    the file's other streams (cover pictures) and its tags (ID3v2 frames ffmpeg could not
    read), which say nothing about the audio.
    """

    duration_estimated: bool = False
    incomplete: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    other_streams: tuple[str, ...] = ()


def _about_other_stream(ctx: str, msg: str, other_streams: tuple[tuple[int, str], ...]) -> bool:
    """True for a message of another stream's decoder (``[png @ ...]``, ``[mjpeg @ ...]``)
    or a demuxer message naming another stream (``stream 1``, ``stream #0:1``)."""
    for index, codec in other_streams:
        if ctx == codec or re.search(rf"\bstream (?:#0:)?{index}\b", msg):
            return True
    # the MP4 demuxer says this of the ``covr`` cover it turns into a stream (before the
    # streams are numbered, so the index it names is not the picture's)
    return bool(other_streams) and "timescale not set" in msg


def parse_decode_log(text: str, other_streams: tuple[tuple[int, str], ...] = ()) -> DecodeLog:
    """Sort the warning and error lines of an ffmpeg run (``-loglevel level+info``).

    ``other_streams`` are ``(index, codec)`` of the file's streams that are not the audio
    decoded (an attached cover picture: ``png``, ``mjpeg``): messages about them go to
    ``other_streams`` and never count as damage of the recording.
    """
    estimated = False
    incomplete: list[str] = []
    errors: list[str] = []
    other: list[str] = []
    for line in text.splitlines():
        m = _LEVEL.match(line.strip())
        if not m:
            continue
        msg = m.group("msg").strip()
        ctx = (m.group("ctx") or "").strip()
        entry = f"{ctx}: {msg}" if ctx else msg
        if _ESTIMATED in msg:
            estimated = True
        if _about_other_stream(ctx, msg, other_streams) or any(k in msg for k in _TAGS):
            other.append(entry)
        elif any(k in msg for k in _INCOMPLETE):
            incomplete.append(entry)
        elif not any(k in msg for k in _HARMLESS):
            errors.append(entry)
    return DecodeLog(duration_estimated=estimated, incomplete=tuple(incomplete), errors=tuple(errors),
                     other_streams=tuple(other))


_SUMMARY_VALUE = {
    "I": re.compile(r"^\s*I:\s*(-?[\d.]+|-?inf)\s*LUFS", re.M),
    "LRA": re.compile(r"^\s*LRA:\s*(-?[\d.]+)\s*LU\b", re.M),
    "Peak": re.compile(r"^\s*Peak:\s*(-?[\d.]+|-?inf)\s*dBFS", re.M),
}


def parse_ebur128_summary(text: str) -> Loudness:
    """The last ``Summary:`` block of ffmpeg's ``ebur128`` filter (ITU-R BS.1770-4
    integrated loudness, EBU Tech 3342 loudness range, true peak with ``peak=true``).

    An integrated loudness at the -70 LUFS absolute gate means nothing passed the gate
    and is returned as ``-inf``; the true peak of digital silence is ``-inf`` dBTP.

    Raises:
        ValueError: no summary in the text (nothing was decoded).
    """
    at = text.rfind("Summary:")
    if at < 0:
        raise ValueError("no ebur128 summary in the output")
    block = text[at:]
    values = {}
    for key, pattern in _SUMMARY_VALUE.items():
        m = pattern.search(block)
        values[key] = float(m.group(1)) if m else math.nan
    if math.isnan(values["I"]):
        raise ValueError("no integrated loudness in the ebur128 summary")
    integrated = -math.inf if values["I"] <= -70.0 else values["I"]
    return Loudness(integrated_lufs=integrated, lra_lu=0.0 if math.isnan(values["LRA"]) else values["LRA"],
                    true_peak_dbtp=values["Peak"])
