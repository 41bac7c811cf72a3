"""`dangke gc` (issue 12): the library keeps what kept generations, kept quarters, pending
schedules, feeds and current encodes need, and nothing else; originals are never removed;
an interrupted gc leaves a consistent library that the next gc completes.

The station is the shipped example with short slots, `keep_quarters = 1`,
`keep_generations = 2` and broadcast feeds of the last 7 days; it broadcasts the last
days of 2026 Q3 and the first of Q4 (days in the past, so only the kept quarter holds
them), publishing as it goes, like a station on air.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.models import Rendition
from pipeline.retention import Needs, kind, orphans, select
from tests.conftest import drop, make_station, run_cli, set_publish

ROOT = Path(__file__).resolve().parent.parent
Q3_DAYS, Q4_DAYS = ("2026-09-29", 2), ("2026-10-02", 2)


def _station(root: Path) -> Path:
    cfg = make_station(root, {"900": 20, "300": 15, "1200": 20, "600": 15})
    set_publish(cfg, target="file://public", keep_generations=2, keep_quarters=1)
    text = cfg.read_text(encoding="utf-8").replace("broadcast_days = 0 ", "broadcast_days = 7 ")
    cfg.write_text(text, encoding="utf-8")
    assert "broadcast_days = 7" in text
    return cfg


def _rows(root: Path, sql: str, *args) -> list[sqlite3.Row]:
    db = sqlite3.connect(str(root / "library" / "catalog.sqlite"))
    db.row_factory = sqlite3.Row
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def _files(root: Path, top: str) -> dict[str, int]:
    base = root / "library"
    return {p.relative_to(base).as_posix(): p.stat().st_size for p in (base / top).rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """Two Q3 days published; a new lesson, two Q4 days published (so they air other
    lessons); another new lesson published: three generations."""
    root = tmp_path_factory.mktemp("gc") / "station"
    cfg = _station(root)
    drop(root / "inbox", "zh-cmn_aishell_01.wav", "theory_cmn_理論學習.wav")
    drop(root / "inbox", "zh-cmn_paddlespeech_01.wav", "party-spirit_cmn_健康生活.wav")
    for (first, days), new in ((Q3_DAYS, None), (Q4_DAYS, ("nan_ithuan_01.wav", "theory_cmn_新課.wav")),
                               ((None, 0), ("zh-cmn_funasr_02_asr-example.mp3", "theory_cmn_又一課.mp3"))):
        if new:
            drop(root / "inbox", *new)
        assert run_cli("--config", cfg, "ingest") == 0
        assert run_cli("--config", cfg, "encode") == 0
        if first:
            assert run_cli("--config", cfg, "schedule", "--date", first, "--days", days) == 0
        assert run_cli("--config", cfg, "publish") == 0
    assert len(_rows(root, "SELECT * FROM publish_generations")) == 3, "each publish is a new generation"
    return root


@pytest.fixture()
def aired(template, tmp_path) -> dict:
    """A copy of the template station for one test (its store, a folder, is copied with it)."""
    root = tmp_path / "station"
    shutil.copytree(template, root, symlinks=True)
    return {"root": root, "cfg": root / "dangke.toml", "originals": _files(root, "originals")}


def _slot_files(root: Path, pattern: str) -> set[str]:
    """The whole-slot files of the staged days matching ``pattern``."""
    import json
    keys = set()
    for p in (root / "build" / "broadcast").glob(f"*/{pattern}.json"):
        doc = json.loads(p.read_text(encoding="utf-8"))
        keys |= {s["sha256"] for s in doc["slots"] if s.get("sha256")}
    return {r["path"] for r in _rows(root, "SELECT * FROM renditions") if r["sha256"] in keys}


def test_gc_dry_run_lists_and_changes_nothing_then_yes_reclaims(aired, capsys):
    root, cfg = aired["root"], aired["cfg"]
    before = _files(root, "renditions")
    q3, q4 = _slot_files(root, "2026-09-*"), _slot_files(root, "2026-10-*")
    assert q3 - q4 and q3 <= set(before)
    assert run_cli("--config", cfg, "gc") == 0
    out = capsys.readouterr().out
    assert "would remove" in out and "slot file(s)" in out and "originals are never removed" in out
    assert _files(root, "renditions") == before

    assert run_cli("--config", cfg, "gc", "--yes") == 0
    out = capsys.readouterr().out
    after = _files(root, "renditions")
    gone = set(before) - set(after)
    reclaimed = sum(before[p] for p in gone)
    assert f"{reclaimed} bytes" in out
    assert q3 - q4 <= gone                              # the days of the dropped quarter...
    assert q4 <= set(after)                             # ...but not those of the kept one
    assert _files(root, "originals") == aired["originals"]
    # the catalog records every removal, and no row points at a missing file
    removed = {r["path"] for r in _rows(root, "SELECT * FROM gc_removed")}
    assert removed == gone
    assert all((root / "library" / r["path"]).is_file() for r in _rows(root, "SELECT * FROM renditions"))
    # what the station still needs is all there: publishing (with a full check of the
    # store), encoding and the schedule of a kept day work and make nothing new
    assert run_cli("--config", cfg, "publish", "--verify") == 0
    assert run_cli("--config", cfg, "encode") == 0
    assert "0 rendition(s) made" in capsys.readouterr().out
    assert _files(root, "renditions") == after
    # a second gc finds nothing more
    assert run_cli("--config", cfg, "gc") == 0
    assert "would remove 0 file(s)" in capsys.readouterr().out


def test_status_shows_disk_use_by_kind(aired, capsys):
    assert run_cli("--config", aired["cfg"], "status") == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("disk:"))
    assert "originals" in line and "renditions" in line and "slot files" in line and "fillers" in line


@pytest.mark.parametrize("point", ["gc-after-catalog", "gc-after-first-unlink"])
def test_an_interrupted_gc_leaves_a_consistent_library_that_the_next_gc_completes(aired, point, capsys):
    root, cfg = aired["root"], aired["cfg"]
    before = _files(root, "renditions")
    proc = subprocess.run([sys.executable, "-m", "pipeline.cli", "--config", str(cfg), "gc", "--yes"], cwd=ROOT,
                          env={**os.environ, "DANGKE_CRASH_AT": point}, capture_output=True, text=True, timeout=300)
    assert proc.returncode == -9
    # consistent: every rendition the catalog knows has its file; publishing works
    assert all((root / "library" / r["path"]).is_file() for r in _rows(root, "SELECT * FROM renditions"))
    assert run_cli("--config", cfg, "publish", "--verify") == 0
    assert run_cli("--config", cfg, "gc", "--yes") == 0
    assert "finished" in capsys.readouterr().out
    after = _files(root, "renditions")
    assert {r["path"] for r in _rows(root, "SELECT * FROM gc_removed")} == set(before) - set(after)
    assert not (_slot_files(root, "2026-09-*") - _slot_files(root, "2026-10-*"))
    assert _files(root, "originals") == aired["originals"]
    assert run_cli("--config", cfg, "gc") == 0
    assert "would remove 0 file(s)" in capsys.readouterr().out


def _r(key: str, path: str, profile: str = "broadcast", ph: str = "h1", size: int = 10) -> Rendition:
    return Rendition(source_sha256=key, profile=profile, profile_hash=ph, path=path, sha256=path.replace("/", ""),
                     bytes=size, duration_s=1.0, extension="wav", integrated_lufs=-24.0, true_peak_dbtp=-2.0,
                     gain_db=0.0)


def test_selection_keeps_what_any_need_names():
    lesson, old_profile = _r("aa", "renditions/broadcast/aa-h1.wav"), _r("aa", "renditions/broadcast/aa-h0.wav", ph="h0")
    slot_kept, slot_old = _r("slot+1", "renditions/broadcast/s1.wav"), _r("slot+2", "renditions/broadcast/s2.wav")
    filler = _r("bb+filler-1500", "renditions/broadcast/f.wav")
    needs = Needs(published=frozenset({slot_kept.key}), current=frozenset({("aa", "broadcast", "h1")}))
    got = select([lesson, old_profile, slot_kept, slot_old, filler], needs)
    assert set(got.keep) == {lesson, slot_kept}
    assert set(got.remove) == {old_profile, slot_old, filler}
    assert got.reclaimed_bytes == 30
    assert [kind(r) for r in (lesson, slot_old, filler, _r("cc+asset", "x"))] == ["lesson", "slot", "filler", "asset"]


def test_orphans_are_files_without_rows_but_never_temporary_names():
    assert orphans(["renditions/a.wav", "renditions/.x.tmp.wav", "renditions/b.wav"], ["renditions/a.wav"]) == \
        ["renditions/b.wav"]


def test_library_section_is_read_and_checked(tmp_path):
    from pipeline.config import load_config
    from pipeline.errors import ConfigError

    cfg = make_station(tmp_path / "st")
    assert load_config(cfg).library_gc.gc_after_run is False     # the shipped station
    text = cfg.read_text(encoding="utf-8")
    cfg.write_text(text.replace("gc_after_run = false", "gc_after_run = true"), encoding="utf-8")
    assert load_config(cfg).library_gc.gc_after_run is True
    cfg.write_text(text.replace("gc_after_run = false", "gc_after_runs = true"), encoding="utf-8")
    with pytest.raises(ConfigError, match="gc_after_runs"):
        load_config(cfg)


def test_run_ends_with_gc_when_the_station_asks_for_it(aired, capsys):
    root, cfg = aired["root"], aired["cfg"]
    text = cfg.read_text(encoding="utf-8")
    cfg.write_text(text.replace("gc_after_run = false", "gc_after_run = true"), encoding="utf-8")
    before = _files(root, "renditions")
    assert run_cli("--config", cfg, "run", "--date", "2026-10-05", "--days", "1") == 0
    out = capsys.readouterr().out
    assert "gc: removed" in out
    gone = set(before) - set(_files(root, "renditions"))
    removed = {r["path"] for r in _rows(root, "SELECT * FROM gc_removed")}
    assert gone and gone <= removed and not any((root / "library" / p).exists() for p in removed)
    assert _files(root, "originals") == aired["originals"]
