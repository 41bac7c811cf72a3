"""Shared fixtures: stations made with the real `dangke init`, real recordings from
tests/data, and independent readers (ffprobe, pyloudnorm, scipy true peak)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile

from pipeline.cli import main

DATA = Path(__file__).parent / "data"


def run_cli(*args: str) -> int:
    """Run the `dangke` command in-process; returns the exit status."""
    return main([str(a) for a in args])


def make_station(root: Path, slots: dict[str, float] | None = None) -> Path:
    """A station made by `dangke init` in ``root``; returns its dangke.toml path.

    ``slots`` rewrites the slot lengths of the shipped clocks (``{"900": 60}``) to keep
    tests quick.
    """
    assert run_cli("init", root) == 0
    cfg = root / "dangke.toml"
    if slots:
        text = cfg.read_text(encoding="utf-8")
        for old, new in slots.items():
            text = text.replace(f"length_s = {old}\n", f"length_s = {new}\n")
        cfg.write_text(text, encoding="utf-8")
    return cfg


def drop(inbox: Path, source: str, name: str, sidecar: dict | None = None) -> Path:
    """Copy a test recording into an inbox under ``name`` (and its sidecar)."""
    dest = inbox / name
    shutil.copy(DATA / source, dest)
    if sidecar is not None:
        dest.with_suffix(".json").write_text(json.dumps(sidecar, ensure_ascii=False), encoding="utf-8")
    return dest


def ffprobe(path: Path) -> dict:
    """ffprobe's JSON description of a file (format and streams)."""
    out = subprocess.run(["ffprobe", "-v", "error", "-print_format", "json", "-show_format",
                          "-show_streams", str(path)], capture_output=True, check=True, timeout=60)
    return json.loads(out.stdout)


def decode(path: Path, tmp: Path) -> tuple[np.ndarray, int]:
    """Decode any file with ffmpeg to float samples (samples, channels) and its rate."""
    wav = tmp / (path.name + ".decoded.wav")
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(path), "-c:a", "pcm_f32le", str(wav)],
                   check=True, timeout=120)
    data, rate = soundfile.read(str(wav), always_2d=True, dtype="float64")
    return data, rate


def loudness_lufs(path: Path, tmp: Path) -> float:
    """Integrated loudness (BS.1770, pyloudnorm) of the decoded file."""
    import pyloudnorm
    data, rate = decode(path, tmp)
    return pyloudnorm.Meter(rate).integrated_loudness(data)


def true_peak_dbtp(path: Path, tmp: Path) -> float:
    """True peak (4x oversampling, BS.1770-4 Annex 2 via scipy) of the decoded file."""
    from scipy.signal import resample_poly
    data, rate = decode(path, tmp)
    k = 4 if rate < 96000 else 2
    return 20 * np.log10(np.max(np.abs(resample_poly(data, k, 1, axis=0))))


@pytest.fixture
def station(tmp_path: Path) -> Path:
    """A fresh station with short broadcast slots; returns its dangke.toml path."""
    return make_station(tmp_path / "station", {"900": 60, "300": 30})


def ebur128_lufs(path: Path) -> float:
    """Integrated loudness by ffmpeg's ebur128 summary (a second, independent reader)."""
    proc = subprocess.run(["ffmpeg", "-hide_banner", "-nostats", "-i", str(path), "-af", "ebur128",
                           "-f", "null", "-"], capture_output=True, text=True, timeout=120)
    return float(re.findall(r"I:\s+(-?[\d.]+) LUFS", proc.stderr)[-1])


# -- a real S3-compatible server for the session (moto in server mode, loopback only) --------
TEST_ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"
TEST_SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def s3_server():
    """moto's S3 server on 127.0.0.1 (HTTP), started once for the session; yields its URL.
    Test credentials go into the environment: boto3's standard chain finds them there."""
    import os
    from moto.server import ThreadedMotoServer
    os.environ.update(AWS_ACCESS_KEY_ID=TEST_ACCESS_KEY, AWS_SECRET_ACCESS_KEY=TEST_SECRET_KEY,
                      AWS_DEFAULT_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true",
                      AWS_CONFIG_FILE="/nonexistent/aws-config", AWS_SHARED_CREDENTIALS_FILE="/nonexistent/aws-cred")
    import logging
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture(scope="session")
def s3_proxy(s3_server):
    """The fault-injecting, request-logging proxy (tests/s3proxy.py) in front of the
    session's S3 server."""
    from tests.s3proxy import FaultProxy
    proxy = FaultProxy(s3_server).start()
    yield proxy
    proxy.stop()


@pytest.fixture
def fault_proxy(s3_proxy):
    """The session proxy with a clean log and no faults, reset again afterwards."""
    s3_proxy.reset()
    yield s3_proxy
    s3_proxy.reset()


def s3_client(endpoint: str):
    """A plain boto3 client for checks (path-style addressing)."""
    import boto3
    from botocore.config import Config as BotoConfig
    return boto3.session.Session().client("s3", endpoint_url=endpoint, region_name="us-east-1",
                                          config=BotoConfig(s3={"addressing_style": "path"}))


def set_publish(cfg: Path, **keys: object) -> None:
    """Rewrite the [publish] table of a station's dangke.toml with ``keys``."""
    import tomllib
    text = cfg.read_text(encoding="utf-8")
    head, _, rest = text.partition("[publish]\n")
    body, sep, tail = rest.partition("\n[")
    lines = [f"{k} = {json.dumps(v) if isinstance(v, str) else str(v).lower() if isinstance(v, bool) else v}"
             for k, v in keys.items()]
    cfg.write_text(head + "[publish]\n" + "\n".join(lines) + "\n" + sep + tail, encoding="utf-8")
    tomllib.loads(cfg.read_text(encoding="utf-8"))


PUBLISH_QUARTER, PUBLISH_DATE, PUBLISH_DAYS = "2027Q1", "2026-12-01", "2"
PUBLISH_LESSONS = [
    ("zh-cmn_aishell_01.wav", "theory_a.wav", {"lesson_id": "L-theory-a", "title": "理論學習問答",
                                              "category": "理論教育", "dialect": "普通話"}),
    ("zh-cmn_paddlespeech_01.wav", "spirit_b.wav", {"lesson_id": "L-spirit-b", "title": "健康生活與黨員擔當",
                                                   "category": "黨性教育", "dialect": "普通話"}),
    ("zh-cmn_funasr_02_asr-example.mp3", "spirit_c.mp3", {"lesson_id": "L-spirit-c", "title": "牢記初心使命",
                                                         "category": "黨性教育", "dialect": "普通話"}),
]


@pytest.fixture(scope="session")
def publish_template(tmp_path_factory) -> Path:
    """A station with three short lessons ingested, encoded, planned and scheduled (and
    published to its default folder store), made once; publishing tests copy it."""
    root = tmp_path_factory.mktemp("publish-template") / "station"
    cfg = make_station(root, {"900": 60, "300": 30})
    for source, name, sidecar in PUBLISH_LESSONS:
        drop(root / "inbox", source, name, sidecar)
    assert run_cli("--config", cfg, "run", "--quarter", PUBLISH_QUARTER, "--date", PUBLISH_DATE,
                   "--days", PUBLISH_DAYS) == 0
    return root
