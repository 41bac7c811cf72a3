"""Publishing to the embedded folder store (``file://``): the same generations, ledger,
retention and checks as S3 (issue 7)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from pipeline.catalog import Catalog
from pipeline.config import load_config
from pipeline.publish import Progress, publish
from tests.conftest import run_cli, set_publish


@pytest.fixture
def station(publish_template, tmp_path) -> Path:
    """A copy of the publishing template with a fresh folder store."""
    root = tmp_path / "station"
    shutil.copytree(publish_template, root)
    shutil.rmtree(root / "public")
    with Catalog(root / "library" / "catalog.sqlite") as cat:  # forget the template's folder store
        cat.db.execute("DELETE FROM publish_ledger")
        cat.db.execute("DELETE FROM publish_generations")
        cat.db.execute("DELETE FROM publish_files")
    return root / "dangke.toml"


def _index(cfg: Path) -> dict:
    return json.loads((cfg.parent / "public" / "index.json").read_text(encoding="utf-8"))


def _files(store: Path) -> set[str]:
    return {p.relative_to(store).as_posix() for p in store.rglob("*") if p.is_file()}


def test_progress_events_follow_the_phases_and_add_up(station):
    cfg = load_config(station)
    events: list[Progress] = []
    with Catalog(cfg.library / "catalog.sqlite") as cat:
        report = publish(cfg, cat, progress=events.append)
    assert [e.phase for e in events] == sorted((e.phase for e in events),
                                               key=["audio", "documents", "feeds", "index"].index)
    assert events[-1].phase == "index" and events[-1].key == "index.json"
    assert events[-1].done == events[-1].total == len(report.uploads)
    assert events[-1].bytes_done == events[-1].bytes_total == report.uploaded_bytes
    assert [e.done for e in events] == list(range(1, len(events) + 1))


def test_the_cli_shows_no_progress_bar_when_not_on_a_terminal(station, capfd):
    assert run_cli("--config", station, "publish") == 0
    out, err = capfd.readouterr()
    assert err == "" and "publish: generation 1" in out


def test_dry_run_writes_nothing_and_a_second_publish_nothing_new(station, capsys):
    assert run_cli("--config", station, "publish", "--dry-run") == 0
    assert not (station.parent / "public").exists()
    out = capsys.readouterr().out
    planned = [line.split()[2] for line in out.splitlines() if line.startswith("would upload ")]
    assert run_cli("--config", station, "publish") == 0
    store = station.parent / "public"
    assert set(planned) == _files(store)
    before = {p: p.stat().st_mtime_ns for p in store.rglob("*")}
    capsys.readouterr()
    assert run_cli("--config", station, "publish") == 0
    assert "nothing changed" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in store.rglob("*")} == before


def test_a_library_file_that_changed_is_not_published(station, capsys):
    assert run_cli("--config", station, "publish") == 0
    store = station.parent / "public"
    index = _index(station)
    # the next generation has new feeds (one more day), and a rendition rotted in the library
    assert run_cli("--config", station, "schedule", "--date", "2026-12-03") == 0
    with Catalog(station.parent / "library" / "catalog.sqlite") as cat:
        r = next(r for r in cat.renditions() if r.key in index["files"] and r.profile == "broadcast")
    (store / r.key).unlink()
    path = station.parent / "library" / r.path
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    capsys.readouterr()
    assert run_cli("--config", station, "publish", "--verify") == 1
    err = capsys.readouterr().err
    assert r.key in err and "do not match the sha256" in err
    assert _index(station) == index
    assert not (store / r.key).exists()
    assert not [p for p in store.rglob("*.part")]


def test_leftovers_of_an_interrupted_publish_are_cleaned_and_adopted(station):
    assert run_cli("--config", station, "publish") == 0
    store = station.parent / "public"
    stray = store / "audio" / "player" / ".x.mp3.123.abcd.part"
    stray.write_bytes(b"half a file")
    assert run_cli("--config", station, "schedule", "--date", "2026-12-03") == 0
    with Catalog(station.parent / "library" / "catalog.sqlite") as cat:
        sid = f"file://{store.resolve()}"
        cat.begin_run(sid, 2)
        cat.forget_uploads(sid, [k for k in cat.store_ledger(sid) if k.startswith("audio/")])
    mtimes = {p: p.stat().st_mtime_ns for p in (store / "audio").rglob("*.*") if p != stray}
    assert run_cli("--config", station, "publish") == 0
    assert not stray.exists()
    assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes  # adopted, not written again
    assert _index(station)["generation"] == 2


def test_pruning_removes_old_quarters_and_their_empty_folders(station):
    set_publish(station, target="file://public", keep_generations=2, keep_quarters=1)
    assert run_cli("--config", station, "publish") == 0
    assert run_cli("--config", station, "plan", "--quarter", "2027Q2") == 0
    assert run_cli("--config", station, "schedule", "--date", "2027-04-01") == 0
    assert run_cli("--config", station, "publish") == 0
    store = station.parent / "public"
    assert (store / "devices" / "2027Q1").is_dir()
    gen2 = _index(station)
    assert run_cli("--config", station, "schedule", "--date", "2027-04-02") == 0
    assert run_cli("--config", station, "publish") == 0
    assert not (store / "devices" / "2027Q1").exists()
    assert not list((store / "broadcast").glob("*/2026-*"))
    index = _index(station)
    assert index["generation"] == 3
    assert _files(store) == set(gen2["files"]) | set(index["files"]) | {"index.json"}
    for key, meta in index["files"].items():
        assert hashlib.sha256((store / key).read_bytes()).hexdigest() == meta["sha256"]


def test_a_document_with_a_personal_column_is_never_published(station, capsys):
    fleet = (station.parent / "fleet.csv").read_text(encoding="utf-8").splitlines()
    device, name, phone = fleet[1].split(",")[0], fleet[1].split(",")[7], fleet[1].split(",")[8]
    manifest = station.parent / "build" / "devices" / "2027Q1" / device / "manifest.json"
    good = manifest.read_text(encoding="utf-8")
    manifest.write_text(good.replace('"profile"', f'"holder": "{name}", "profile"'), encoding="utf-8")
    assert run_cli("--config", station, "publish") == 1
    err = capsys.readouterr().err
    assert f"devices/2027Q1/{device}/manifest.json" in err and "'holder_name'" in err
    assert name not in err and phone not in err
    assert not (station.parent / "public").exists()
    other = station.parent / "build" / "broadcast" / "county-fm" / "2026-12-01.json"
    manifest.write_text(good, encoding="utf-8")
    day = other.read_text(encoding="utf-8")
    other.write_text(day.replace('"channel"', f'"contact": "{phone}", "channel"'), encoding="utf-8")
    assert run_cli("--config", station, "publish") == 1
    assert "'phone'" in capsys.readouterr().err
    other.write_text(day, encoding="utf-8")
    assert run_cli("--config", station, "publish") == 0


def test_two_publishes_of_one_station_do_not_run_at_once(station, capsys):
    import fcntl
    import os
    lock = station.parent / "library" / ".publish.lock"
    fd = os.open(str(lock), os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        assert run_cli("--config", station, "publish") == 1
        assert "another `dangke publish` of this station is running" in capsys.readouterr().err
    finally:
        os.close(fd)
    assert run_cli("--config", station, "publish") == 0


def test_status_reports_the_generation_of_the_configured_store(station, capsys):
    """Two stores in turn (a folder, then another): each has its own generations, and
    `status` shows the one of the store configured now (it showed the other's before)."""
    assert run_cli("--config", station, "publish") == 0
    assert run_cli("--config", station, "publish", "--dry-run") == 0
    capsys.readouterr()
    set_publish(station, target="file://second-store")
    assert run_cli("--config", station, "status") == 0
    assert "published: never" in capsys.readouterr().out
    assert run_cli("--config", station, "publish") == 0
    objects = len(_files(station.parent / "second-store"))
    assert run_cli("--config", station, "status") == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("published:"))
    assert line.startswith("published: generation 1 ") and f"({objects} objects" in line and "second-store" in line
