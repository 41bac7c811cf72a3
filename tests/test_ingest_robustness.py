"""Nothing lost (issue 3 item 6) and `dangke watch` (item 1, BR-01, BR-02): ingest killed
with SIGKILL at every step and at random moments, two ingests at once, files still being
written or arriving by rename while the watcher runs, Ctrl-C."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pipeline.catalog import Catalog
from pipeline.config import load_config
from pipeline.watch import watch_inbox
from tests.inputs import HOT, QUIET, SPEECH, convert, station, wait_for

ROOT = Path(__file__).resolve().parent.parent


def dangke(cfg: Path, *args: str, env: dict | None = None, **kw) -> subprocess.Popen:
    """`dangke --config cfg ARGS` as a separate process (so it can be killed)."""
    return subprocess.Popen([sys.executable, "-m", "pipeline.cli", "--config", str(cfg), *args], cwd=ROOT,
                            env={**os.environ, **(env or {})}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **kw)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def drop_batch(inbox: Path, tmp: Path) -> tuple[dict[str, bytes], set[str]]:
    """Four recordings (two with sidecars) and a non-audio file with a sidecar; returns
    ``({name: bytes}, {names that must be rejected})``."""
    made = {
        "a_notes.mp3": None,
        "theory_cmn_first.mp3": convert(SPEECH, tmp / "1.mp3", "-c:a", "libmp3lame", "-b:a", "64k"),
        "policy_cmn_second.wav": convert(HOT, tmp / "2.wav"),
        "skills_cmn_third.flac": convert(QUIET, tmp / "3.flac"),
        "theory_cmn_fourth.m4a": convert(SPEECH, tmp / "4.m4a", "-c:a", "aac", "-b:a", "48k"),
    }
    data = {}
    for name, src in made.items():
        data[name] = src.read_bytes() if src else "會議記錄\n".encode() * 50
        (inbox / name).write_bytes(data[name])
    for name in ("a_notes.mp3", "theory_cmn_first.mp3"):
        side = {"title": f"說明檔 {name}", "category": "theory", "dialect": "cdo"}
        (inbox / (name.rpartition(".")[0] + ".json")).write_text(json.dumps(side, ensure_ascii=False), encoding="utf-8")
    return data, {"a_notes.mp3"}


def assert_nothing_lost(root: Path, dropped: dict[str, bytes], rejected: set[str]) -> None:
    """Every dropped file is exactly once in the library and catalog, or in rejected/ with
    its note; the inbox is empty; no journal entries or temp files remain."""
    db = sqlite3.connect(str(root / "library" / "catalog.sqlite"))
    db.row_factory = sqlite3.Row
    lessons = db.execute("SELECT * FROM lessons").fetchall()
    sources = {r["sha256"]: r for r in db.execute("SELECT * FROM sources")}
    assert sorted(p.name for p in (root / "inbox").iterdir()) == []
    assert db.execute("SELECT COUNT(*) FROM ingest_intents").fetchone()[0] == 0
    assert not list((root / "library").rglob("*.tmp"))
    assert len(lessons) == len(dropped) - len(rejected)
    for name, data in dropped.items():
        if name in rejected:
            assert (root / "rejected" / name).read_bytes() == data
            assert (root / "rejected" / (name + ".reason.txt")).is_file()
            continue
        digest = sha(data)
        assert digest in sources, name
        assert hashlib.sha256((root / "library" / sources[digest]["path"]).read_bytes()).hexdigest() == digest
        assert [r["original_name"] for r in lessons if r["source_sha256"] == digest] == [name]
    assert sorted(p.name for p in (root / "rejected").iterdir()) == sorted(
        [n for n in rejected] + [n + ".reason.txt" for n in rejected] + ["a_notes.json"])
    names = [r["name"] for r in db.execute("SELECT name FROM rejections")]
    assert sorted(names) == sorted(rejected)


CRASH_POINTS = ["after-hash", "after-copy", "after-commit", "after-clear-sidecar", "after-reject-record",
                "after-reason-note", "after-reject-move"]


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_a_kill_at_any_step_then_a_clean_run_loses_and_duplicates_nothing(tmp_path, point):
    cfg = station(tmp_path / "station")
    dropped, rejected = drop_batch(tmp_path / "station" / "inbox", tmp_path)
    crashed = dangke(cfg, "ingest", env={"DANGKE_CRASH_AT": point})
    crashed.communicate(timeout=300)
    assert crashed.returncode == -signal.SIGKILL
    again = dangke(cfg, "ingest")
    out, err = again.communicate(timeout=300)
    assert again.returncode in (0, 1), err
    assert_nothing_lost(tmp_path / "station", dropped, rejected)
    if point in ("after-commit", "after-clear-sidecar"):
        assert "finished after an interrupted run" in out


@pytest.mark.parametrize("after_s", [0.6, 1.2, 2.0, 3.0])
def test_kill_9_at_random_moments_then_a_clean_run_loses_nothing(tmp_path, after_s):
    cfg = station(tmp_path / "station")
    dropped, rejected = drop_batch(tmp_path / "station" / "inbox", tmp_path)
    victim = dangke(cfg, "ingest")
    time.sleep(after_s)
    victim.kill()
    victim.communicate(timeout=60)
    again = dangke(cfg, "ingest")
    _, err = again.communicate(timeout=300)
    assert again.returncode in (0, 1), err
    assert_nothing_lost(tmp_path / "station", dropped, rejected)


def test_ctrl_c_during_ingest_finishes_the_current_file_and_rejects_nothing_good(tmp_path):
    """The terminal sends SIGINT to the whole process group: ffmpeg must not die with it
    (a decode cut short would look like a broken file)."""
    cfg = station(tmp_path / "station")
    dropped, rejected = drop_batch(tmp_path / "station" / "inbox", tmp_path)
    proc = dangke(cfg, "ingest", start_new_session=True)
    originals = tmp_path / "station" / "library" / "originals"
    assert wait_for(lambda: originals.is_dir() and any(originals.rglob("*")), 120, step_s=0.02)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=300)
    assert "stopping ingest after the current file" in err and "(stopped early)" in out
    assert not (set(p.name for p in (tmp_path / "station" / "rejected").iterdir()) - {
        "a_notes.mp3", "a_notes.mp3.reason.txt", "a_notes.json"})
    again = dangke(cfg, "ingest")
    again.communicate(timeout=300)
    assert_nothing_lost(tmp_path / "station", dropped, rejected)


def test_two_ingests_of_the_same_inbox_at_once(tmp_path):
    cfg = station(tmp_path / "station")
    dropped, rejected = drop_batch(tmp_path / "station" / "inbox", tmp_path)
    procs = [dangke(cfg, "ingest") for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode in (0, 1) for p in procs), outs
    assert_nothing_lost(tmp_path / "station", dropped, rejected)
    accepted = sum(out.count("accepted  ") for out, _ in outs)
    assert accepted == len(dropped) - len(rejected)


def test_a_rejection_that_cannot_be_moved_stays_journaled_until_it_can(tmp_path, capsys):
    from tests.conftest import run_cli
    cfg = station(tmp_path / "station")
    root = tmp_path / "station"
    (root / "rejected").rmdir()
    (root / "rejected").write_text("in the way")  # rejected/ cannot be created
    (root / "inbox" / "theory_cmn_bad.mp3").write_bytes(b"not audio")
    assert run_cli("--config", cfg, "ingest") == 1
    assert "could not be moved" in capsys.readouterr().err
    assert (root / "inbox" / "theory_cmn_bad.mp3").exists()
    assert run_cli("--config", cfg, "ingest") == 1  # still failing, but not judged twice
    assert "move out of the inbox failed" in capsys.readouterr().err
    (root / "rejected").unlink()
    assert run_cli("--config", cfg, "ingest") == 0
    assert (root / "rejected" / "theory_cmn_bad.mp3").read_bytes() == b"not audio"
    assert (root / "rejected" / "theory_cmn_bad.mp3.reason.txt").is_file()
    assert not any((root / "inbox").iterdir())
    db = sqlite3.connect(str(root / "library" / "catalog.sqlite"))
    assert db.execute("SELECT COUNT(*) FROM rejections").fetchone()[0] == 1
    assert db.execute("SELECT COUNT(*) FROM ingest_intents").fetchone()[0] == 0


# --- the watcher --------------------------------------------------------------------------------

def lessons(root: Path) -> list[sqlite3.Row]:
    path = root / "library" / "catalog.sqlite"
    if not path.exists():
        return []
    db = sqlite3.connect(str(path))
    db.row_factory = sqlite3.Row
    return db.execute("SELECT * FROM lessons").fetchall()


@pytest.fixture
def watched(tmp_path):
    """A `dangke watch` process on a station with a 1 s settle time; stopped with Ctrl-C."""
    cfg = station(tmp_path / "station", settle_s=1.0, poll_s=0.5)
    proc = dangke(cfg, "watch", start_new_session=True)
    assert wait_for(lambda: (tmp_path / "station" / "library" / "catalog.sqlite").exists(), 30)
    yield tmp_path / "station", proc
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


def test_a_file_still_being_written_is_taken_only_when_complete(watched, tmp_path):
    """BR-01: the copy pauses longer than the settle time while the file is still open."""
    root, _proc = watched
    data = convert(HOT, tmp_path / "long.mp3", "-c:a", "libmp3lame", "-b:a", "64k").read_bytes()
    with open(root / "inbox" / "theory_cmn_copying.mp3", "wb") as f:
        step = len(data) // 4
        for i in range(4):
            f.write(data[i * step:(i + 1) * step if i < 3 else None])
            f.flush()
            time.sleep(1.6)  # longer than settle_s: only "open for writing" keeps it waiting
            assert not lessons(root) and not any((root / "rejected").iterdir())
    assert wait_for(lambda: len(lessons(root)) == 1, 60)
    assert lessons(root)[0]["duration_s"] == pytest.approx(25.0, abs=0.1)


def test_files_arriving_by_rename_or_temp_names_are_each_ingested_once(watched, tmp_path):
    """BR-02 (deliver.sh): hidden temp then rename, a slow writer, a .part download renamed."""
    root, _proc = watched
    inbox = root / "inbox"
    payloads = [convert(SPEECH, tmp_path / f"p{i}.mp3", "-c:a", "libmp3lame", "-b:a", f"{b}k").read_bytes()
                for i, b in enumerate((48, 64, 80))]
    (inbox / ".theory_cmn_a.mp3.XXXXXX").write_bytes(payloads[0])
    os.rename(inbox / ".theory_cmn_a.mp3.XXXXXX", inbox / "theory_cmn_a.mp3")
    with open(inbox / "theory_cmn_b.mp3", "wb") as f:
        for i in range(0, len(payloads[1]), 16384):
            f.write(payloads[1][i:i + 16384])
            f.flush()
            time.sleep(0.05)
    (inbox / "theory_cmn_c.mp3.part").write_bytes(payloads[2][:1000])
    time.sleep(1.5)
    with open(inbox / "theory_cmn_c.mp3.part", "ab") as f:
        f.write(payloads[2][1000:])
    os.rename(inbox / "theory_cmn_c.mp3.part", inbox / "theory_cmn_c.mp3")
    assert wait_for(lambda: len(lessons(root)) == 3 and not any(inbox.iterdir()), 60)
    time.sleep(1.0)
    rows = lessons(root)
    assert sorted(r["original_name"] for r in rows) == ["theory_cmn_a.mp3", "theory_cmn_b.mp3", "theory_cmn_c.mp3"]
    assert not any((root / "rejected").iterdir())


def test_ctrl_c_stops_the_watcher_cleanly(watched, tmp_path):
    root, proc = watched
    convert(HOT, root / "inbox" / "theory_cmn_last.flac")
    assert wait_for(lambda: not (root / "inbox" / "theory_cmn_last.flac").exists()
                    or len(lessons(root)) == 1, 60)
    proc.send_signal(signal.SIGINT)
    out, _err = proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert out.rstrip().endswith("stopped")
    assert len(lessons(root)) == 1 and not any((root / "inbox").iterdir())


@pytest.fixture
def event_watcher(tmp_path):
    """A `dangke watch` that scans only every 120 s: what it takes sooner, file events
    brought it. Yields the station folder; stopped with Ctrl-C."""
    cfg = station(tmp_path / "station", settle_s=0.3)
    proc = dangke(cfg, "watch", "--poll", "120", start_new_session=True)
    try:
        root = tmp_path / "station"
        assert wait_for(lambda: (root / "library" / "catalog.sqlite").exists(), 30)
        time.sleep(1.0)
        yield root
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)


def test_renames_into_the_inbox_wake_the_watcher_without_waiting_for_a_scan(event_watcher, tmp_path):
    """File events (moved-to included) trigger ingest long before the next scan."""
    root = event_watcher
    outside = convert(SPEECH, tmp_path / "theory_cmn_moved.wav")
    os.rename(outside, root / "inbox" / outside.name)
    assert wait_for(lambda: len(lessons(root)) == 1, 30)


def test_scanning_alone_finds_files_where_no_events_arrive(tmp_path):
    """The polling fallback for network shares: no watchdog observer at all."""
    cfg = load_config(station(tmp_path / "station", settle_s=0.3))
    stop = threading.Event()
    reports = []
    def run() -> None:
        with Catalog(cfg.library / "catalog.sqlite") as own:
            watch_inbox(cfg, own, poll_s=0.3, on_report=reports.append, stop=stop, use_events=False)

    with Catalog(cfg.library / "catalog.sqlite") as cat:
        worker = threading.Thread(target=run)
        worker.start()
        try:
            convert(SPEECH, cfg.inbox / "theory_cmn_polled.wav")
            assert wait_for(lambda: len(cat.lessons()) == 1, 30)
        finally:
            stop.set()
            worker.join(timeout=30)
    assert not worker.is_alive()
    assert [a.name for r in reports for a in r.accepted] == ["theory_cmn_polled.wav"]


def test_a_folder_dropped_into_the_inbox_is_ingested_like_loose_files(tmp_path):
    """Editors copy whole folders from a phone or recorder (with subfolders): their files
    are taken like loose ones, sidecars included; a name the inbox has already, a file
    still being downloaded and file-manager litter stay where they are and are reported
    (the first two) or ignored; emptied folders go."""
    root = tmp_path / "station"
    cfg = station(root)
    inbox = root / "inbox"
    batch = inbox / "錄音 2026-11" / "第二批"
    batch.mkdir(parents=True)
    a = convert(SPEECH, inbox / "錄音 2026-11" / "theory_cmn_folder-one.mp3", "-c:a", "libmp3lame", "-b:a", "64k")
    b = convert(HOT, batch / "clip.wav")
    (batch / "clip.json").write_text(json.dumps({"title": "資料夾裡的課", "category": "黨性教育", "dialect": "cmn"},
                                                ensure_ascii=False), encoding="utf-8")
    clash = convert(QUIET, inbox / "skills_cmn_same.flac")
    twin = convert(SPEECH, inbox / "錄音 2026-11" / "skills_cmn_same.flac")
    (inbox / "錄音 2026-11" / "theory_cmn_late.mp3.part").write_bytes(b"partial")
    (batch / "Thumbs.db").write_bytes(b"litter")
    sums = {p.name: sha(p.read_bytes()) for p in (a, b, clash)}
    twin_sum = sha(twin.read_bytes())
    status = dangke(cfg, "status")
    assert "folder 錄音 2026-11/: its files are moved up" in status.communicate(timeout=120)[0]
    proc = dangke(cfg, "ingest")
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    rows = {r["original_name"]: r for r in lessons(root)}
    assert set(rows) == set(sums)
    assert rows["clip.wav"]["title"] == "資料夾裡的課" and rows["clip.wav"]["category"] == "party-spirit"
    assert {r["source_sha256"] for r in rows.values()} == set(sums.values())
    assert "錄音 2026-11/skills_cmn_same.flac" in out and "same name" in out
    assert sha((inbox / "錄音 2026-11" / "skills_cmn_same.flac").read_bytes()) == twin_sum  # kept, untouched
    assert (inbox / "錄音 2026-11" / "theory_cmn_late.mp3.part").exists()
    assert (batch / "Thumbs.db").exists()
    assert not any((root / "rejected").iterdir())


def test_a_folder_copied_in_wakes_the_watcher(event_watcher):
    """File events in subfolders count too (the observer is recursive)."""
    root = event_watcher
    folder = root / "inbox" / "from-phone"
    folder.mkdir()
    time.sleep(0.5)
    convert(SPEECH, folder / "theory_cmn_in-folder.wav")
    assert wait_for(lambda: len(lessons(root)) == 1, 30)
    assert wait_for(lambda: not folder.exists(), 10)


def test_a_file_still_being_written_in_a_folder_is_taken_only_when_complete(watched, tmp_path):
    """BR-01 inside a dropped folder: the file moves up while open, and still waits."""
    root, _proc = watched
    data = convert(HOT, tmp_path / "long.mp3", "-c:a", "libmp3lame", "-b:a", "64k").read_bytes()
    folder = root / "inbox" / "copying"
    folder.mkdir()
    with open(folder / "theory_cmn_copying.mp3", "wb") as f:
        step = len(data) // 3
        for i in range(3):
            f.write(data[i * step:(i + 1) * step if i < 2 else None])
            f.flush()
            time.sleep(1.6)  # longer than settle_s
            assert not lessons(root) and not any((root / "rejected").iterdir())
    assert wait_for(lambda: len(lessons(root)) == 1, 60)
    assert lessons(root)[0]["duration_s"] == pytest.approx(25.0, abs=0.1)
