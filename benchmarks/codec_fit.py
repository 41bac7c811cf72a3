"""Fit a format's encoder model (pipeline/formats.py): its level change and noise factor.

    .venv/bin/python benchmarks/codec_fit.py opus --kbps 32 64 96

For each test recording (``tests/data``), jingle and bed (``config/assets``) it renders
the planned PCM a lossy profile would send to its encoder (the shipped ``player``
profile's levelling and target, 32-bit float WAV at the format's rate, the ceiling
lowered by the format's ``headroom_db``), encodes that with the format's ffmpeg options
(:func:`pipeline.encode.chain.output_options`) at each bitrate, decodes both with the
meter the render verifies with, and prints:

* the level change: decoded minus planned integrated loudness (``Format.level_db``);
* the noise: the largest ``(decoded peak - planned peak) / RMS over one encoder frame``
  (``Format.window_ms``) over the 1 ms frames whose planned peak is within 6 dB of the
  ceiling (the frames a noise peak can push over it); ``Format.noise_factors`` takes the
  largest over the inputs times 1.25 (LAME at 64 kb/s: 0.56 here, 0.5 in the table,
  fitted on more inputs);
* where in the file the largest was, and the largest in the first 0.5 s after the first
  sound (an encoder that overshoots at the onset wants ``onset_headroom_db``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline import formats  # noqa: E402
from pipeline.config import load_config  # noqa: E402
from pipeline.encode import chain  # noqa: E402
from pipeline.encode.dynamics import local_rms  # noqa: E402
from pipeline.encode.lifecycle import profile_hash, verify_frames  # noqa: E402
from pipeline.encode.render import Settings, SourceJob, Target, render_job  # noqa: E402
from pipeline.media import meter  # noqa: E402


def _args(options: tuple[tuple[str, object], ...]) -> list[str]:
    out: list[str] = []
    for key, value in options:
        out += [f"-{key}", str(value)]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("format", choices=[f.name for f in formats.FORMATS.values() if f.lossy])
    ap.add_argument("--kbps", type=int, nargs="+", default=[64])
    a = ap.parse_args()
    fmt = formats.get(a.format)
    player = load_config(ROOT / "config" / "dangke.toml").profiles["player"]
    rate = fmt.sample_rates[0] if fmt.sample_rates else player.sample_rate
    pcm = replace(player, name="planned", format="wav", extension="wav", bitrate_kbps=None, sample_format="f32",
                  sample_rate=rate, tags="none", id3v1=False, true_peak_dbtp=player.true_peak_dbtp - fmt.headroom_db)
    sources = sorted((ROOT / "tests" / "data").glob("*.wav")) + sorted((ROOT / "tests" / "data").glob("*.mp3")) \
        + sorted((ROOT / "config" / "assets").glob("*.flac"))
    worst: dict[int, float] = {}
    with tempfile.TemporaryDirectory(prefix="codec-fit-") as tmp:
        for src in sources:
            planned = Path(tmp) / f"{src.stem}.planned.wav"
            job = SourceJob(src.stem, src, chain.prepare("mix"), 60.0, (Target(pcm, profile_hash(pcm), planned),))
            result = render_job(job, Settings())
            if result.errors:
                print(f"{src.name}: {result.errors}")
                continue
            plan = verify_frames(planned, pcm)
            near = plan.peak >= 10 ** ((pcm.true_peak_dbtp - 6.0) / 20)
            first = int(np.flatnonzero(plan.peak >= 10 ** (-50 / 20))[0])
            for kbps in a.kbps:
                profile = replace(player, format=fmt.name, extension=fmt.extension, bitrate_kbps=kbps, sample_rate=rate)
                out = Path(tmp) / f"{src.stem}.{kbps}.{fmt.extension}"
                subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(planned),
                                *_args(chain.output_options(profile)), str(out)], check=True, timeout=600)
                dec = verify_frames(out, pcm)
                n = min(len(plan), len(dec))
                rms = local_rms(plan.energy[:n] / np.maximum(np.diff(plan.edges(0, n)), 1), fmt.window_ms)
                ratio = np.where(near[:n], (dec.peak[:n] - plan.peak[:n]) / np.maximum(rms, 1e-9), -np.inf)
                at = int(np.argmax(ratio))
                onset = ratio[first:first + 500].max(initial=-np.inf)
                level = meter.measure(dec).integrated_lufs - meter.measure(plan).integrated_lufs
                worst[kbps] = max(worst.get(kbps, -np.inf), float(ratio.max()))
                print(f"{src.stem[:30]:30s} {kbps:4d} kb/s  level {level:+.3f} dB  noise {ratio.max():.2f} "
                      f"at {at} ms (onset 0.5 s: {onset:.2f})", flush=True)
    for kbps, k in sorted(worst.items()):
        print(f"{fmt.name} {kbps} kb/s: largest {k:.2f}, noise factor {1.25 * k:.2f}")


if __name__ == "__main__":
    main()
