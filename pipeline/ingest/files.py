"""File handling for ingest: which inbox names to take, hashing, the verified library
copy, and moving rejected files with their reason. Nothing here deletes an original
before its copy is verified."""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from ..fsutil import fsync_dir, sha256_file, write_atomic

TEMP_SUFFIXES = (".part", ".crdownload", ".tmp", ".temp", ".partial", ".download", ".swp", "~")
SIDECAR_SUFFIX = ".json"
NOTE_SUFFIXES = (".reason.txt",)


def is_temporary(name: str) -> bool:
    """True for names that are still being written or are not content: hidden files,
    ``~$...`` office locks, ``.part``/``.crdownload``/``.tmp`` and similar."""
    lower = name.lower()
    return (name.startswith((".", "~$")) or lower.endswith(TEMP_SUFFIXES)
            or ".part." in lower or lower.endswith(NOTE_SUFFIXES))


@dataclass(frozen=True)
class Snapshot:
    """Size (bytes) and modification time (ns) of a file at one moment."""

    size: int
    mtime_ns: int


def snapshot(path: Path) -> Snapshot | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return Snapshot(st.st_size, st.st_mtime_ns)


def settled(paths: list[Path], settle_s: float, clock=time.time, sleep=time.sleep) -> list[Path]:
    """The files among ``paths`` whose size and mtime stayed the same for ``settle_s``.

    Waits at most ``settle_s`` once for the whole batch, and only when some file was
    modified less than ``settle_s`` ago.
    """
    first = {p: snapshot(p) for p in paths}
    now = clock()
    youngest = max((s.mtime_ns / 1e9 for s in first.values() if s), default=0.0)
    if paths and now - youngest < settle_s:
        sleep(min(settle_s, settle_s - (now - youngest) + 0.05))
    return [p for p in paths if first[p] is not None and snapshot(p) == first[p]]


def store_verified(src: Path, dest: Path, sha256: str) -> None:
    """Copy ``src`` to ``dest`` atomically (temp file, fsync, rename, fsync of the folder),
    then read ``dest`` back and check its sha256.

    Raises:
        OSError: the copy failed or the copy's sha256 differs (the bad copy is removed).
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.exists() and sha256_file(dest) == sha256:
        return
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    with open(src, "rb") as fin, open(tmp, "wb") as fout:
        shutil.copyfileobj(fin, fout, 1 << 20)
        fout.flush()
        os.fsync(fout.fileno())
    os.replace(tmp, dest)
    fsync_dir(dest.parent)
    if sha256_file(dest) != sha256:
        dest.unlink(missing_ok=True)
        raise OSError(f"verification failed: the library copy of {src.name} differs from the original")


def unique_path(folder: Path, name: str) -> Path:
    """``folder/name``, or ``folder/stem (2).ext`` ... when that exists already."""
    candidate = folder / name
    n = 2
    while candidate.exists() or candidate.with_name(candidate.name + ".reason.txt").exists():
        stem, dot, ext = name.rpartition(".")
        candidate = folder / (f"{stem} ({n}).{ext}" if dot and stem else f"{name} ({n})")
        n += 1
    return candidate


def move_to(src: Path, dest: Path) -> None:
    """Move a file (across file systems too), durably."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(src), str(dest))
    fsync_dir(dest.parent)


def write_text_durably(path: Path, text: str) -> None:
    """Write a small UTF-8 text file atomically (temp, fsync, rename)."""
    write_atomic(path, text.encode("utf-8"))
