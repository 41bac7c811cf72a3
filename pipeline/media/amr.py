"""Frame count of AMR files in the storage format of RFC 4867 §5 (``.amr``, ``.awb``).

Pure: works on the file's bytes. An AMR file has no length field; its length is its
frames, 20 ms each, whatever their type: speech, SID (comfort-noise parameters of DTX,
3GPP TS 26.101 / 26.201) or NO_DATA (a DTX pause between SID updates). A decoder that
skips SID and NO_DATA frames (ffmpeg's native ``amrnb``/``amrwb``) shortens every
pause; counting the frames tells how long the recording really is.
"""

from __future__ import annotations

from dataclasses import dataclass

NB_MAGIC = b"#!AMR\n"
WB_MAGIC = b"#!AMR-WB\n"
FRAME_S = 0.020
#: bytes of each frame type's payload, after its one-byte header (RFC 4867 §5.3; TS 26.101, 26.201)
_NB_SIZES = (12, 13, 15, 17, 19, 20, 26, 31, 5, 0, 0, 0, 0, 0, 0, 0)
_WB_SIZES = (17, 23, 32, 36, 40, 46, 50, 58, 60, 5, 0, 0, 0, 0, 0, 0)
_NB_SID, _WB_SID, _NO_DATA = 8, 9, 15


@dataclass(frozen=True)
class AmrFrames:
    """Frames of an AMR file: ``wide`` (AMR-WB), how many ``frames`` in all, of which
    ``sid`` comfort-noise and ``no_data`` DTX frames; ``complete`` is False when the
    last frame is cut off. ``duration_s`` is frames x 20 ms."""

    wide: bool
    frames: int
    sid: int
    no_data: int
    complete: bool

    @property
    def duration_s(self) -> float:
        return self.frames * FRAME_S

    @property
    def dtx(self) -> bool:
        """True when the file uses discontinuous transmission (SID or NO_DATA frames)."""
        return bool(self.sid or self.no_data)


def magic(head: bytes) -> bool | None:
    """True for AMR-WB, False for AMR-NB, None when ``head`` is not single-channel AMR."""
    if head.startswith(WB_MAGIC):
        return True
    if head.startswith(NB_MAGIC):
        return False
    return None


def count_frames(data: bytes) -> AmrFrames | None:
    """Walk the frames of a whole AMR file (RFC 4867 §5.3: a header byte ``P FT(4) Q P(2)``
    then the payload of frame type FT). None when ``data`` is not single-channel AMR."""
    wide = magic(data)
    if wide is None:
        return None
    sizes, sid_type = (_WB_SIZES, _WB_SID) if wide else (_NB_SIZES, _NB_SID)
    i = len(WB_MAGIC if wide else NB_MAGIC)
    frames = sid = no_data = 0
    while i < len(data):
        ft = (data[i] >> 3) & 0x0F
        end = i + 1 + sizes[ft]
        if end > len(data):
            return AmrFrames(wide, frames, sid, no_data, complete=False)
        frames += 1
        sid += ft == sid_type
        no_data += ft == _NO_DATA
        i = end
    return AmrFrames(wide, frames, sid, no_data, complete=True)
