"""Builders of ingest inputs, made from the real recordings in tests/data with the real
ffmpeg (and, for AMR, the real AMR encoder libraries through ctypes, since Debian's
ffmpeg decodes AMR but has no AMR encoder). Each returns the path it wrote."""

from __future__ import annotations

import ctypes
import json
import subprocess
import time
from pathlib import Path

import numpy as np
import soundfile

from tests.conftest import DATA, make_station

SPEECH = DATA / "zh-cmn_aishell_01.wav"          # 4.28 s, 16 kHz mono, about -30 LUFS
STEREO = DATA / "nan_ithuan_01.wav"              # 2.17 s, 44.1 kHz stereo (identical channels)
HOT = DATA / "zh-cmn_funasr_03_long.wav"         # 25.0 s, reaches 0 dBFS
QUIET = DATA / "zh-cmn_paddlespeech_01.wav"      # 5.0 s, about -41 LUFS


def ffmpeg(*args: object) -> None:
    """Run ffmpeg quietly, failing the test on error."""
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *map(str, args)], check=True, timeout=120)


def convert(src: Path, dest: Path, *options: object) -> Path:
    """``ffmpeg -i src <options> dest``."""
    ffmpeg("-i", src, *options, dest)
    return dest


def pcm(src: Path, rate: int, channels: int = 1) -> np.ndarray:
    """Decoded samples of ``src`` as float64, shape (n, channels)."""
    raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(src), "-ac", str(channels), "-ar", str(rate),
                          "-f", "f32le", "-"], capture_output=True, check=True, timeout=120).stdout
    return np.frombuffer(raw, "<f4").astype(np.float64).reshape(-1, channels)


def write_wav(dest: Path, data: np.ndarray, rate: int, subtype: str = "PCM_16", fmt: str = "WAV") -> Path:
    """Write samples with libsndfile (``fmt="WAVEX"`` gives WAVE_FORMAT_EXTENSIBLE)."""
    soundfile.write(str(dest), data, rate, subtype=subtype, format=fmt)
    return dest


def _amr(src: Path, dest: Path, wide: bool, dtx: bool = False, pause_s: float = 0.0) -> Path:
    rate, frame = (16000, 320) if wide else (8000, 160)
    x = pcm(src, rate)[:, 0]
    if pause_s:   # speech, a pause, the speech again (a memo with a pause to think)
        x = np.concatenate([x, np.zeros(int(pause_s * rate)), x])
    samples = np.ascontiguousarray((x * 32767).clip(-32768, 32767).astype("<i2"))
    buf = ctypes.create_string_buffer(128)
    if wide:
        lib = ctypes.CDLL("libvo-amrwbenc.so.0")
        lib.E_IF_init.restype = ctypes.c_void_p
        lib.E_IF_encode.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
        lib.E_IF_exit.argtypes = [ctypes.c_void_p]
        state, header, mode = lib.E_IF_init(), b"#!AMR-WB\n", 8          # 23.85 kb/s
        encode, close = lib.E_IF_encode, lib.E_IF_exit
    else:
        lib = ctypes.CDLL("libopencore-amrnb.so.0")
        lib.Encoder_Interface_init.restype = ctypes.c_void_p
        lib.Encoder_Interface_init.argtypes = [ctypes.c_int]
        lib.Encoder_Interface_Encode.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_char_p,
                                                 ctypes.c_int]
        lib.Encoder_Interface_exit.argtypes = [ctypes.c_void_p]
        state, header, mode = lib.Encoder_Interface_init(int(dtx)), b"#!AMR\n", 7  # MR122, 12.2 kb/s
        encode, close = lib.Encoder_Interface_Encode, lib.Encoder_Interface_exit
    out = [header]
    for i in range(0, len(samples) - frame + 1, frame):
        chunk = samples[i:i + frame]
        n = encode(state, mode, chunk.ctypes.data, buf, int(dtx and wide))
        out.append(buf.raw[:n])
    close(state)
    dest.write_bytes(b"".join(out))
    return dest


def amr_nb(src: Path, dest: Path) -> Path:
    """AMR-NB (8 kHz, 12.2 kb/s) in the RFC 4867 storage format, as old phones record."""
    return _amr(src, dest, wide=False)


def amr_wb(src: Path, dest: Path) -> Path:
    """AMR-WB (16 kHz, 23.85 kb/s) in the RFC 4867 storage format."""
    return _amr(src, dest, wide=True)


def amr_dtx(src: Path, dest: Path, wide: bool = False, pause_s: float = 2.0) -> Path:
    """AMR with DTX (discontinuous transmission: SID comfort-noise and NO_DATA frames in
    the pauses), as phones record voice memos: ``src``, a ``pause_s`` pause, ``src`` again."""
    return _amr(src, dest, wide=wide, dtx=True, pause_s=pause_s)


def prefix(src: Path, dest: Path, share: float) -> Path:
    """The first ``share`` of the bytes of ``src``: a copy cut off or still running."""
    data = src.read_bytes()
    dest.write_bytes(data[:int(len(data) * share)])
    return dest


def station(root: Path, **ingest: object) -> Path:
    """A station (``dangke init``) with ``[ingest]`` keys overridden; returns dangke.toml.
    Defaults for tests: no settle wait, truncated files rejected at once."""
    cfg = make_station(root)
    values = {"settle_s": 0.0, "incomplete_wait_s": 0.0, **ingest}
    text = cfg.read_text(encoding="utf-8")
    lines = []
    for line in text.splitlines():
        key = line.split("=")[0].strip()
        if key in values and not line.startswith("#"):
            continue
        lines.append(line)
        if line.strip() == "[ingest]":
            lines += [f"{k} = {json.dumps(v)}" for k, v in values.items()]
    cfg.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return cfg


def wait_for(predicate, timeout_s: float = 30.0, step_s: float = 0.1) -> bool:
    """Poll ``predicate`` until it is true or ``timeout_s`` passes; returns its last value."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step_s)
    return bool(predicate())
