"""The chunk layout of a RIFF/WAVE or RF64 file, read as tolerant readers read it.

Pure: works on the first bytes of a file and its size. Two things writers get wrong,
and what a tolerant reader does about them:

- **Size markers.** A program writing WAV to a pipe cannot go back to fill in the
  sizes, so it leaves the RIFF and ``data`` sizes at 0xFFFFFFFF (ffmpeg, sox) or 0:
  "unknown". The data then runs to the end of the file, and the length must be taken
  from the data, not from the header. RF64 keeps its real sizes in ``ds64`` (EBU Tech
  3306); a ``ds64`` data size of 0 or all ones means the same.
- **Missing pad bytes.** A chunk of odd size is followed by a pad byte (RIFF spec,
  Microsoft 1991); some recorders and DAWs leave it out after an odd ``bext`` or
  ``LIST`` chunk. When no chunk id is where the padded layout puts the next chunk but
  one is a byte earlier, the reader resyncs there.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

_UNKNOWN = (0, 0xFFFFFFFF)
#: chunk ids of WAVE files in the wild (RIFF, BWF EBU Tech 3285, RF64 Tech 3306, iXML, ...)
KNOWN_IDS = frozenset({b"fmt ", b"data", b"fact", b"LIST", b"list", b"bext", b"cue ", b"smpl", b"inst",
                       b"iXML", b"axml", b"ds64", b"JUNK", b"junk", b"PAD ", b"pad ", b"id3 ", b"ID3 ",
                       b"umid", b"MD5 ", b"levl", b"regn", b"acid", b"DISP", b"PEAK", b"cart", b"chna",
                       b"afsp", b"labl", b"note", b"ltxt", b"plst", b"FLLR", b"elm1", b"minf", b"SyLp"})


@dataclass(frozen=True)
class Chunk:
    """One chunk: its four-character ``cid``, the ``offset`` of its data in the file and
    the data ``size`` in bytes (for ``data`` with unknown size: up to the end of the file)."""

    cid: bytes
    offset: int
    size: int


@dataclass(frozen=True)
class WaveLayout:
    """Where a WAVE file's chunks are. ``unknown_size``: the header's sizes are the
    "unknown length" markers (the data runs to the end of the file); ``resynced``: a
    missing pad byte was stepped over; ``declared_data_size``: the data size the header
    states (None when it is a marker)."""

    rf64: bool
    chunks: tuple[Chunk, ...]
    unknown_size: bool
    resynced: bool
    declared_data_size: int | None

    def find(self, cid: bytes) -> Chunk | None:
        """The first chunk with this id, or None."""
        return next((c for c in self.chunks if c.cid == cid), None)

    @property
    def needs_rewrite(self) -> bool:
        """True when decoders that read the file strictly fail on it or misread it and
        it must be rewritten with a correct layout before decoding: a missing pad byte
        (ffmpeg, sox and libsndfile lose the data chunk) or "unknown" sizes (ffmpeg
        decodes nothing of an RF64 whose ``ds64`` says 0, and marks the last packet of a
        piped WAV corrupt)."""
        return self.resynced or self.unknown_size


def _is_id(raw: bytes) -> bool:
    return len(raw) == 4 and all(0x20 <= b < 0x7F for b in raw) and raw[:1] != b" "


def read_layout(head: bytes, file_size: int) -> WaveLayout | None:
    """The chunk layout of a WAVE file from its first bytes ``head`` (enough to reach the
    ``data`` chunk header; 64 KiB covers any real file) and its total ``file_size``.
    None when ``head`` is not RIFF/RF64 WAVE or no ``data`` chunk is found in it."""
    if len(head) < 12 or head[:4] not in (b"RIFF", b"RF64") or head[8:12] != b"WAVE":
        return None
    rf64 = head[:4] == b"RF64"
    unknown = struct.unpack("<I", head[4:8])[0] in _UNKNOWN and not rf64
    ds64_data: int | None = None
    chunks: list[Chunk] = []
    resynced = False
    i = 12
    while i + 8 <= len(head):
        cid = head[i:i + 4]
        if (chunks and chunks[-1].size & 1 and cid not in KNOWN_IDS and head[i - 1:i + 3] in KNOWN_IDS):
            i -= 1           # the pad byte of the previous odd-sized chunk is missing
            cid = head[i:i + 4]
            resynced = True
        if not _is_id(cid):
            return None
        size = struct.unpack("<I", head[i + 4:i + 8])[0]
        if cid == b"ds64" and i + 24 <= len(head):
            ds64_data = struct.unpack("<Q", head[i + 16:i + 24])[0]
        if cid == b"data":
            declared = ds64_data if rf64 and size == 0xFFFFFFFF else size
            marker = declared is None or declared in _UNKNOWN or declared == 0xFFFFFFFFFFFFFFFF
            room = max(0, file_size - (i + 8))
            chunks.append(Chunk(cid, i + 8, room if marker or unknown else min(declared, room)))
            return WaveLayout(rf64, tuple(chunks), unknown or marker, resynced,
                              None if marker or unknown else declared)
        chunks.append(Chunk(cid, i + 8, size))
        i += 8 + size + (size & 1)
    return None
