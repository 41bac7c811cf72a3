"""Ingest: inbox files become lessons in the library and catalog, or go to ``rejected/``.

Files of folders dropped into the inbox are first moved up to it
(:func:`.files.lift_folders`). For each complete inbox file (see :mod:`.files`): hash it, validate its sidecar, probe and
decode it (duration by decoding), judge its quality (:mod:`.quality`), gather metadata
(sidecar, then name, then tags: :mod:`.metadata`), copy the original into
``library/originals/`` under its sha256 (fsynced and verified), record source, lesson
and findings in the catalog in one transaction, and only then remove it from the inbox.

Nothing is lost, duplicated or half-recorded, whatever stops the process:

- one ingest runs at a time per library (an exclusive lock; a second process waits);
- the catalog transaction is the commit point; the inbox clean-up and every rejection
  are journaled first and finished by the next pass if the process died (:mod:`.journal`);
- a file that changed after it was hashed is never removed or moved: it is looked at
  again on the next pass;
- a library copy left half-written by a crash is a hidden temp file, removed on the next
  pass; a completed copy whose catalog row is missing is simply verified and reused.
"""

from __future__ import annotations

import fcntl
import time
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterator

from .. import compute, curves
from ..catalog import Catalog, now_iso
from ..config import Config
from ..errors import DangkeError, InputRejected, ToolInterrupted
from ..media import ffmpeg, tags
from ..models import Lesson, LessonMeta
from . import files, inbox, journal, metadata, quality
from .judge import judge
from .journal import reason_text
from .quality import Findings, Truncated
from .report import Accepted, Duplicate, IngestReport, Rejected, Retry, Waiting


@contextmanager
def ingest_lock(cfg: Config, timeout_s: float = 600.0) -> Iterator[None]:
    """Hold the library's ingest lock (one ingest at a time per library). The kernel
    releases it when the holder dies, so a killed ingest never blocks the next.

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


def inbox_candidates(cfg: Config) -> tuple[list[Path], list[Waiting]]:
    """Audio candidates in the inbox (sorted by name) and the names that must wait:
    temporary names and sidecars whose recording has not arrived. Hidden files and
    file-manager litter are ignored silently."""
    if not cfg.inbox.is_dir():
        return [], []
    entries = sorted(p for p in cfg.inbox.iterdir() if p.is_file() and not files.is_ignored(p.name))
    audio = [p for p in entries if not files.is_temporary(p.name)
             and p.suffix.lower() != files.SIDECAR_SUFFIX]
    sidecars = {s for p in audio if (s := files.sidecar_for(p)) is not None}
    waiting = []
    for p in entries:
        name = files.display_name(p.name)
        if files.is_temporary(p.name):
            if not p.name.startswith("."):
                waiting.append(Waiting(name, "temporary name: still being copied or downloaded",
                                       "暫存檔名：仍在複製或下載中", routine=True))
        elif p.suffix.lower() == files.SIDECAR_SUFFIX and p not in sidecars:
            waiting.append(Waiting(name, "sidecar without its recording: drop the recording with the same name",
                                   "只有說明檔，沒有同名的錄音檔：請放入同名錄音"))
    return audio, waiting


def ingest_pass(cfg: Config, catalog: Catalog, settle_s: float | None = None,
                settler: files.Settler | None = None,
                should_stop: Callable[[], bool] | None = None) -> IngestReport:
    """One pass over the inbox: unfinished work of an interrupted run is completed, then
    every complete file is accepted, rejected or recognised as a duplicate.

    A file is complete when it is not a temporary name, no local process has it open
    for writing, and it (with its sidecar) stayed unchanged for ``settle_s`` seconds
    (default ``[ingest] settle_s``): observed now and again ``settle_s`` later, or, with a
    ``settler`` kept across passes (``dangke watch``), since it was first seen unchanged.
    ``should_stop`` is asked between files (Ctrl-C lets the current file finish).

    Raises:
        DangkeError: another ingest held the lock too long.
    """
    if not ffmpeg.available():
        raise DangkeError("ffmpeg and ffprobe are needed to check recordings but are not installed",
                          fix="install them (apt-get install ffmpeg, or sh scripts/setup.sh)")
    settle = cfg.ingest.settle_s if settle_s is None else settle_s
    results: list[object] = []
    waiting: list[Waiting] = []
    stopped = False
    with ingest_lock(cfg):
        results += journal.replay(cfg, catalog)
        pending = {intent.detail["path"] for intent in catalog.intents()}
        files.remove_stale_temps(cfg.library / "originals")
        files.remove_stale_temps(cfg.library / "sidecars")
        waiting += _lift(cfg, catalog)
        candidates, found = inbox_candidates(cfg)
        waiting += found
        watched = candidates + [s for p in candidates if (s := files.sidecar_for(p)) is not None]
        if settler is None:
            ready = set(files.settled(watched, settle))
        else:
            settler.observe(watched)
            ready = {p for p in watched if settler.is_settled(p)}
        busy = files.open_for_writing(watched)
        judged = compute.analyses(cfg, catalog, [p for p in candidates if p in ready and p not in busy
                                                 and p.name not in pending])  # {} unless [compute] scheduler
        for path in candidates:
            side = files.sidecar_for(path)
            name = files.display_name(path.name)
            if path.name in pending:
                results.append(Retry(name, "its move out of the inbox failed and is retried by every ingest "
                                           "(see `dangke status`)"))
            elif path in busy or (side is not None and side in busy):
                waiting.append(inbox.busy(name))
            elif path not in ready or (side is not None and side not in ready):
                waiting.append(inbox.recorded(cfg, catalog, name, files.snapshot(path)) or inbox.changing(name))
            elif should_stop is not None and should_stop():
                stopped = True
                waiting.append(Waiting(name, "not started: ingest was stopped", "尚未處理：匯入已停止"))
            elif path.exists():
                result = ingest_file(cfg, catalog, path, side, judged=judged)
                if settler is not None and isinstance(result, Waiting) and result.retry_after_s:
                    settler.defer(path, result.retry_after_s)
                results.append(result)
        inbox.forget(catalog, {files.display_name(p.name) for p in candidates if p.exists()})
    waiting += [r for r in results if isinstance(r, Waiting)]
    return IngestReport(accepted=tuple(r for r in results if isinstance(r, Accepted)),
                        rejected=tuple(r for r in results if isinstance(r, Rejected)),
                        duplicates=tuple(r for r in results if isinstance(r, Duplicate)),
                        waiting=tuple(sorted(waiting, key=lambda w: w.name)),
                        retry=tuple(r for r in results if isinstance(r, Retry)),
                        stopped=stopped)


def _lift(cfg: Config, catalog: Catalog) -> list[Waiting]:
    """Folders dropped into the inbox: their files move up to it (logged); what cannot
    move yet is reported as waiting."""
    lifted = files.lift_folders(cfg.inbox, keep_out=(cfg.library, cfg.rejected, cfg.build))
    for rel in lifted.moved:
        catalog.log("ingest", "info", files.display_name(rel), "moved out of its folder to the top of the inbox")
    waiting = [Waiting(files.display_name(rel), "the inbox has a file of the same name already: rename one of them",
                       "收件匣裡已有同名檔案：請把其中一個改名") for rel in lifted.clashes]
    waiting += [Waiting(files.display_name(rel), "temporary name: still being copied or downloaded",
                        "暫存檔名：仍在複製或下載中", routine=True) for rel in lifted.temporary]
    return waiting


def _original_path(cfg: Config, sha256: str, name: str) -> Path:
    return cfg.library / "originals" / sha256[:2] / f"{sha256}{files.library_extension(name)}"


def ingest_file(cfg: Config, catalog: Catalog, path: Path, sidecar: Path | None = None,
                judged: dict[str, compute.Analysis] | None = None
                ) -> Accepted | Rejected | Duplicate | Waiting | Retry:
    """Take one complete inbox file and its sidecar (call with the ingest lock held).
    ``judged``: analyses already made on a cluster, by sha256 (:func:`pipeline.compute.analyses`)."""
    name = files.display_name(path.name)
    seen = files.snapshot(path)
    side_seen = files.snapshot(sidecar) if sidecar is not None else None
    sha = None
    try:
        if seen is None:
            return Waiting(name, "gone before it could be read", "讀取前已被移走")
        if seen.size == 0:
            raise InputRejected("the file is empty (0 bytes)", message_zh="檔案是空的（0 位元組）",
                                fix="copy the recording again; the copy may have failed",
                                fix_zh="請重新複製錄音檔，可能複製失敗了")
        sha = files.sha256_file(path)
        journal.crash_point("after-hash")
        if files.snapshot(path) != seen:
            return Waiting(name, "changed while being read", "讀取時檔案有變動")
        if catalog.has_source(sha):
            return journal.remove_duplicate(cfg, catalog, path, sidecar, sha, name)
        side_meta, side_notes = _sidecar_meta(sidecar)
        findings, curve = judged[sha].get() if judged and sha in judged else judge(cfg, path)
        meta = metadata.merge(side_meta, metadata.from_name(name), metadata.from_tags(tags.read_tags(path)))
        _require_codes(meta)
    except Truncated as exc:
        reject_at = (max(seen.mtime_ns, seen.ctime_ns) / 1e9 if seen else time.time()) + cfg.ingest.incomplete_wait_s
        if seen is not None and time.time() < reject_at:
            inbox.record_incomplete(catalog, name, seen, exc.message, reject_at)
            return inbox.incomplete(cfg, name, exc.message, reject_at)
        return journal.reject(cfg, catalog, path, sidecar, exc, sha, name, seen, side_seen)
    except InputRejected as exc:
        return journal.reject(cfg, catalog, path, sidecar, exc, sha, name, seen, side_seen)
    except ToolInterrupted as exc:
        return Retry(name, f"{exc.message}; it will be tried again")
    except OSError as exc:
        return Retry(name, f"could not read it ({exc.strerror or exc}); it will be tried again")
    return _accept(cfg, catalog, path, sidecar, sha, name, meta, findings, side_notes, seen, side_seen, curve)


def _sidecar_meta(sidecar: Path | None) -> tuple[LessonMeta, tuple[quality.Reason, ...]]:
    if sidecar is None:
        return LessonMeta(), ()
    sname = files.display_name(sidecar.name)
    data, note = metadata.decode_sidecar(sidecar.read_bytes(), sname)
    meta = metadata.from_sidecar(data, sname)
    if note is None:
        return meta, ()
    return meta, (quality.Reason("sidecar-encoding", f"sidecar {sname} {note}; please save it as UTF-8",
                                 f"說明檔 {sname} 不是 UTF-8 編碼（已自動辨識），請改存為 UTF-8"),)


def _require_codes(meta: LessonMeta) -> None:
    missing = [k for k in ("category", "dialect") if not getattr(meta, k)]
    if not missing:
        return
    what = " and ".join(missing)
    raise InputRejected(
        f"no {what} given by sidecar, file name or tags",
        message_zh=f"說明檔、檔名和標籤都沒有提供{'類別' if 'category' in missing else ''}"
                   f"{'和' if len(missing) == 2 else ''}{'方言' if 'dialect' in missing else ''}",
        fix="name the file <category>_<dialect>_<title>[_<speaker>] "
            "(e.g. 黨性教育_福州話_牢記初心使命_林老師.mp3) or add a <name>.json sidecar",
        fix_zh="請將檔名改為「類別_方言_標題_講師」（例如 黨性教育_福州話_牢記初心使命_林老師.mp3），"
               "或附上同名 .json 說明檔")


def _lesson(catalog: Catalog, name: str, sha: str, meta: LessonMeta, duration_s: float) -> Lesson:
    """The lesson row; call inside the catalog transaction (the version number is taken there)."""
    lesson_id = meta.lesson_id or f"L-{sha[:12]}"
    title = metadata.one_line(meta.title) or metadata.one_line(files.audio_stem(name)) or name
    return Lesson(lesson_id=lesson_id, version=catalog.next_version(lesson_id), source_sha256=sha,
                  title=title, category=meta.category or "", dialect=meta.dialect or "",
                  duration_s=duration_s, speaker=metadata.one_line(meta.speaker) or "",
                  series=metadata.one_line(meta.series) or "", episode=meta.episode,
                  recorded_on=meta.recorded_on, valid_from=meta.valid_from, valid_until=meta.valid_until,
                  audiences=meta.audiences, description=(meta.description or "").strip(),
                  evergreen=bool(meta.evergreen), original_name=name, ingested_at=now_iso())


def _accept(cfg: Config, catalog: Catalog, path: Path, sidecar: Path | None, sha: str, name: str,
            meta: LessonMeta, findings: Findings, notes: tuple[quality.Reason, ...],
            seen: files.Snapshot, side_seen: files.Snapshot | None, curve=None) -> Accepted | Duplicate | Waiting | Retry:
    dest = _original_path(cfg, sha, path.name)
    try:
        side_sha = files.sha256_file(sidecar) if sidecar is not None else None
        files.store_verified(path, dest, sha)
        if sidecar is not None and side_sha is not None:
            files.store_verified(sidecar, cfg.library / "sidecars" / f"{sha}.json", side_sha)
    except OSError as exc:
        return Retry(name, f"could not store it in the library ({exc}); it stays in the inbox")
    journal.crash_point("after-copy")
    if files.snapshot(path) != seen or (sidecar is not None and files.snapshot(sidecar) != side_seen):
        return Waiting(name, "changed while being ingested", "匯入時檔案有變動")
    if notes:
        findings = _with_reasons(findings, notes)
    with catalog.transaction():
        if catalog.has_source(sha):  # another process took the same bytes meanwhile
            lesson = None
        else:
            lesson = _lesson(catalog, name, sha, meta, findings.duration_s)
            catalog.add_source(sha, str(dest.relative_to(cfg.library)), seen.size, name, "lesson",
                               _probe_dict(findings), findings.as_dict())
            catalog.add_lesson(lesson, findings.warnings)
            curves.store(catalog, sha, "source", curve)  # for the report's pictures (issue 14)
            catalog.log("ingest", "warning" if findings.warnings else "info", name,
                        f"accepted as {lesson.lesson_id} v{lesson.version}"
                        + (f" with warnings: {'; '.join(findings.warnings)}" if findings.warnings else ""))
            intent = catalog.add_intent("clear", name, sha, journal.clear_detail(cfg, path, sidecar, side_sha))
    if lesson is None:
        return journal.remove_duplicate(cfg, catalog, path, sidecar, sha, name)
    journal.crash_point("after-commit")
    journal.clear_inbox(cfg, path, sidecar, sha, side_sha)
    catalog.drop_intent(intent)
    return Accepted(name=name, lesson_id=lesson.lesson_id, version=lesson.version, title=lesson.title,
                    category=lesson.category, dialect=lesson.dialect, duration_s=lesson.duration_s,
                    warnings=findings.warnings, supersedes=lesson.version - 1 if lesson.version > 1 else None)


def _probe_dict(f: Findings) -> dict:
    return {"format_name": f.format_name, "codec": f.codec, "sample_rate": f.sample_rate,
            "channels": f.channels, "header_duration_s": f.header_duration_s, "bit_rate": f.bit_rate}


def _with_reasons(f: Findings, extra: tuple[quality.Reason, ...]) -> Findings:
    reasons = f.reasons + extra
    return replace(f, reasons=reasons, warnings=tuple(r.text() for r in reasons),
                   verdict="warn" if reasons else f.verdict)


sidecar_for = files.sidecar_for

__all__ = ["ingest_pass", "ingest_file", "inbox_candidates", "sidecar_for", "IngestReport", "Accepted",
           "Rejected", "Duplicate", "Waiting", "Retry", "reason_text", "ingest_lock"]
