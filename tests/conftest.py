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
