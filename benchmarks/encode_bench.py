"""Encode benchmark: all renditions of long lesson-like files, three ways, side by side.

    .venv/bin/python benchmarks/encode_bench.py [--minutes 10 40] [--skip-normalize] [--memory-hours 2]

For each lesson (built from the real speech recordings in ``../shared/corpus/real`` or,
without them, from ``tests/data``: 44.1 kHz mono 16-bit WAV, speech with short pauses)
and the shipped profiles (``config/dangke.toml``), it times:

* **dangke**: the encode stage's render of one source into every profile (measure once,
  render once, verify every output by decoding it);
* **ffmpeg-normalize** (EBU R128, two-pass ``loudnorm``, same targets, one run per
  rendition: it cannot write several renditions from one analysis);
* **bare ffmpeg**: one ffmpeg run writing the same renditions (mono mix, resampling,
  encoders) with no analysis and no loudness processing: the floor.

Wall time and CPU time (this process plus its children) are printed per lesson side by
side, with the ratio the issue sets a goal for, dangke / bare (goal <= 1.3, CPU and
wall), and ffmpeg-normalize / bare as information (the earlier 8x goal against
ffmpeg-normalize is withdrawn). ``--memory-hours H`` then encodes an H-hour lesson in a
child process and prints its peak resident memory (goal: 300 MB for 2 h) and that of the
largest ffmpeg it ran, and the renders each rendition took. Runs are sequential; on a
shared machine wall times are noisy, CPU times less so.
ffmpeg-normalize comes with the ``bench`` extra (``pip install -e '.[bench]'``).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.config import load_config  # noqa: E402
from pipeline.encode.lifecycle import profile_hash  # noqa: E402
from pipeline.encode import chain  # noqa: E402
from pipeline.encode.render import Settings, SourceJob, Target, render_job  # noqa: E402
from pipeline.media import meter  # noqa: E402

RATE = 44100
SPEECH = ("zh-cmn_lesson-like_concat_01.flac", "zh-cmn_funasr_01_vad-example.wav", "zh-cmn_fleurs_01.wav",
          "zh-cmn_fleurs_02_zh-en-mix.wav", "zh-cmn_funasr_03_long.wav", "zh-cmn_aishell_01.wav",
          "en-us_asterisk_01_demo-instruct.wav", "zh-cmn_paddlespeech_01.wav")


def _cpu() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _timed(fn) -> tuple[float, float]:
    w, c = time.perf_counter(), _cpu()
    fn()
    return time.perf_counter() - w, _cpu() - c


def _sources() -> list[Path]:
    real = ROOT.parent / "shared" / "corpus" / "real"  # ../shared/corpus/real beside the checkout
    env = os.environ.get("DANGKE_CORPUS")
    for folder in ([Path(env)] if env else []) + [real, ROOT / "tests" / "data"]:
        found = [folder / n for n in SPEECH if (folder / n).is_file()]
        if found:
            return found
    found = sorted((ROOT / "tests" / "data").glob("*.wav"))
    if not found:
        sys.exit("no speech recordings found")
    return found


def build_lesson(path: Path, minutes: float, sources: list[Path], seed: int) -> Path:
    """A lesson-like WAV of ``minutes``: the recordings in a shuffled loop, each with its
    peak at -1 to -7 dBFS (a lecture recorded with some care; clipped sources are the
    tests' business), with 0.3-1.5 s pauses, 44.1 kHz mono 16-bit."""
    rng = np.random.default_rng(seed)
    clips = []
    for src in sources:
        out = subprocess.run(["ffmpeg", "-v", "error", "-i", str(src), "-ac", "1", "-ar", str(RATE),
                              "-f", "f32le", "-"], capture_output=True, check=True, timeout=300).stdout
        clip = np.frombuffer(out, dtype="<f4")
        clips.append(clip / max(1e-6, float(np.max(np.abs(clip)))))
    total = int(minutes * 60 * RATE)
    with soundfile.SoundFile(str(path), "w", RATE, 1, "PCM_16") as f:
        written = 0
        while written < total:
            clip = clips[rng.integers(len(clips))] * 10 ** (rng.uniform(-7, -1) / 20)
            pause = np.zeros(int(rng.uniform(0.3, 1.5) * RATE), dtype=np.float32)
            piece = np.clip(np.concatenate([clip, pause]), -1, 1)[:total - written]
            f.write(piece)
            written += piece.size
    return path


def run_dangke(src: Path, out: Path, profiles: dict, minutes: float):
    targets = tuple(Target(p, profile_hash(p), out / f"{name}.{p.extension}") for name, p in profiles.items())
    job = SourceJob(key=src.stem, path=src, prepare=chain.prepare("mono"), duration_s=minutes * 60,
                    targets=targets, label=src.stem)
    result = render_job(job, Settings())
    if result.errors:
        raise SystemExit(f"dangke failed: {result.errors}")
    return result


def _codec_args(p) -> list[str]:
    if p.format == "mp3":
        return ["-c:a", "libmp3lame", "-b:a", f"{p.bitrate_kbps}k"]
    if p.format == "m4a":
        return ["-c:a", "aac", "-b:a", f"{p.bitrate_kbps}k"]
    return ["-c:a", "pcm_s16le"]


def run_normalize(src: Path, out: Path, profiles: dict, linear: bool = False) -> None:
    """ffmpeg-normalize as a user would run it: EBU (two-pass loudnorm), the profile's
    target and true-peak ceiling, its codec, rate and channels; its other settings at
    their defaults (LRA target 7, so speech goes through loudnorm's dynamic mode), or
    with ``linear`` a wide LRA target that keeps loudnorm linear wherever it can."""
    exe = shutil.which("ffmpeg-normalize") or str(Path(sys.executable).parent / "ffmpeg-normalize")
    extra = ["-lrt", "20", "--keep-lra-above-loudness-range-target"] if linear else []
    for name, p in profiles.items():
        subprocess.run([exe, str(src), "-o", str(out / f"{name}.{p.extension}"), "-f", "-q",
                        "-nt", "ebu", "-t", str(p.loudness_lufs), "-tp", str(p.true_peak_dbtp), *extra,
                        "-ar", str(p.sample_rate), *_codec_args(p), "-e", f"-ac {p.channels}"],
                       check=True, timeout=3600)


def run_bare(src: Path, out: Path, profiles: dict) -> None:
    n = len(profiles)
    graph = f"[0:a]aformat=channel_layouts=mono,asplit={n}" + "".join(f"[s{i}]" for i in range(n))
    args = ["ffmpeg", "-v", "error", "-nostdin", "-y", "-i", str(src), "-filter_complex", graph]
    for i, (name, p) in enumerate(profiles.items()):
        args += ["-map", f"[s{i}]", "-ar", str(p.sample_rate), "-ac", str(p.channels), *_codec_args(p),
                 str(out / f"{name}.{p.extension}")]
    subprocess.run(args, check=True, timeout=3600)


def _accuracy(folder: Path, profiles: dict) -> str:
    worst_i, worst_tp = 0.0, -99.0
    for name, p in profiles.items():
        f = folder / f"{name}.{p.extension}"
        m = meter.Meter(p.sample_rate, p.channels, exact_within_db=0.0)
        data = subprocess.run(["ffmpeg", "-v", "error", "-i", str(f), "-f", "f32le", "-ac", str(p.channels),
                               "-ar", str(p.sample_rate), "-"], capture_output=True, check=True, timeout=600).stdout
        m.feed(np.frombuffer(data, dtype="<f4").reshape(-1, p.channels))
        got = meter.measure(m.frames())
        worst_i = max(worst_i, abs(got.integrated_lufs - p.loudness_lufs))
        worst_tp = max(worst_tp, got.true_peak_dbtp - p.true_peak_dbtp)
    return f"worst |I - target| {worst_i:.2f} LU, worst TP - ceiling {worst_tp:+.2f} dB"


_WRAPPER = """#!{python}
import os, sys
pid = os.fork()
if pid == 0:
    os.execv({real!r}, [{real!r}] + sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
with open({log!r}, "a") as f:
    f.write(f"{{usage.ru_maxrss}}\\n")
sys.exit(os.waitstatus_to_exitcode(status))
"""


def _ffmpeg_meter(folder: Path) -> tuple[Path, Path]:
    """A folder with an ``ffmpeg`` that runs the real one and appends its peak resident
    memory (KiB) to a log, and that log. (The children's ``ru_maxrss`` of the encoding
    process is no measure of ffmpeg: a child forked from a large Python counts the
    parent's pages until it execs, so it reports Python's size.)"""
    real = shutil.which("ffmpeg")
    if real is None:
        raise SystemExit("ffmpeg not found")
    log = folder / "ffmpeg-rss.log"
    wrapper = folder / "ffmpeg"
    wrapper.write_text(_WRAPPER.format(python=sys.executable, real=real, log=str(log)))
    wrapper.chmod(0o755)
    return folder, log


def peak_memory(src: Path, out: Path, hours: float) -> None:
    """Encode ``src`` in a child process; print its peak RSS and that of the largest
    ffmpeg it ran (measured on each ffmpeg by a wrapper, :func:`_ffmpeg_meter`).

    The child's peak is its own ``VmHWM`` (/proc/self/status), not ``ru_maxrss``: Linux
    keeps ``ru_maxrss`` across ``execve``, so a child forked from this benchmark after
    its 10- and 40-minute runs reported this process's size (1,176 MB against 265 MB)."""
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from pathlib import Path; "
            "from benchmarks.encode_bench import run_dangke; from pipeline.config import load_config; "
            "p = dict(load_config(Path(sys.argv[1]) / 'config' / 'dangke.toml').profiles); "
            "r = run_dangke(Path(sys.argv[2]), Path(sys.argv[3]), p, float(sys.argv[4])); "
            "print('renders', sorted((x.profile, x.renders) for x in r.renditions)); "
            "print(next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')))")
    folder, log = _ffmpeg_meter(out)
    env = dict(os.environ, PATH=f"{folder}{os.pathsep}{os.environ.get('PATH', '')}")
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code, str(ROOT), str(src), str(out), str(hours * 60)],
                          capture_output=True, text=True, timeout=4 * 3600, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"memory run failed: {proc.stderr[-2000:]}")
    lines = proc.stdout.strip().splitlines()
    own = int(lines[-1]) / 1024
    runs = [int(v) / 1024 for v in log.read_text().split()] if log.is_file() else []
    child = max(runs, default=float("nan"))
    print(f"\nlesson {hours:g} h: dangke peak resident {own:.0f} MB (python), largest ffmpeg {child:.0f} MB"
          f" of {len(runs)} runs (goal <= 300 MB); wall {time.perf_counter() - start:.0f} s; {lines[-2]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, nargs="+", default=[10, 40])
    ap.add_argument("--memory-hours", type=float, default=0.0, help="also measure peak memory on a lesson this long")
    ap.add_argument("--skip-normalize", action="store_true", help="leave out ffmpeg-normalize (slow)")
    ap.add_argument("--normalize-linear", action="store_true",
                    help="run ffmpeg-normalize with a wide LRA target (linear loudnorm where possible)")
    ap.add_argument("--keep", metavar="DIR", help="build lessons and outputs in DIR and keep them")
    args = ap.parse_args()
    profiles = dict(load_config(ROOT / "config" / "dangke.toml").profiles)
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="dangke-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    sources = _sources()
    print(f"profiles: {', '.join(profiles)}; cores: {os.cpu_count()}; runs are sequential")
    totals = {"dangke": [0.0, 0.0], "normalize": [0.0, 0.0], "bare": [0.0, 0.0]}
    try:
        for k, minutes in enumerate(args.minutes):
            src = build_lesson(work / f"lesson_{minutes:g}min.wav", minutes, sources, seed=k)
            print(f"\nlesson {minutes:g} min ({src.stat().st_size / 1e6:.0f} MB, 44.1 kHz mono)")
            runs = [("bare", run_bare), ("dangke", lambda s, o, p: run_dangke(s, o, p, minutes))]
            if not args.skip_normalize:
                runs.append(("normalize", lambda s, o, p: run_normalize(s, o, p, args.normalize_linear)))
            row = {}
            for name, fn in runs:
                out = work / f"{src.stem}-{name}"
                out.mkdir(exist_ok=True)
                wall, cpu = _timed(lambda: fn(src, out, profiles))
                totals[name][0] += wall
                totals[name][1] += cpu
                row[name] = (wall, cpu)
                extra = "" if name == "bare" else "; " + _accuracy(out, profiles)
                print(f"  {name:10s} wall {wall:8.1f} s   cpu {cpu:8.1f} s{extra}")
            b = row["bare"]
            print(f"  | {minutes:g} min | bare {b[0]:.1f} s / {b[1]:.1f} s | dangke {row['dangke'][0]:.1f} s / "
                  f"{row['dangke'][1]:.1f} s ({row['dangke'][0] / b[0]:.2f}x wall, {row['dangke'][1] / b[1]:.2f}x cpu) |"
                  + ("" if "normalize" not in row else
                     f" ffmpeg-normalize {row['normalize'][0]:.1f} s / {row['normalize'][1]:.1f} s "
                     f"({row['normalize'][0] / b[0]:.2f}x wall, {row['normalize'][1] / b[1]:.2f}x cpu) |"))
        d, b, n = totals["dangke"], totals["bare"], totals["normalize"]
        print(f"\nall lessons: dangke wall {d[0]:.1f} s cpu {d[1]:.1f} s; bare wall {b[0]:.1f} s cpu {b[1]:.1f} s"
              + ("" if args.skip_normalize else f"; ffmpeg-normalize wall {n[0]:.1f} s cpu {n[1]:.1f} s"))
        print(f"dangke / bare ffmpeg:      wall {d[0] / b[0]:.2f}x  cpu {d[1] / b[1]:.2f}x   (goal <= 1.3)")
        if not args.skip_normalize:
            print(f"ffmpeg-normalize / bare:   wall {n[0] / b[0]:.2f}x  cpu {n[1] / b[1]:.2f}x   (information)")
        if args.memory_hours:
            src = build_lesson(work / f"lesson_{args.memory_hours:g}h.wav", args.memory_hours * 60, sources, seed=9)
            out = work / "memory-out"
            out.mkdir(exist_ok=True)
            peak_memory(src, out, args.memory_hours)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
