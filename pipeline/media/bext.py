"""Loudness values in the ``bext`` chunk of a Broadcast WAVE file (EBU Tech 3285 v2).

ffmpeg's ``-write_bext 1`` writes bext version 1 with the loudness fields zeroed
(standards.md §2.2); :func:`write_loudness` sets version 2 and fills them in place.
Field offsets inside the chunk data: OriginationDate +320 (10 ASCII, yyyy-mm-dd),
OriginationTime +330 (8 ASCII, hh:mm:ss), Version +346 (uint16), LoudnessValue +412,
LoudnessRange +414, MaxTruePeakLevel +416, MaxMomentaryLoudness +418,
MaxShortTermLoudness +420 (int16, hundredths of LUFS / LU / dBTP).
"""

from __future__ import annotations

import datetime
import struct
from pathlib import Path

UNSET = 0x7FFF
"""Value for a loudness field that was not measured (Tech 3285 v2)."""


def _find_chunk(head: bytes, chunk_id: bytes) -> tuple[int, int] | None:
    if head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
        return None
    i = 12
    while i + 8 <= len(head):
        cid, size = head[i:i + 4], struct.unpack("<I", head[i + 4:i + 8])[0]
        if cid == chunk_id:
            return i + 8, size
        if cid == b"data":
            return None
        i += 8 + size + (size & 1)
    return None


def _centi(value: float | None) -> int:
    if value is None or value != value or value in (float("inf"), float("-inf")):
        return UNSET
    return max(-32768, min(32767, int(round(value * 100))))


def _ascii(text: str, size: int) -> bytes:
    raw = text.encode("ascii", "replace")[:size]
    return raw + b"\0" * (size - len(raw))


def write_loudness(path: Path, integrated_lufs: float, lra_lu: float, true_peak_dbtp: float,
                   max_momentary_lufs: float | None = None,
                   max_short_term_lufs: float | None = None, description: str = "",
                   originator: str = "dangke", reference: str = "",
                   origination: "datetime.datetime | None" = None) -> bool:
    """Patch the bext chunk of ``path`` to version 2 with these loudness values and the
    ASCII text fields Description (256), Originator (32), OriginatorReference (32), and
    OriginationDate / OriginationTime (``origination``, the file's local creation time;
    default now). CodingHistory is written by ffmpeg (``coding_history`` metadata),
    since it sizes the chunk.

    Returns False (and changes nothing) when the file has no bext chunk before its data.
    """
    with open(path, "r+b") as f:
        head = f.read(1 << 16)
        found = _find_chunk(head, b"bext")
        if found is None or found[1] < 602:
            return False
        off = found[0]
        f.seek(off)
        when = origination or datetime.datetime.now().astimezone()
        f.write(_ascii(description, 256) + _ascii(originator, 32) + _ascii(reference, 32)
                + when.strftime("%Y-%m-%d").encode("ascii") + when.strftime("%H:%M:%S").encode("ascii"))
        f.seek(off + 346)
        f.write(struct.pack("<H", 2))
        f.seek(off + 412)
        f.write(struct.pack("<5h", _centi(integrated_lufs), _centi(lra_lu), _centi(true_peak_dbtp),
                            _centi(max_momentary_lufs), _centi(max_short_term_lufs)))
    return True


def read_loudness(path: Path) -> dict[str, float] | None:
    """The bext version and loudness fields of ``path``, or None without a bext chunk."""
    with open(path, "rb") as f:
        head = f.read(1 << 16)
    found = _find_chunk(head, b"bext")
    if found is None:
        return None
    off = found[0]
    version = struct.unpack("<H", head[off + 346:off + 348])[0]
    values = struct.unpack("<5h", head[off + 412:off + 422])
    names = ("integrated_lufs", "lra_lu", "true_peak_dbtp", "max_momentary_lufs", "max_short_term_lufs")
    history = head[off + 602:off + found[1]].split(b"\0")[0].decode("ascii", "replace")
    return {"version": version, **{n: (None if v == UNSET else v / 100) for n, v in zip(names, values)},
            "origination_date": head[off + 320:off + 330].decode("ascii", "replace").strip("\0"),
            "origination_time": head[off + 330:off + 338].decode("ascii", "replace").strip("\0"),
            "coding_history": [line for line in history.split("\r\n") if line]}
