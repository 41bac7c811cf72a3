"""A faithfully decodable copy of a recording that ffmpeg would misread.

The original is never changed (it stays byte for byte in ``library/originals``). Where
ffmpeg cannot read a file as it is meant, a *decodable copy* is made, and ingest analysis
and every rendition decode that copy instead:

- ``wav-layout``: a WAVE file whose odd-sized chunk (``bext``, ``LIST``) lacks its pad
  byte (see :mod:`.riff`): ffmpeg, sox and libsndfile lose the ``data`` chunk. The copy
  is the same ``fmt `` and ``data`` bytes in a correct layout, sizes filled in.
- ``wav-size``: a WAV or RF64 written to a pipe, its sizes left at the "unknown" markers
  0xFFFFFFFF or 0: the same rewrite, with the sizes of the data that is there (ffmpeg
  decodes nothing of such an RF64, and calls the end of such a WAV corrupt).
- ``amr-dtx``: AMR-NB/WB with DTX (SID and NO_DATA frames, see :mod:`.amr`): ffmpeg's
  decoders drop those frames and collapse every pause. The copy is decoded by the
  opencore-amr reference decoders (through :mod:`.sox`) to 16-bit FLAC, comfort noise and
  all, so it has exactly 20 ms per frame.

Copies live in ``library/decodable/<sha[:2]>/<sha256>.<ext>`` and can always be made
again from the original (:func:`library_copy` makes a missing one).
"""

from __future__ import annotations

import os
import struct
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from ..errors import ToolError
from ..fsutil import fsync_dir
from . import amr, riff, sox

HEAD_BYTES = 1 << 16


@dataclass(frozen=True)
class Repair:
    """Why a file needs a decodable copy: a stable ``code``, plain words, the copy's
    file ``extension``."""

    code: str
    en: str
    zh: str
    extension: str


def plan(path: Path) -> Repair | None:
    """The repair ``path`` needs before ffmpeg can decode it faithfully, or None.
    Never raises for unreadable files (decoding then decides)."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(HEAD_BYTES)
    except OSError:
        return None
    layout = riff.read_layout(head, size)
    if layout is not None and layout.unknown_size and not layout.resynced:
        return Repair("wav-size", "a WAV written to a pipe (its header gives no length): its length is taken "
                      "from the data", "WAV 檔頭沒有標示長度（串流寫入），以實際資料長度為準", ".wav")
    if layout is not None and layout.needs_rewrite:
        return Repair("wav-layout", "a WAV chunk of odd size lacks its pad byte: read by resyncing on the "
                      "next chunk", "WAV 檔的奇數長度區塊缺少補位位元組：已自動對齊後讀取", ".wav")
    if amr.magic(head) is not None:
        frames = amr.count_frames(path.read_bytes())
        if frames is not None and frames.dtx:
            return Repair("amr-dtx", f"AMR with DTX ({frames.sid + frames.no_data} of {frames.frames} frames are "
                          "comfort noise or pauses): decoded with the opencore-amr reference decoder to keep "
                          "the pauses", "AMR 錄音使用了靜音壓縮（DTX），已用參考解碼器解碼以保留停頓", ".flac")
    return None


def write_copy(path: Path, repair: Repair, dest: Path, timeout_s: float = 600.0) -> None:
    """Write the decodable copy of ``path`` for ``repair`` to ``dest`` (not atomic; see
    :func:`library_copy`).

    Raises:
        OSError: reading or writing failed.
        ToolError, ToolInterrupted: the WAV has no usable chunks, or the AMR decoder
            failed or was stopped.
    """
    if repair.code == "amr-dtx":
        with open(path, "rb") as f:
            wide = bool(amr.magic(f.read(16)))
        sox.decode_amr(path, dest, wide, timeout_s)
        return
    _rewrite_wav(path, dest)


def _rewrite_wav(path: Path, dest: Path) -> None:
    size = path.stat().st_size
    with open(path, "rb") as fin:
        layout = riff.read_layout(fin.read(HEAD_BYTES), size)
        fmt = layout.find(b"fmt ") if layout else None
        data = layout.find(b"data") if layout else None
        if fmt is None or data is None:
            raise ToolError("no 'fmt ' and 'data' chunks found", path=path, fix="not a decodable WAV file")
        fin.seek(fmt.offset)
        fmt_bytes = fin.read(fmt.size)
        block = struct.unpack("<H", fmt_bytes[12:14])[0] if len(fmt_bytes) >= 14 else 1
        if block > 1 and data.size % block:   # a piped file cut in the middle of a sample frame
            data = riff.Chunk(data.cid, data.offset, data.size - data.size % block)
        riff_size = 4 + 8 + len(fmt_bytes) + (len(fmt_bytes) & 1) + 8 + data.size + (data.size & 1)
        big = riff_size > 0xFFFFFFFF
        with open(dest, "wb") as fout:
            fout.write(b"RIFF" + struct.pack("<I", 0xFFFFFFFF if big else riff_size) + b"WAVE")
            fout.write(b"fmt " + struct.pack("<I", len(fmt_bytes)) + fmt_bytes + b"\0" * (len(fmt_bytes) & 1))
            fout.write(b"data" + struct.pack("<I", 0xFFFFFFFF if big else data.size))
            fin.seek(data.offset)
            left = data.size
            while left > 0:
                block = fin.read(min(left, 1 << 20))
                if not block:
                    break
                fout.write(block)
                left -= len(block)
            if data.size & 1:
                fout.write(b"\0")


@contextmanager
def for_decoding(path: Path) -> Iterator[tuple[Path, Repair | None]]:
    """``(path to decode, repair)``: ``path`` itself when it needs no repair, else a
    decodable copy in a temporary folder, removed afterwards.

    Raises:
        OSError, ToolError, ToolInterrupted: see :func:`write_copy`.
    """
    repair = plan(path)
    if repair is None:
        yield path, None
        return
    with tempfile.TemporaryDirectory(prefix="dangke-repair-") as tmp:
        dest = Path(tmp) / f"decodable{repair.extension}"
        write_copy(path, repair, dest)
        yield dest, repair


def library_path(library: Path, sha256: str, repair: Repair) -> Path:
    """Where the decodable copy of source ``sha256`` is kept."""
    return library / "decodable" / sha256[:2] / f"{sha256}{repair.extension}"


def library_copy(library: Path, sha256: str, original: Path) -> Path:
    """The path to decode for the source ``sha256`` stored at ``original``: the original
    itself, or its decodable copy in the library, made now (temp file, fsync, rename)
    if it is missing.

    Raises:
        OSError, ToolError, ToolInterrupted: the copy could not be made.
    """
    repair = plan(original)
    if repair is None:
        return original
    dest = library_path(library, sha256, repair)
    if dest.is_file():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.stem}.{os.getpid()}.tmp{repair.extension}")
    try:
        write_copy(original, repair, tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            tmp.unlink()
    fsync_dir(dest.parent)
    return dest


__all__ = ["Repair", "plan", "write_copy", "for_decoding", "library_path", "library_copy"]
