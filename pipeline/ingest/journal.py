"""The file work that follows an ingest decision, journaled so a crash never loses or
half-moves a file: clearing the inbox after an accept, removing a duplicate, moving a
rejected file with its reason note, and replaying what a killed run left unfinished.

A decision and its journal entry (``ingest_intents`` in the catalog) are committed in one
transaction; the file work follows and the entry is dropped when it is done. Every step
is safe to repeat. ``DANGKE_CRASH_AT=<point>`` in the environment kills the process
(SIGKILL) at that point, for the crash tests: ``after-hash``, ``after-copy``,
``after-commit``, ``after-clear-sidecar``, ``after-reject-record``, ``after-reason-note``,
``after-reject-move``.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

from ..catalog import Catalog
from ..config import Config
from ..errors import InputRejected
from . import files
from .report import Accepted, Duplicate, Rejected, Retry, Waiting

CRASH_ENV = "DANGKE_CRASH_AT"


def clear_detail(cfg: Config, path: Path, sidecar: Path | None, side_sha: str | None) -> dict:
    """What :func:`clear_inbox` needs to finish after a crash (journal detail)."""
    return {"path": path.name, "sidecar": sidecar.name if sidecar else None, "sidecar_sha256": side_sha,
            "inbox": str(cfg.inbox)}


def crash_point(name: str) -> None:
    """Die here, like ``kill -9``, when ``$DANGKE_CRASH_AT`` names this point (crash tests)."""
    if os.environ.get(CRASH_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def clear_inbox(cfg: Config, path: Path, sidecar: Path | None, sha: str, side_sha: str | None) -> None:
    """Remove an ingested file and its sidecar from the inbox, sidecar first (a lone
    recording left by a crash is recognised as a duplicate; a lone sidecar would wait).
    Only files that still hold the bytes that were stored are removed; a sidecar another
    recording of the same stem still needs stays."""
    if sidecar is not None and sidecar.exists() and side_sha and files.sha256_file(sidecar) == side_sha:
        others = [p for p in cfg.inbox.iterdir() if p != path and p != sidecar
                  and files.sidecar_for(p) == sidecar and not files.is_temporary(p.name)]
        if not others:
            sidecar.unlink()
            files.fsync_dir(sidecar.parent)
    crash_point("after-clear-sidecar")
    if path.exists() and files.sha256_file(path) == sha:
        path.unlink()
        files.fsync_dir(path.parent)


def remove_duplicate(cfg: Config, catalog: Catalog, path: Path, sidecar: Path | None, sha: str,
                     name: str) -> Duplicate:
    """Take an inbox file whose bytes (``sha``) the library holds already: make sure the
    library copy is sound, keep its sidecar (not applied), remove both from the inbox
    (sidecar first), and say which lesson it duplicates. Repeating it is harmless.

    Raises:
        OSError: the library copy could not be checked or repaired (nothing was removed).
    """
    src = catalog.source(sha)
    stored = cfg.library / src.path
    files.store_verified(path, stored, sha)  # repairs a missing or damaged library copy
    lesson = catalog.lesson_for_source(sha)
    lesson_id = lesson.lesson_id if lesson else "-"
    when = (lesson.ingested_at if lesson else src.added_at)[:10]
    note = (f"same bytes as {src.original_name} (already {lesson_id}"
            f"{f' v{lesson.version}' if lesson else ''}, ingested {when}); removed from the inbox")
    if sidecar is not None:
        side_sha = files.sha256_file(sidecar)
        archive = cfg.library / "sidecars" / f"{sha}-{side_sha[:16]}.json"
        files.store_verified(sidecar, archive, side_sha)
        note += f"; its sidecar was kept as library/sidecars/{archive.name} but not applied"
        sidecar.unlink(missing_ok=True)
    if path.exists() and files.sha256_file(path) == sha:
        path.unlink()
    files.fsync_dir(path.parent)
    catalog.log("ingest", "info", name, note)
    return Duplicate(name=name, lesson_id=lesson_id, note=note)


def reject(cfg: Config, catalog: Catalog, path: Path, sidecar: Path | None, exc: InputRejected,
           sha: str | None, name: str, seen: files.Snapshot | None,
           side_seen: files.Snapshot | None) -> Rejected | Waiting | Retry:
    """Move a file (and its sidecar) to ``rejected/`` with ``<name>.reason.txt`` (Chinese
    and English) beside it: recorded and journaled first, then done. A file that changed
    since it was judged (``seen``) is left for the next pass. A move that fails (a full
    or read-only disk) stays in the journal and is retried by every pass."""
    if files.snapshot(path) != seen or (sidecar is not None and files.snapshot(sidecar) != side_seen):
        return Waiting(name, "changed while being checked", "檢查時檔案有變動")
    dest = files.unique_path(cfg.rejected, path.name)
    side_dest = files.unique_path(cfg.rejected, sidecar.name, reserve="") if sidecar is not None else None
    note = reason_text(name, exc)
    detail = {"path": path.name, "dest": dest.name, "sidecar": sidecar.name if sidecar else None,
              "sidecar_dest": side_dest.name if side_dest else None, "note": note,
              "size": seen.size if seen else 0, "mtime_ns": seen.mtime_ns if seen else 0}
    with catalog.transaction():
        catalog.add_rejection(name, f"{exc.message} / {exc.message_zh}", sha)
        catalog.log("ingest", "error", name, f"rejected: {exc.message}")
        intent = catalog.add_intent("reject", name, sha, detail)
    crash_point("after-reject-record")
    try:
        _do_reject(cfg, detail)
    except OSError as err:  # the journal keeps the move; every pass retries it
        catalog.log("ingest", "error", name, f"could not move it to rejected/ yet: {err}")
        return Retry(name, f"rejected ({exc.message}), but it could not be moved to {cfg.rejected} ({err}); "
                           "it stays in the inbox and the move is retried by every ingest")
    catalog.drop_intent(intent)
    return Rejected(name=name, reason=exc.message, reason_zh=exc.message_zh, fix=exc.fix, fix_zh=exc.fix_zh,
                    note_name=files.display_name(dest.name) + ".reason.txt")


def _do_reject(cfg: Config, detail: dict) -> None:
    """Carry out a recorded rejection; safe to repeat after a crash at any step."""
    dest = cfg.rejected / detail["dest"]
    note = dest.with_name(dest.name + ".reason.txt")
    if not note.exists():
        files.write_text_durably(note, detail["note"])
    crash_point("after-reason-note")
    src = cfg.inbox / detail["path"]
    snap = files.snapshot(src)
    if snap is not None and not dest.exists() and (snap.size, snap.mtime_ns) == (detail["size"], detail["mtime_ns"]):
        files.move_to(src, dest)
    crash_point("after-reject-move")
    if detail.get("sidecar"):
        side, side_dest = cfg.inbox / detail["sidecar"], cfg.rejected / detail["sidecar_dest"]
        if side.exists() and not side_dest.exists():
            files.move_to(side, side_dest)


def replay(cfg: Config, catalog: Catalog) -> list[object]:
    """Finish the file work of a run that died after its decision was recorded."""
    done: list[object] = []
    for intent in catalog.intents():
        detail = intent.detail
        try:
            if intent.action == "reject":
                _do_reject(cfg, detail)
            elif intent.action == "clear":
                path = cfg.inbox / detail["path"]
                side = cfg.inbox / detail["sidecar"] if detail.get("sidecar") else None
                clear_inbox(cfg, path, side, intent.sha256, detail.get("sidecar_sha256"))
        except OSError as exc:  # kept in the journal for the next pass
            catalog.log("ingest", "error", intent.name, f"could not finish interrupted file work yet: {exc}")
            continue
        if intent.action == "reject":
            catalog.log("ingest", "info", intent.name, "finished a rejection interrupted earlier")
        elif intent.action == "clear":
            lesson = catalog.lesson_for_source(intent.sha256)
            if lesson is not None:
                done.append(Accepted(name=intent.name, lesson_id=lesson.lesson_id, version=lesson.version,
                                     title=lesson.title, category=lesson.category, dialect=lesson.dialect,
                                     duration_s=lesson.duration_s, resumed=True))
            catalog.log("ingest", "info", intent.name, "finished clearing the inbox after an interrupted run")
        catalog.drop_intent(intent.id)
    return done


def reason_text(name: str, exc: InputRejected) -> str:
    """The ``<name>.reason.txt`` an editor reads: Chinese first, then English."""
    return (f"檔案：{name}\n問題：{exc.message_zh}\n處理方法：{exc.fix_zh}\n\n"
            f"File: {name}\nProblem: {exc.message}\nWhat to do: {exc.fix}\n")
