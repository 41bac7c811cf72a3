"""Ingest: inbox files become lessons in the library and catalog, or go to ``rejected/``.

For each complete inbox file: hash it, probe and decode it (duration by decoding),
judge its quality, gather metadata (sidecar, then name, then tags), copy the original
into ``library/originals/`` under its sha256 (fsynced and verified), record it in the
catalog, and only then remove it from the inbox. A crash at any point leaves either the
file in the inbox (redone next time) or a catalogued copy (the inbox file is then
recognised as already stored and removed).
"""

from __future__ import annotations

import fcntl
import json
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from ..catalog import Catalog, now_iso
from ..config import Config
from ..errors import DangkeError, InputRejected, ToolError
from ..media import ffmpeg, tags
from ..models import Lesson
from . import files, metadata, quality


@dataclass(frozen=True)
class Accepted:
    name: str
    lesson_id: str
    version: int
    title: str
    category: str
    dialect: str
    duration_s: float
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rejected:
    name: str
    reason: str
    reason_zh: str


@dataclass(frozen=True)
class Duplicate:
    name: str
    lesson_id: str
    note: str


@dataclass(frozen=True)
class IngestReport:
    """What one pass did. ``waiting`` are files still being written or sidecars whose
    audio has not arrived."""

    accepted: tuple[Accepted, ...] = ()
    rejected: tuple[Rejected, ...] = ()
    duplicates: tuple[Duplicate, ...] = ()
    waiting: tuple[str, ...] = field(default=())

    @property
    def failed(self) -> bool:
        return bool(self.rejected)


AUDIO_HINT = "MP3, WAV, M4A, AMR, OGG/Opus, FLAC, WMA"


@contextmanager
def ingest_lock(cfg: Config, timeout_s: float = 600.0) -> Iterator[None]:
    """Hold the library's ingest lock (one ingest at a time per library).

    Raises:
        DangkeError: another ingest held it for longer than ``timeout_s``.
    """
    cfg.library.mkdir(parents=True, exist_ok=True)
    with open(cfg.library / ".ingest.lock", "a+") as lock:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise DangkeError("another ingest is still running", path=cfg.library,
                                      fix="wait for it to finish, or stop the other `dangke watch`") from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def inbox_candidates(cfg: Config) -> tuple[list[Path], list[str]]:
    """Audio candidates in the inbox (sorted by name) and names that must wait."""
    if not cfg.inbox.is_dir():
        return [], []
    entries = sorted(p for p in cfg.inbox.iterdir() if p.is_file())
    audio_stems = {p.stem for p in entries if p.suffix.lower() != files.SIDECAR_SUFFIX}
    audio, waiting = [], []
    for p in entries:
        if files.is_temporary(p.name):
            if not p.name.startswith("."):
                waiting.append(p.name)
        elif p.suffix.lower() == files.SIDECAR_SUFFIX:
            if p.stem not in audio_stems:
                waiting.append(p.name)
        else:
            audio.append(p)
    return audio, waiting


def ingest_pass(cfg: Config, catalog: Catalog, settle_s: float | None = None) -> IngestReport:
    """One pass over the inbox: every complete file is accepted, rejected or recognised
    as a duplicate. Files changed within ``settle_s`` (default ``[ingest] settle_s``) wait."""
    with ingest_lock(cfg):
        candidates, waiting = inbox_candidates(cfg)
        ready = files.settled(candidates, cfg.ingest.settle_s if settle_s is None else settle_s)
        waiting += [p.name for p in candidates if p not in ready]
        results = [ingest_file(cfg, catalog, p) for p in ready]
    return IngestReport(accepted=tuple(r for r in results if isinstance(r, Accepted)),
                        rejected=tuple(r for r in results if isinstance(r, Rejected)),
                        duplicates=tuple(r for r in results if isinstance(r, Duplicate)),
                        waiting=tuple(sorted(waiting)))


def _original_path(cfg: Config, sha256: str, name: str) -> Path:
    ext = Path(name).suffix.lower()[:10] or ".bin"
    return cfg.library / "originals" / sha256[:2] / f"{sha256}{ext}"


def ingest_file(cfg: Config, catalog: Catalog, path: Path) -> Accepted | Rejected | Duplicate:
    """Take one complete inbox file (call with the ingest lock held)."""
    sidecar = path.with_suffix(".json")
    sidecar = sidecar if sidecar.exists() and sidecar != path else None
    try:
        if path.stat().st_size == 0:
            raise InputRejected("the file is empty (0 bytes)", message_zh="檔案是空的（0 位元組）",
                                fix="copy the recording again; the copy may have failed",
                                fix_zh="請重新複製錄音檔，可能複製失敗了")
        sha = files.sha256_file(path)
        if catalog.has_source(sha):
            return _duplicate(cfg, catalog, path, sidecar, sha)
        try:
            probe = ffmpeg.probe(path)
            analysis = ffmpeg.analyze(path, duration_hint=probe.header_duration_s)
        except ToolError as exc:
            raise InputRejected(f"not decodable audio: {exc.message}",
                                message_zh="無法解碼為音訊（檔案損壞、不完整或不是錄音檔）",
                                fix=f"export the recording again as one of {AUDIO_HINT}",
                                fix_zh=f"請重新匯出為 {AUDIO_HINT} 其中一種格式") from exc
        findings = quality.assess(analysis, probe, cfg.ingest.min_duration_s, cfg.ingest.silent_below_lufs)
        meta = _metadata(path, sidecar)
        lesson = _lesson(cfg, catalog, path, sha, meta, findings.duration_s)
    except InputRejected as exc:
        return _reject(cfg, catalog, path, sidecar, exc)
    dest = _original_path(cfg, sha, path.name)
    files.store_verified(path, dest, sha)
    if sidecar:
        files.store_verified(sidecar, dest.with_suffix(".json"), files.sha256_file(sidecar))
    with catalog.transaction():
        catalog.add_source(sha, str(dest.relative_to(cfg.library)), path.stat().st_size, path.name,
                           "lesson", probe.__dict__, findings.as_dict())
        catalog.add_lesson(lesson, findings.warnings)
        catalog.log("ingest", "warning" if findings.warnings else "info", path.name,
                    f"accepted as {lesson.lesson_id} v{lesson.version}"
                    + (f" with warnings: {'; '.join(findings.warnings)}" if findings.warnings else ""))
    _remove_from_inbox(path, sidecar)
    return Accepted(name=path.name, lesson_id=lesson.lesson_id, version=lesson.version,
                    title=lesson.title, category=lesson.category, dialect=lesson.dialect,
                    duration_s=lesson.duration_s, warnings=findings.warnings)


def _metadata(path: Path, sidecar: Path | None):
    side = metadata.LessonMeta()
    if sidecar is not None:
        try:
            data = json.loads(sidecar.read_text(encoding="utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputRejected(f"sidecar {sidecar.name} is not readable JSON ({exc})",
                                message_zh=f"說明檔 {sidecar.name} 不是有效的 JSON（UTF-8）",
                                fix="fix the sidecar (UTF-8 JSON object) and drop both files again",
                                fix_zh="請修正說明檔（UTF-8 編碼的 JSON）後，將兩個檔案一起重新放入") from exc
        side = metadata.from_sidecar(data, sidecar.name)
    return metadata.merge(side, metadata.from_name(path.name), metadata.from_tags(tags.read_tags(path)))


def _lesson(cfg: Config, catalog: Catalog, path: Path, sha: str, meta, duration_s: float) -> Lesson:
    missing = [k for k in ("category", "dialect") if not getattr(meta, k)]
    if missing:
        what = " and ".join(missing)
        raise InputRejected(
            f"no {what} given by sidecar, file name or tags",
            message_zh=f"說明檔、檔名和標籤都沒有提供{'類別' if 'category' in missing else ''}"
                       f"{'和' if len(missing) == 2 else ''}{'方言' if 'dialect' in missing else ''}",
            fix="name the file <category>_<dialect>_<title>[_<speaker>] "
                "(e.g. 黨性教育_福州話_牢記初心使命_林老師.mp3) or add a <name>.json sidecar",
            fix_zh="請將檔名改為「類別_方言_標題_講師」（例如 黨性教育_福州話_牢記初心使命_林老師.mp3），"
                   "或附上同名 .json 說明檔")
    lesson_id = meta.lesson_id or f"L-{sha[:12]}"
    return Lesson(lesson_id=lesson_id, version=catalog.next_version(lesson_id), source_sha256=sha,
                  title=meta.title or path.stem, category=meta.category, dialect=meta.dialect,
                  duration_s=duration_s, speaker=meta.speaker or "", series=meta.series or "",
                  episode=meta.episode, recorded_on=meta.recorded_on, valid_from=meta.valid_from,
                  valid_until=meta.valid_until, audiences=meta.audiences,
                  description=meta.description or "", evergreen=bool(meta.evergreen),
                  original_name=path.name, ingested_at=now_iso())


def _duplicate(cfg: Config, catalog: Catalog, path: Path, sidecar: Path | None, sha: str) -> Duplicate:
    row = catalog.source(sha)
    stored = cfg.library / row["path"]
    files.store_verified(path, stored, sha)  # repairs a missing or damaged library copy
    if sidecar is not None:
        archive = cfg.library / "sidecars" / f"{sha}-{int(time.time())}.json"
        files.store_verified(sidecar, archive, files.sha256_file(sidecar))
    lesson = catalog.lesson_for_source(sha)
    lesson_id = lesson.lesson_id if lesson else "-"
    note = f"same bytes as {row['original_name']} (already {lesson_id}); removed from the inbox"
    catalog.log("ingest", "info", path.name, note)
    _remove_from_inbox(path, sidecar)
    return Duplicate(name=path.name, lesson_id=lesson_id, note=note)


def _reject(cfg: Config, catalog: Catalog, path: Path, sidecar: Path | None,
            exc: InputRejected) -> Rejected:
    dest = files.unique_path(cfg.rejected, path.name)
    reason = reason_text(path.name, exc)
    files.write_text_durably(dest.with_name(dest.name + ".reason.txt"), reason)
    files.move_to(path, dest)
    if sidecar is not None:
        files.move_to(sidecar, files.unique_path(cfg.rejected, sidecar.name))
    catalog.log("ingest", "error", path.name, f"rejected: {exc.message}")
    catalog.add_rejection(path.name, exc.message, None)
    return Rejected(name=path.name, reason=exc.message, reason_zh=exc.message_zh)


def reason_text(name: str, exc: InputRejected) -> str:
    """The ``<name>.reason.txt`` an editor reads: Chinese first, then English."""
    return (f"檔案：{name}\n問題：{exc.message_zh}\n處理方法：{exc.fix_zh}\n\n"
            f"File: {name}\nProblem: {exc.message}\nWhat to do: {exc.fix}\n")


def _remove_from_inbox(path: Path, sidecar: Path | None) -> None:
    for p in (path, sidecar):
        if p is not None:
            p.unlink(missing_ok=True)
    files.fsync_dir(path.parent)


__all__ = ["ingest_pass", "ingest_file", "IngestReport", "Accepted", "Rejected", "Duplicate",
           "reason_text", "ingest_lock"]
