"""File handling for ingest: which inbox names to take and when, hashing, the verified
library copy, and moving rejected files with their reason. Nothing here deletes an
original before its copy is verified.

A file is taken only when it is complete: not a temporary or hidden name, not open for
writing by a process on this machine, and its size, modification and change times
unchanged over ``settle_s`` seconds of our own clock (file times on network shares come
from another clock, and copies that preserve times carry old ones, so their age is never
trusted alone).
"""

from __future__ import annotations

import os
import re
import shutil
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from ..fsutil import fsync_dir, sha256_file, write_atomic

__all__ = ["fsync_dir", "sha256_file", "is_temporary", "is_ignored", "Snapshot", "snapshot", "Settler",
           "settled", "open_for_writing", "store_verified", "unique_path", "move_to",
           "write_text_durably", "display_name", "library_extension", "remove_stale_temps", "sniff",
           "audio_stem", "sidecar_for", "Lifted", "lift_folders"]

#: endings of names that are still being written: browsers (.part, .crdownload, .download,
#: .opdownload), SFTP/SCP clients (.filepart), download managers (.xltd Thunder/迅雷,
#: .td, .baiduyun.downloading, .!ut, .!qb), editors and generic temp names
TEMP_SUFFIXES = (".part", ".crdownload", ".tmp", ".temp", ".partial", ".download", ".opdownload",
                 ".filepart", ".xltd", ".td", ".td.cfg", ".downloading", ".baiduyun.downloading",
                 ".!ut", ".!qb", ".swp", ".lock", "~")
#: files systems and tools leave beside real content: never content, never rejected
SYSTEM_NAMES = {"thumbs.db", "desktop.ini", ".ds_store", "icon\r", ".directory"}
SIDECAR_SUFFIX = ".json"
NOTE_SUFFIXES = (".reason.txt",)
#: bytes a file name may have on Linux file systems (NAME_MAX)
NAME_MAX = 255


def is_temporary(name: str) -> bool:
    """True for names that are still being written or are not content: hidden files
    (rsync's ``.name.XXXXXX``), ``~$...`` office locks, ``.part``, ``.crdownload``,
    ``.filepart``, ``.tmp`` and the other :data:`TEMP_SUFFIXES`, and our own reason notes."""
    lower = name.lower()
    return (name.startswith((".", "~$")) or lower.endswith(TEMP_SUFFIXES)
            or ".part." in lower or lower.endswith(NOTE_SUFFIXES))


def is_ignored(name: str) -> bool:
    """True for file-manager litter (``Thumbs.db``, ``desktop.ini``, ``.DS_Store``): left
    where it is, never reported."""
    return name.lower() in SYSTEM_NAMES or name.startswith("._")


@dataclass(frozen=True)
class Snapshot:
    """Size (bytes), modification and status-change times (ns) and inode of a file at
    one moment. Any difference between two snapshots means the file changed."""

    size: int
    mtime_ns: int
    ctime_ns: int = 0
    inode: int = 0


def snapshot(path: Path) -> Snapshot | None:
    """The current :class:`Snapshot` of ``path``, or None when it is gone."""
    try:
        st = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return Snapshot(st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


class Settler:
    """Remembers when each file was last seen changing (by our monotonic clock).

    ``observe(paths)`` records the current snapshots; a file is settled once its snapshot
    has stayed the same for ``settle_s`` seconds of observation. Used across the passes of
    ``dangke watch``; a single pass observes twice, ``settle_s`` apart.
    """

    def __init__(self, settle_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.settle_s = settle_s
        self.clock = clock
        self._seen: dict[Path, tuple[Snapshot, float]] = {}
        self._deferred: dict[Path, tuple[Snapshot, float]] = {}

    def observe(self, paths: Iterable[Path]) -> None:
        """Record the snapshots of ``paths`` now; forget files no longer listed."""
        now = self.clock()
        current = {}
        for p in paths:
            snap = snapshot(p)
            if snap is None:
                continue
            old = self._seen.get(p)
            current[p] = old if old is not None and old[0] == snap else (snap, now)
        self._seen = current
        self._deferred = {p: d for p, d in self._deferred.items()
                          if p in current and current[p][0] == d[0] and d[1] > now}

    def defer(self, path: Path, seconds: float) -> None:
        """Do not offer ``path`` again for ``seconds`` unless it changes (a file that was
        judged and must wait, e.g. one that looks cut off, is not decoded every pass)."""
        snap = snapshot(path)
        if snap is not None:
            self._deferred[path] = (snap, self.clock() + seconds)

    def is_settled(self, path: Path) -> bool:
        """True when ``path`` was observed unchanged for at least ``settle_s`` seconds."""
        seen = self._seen.get(path)
        deferred = self._deferred.get(path)
        if deferred is not None and deferred[1] > self.clock() and snapshot(path) == deferred[0]:
            return False
        return seen is not None and self.clock() - seen[1] >= self.settle_s and snapshot(path) == seen[0]

    def next_due(self) -> float | None:
        """Seconds until the next observed file may become ready (settles, or its
        deferral ends); None when no file is waiting for either."""
        now = self.clock()
        waits = [self.settle_s - (now - since) for p, (_, since) in self._seen.items()
                 if now - since < self.settle_s]
        waits += [until - now for _, until in self._deferred.values()]
        return max(0.0, min(waits)) if waits else None

    def wait_left(self, path: Path) -> float:
        """Seconds until ``path`` may be settled (0 when it is, ``settle_s`` when unseen)."""
        seen = self._seen.get(path)
        if seen is None:
            return self.settle_s
        return max(0.0, self.settle_s - (self.clock() - seen[1]))

    def seen(self, path: Path) -> Snapshot | None:
        """The snapshot recorded for ``path`` at the last observation."""
        entry = self._seen.get(path)
        return entry[0] if entry else None


def settled(paths: list[Path], settle_s: float, sleep: Callable[[float], None] = time.sleep) -> list[Path]:
    """The files among ``paths`` whose snapshot stayed the same over ``settle_s`` seconds:
    observe, wait ``settle_s`` once for the whole batch, observe again."""
    if not paths:
        return []
    first = {p: snapshot(p) for p in paths}
    if settle_s > 0:
        sleep(settle_s)
    return [p for p in paths if first[p] is not None and snapshot(p) == first[p]]


def open_for_writing(paths: Iterable[Path]) -> set[Path]:
    """The files among ``paths`` that a process on this machine holds open for writing
    (a copy, download or recorder still running), found through ``/proc/<pid>/fd``.

    Sees only processes we may inspect (all of them as root, our own otherwise) and never
    writers on other machines (network shares): the settle time covers those. Returns an
    empty set where ``/proc`` is unavailable.
    """
    wanted: dict[tuple[int, int], Path] = {}
    for p in paths:
        try:
            st = p.stat()
        except OSError:
            continue
        wanted[(st.st_dev, st.st_ino)] = p
    busy: set[Path] = set()
    if not wanted or not os.path.isdir("/proc/self/fd"):
        return busy
    me = os.getpid()
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == me:
            continue
        fd_dir = f"/proc/{pid}/fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                st = os.stat(f"{fd_dir}/{fd}")
                if (st.st_dev, st.st_ino) not in wanted:
                    continue
                with open(f"/proc/{pid}/fdinfo/{fd}") as info:
                    flags = next((int(line.split()[1], 8) for line in info if line.startswith("flags:")), 0)
            except (OSError, ValueError):
                continue
            if flags & (os.O_WRONLY | os.O_RDWR):
                busy.add(wanted[(st.st_dev, st.st_ino)])
    return busy


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
    try:
        with open(src, "rb") as fin, open(tmp, "wb") as fout:
            shutil.copyfileobj(fin, fout, 1 << 20)
            fout.flush()
            os.fsync(fout.fileno())
        if sha256_file(tmp) != sha256:
            raise OSError(f"verification failed: the copy of {src.name} differs from the original "
                          "(it changed while being copied, or the disk is failing)")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(dest.parent)


def remove_stale_temps(folder: Path) -> int:
    """Remove ``.<name>.<pid>.tmp`` copies left in ``folder`` (recursively) by a process
    that was killed; call with the ingest lock held. Returns how many were removed."""
    if not folder.is_dir():
        return 0
    removed = 0
    for tmp in folder.rglob(".*.tmp"):
        try:
            tmp.unlink()
            removed += 1
        except OSError:
            continue
    return removed


def _shorten(text: str, room: int) -> str:
    """``text``, or its beginning and "…", in at most ``room`` bytes of UTF-8."""
    def size(t: str) -> int:
        return len(t.encode("utf-8", "surrogateescape"))

    if size(text) <= room:
        return text
    while text and size(text + "…") > room:
        text = text[:-1]
    return text + "…"


def unique_path(folder: Path, name: str, reserve: str = ".reason.txt") -> Path:
    """``folder/name``, or ``folder/stem (2).ext`` ... when that exists already (or its
    ``reserve`` companion does). Names too long for the file system (with the companion
    suffix and a temp-file prefix) get a shortened stem; the full name belongs in the note."""
    room = NAME_MAX - len(reserve.encode()) - 24
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem or len(ext) > 16:
        stem, ext = name, ""
    tail = f".{ext}" if ext else ""
    n = 1
    while True:
        mark = f" ({n})" if n > 1 else ""
        budget = room - len((mark + tail).encode("utf-8", "surrogateescape"))
        candidate = folder / (_shorten(stem, budget) + mark + tail)
        if not candidate.exists() and not candidate.with_name(candidate.name + reserve).exists():
            return candidate
        n += 1


def move_to(src: Path, dest: Path) -> None:
    """Move a file (across file systems too), durably."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(src), str(dest))
    fsync_dir(dest.parent)
    if src.parent.exists():
        fsync_dir(src.parent)


def write_text_durably(path: Path, text: str) -> None:
    """Write a small UTF-8 text file atomically (temp, fsync, rename)."""
    write_atomic(path, text.encode("utf-8"))


def display_name(name: str) -> str:
    """A file name as an editor would read it, NFC-normalised.

    Names whose bytes are not UTF-8 (zip archives and shares from Chinese Windows give
    GBK bytes, which Python holds as surrogate escapes) are decoded as GB18030; bytes
    that fit neither are shown as ``\\xNN``.
    """
    if any(0xDC80 <= ord(c) <= 0xDCFF for c in name):
        raw = os.fsencode(name)
        try:
            name = raw.decode("gb18030")
        except UnicodeDecodeError:
            name = raw.decode("utf-8", "backslashreplace")
    return unicodedata.normalize("NFC", name)


_EXT = re.compile(r"[a-z0-9]{1,8}")


def library_extension(name: str) -> str:
    """The extension a library copy keeps (``.mp3``): lower case, letters and digits only;
    ``.bin`` when the name has none worth keeping (``结尾有点.``, ``末尾空格 .mp3 ``
    gives ``.mp3``)."""
    ext = Path(name.strip().rstrip(".")).suffix.lower().lstrip(".")
    return f".{ext}" if _EXT.fullmatch(ext) else ".bin"


_MAGIC = (
    (b"%PDF", "a PDF document", "PDF 文件"),
    (b"PK\x03\x04", "a Word, Excel or zip file", "Word、Excel 文件或壓縮檔"),
    (b"\xd0\xcf\x11\xe0", "an old Word or Excel document", "舊版 Word 或 Excel 文件"),
    (b"\xff\xd8\xff", "a JPEG picture", "JPEG 圖片"),
    (b"\x89PNG", "a PNG picture", "PNG 圖片"),
    (b"GIF8", "a GIF picture", "GIF 圖片"),
    (b"#!SILK", "a WeChat/QQ voice message (SILK)", "微信／QQ 語音訊息（SILK 格式）"),
    (b"\x02#!SILK", "a WeChat/QQ voice message (SILK)", "微信／QQ 語音訊息（SILK 格式）"),
    (b"Rar!", "a RAR archive", "RAR 壓縮檔"),
    (b"7z\xbc\xaf", "a 7-Zip archive", "7-Zip 壓縮檔"),
)


def sniff(path: Path) -> tuple[str, str] | None:
    """What a file that is not audio looks like, from its first bytes, in English and
    Chinese (``("a PDF document", "PDF 文件")``), or None when it is not recognised."""
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError:
        return None
    for magic, en, zh in _MAGIC:
        if head.startswith(magic):
            return en, zh
    if head and b"\x00" not in head:
        for encoding in ("utf-8", "gb18030"):
            for cut in range(4):  # the 512 bytes may end inside a character
                try:
                    text = head[:len(head) - cut].decode(encoding)
                except UnicodeDecodeError:
                    continue
                if all(c.isprintable() or c in "\r\n\t" for c in text):
                    return "a text file", "文字檔"
                break
    return None


def audio_stem(name: str) -> str:
    """A file name without its extension (``末尾空格 .mp3 `` gives ``末尾空格 ``)."""
    stem, dot, _ = name.strip().rpartition(".")
    return stem if dot and stem else name


def sidecar_for(path: Path) -> Path | None:
    """The sidecar of an inbox file: ``<stem>.json`` (or ``<name>.json``), if present."""
    for candidate in (path.with_name(audio_stem(path.name) + SIDECAR_SUFFIX),
                      path.with_name(path.name + SIDECAR_SUFFIX)):
        try:
            if candidate != path and candidate.is_file():
                return candidate
        except OSError:  # e.g. the name would be too long for the file system (BR-24)
            continue
    return None


@dataclass(frozen=True)
class Lifted:
    """What :func:`lift_folders` did: names (relative to the inbox, ``/``-separated) moved
    up to the inbox, left in their folder because the inbox has that name already, and
    still temporary (being copied)."""

    moved: tuple[str, ...] = ()
    clashes: tuple[str, ...] = ()
    temporary: tuple[str, ...] = ()


def lift_folders(inbox: Path, keep_out: Iterable[Path] = ()) -> Lifted:
    """Move the files of folders dropped into the inbox up to the inbox itself, so that a
    folder copied from a phone or a recorder is ingested like loose files.

    Each file is renamed (atomic, on one file system; a file still being written keeps
    being written under its new name, and the settle checks see it change). A name the
    inbox already has stays in its folder and is reported; temporary names wait in place
    until they get their final name; hidden folders, hidden files and file-manager litter
    are left alone, and so are the folders of ``keep_out`` (the library, ``rejected/``
    and the staging tree, should a configuration put them inside the inbox). Folders
    left empty are removed. Nothing is copied or deleted, so a crash at any moment leaves
    every file either in its folder or in the inbox.
    """
    skip = {os.path.realpath(p) for p in keep_out}
    moved, clashes, temporary, folders = [], [], [], []
    if not inbox.is_dir():
        return Lifted()
    for folder, dirs, names in os.walk(inbox, topdown=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".")
                         and os.path.realpath(os.path.join(folder, d)) not in skip)
        here = Path(folder)
        if here == inbox:
            continue
        folders.append(here)
        for name in sorted(names):
            src = here / name
            rel = src.relative_to(inbox).as_posix()
            if is_ignored(name) or name.startswith(".") or not src.is_file():
                continue
            if is_temporary(name):
                temporary.append(rel)
            elif _move_no_replace(src, inbox / name):
                moved.append(rel)
            elif (inbox / name).exists():
                clashes.append(rel)
    for folder in reversed(folders):  # deepest first
        try:
            os.rmdir(folder)  # only succeeds on an empty folder
        except OSError:
            pass
    if moved:
        fsync_dir(inbox)
    return Lifted(tuple(moved), tuple(clashes), tuple(temporary))


def _move_no_replace(src: Path, dest: Path) -> bool:
    """Rename ``src`` to ``dest`` unless ``dest`` exists; False when not moved.

    A rename, not a hard link and an unlink: a file still being written keeps its open
    descriptor pointing at the new name, so the "open for writing" check still sees it.
    The check and the rename are not one step, but ingest holds its lock, so only a
    person copying a file of the very same name into the inbox at that instant could
    come between them."""
    if dest.exists():
        return False
    try:
        os.rename(src, dest)
    except OSError:  # e.g. a share that refuses to rename an open file: next pass
        return False
    return True
