"""A player's card, as the card loader sees it: a mounted folder, or an unmounted FAT
image or partition driven with mtools (the one module that runs mtools).

Paths are ``/``-separated and relative to the card's root (``DANGKE/001_x.mp3``).
:meth:`Card.listdir` returns a folder's files in directory-entry order, the order
cheap players play them in (standards.md §3.6): the OS's listing of a mounted FAT
folder is in entry order, and mtools' ``mdir`` lists entries in order. FAT names are
case-insensitive; compare them case-folded.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Protocol

from .errors import DangkeError


class CardError(DangkeError):
    """The card could not be read or written."""


class Card(Protocol):
    """What the loader needs from a card."""

    def describe(self) -> str: ...
    def listdir(self, folder: str) -> list[tuple[str, int]] | None:
        """``[(name, bytes)]`` of the files of ``folder`` in entry order; None if absent."""
    def read(self, path: str) -> bytes | None:
        """A small file's bytes, or None when it does not exist."""
    def sha256(self, path: str) -> str: ...
    def write(self, path: str, data: bytes) -> None: ...
    def copy_in(self, local: Path, path: str) -> None: ...
    def move(self, src: str, dest: str) -> None: ...
    def delete(self, path: str) -> None: ...
    def mkdir(self, folder: str) -> None: ...
    def rmdir(self, folder: str) -> None: ...
    def free_bytes(self) -> int: ...
    def cluster_bytes(self) -> int: ...


def _hash_stream(f, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    while block := f.read(chunk):
        h.update(block)
    return h.hexdigest()


class MountedCard:
    """A card mounted as a folder (``/media/crew/CARD``). Every copied file is fsynced,
    so a card pulled out after a step keeps what that step wrote."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _p(self, path: str) -> Path:
        return self.root / path

    def describe(self) -> str:
        return str(self.root)

    def listdir(self, folder: str) -> list[tuple[str, int]] | None:
        p = self._p(folder)
        if not p.is_dir():
            return None
        with os.scandir(p) as entries:  # entry order on FAT (vfat readdir walks the directory)
            return [(e.name, e.stat().st_size) for e in entries if e.is_file()]

    def read(self, path: str) -> bytes | None:
        try:
            return self._p(path).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise CardError(f"cannot read {path}: {exc.strerror}", path=self.root) from exc

    def sha256(self, path: str) -> str:
        with open(self._p(path), "rb") as f:
            return _hash_stream(f)

    def _sync(self, path: Path) -> None:
        fd = os.open(str(path), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def write(self, path: str, data: bytes) -> None:
        dest = self._p(path)
        with open(dest, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        self._sync(dest.parent)

    def copy_in(self, local: Path, path: str) -> None:
        dest = self._p(path)
        try:
            with open(local, "rb") as src, open(dest, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)
                out.flush()
                os.fsync(out.fileno())
        except OSError as exc:
            raise CardError(f"cannot write {path}: {exc.strerror}", path=self.root,
                            fix="check that the card is not full or write-protected") from exc

    def move(self, src: str, dest: str) -> None:
        os.rename(self._p(src), self._p(dest))
        self._sync(self._p(dest).parent)

    def delete(self, path: str) -> None:
        self._p(path).unlink(missing_ok=True)

    def mkdir(self, folder: str) -> None:
        self._p(folder).mkdir(exist_ok=True)

    def rmdir(self, folder: str) -> None:
        self._p(folder).rmdir()

    def free_bytes(self) -> int:
        return shutil.disk_usage(self.root).free

    def cluster_bytes(self) -> int:
        return os.statvfs(self.root).f_bsize or 4096


_ENTRY = re.compile(r"^(.{8}) (.{3}) +(<DIR>|\d+) +\d{4}-\d\d-\d\d +\d{1,2}:\d\d")
_FREE = re.compile(r"([\d ]+) bytes free")


class ImageCard:
    """An unmounted FAT image file or partition (``card.img``, ``/dev/sdb1``), through
    mtools (``mdir``, ``mcopy``, ``mmove``, ``mdel``, ``mmd``, ``mrd``, ``minfo``), each
    call with a timeout; names in UTF-8 (``LC_ALL=C.UTF-8``), no user mtools config."""

    def __init__(self, image: Path, timeout_s: float = 60.0) -> None:
        self.image = image
        self.timeout_s = timeout_s
        self.env = {**os.environ, "MTOOLS_SKIP_CHECK": "1", "MTOOLSRC": os.devnull, "LC_ALL": "C.UTF-8"}

    def describe(self) -> str:
        return str(self.image)

    def _run(self, *args: str, timeout: float | None = None, ok_missing: bool = False) -> str | None:
        cmd = [args[0], "-i", str(self.image), *args[1:]]
        try:
            proc = subprocess.run(cmd, capture_output=True, env=self.env, stdin=subprocess.DEVNULL,
                                  timeout=timeout or self.timeout_s)
        except FileNotFoundError as exc:
            raise CardError(f"{args[0]} is not installed", fix="install mtools (sh scripts/setup.sh)") from exc
        except subprocess.TimeoutExpired as exc:
            raise CardError(f"{args[0]} took longer than {timeout or self.timeout_s:.0f} s", path=self.image,
                            fix="check the card reader; run again to resume") from exc
        err = proc.stderr.decode("utf-8", "replace").strip()
        if proc.returncode != 0:
            if ok_missing and "not found" in err:
                return None
            raise CardError(f"{args[0]} failed: {err or proc.returncode}", path=self.image,
                            fix="check that the card is a FAT file system and not mounted")
        return proc.stdout.decode("utf-8", "replace")

    @staticmethod
    def _m(path: str) -> str:
        return "::/" + path.strip("/")

    def listdir(self, folder: str) -> list[tuple[str, int]] | None:
        names = self._run("mdir", "-b", "-a", self._m(folder), ok_missing=True)
        if names is None:
            return None
        long = self._run("mdir", "-a", self._m(folder)) or ""
        entries = [m for m in (_ENTRY.match(line) for line in long.splitlines()) if m
                   and m.group(1).strip() not in (".", "..")]
        paths = [n for n in names.splitlines() if n.strip()]
        if len(paths) != len(entries):
            raise CardError(f"cannot read the listing of {folder}", path=self.image, fix="run dosfsck on the card")
        out = []
        for path, m in zip(paths, entries):
            if m.group(3) != "<DIR>" and not path.endswith("/"):
                out.append((path.rsplit("/", 1)[-1], int(m.group(3))))
        return out

    def read(self, path: str) -> bytes | None:
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / "f"
            if self._run("mcopy", "-n", self._m(path), str(local), ok_missing=True) is None:
                return None
            return local.read_bytes()

    def sha256(self, path: str) -> str:
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / "f"
            self._run("mcopy", "-n", self._m(path), str(local), timeout=self.timeout_s * 10)
            with open(local, "rb") as f:
                return _hash_stream(f)

    def write(self, path: str, data: bytes) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / "f"
            local.write_bytes(data)
            self.copy_in(local, path)

    def copy_in(self, local: Path, path: str) -> None:
        size = local.stat().st_size
        self._run("mcopy", "-D", "o", str(local), self._m(path), timeout=self.timeout_s + size / 1e6)

    def move(self, src: str, dest: str) -> None:
        self._run("mmove", "-D", "o", self._m(src), self._m(dest))

    def delete(self, path: str) -> None:
        self._run("mdel", self._m(path), ok_missing=True)

    def mkdir(self, folder: str) -> None:
        self._run("mmd", "-D", "s", self._m(folder))

    def rmdir(self, folder: str) -> None:
        self._run("mrd", self._m(folder), ok_missing=True)

    def free_bytes(self) -> int:
        m = _FREE.search(self._run("mdir", "::/") or "")
        if not m:
            raise CardError("cannot read the free space", path=self.image, fix="run dosfsck on the card")
        return int(m.group(1).replace(" ", ""))

    def cluster_bytes(self) -> int:
        info = self._run("minfo", "::") or ""
        sector = re.search(r"sector size: (\d+) bytes", info)
        per = re.search(r"cluster size: (\d+) sectors", info)
        return int(sector.group(1)) * int(per.group(1)) if sector and per else 4096


def _mounted(device: Path) -> str | None:
    """The mount point of ``device`` when it is mounted (``/proc/mounts``), else None."""
    try:
        lines = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return None
    real = os.path.realpath(device)
    for line in lines:
        parts = line.split()
        if len(parts) > 1 and os.path.realpath(parts[0]) == real:
            return parts[1].replace("\\040", " ")
    return None


def open_card(target: Path) -> Card:
    """The card at ``target``: a folder (mounted card) or a FAT image file or partition.

    Raises:
        CardError: it does not exist, or it is a partition that is mounted (load it
            through its folder instead: writing under a mounted file system corrupts it).
    """
    if target.is_dir():
        return MountedCard(target)
    if not target.exists():
        raise CardError("no card here", path=target, fix="give the card's folder (where it is mounted) or its "
                                                         "unmounted partition / image file")
    where = _mounted(target)
    if where:
        raise CardError(f"the card is mounted at {where}", path=target, fix=f"use --to {where}, or unmount it first")
    return ImageCard(target)
