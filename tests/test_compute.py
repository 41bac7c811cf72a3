"""Ingest analysis and encode on a Dask distributed cluster (issue 16).

A real ``distributed.LocalCluster`` (scheduler and two worker processes, each advertising
one ``ffmpeg`` resource, on 127.0.0.1) runs the flow; the exchange is a folder or moto's
S3 server over HTTP. The distributed results are compared, byte for byte, with a run of
the local pool on a twin station made from the same recordings.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from pipeline import compute
from pipeline.catalog import Catalog
from pipeline.config import load_config
from pipeline.encode import lesson_jobs, run_jobs
from pipeline.errors import ConfigError, DangkeError
from pipeline.compute.exchange import Blob, ExchangeError, ExchangeSpec, blob_of
from pipeline.ingest import ingest_pass
from tests.conftest import drop, make_station, run_cli, s3_client

#: short test lessons (2-6 s); three profiles cover ID3 (MP3), MP4 tags (M4A) and BWF bext (WAV).
#: Each has its recording date: the two stations compared are ingested at different times,
#: and a WAV's bext origination is the recording date, else the ingest time (never the
#: render time; see pipeline.encode.lesson_origination).
LESSONS = [
    ("zh-cmn_aishell_01.wav", "a.wav", {"lesson_id": "L-a", "title": "理論學習問答", "category": "理論教育",
                                        "dialect": "普通話", "recorded_on": "2026-11-02"}),
    ("zh-cmn_funasr_02_asr-example.mp3", "b.mp3", {"lesson_id": "L-b", "title": "牢記初心使命",
                                                   "category": "黨性教育", "dialect": "普通話",
                                                   "recorded_on": "2026-11-03"}),
    ("nan_ithuan_01.wav", "c.wav", {"lesson_id": "L-c", "title": "閩南話課", "category": "黨性教育",
                                    "dialect": "閩南語", "recorded_on": "2026-11-04"}),
]
PROFILES = ("player", "web", "broadcast")
BAD = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(range(256)) * 8


@pytest.fixture(scope="module")
def cluster(s3_server):
    """A scheduler and two worker processes on loopback, one ``ffmpeg`` slot each. (The S3
    server comes first: its test credentials must be in the environment the workers get.)"""
    from distributed import Client, LocalCluster
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, resources={"ffmpeg": 1},
                      host="127.0.0.1", dashboard_address=":0") as c, Client(c) as client:
        yield c.scheduler_address, client


def _station(root: Path, compute_keys: dict | None = None, bad: bool = False) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    cfg = make_station(root)
    for source, name, side in LESSONS:
        drop(root / "inbox", source, name, side)
    if bad:  # a WAV header over bytes that are not audio
        (root / "inbox" / "bad.wav").write_bytes(BAD)
        (root / "inbox" / "bad.json").write_text(json.dumps({"category": "黨性教育", "dialect": "普通話"}))
    if compute_keys:
        lines = [f"{k} = {json.dumps(v)}" for k, v in compute_keys.items()]
        with open(cfg, "a", encoding="utf-8") as f:
            f.write("\n[compute]\n" + "\n".join(lines) + "\n")
    return cfg


def _run(cfg_path: Path, profiles=PROFILES):
    """Ingest then encode ``profiles``; returns (ingest report, encode errors, statuses seen)."""
    cfg = load_config(cfg_path)
    seen: list[compute.Status] = []
    with Catalog(cfg.library / "catalog.sqlite") as cat, compute.reporting(seen.append):
        report = ingest_pass(cfg, cat, settle_s=0)
        jobs, _ = lesson_jobs(cfg, cat, cat.lessons(), [cfg.profiles[p] for p in profiles])
        _, errors, _ = run_jobs(cfg, cat, jobs)
    return report, errors, seen


def _results(cfg_path: Path) -> dict:
    """What a run leaves: findings per source, and per rendition its row and bytes."""
    cfg = load_config(cfg_path)
    with Catalog(cfg.library / "catalog.sqlite") as cat:
        findings = {lesson.source_sha256: cat.source(lesson.source_sha256).analysis
                    for lesson in cat.lessons()}
        rends = {(r.source_sha256, r.profile): (r.path, r.sha256, r.bytes, (cfg.library / r.path).read_bytes())
                 for r in cat.renditions()}
    return {"findings": findings, "renditions": rends}


@pytest.fixture(scope="module")
def local_run(tmp_path_factory, cluster):
    """The twin station run on the local pool (no scheduler): the reference."""
    os.environ.pop(compute.SCHEDULER_ENV, None)
    cfg = _station(tmp_path_factory.mktemp("local") / "station", bad=True)
    report, errors, seen = _run(cfg)
    assert not errors and not seen  # nothing went to the cluster
    assert sorted(a.lesson_id for a in report.accepted) == ["L-a", "L-b", "L-c"]
    return _results(cfg), report


def _assert_same_as_local(cfg: Path, local_run) -> None:
    got, want = _results(cfg), local_run[0]
    assert got["findings"] == want["findings"]
    assert got["renditions"].keys() == want["renditions"].keys()
    assert len(got["renditions"]) == len(LESSONS) * len(PROFILES)
    for key, (path, sha, size, data) in want["renditions"].items():
        assert got["renditions"][key] == (path, sha, size, data), key


def _exchange_blobs(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_cluster_run_over_s3_equals_local_run_byte_for_byte(tmp_path, cluster, local_run, s3_server):
    address, client = cluster
    s3_client(s3_server).create_bucket(Bucket="exchange")
    cfg = _station(tmp_path / "station", {"scheduler": address, "exchange": "s3://exchange/dangke",
                                          "endpoint_url": s3_server, "region": "us-east-1",
                                          "addressing_style": "path"}, bad=True)
    report, errors, seen = _run(cfg)
    assert not errors
    assert sorted(a.lesson_id for a in report.accepted) == ["L-a", "L-b", "L-c"]
    # the bad input failed only itself: rejected for the same reason as locally
    assert [(r.name, r.reason) for r in report.rejected] == [(r.name, r.reason) for r in local_run[1].rejected]
    assert [r.name for r in report.rejected] == ["bad.wav"]
    _assert_same_as_local(cfg, local_run)
    # progress told done / running / failed with the workers' names
    names = {str(w["name"]) for w in client.scheduler_info(n_workers=-1)["workers"].values()}
    workers_seen = {w for s in seen for _label, w in s.running}
    assert workers_seen and workers_seen <= names
    assert seen[-1].done == seen[-1].total and seen[-1].failed == 0
    # inputs and outputs went through the bucket, named by their sha256
    keys = [o["Key"] for o in s3_client(s3_server).list_objects_v2(Bucket="exchange", Prefix="dangke/")["Contents"]]
    rendition_shas = {v[1] for v in local_run[0]["renditions"].values()}
    assert rendition_shas <= {k.rsplit("/", 1)[1] for k in keys}


def test_worker_killed_mid_task_is_retried_and_nothing_is_lost_or_duplicated(tmp_path, cluster, local_run):
    address, client = cluster
    marker = tmp_path / "killed-once"
    env = {"DANGKE_CRASH_AT": "render-after-outputs", "DANGKE_CRASH_ONCE": str(marker)}
    client.run(lambda: os.environ.update(env))  # the workers' environment; a restarted worker has none of it
    try:
        exchange = tmp_path / "exchange"
        cfg = _station(tmp_path / "station", {"scheduler": address, "exchange": str(exchange)})
        report, errors, seen = _run(cfg)
    finally:
        client.run(lambda: [os.environ.pop(k, None) for k in env])
    assert marker.exists()  # a worker did die (SIGKILL) after its encode task had uploaded its renditions
    assert not errors and len(report.accepted) == 3 and not report.retry
    _assert_same_as_local(cfg, local_run)
    library = load_config(cfg).library
    made = sorted(p for p in (library / "renditions").rglob("*") if p.is_file())
    assert len(made) == len(LESSONS) * len(PROFILES)  # no temporary or duplicate files left
    blobs = _exchange_blobs(exchange)
    assert all(not p.name.startswith(".") for p in blobs)
    assert len(blobs) == len(LESSONS) * (1 + len(PROFILES))  # each input and output once
    assert seen[-1].failed == 0


def test_bad_library_source_fails_only_its_task(tmp_path, cluster):
    address, _client = cluster
    cfg_path = _station(tmp_path / "station", {"scheduler": address, "exchange": str(tmp_path / "x")})
    cfg = load_config(cfg_path)
    with Catalog(cfg.library / "catalog.sqlite") as cat:
        assert len(ingest_pass(cfg, cat, settle_s=0).accepted) == 3
        lesson = next(x for x in cat.lessons() if x.lesson_id == "L-b")
        original = cfg.library / cat.source(lesson.source_sha256).path
        original.write_bytes(original.read_bytes()[:-100] + b"\0" * 100)  # the copy rotted on disk
        jobs, _ = lesson_jobs(cfg, cat, cat.lessons(), [cfg.profiles["player"]])
        made, errors, _ = run_jobs(cfg, cat, jobs)
        others = sorted(x.source_sha256 for x in cat.lessons() if x.lesson_id != "L-b")
    assert sorted(r.source_sha256 for r in made) == others
    assert [(e[0], e[1]) for e in errors] == [("L-b", "player")]
    assert "hash" in errors[0][2]  # the sha256 check refused to send other bytes


def test_memory_cap_fails_the_task_and_the_file_waits(tmp_path, cluster):
    address, _client = cluster
    cfg_path = _station(tmp_path / "station", {"scheduler": address, "exchange": str(tmp_path / "x"),
                                               "task_memory_mb": 64, "retries": 0})
    cfg = load_config(cfg_path)
    with Catalog(cfg.library / "catalog.sqlite") as cat:
        report = ingest_pass(cfg, cat, settle_s=0)
    assert not report.accepted and not report.rejected
    assert len(report.retry) == 3
    assert all("memory cap of 64 MB" in r.problem for r in report.retry)
    assert sorted(p.name for p in (tmp_path / "station" / "inbox").iterdir()) == sorted(
        [n for _s, n, _d in LESSONS] + [Path(n).with_suffix(".json").name for _s, n, _d in LESSONS])


def test_cli_ingest_on_the_cluster_reports_progress_with_workers(tmp_path, cluster, capsys, monkeypatch):
    address, _client = cluster
    monkeypatch.setenv(compute.SCHEDULER_ENV, address)
    cfg = _station(tmp_path / "station", {"exchange": str(tmp_path / "x")})
    assert run_cli("--config", cfg, "ingest") == 0
    err = capsys.readouterr().err
    assert "ingest on the cluster: 3/3 done, 0 failed" in err  # $DANGKE_SCHEDULER named the cluster
    names = {str(w["name"]) for w in _client.scheduler_info(n_workers=-1)["workers"].values()}
    on = set(re.findall(r"running: .*? on (\S+?)(?:,|$)", err, flags=re.M))
    assert on and on <= names


def test_scheduler_without_exchange_is_a_configuration_error(tmp_path, monkeypatch):
    cfg = load_config(_station(tmp_path / "station", {"scheduler": "tcp://127.0.0.1:9"}))
    with pytest.raises(ConfigError, match=r"\[compute\] exchange"):
        compute.exchange_spec(cfg)


def test_unreachable_scheduler_is_a_clear_error(tmp_path):
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = load_config(_station(tmp_path / "station", {"scheduler": f"tcp://127.0.0.1:{port}",
                                                      "exchange": str(tmp_path / "x"), "connect_timeout_s": 2}))
    with Catalog(cfg.library / "catalog.sqlite") as cat, pytest.raises(DangkeError, match="Dask scheduler"):
        ingest_pass(cfg, cat, settle_s=0)
    assert len(list((tmp_path / "station" / "inbox").iterdir())) == 2 * len(LESSONS)  # nothing lost


def test_folder_exchange_checks_sha256_at_both_ends(tmp_path):
    ex = ExchangeSpec(str(tmp_path / "x")).open()
    src = tmp_path / "a.bin"
    src.write_bytes(b"lesson bytes")
    blob = blob_of(src)
    with pytest.raises(ExchangeError, match="hash"):
        ex.put(src, Blob("0" * 64, blob.size))  # refuses to send bytes under another name
    ex.put(src, blob)
    ex.put(src, blob)  # twice: the same object, no error
    stored = tmp_path / "x" / blob.key
    stored.write_bytes(b"lesson byteZ")  # rotted in the exchange
    dest = tmp_path / "out" / "a.bin"
    with pytest.raises(ExchangeError, match="hash"):
        ex.get(blob, dest)
    assert not dest.exists() and not list(dest.parent.iterdir())
    ex.put(src, blob)  # a put repairs it
    ex.get(blob, dest)
    assert dest.read_bytes() == b"lesson bytes"
    shutil.rmtree(tmp_path / "x")
    with pytest.raises(ExchangeError, match="not in the exchange"):
        ex.get(blob, dest)


def test_a_cluster_that_loses_every_worker_fails_the_pending_tasks():
    """The coordinator never waits on an empty cluster: after connect_timeout_s without a
    worker that has the ffmpeg resource, the tasks still pending come back failed."""
    import time
    from distributed import LocalCluster
    from pipeline.compute.dask import DaskBackend
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, resources={"ffmpeg": 1},
                      host="127.0.0.1", dashboard_address=":0") as c:
        with DaskBackend(c.scheduler_address, 0, 0, 2.0) as backend:
            outcomes = backend.run([compute.Task("render", f"L-{i}", time.sleep, (120,), 300) for i in range(2)])
            c.scale(0)
            got = list(outcomes)
    assert sorted(t.label for t, _o in got) == ["L-0", "L-1"]
    assert all(isinstance(o, compute.Failed) and "no worker" in o.message for _t, o in got)
