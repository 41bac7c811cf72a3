"""Ingest analysis cost against a baseline, side by side in the same run.

Baseline: the analysis dangke had before issue 3, all in ffmpeg (``ebur128`` + per-channel
``astats`` + ``silencedetect`` on one decode). New: :func:`pipeline.media.ffmpeg.analyze`
(``ebur128`` in ffmpeg, the decoded samples streamed through the numpy ``SignalMeter`` for
per-channel levels, phase, clipping, silence and bandwidth). Input: ten minutes of a real
lesson recording, resampled to 48 kHz stereo (the costliest common input).

Usage: .venv/bin/python benchmarks/ingest_analysis.py [--minutes N] [--runs N]
Prints wall time, audio speed (x real time) and peak memory of each, and their ratio.
The machine is shared: run it twice and expect noise of 10-20 %.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.media import ffmpeg  # noqa: E402

SOURCE = ROOT / "samples" / "inbox" / "lesson_2027q1_01.opus"


def baseline(path: Path) -> float:
    """The pre-issue-3 analysis graph; returns seconds."""
    start = time.perf_counter()
    subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-nostats", "-i", str(path), "-filter_complex",
                    "[0:a]asplit=3[a][b][c];[a]ebur128=peak=true:metadata=1,ametadata=mode=print:file=/dev/null[x];"
                    "[b]astats=measure_perchannel=all:measure_overall=all[y];[c]silencedetect=noise=-50dB:d=0.5[z]",
                    "-map", "[x]", "-f", "null", "-", "-map", "[y]", "-f", "null", "-", "-map", "[z]", "-f", "null", "-"],
                   check=True, capture_output=True, timeout=3600)
    return time.perf_counter() - start


def new(path: Path) -> float:
    start = time.perf_counter()
    probe = ffmpeg.probe(path)
    ffmpeg.analyze(path, probe.sample_rate, probe.channels, probe.header_duration_s)
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=10.0)
    ap.add_argument("--runs", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "lesson-48k-stereo.wav"
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-stream_loop", "-1", "-i", str(SOURCE), "-t",
                        str(args.minutes * 60), "-ar", "48000", "-ac", "2", str(path)], check=True, timeout=600)
        seconds = args.minutes * 60
        times = {"baseline": [], "new": []}
        for _ in range(args.runs):  # interleaved so both see the same machine load
            times["baseline"].append(baseline(path))
            times["new"].append(new(path))
    best = {k: min(v) for k, v in times.items()}
    for k, v in best.items():
        print(f"{k:9s} {v:7.2f} s  ({seconds / v:5.0f}x real time)  runs: {', '.join(f'{t:.2f}' for t in times[k])}")
    print(f"new / baseline time: {best['new'] / best['baseline']:.2f}")
    print(f"peak memory of this process (new analysis streams samples): "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


if __name__ == "__main__":
    main()
