"""Encode (issue 11): every rendition right the first time, for every kind of input the
ingest accepts, on every shipped profile: measured on the decoded file by ffmpeg's own
``ebur128`` filter (peak=true), renders counted; levelling only where a profile asks.

The inputs are made from the real recordings in tests/data (and the real AMR-NB encoder,
see tests/inputs.py): short prompts of 1.0, 1.5 and 2.5 s, a phone memo through AMR-NB,
an 8 kHz round trip, a lecture with a 20+ LU range, a hard-clipped source, a synthetic
music bed and a jingle, and synthetic "speech-like" pulse-train speech whose peaks stand
18 dB over its loudness (the kind that left the old correction loop 0.5-2.5 LU short)."""

from __future__ import annotations

import re
import subprocess
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from pipeline.config import load_config
from pipeline.encode.lifecycle import profile_hash
from pipeline.encode import chain
from pipeline.encode.render import MAX_ATTEMPTS, Settings, SourceJob, Target, render_job
from pipeline.media import meter
from tests.conftest import DATA
from tests.inputs import amr_nb, pcm, write_wav

SHIPPED = load_config(Path(__file__).resolve().parent.parent / "config" / "dangke.toml")
PROFILES = dict(SHIPPED.profiles)
R = 44100


def ebur128(path: Path) -> tuple[float, float, float]:
    """Integrated loudness (LUFS), loudness range (LU) and true peak (dBTP) of the decoded
    file by ffmpeg's ebur128 filter with ``peak=true``."""
    proc = subprocess.run(["ffmpeg", "-hide_banner", "-nostats", "-i", str(path), "-af", "ebur128=peak=true",
                           "-f", "null", "-"], capture_output=True, text=True, timeout=120)
    summary = proc.stderr[proc.stderr.rindex("Summary:"):]
    i = float(re.search(r"I:\s+(-?[\d.]+|-inf) LUFS", summary).group(1))
    lra = float(re.search(r"LRA:\s+(-?[\d.]+) LU", summary).group(1))
    tp = float(re.search(r"True peak:\s+Peak:\s+(-?[\d.]+|-inf) dBFS", summary).group(1))
    return i, lra, tp


def _speech() -> np.ndarray:
    return pcm(DATA / "zh-cmn_funasr_03_long.wav", R)[:, 0]


def _pulse_speech(seconds: float, level_db: float, seed: int = 0) -> np.ndarray:
    """Synthetic speech-like signal: a 110-140 Hz glottal pulse train through two
    formant resonators, in syllables of 0.15-0.35 s with pauses (peaks ~18 dB over the
    loudness, like the signals of corpus/bugs)."""
    from scipy import signal
    rng = np.random.default_rng(seed)
    n = int(seconds * R)
    x = np.zeros(n)
    t = 0
    while t < n:
        syl = int(rng.uniform(0.15, 0.35) * R)
        period = int(R / rng.uniform(110, 140))
        x[t:min(n, t + syl):period] = rng.uniform(0.5, 1.0)
        t += syl + int(rng.uniform(0.05, 0.25) * R)
    x = np.convolve(x, np.hanning(int(0.002 * R)), mode="same")     # glottal pulse shape
    for f, q in ((700, 5), (1800, 8)):
        b, a = signal.iirpeak(f, q, R)
        x = signal.lfilter(b, a, x) + 0.3 * x
    return x / np.abs(x).max() * 10 ** (level_db / 20)


def _wide_lecture() -> np.ndarray:
    """Eight 8 s stretches of speech alternating near and far from the microphone
    (peaks from -2 to -34 dBFS): a loudness range over 20 LU."""
    s = _speech()
    parts = []
    for k, level in enumerate((-2, -30, -8, -24, -4, -34, -12, -28)):
        seg = s[int(k * 2 * R):][:8 * R]
        parts.append(seg / np.abs(seg).max() * 10 ** (level / 20))
    return np.concatenate(parts)


def _music_bed() -> np.ndarray:
    t = np.arange(20 * R) / R
    rng = np.random.default_rng(5)
    chord = sum(np.sin(2 * np.pi * f * t) for f in (220, 277.2, 329.6, 440, 880))
    kick = np.sin(2 * np.pi * 60 * t) * np.exp(-((t % 0.5) * 20))
    hat = rng.normal(0, 1, t.size) * np.exp(-((t % 0.25) * 60))
    bed = 0.08 * chord + 0.5 * kick + 0.15 * hat
    return np.stack([bed, bed], axis=1) / np.abs(bed).max() * 0.7


def _jingle() -> np.ndarray:
    t = np.arange(int(2.0 * R)) / R
    notes = sum(np.sin(2 * np.pi * f * t) * ((t >= s) & (t < s + 0.6)) for f, s in ((523, 0), (659, 0.6), (784, 1.2)))
    return 0.3 * notes * np.hanning(t.size) ** 0.2


def _prompt(seconds: float, level_db: float) -> np.ndarray:
    clip = _speech()[3 * R:int((3 + seconds) * R)]
    return clip / np.abs(clip).max() * 10 ** (level_db / 20)


def build_inputs(folder: Path) -> dict[str, tuple[Path, str]]:
    """Every kind of input: ``{name: (path, channel mode)}``."""
    s = _speech()
    x8 = pcm(DATA / "zh-cmn_funasr_03_long.wav", 8000)[:, 0]
    made = {
        "prompt-1.0s": (write_wav(folder / "p10.wav", _prompt(1.0, -3.0), R), "mono"),
        "prompt-1.5s-quiet": (write_wav(folder / "p15.wav", _prompt(1.5, -20.0), R), "mono"),
        "prompt-2.5s": (write_wav(folder / "p25.wav", _prompt(2.5, -1.0), R), "mono"),
        "memo-amr-nb": (amr_nb(DATA / "zh-cmn_funasr_03_long.wav", folder / "memo.amr"), "mono"),
        "memo-8khz": (write_wav(folder / "tel.wav", x8 * 0.9 / np.abs(x8).max(), 8000), "mono"),
        "lecture-wide-lra": (write_wav(folder / "wide.wav", _wide_lecture(), R), "mono"),
        "clipped": (write_wav(folder / "clipped.wav", np.clip(s * 4, -1, 1), R), "mono"),
        "music-bed": (write_wav(folder / "bed.wav", _music_bed(), R), "mix"),
        "jingle": (write_wav(folder / "jingle.wav", _jingle(), R), "mono"),
        "pulse-speech-1.2s-quiet": (write_wav(folder / "pulse12.wav", _pulse_speech(1.2, -17.0), R), "mono"),
        "pulse-speech-20s": (write_wav(folder / "pulse20.wav", _pulse_speech(20.0, -4.0, 1), R), "mono"),
    }
    return made


def _render(folder: Path, path: Path, mode: str, profiles: dict) -> object:
    targets = tuple(Target(p, profile_hash(p), folder / f"{path.stem}.{n}.{p.extension}") for n, p in profiles.items())
    job = SourceJob(key=path.stem, path=path, prepare=chain.prepare(mode), duration_s=60.0,
                    targets=targets, label=path.stem)
    return render_job(job, Settings())


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("issue11")
    return {name: _render(folder, path, mode, PROFILES) for name, (path, mode) in build_inputs(folder).items()}


@pytest.mark.parametrize("name", ["prompt-1.0s", "prompt-1.5s-quiet", "prompt-2.5s", "memo-amr-nb", "memo-8khz",
                                  "lecture-wide-lra", "clipped", "music-bed", "jingle", "pulse-speech-1.2s-quiet",
                                  "pulse-speech-20s"])
def test_every_profile_reaches_its_target_under_its_ceiling_by_ffmpeg_ebur128(rendered, name):
    result = rendered[name]
    assert not result.errors, result.errors
    assert {r.profile for r in result.renditions} == set(PROFILES)
    for r in result.renditions:
        p = PROFILES[r.profile]
        i, _, tp = ebur128(Path(r.path))
        assert abs(i - p.loudness_lufs) <= SHIPPED.encode.tolerance_lu, (r.profile, i)
        # ffmpeg interpolates true peaks with its own resampler: within 0.1 dB of ours
        assert tp <= p.true_peak_dbtp + 0.1, (r.profile, tp)
        assert r.true_peak_dbtp <= p.true_peak_dbtp
        # the only shortfall allowed is the maximum gain, and it is reported as such
        assert all("max gain 30.0 dB reached" in n for n in r.notes), r.notes


def test_renders_are_counted_and_corrections_are_rare(rendered):
    """At most one corrective render, for fewer than 5 % of the renditions; none for
    the lossless profile (its model is exact)."""
    renditions = [r for result in rendered.values() for r in result.renditions]
    assert all(1 <= r.renders <= MAX_ATTEMPTS == 2 for r in renditions)
    corrected = [(r.source_sha256, r.profile) for r in renditions if r.renders > 1]
    print(f"renders: {len(renditions)} renditions, {sum(r.renders for r in renditions)} renders,"
          f" {len(corrected)} corrective: {corrected}")
    assert len(corrected) < 0.05 * len(renditions), corrected
    assert all(r.renders == 1 for r in renditions if PROFILES[r.profile].format == "wav")


def test_a_profile_without_levelling_keeps_a_wide_lecture_s_loudness_range(rendered):
    """broadcast (no levelling, no compression) keeps the 20+ LU range; the levelled
    player profile narrows it, as configured; both are reported before and after."""
    by = {r.profile: r for r in rendered["lecture-wide-lra"].renditions}
    source = by["broadcast"].source_lra_lu
    assert source >= 20.0
    assert not PROFILES["broadcast"].levelling
    assert by["broadcast"].lra_lu >= source - 1.5
    assert abs(ebur128(Path(by["broadcast"].path))[1] - by["broadcast"].lra_lu) <= 1.0
    assert PROFILES["player"].levelling and by["player"].lra_lu < source - 5.0


def test_levelling_is_off_unless_the_profile_sets_it(tmp_path):
    """The old code levelled silently when limiting would pass 8 dB (a 21.5 LU lecture
    came out at 3.5 LU on ``player``): without ``levelling`` only the true-peak limiter
    (the loud stretches of this lecture peak at -2 dBFS, so they are limited by a few
    dB at -16 LUFS) narrows the range; with it, it is halved."""
    wide = write_wav(tmp_path / "wide.wav", _wide_lecture(), R)
    plain = replace(PROFILES["player"], name="player-plain", levelling=False)
    levelled = replace(PROFILES["player"], name="player-levelled", levelling=True)
    result = _render(tmp_path, wide, "mono", {"player-plain": plain, "player-levelled": levelled})
    by = {r.profile: r for r in result.renditions}
    r = by["player-plain"]
    assert r.source_lra_lu >= 20.0
    assert not r.levelling and r.lra_lu >= r.source_lra_lu - 6.0
    assert by["player-levelled"].lra_lu < r.lra_lu - 5.0
    assert chain.shape(plain).level_ratio == 1.0 and chain.shape(plain).compress_ratio == 1.0


def test_the_codec_model_is_monotonic_in_bitrate():
    mp3 = [chain.codec(replace(PROFILES["player"], bitrate_kbps=k)).noise_factor for k in (32, 48, 64, 96, 128, 320)]
    assert mp3 == sorted(mp3, reverse=True) and mp3[0] > 0
    assert chain.codec(PROFILES["broadcast"]).noise_factor == 0


@pytest.mark.parametrize("attack, release, within", [(1.5, 0.2, 0.1), (3.0, 1.0, 0.25)])
def test_the_plan_predicts_the_rendered_pcm_of_a_deeply_limited_source(attack, release, within):
    """The loudness of the rendered PCM follows the interpolated envelope (edges at the
    smaller neighbour gain), which the plan models; with the fastest limiters of the
    ladder (8-16 dB/ms) the K-weighting filter's memory makes the frame model ~1 LU
    optimistic, which the verification of the decoded file catches (one correction)."""
    from pipeline.encode import dynamics
    x = _pulse_speech(5.0, -4.0, 2).astype(np.float32)
    m = meter.Meter(R, 1)
    m.feed(x)
    frames = m.frames()
    shape = dynamics.Shape(limit_attack_db_ms=attack, limit_release_db_ms=release)
    plan = dynamics.plan(frames, -14.0, -3.0, 30.0, shape)
    assert plan.limited_db > 10
    y = x * np.concatenate(list(plan.envelope(frames)))
    got = meter.measure_array(y, R)
    assert abs(got.integrated_lufs - plan.predicted_lufs) <= within
    assert got.true_peak_dbtp <= -3.0 + 0.05


def test_a_lesson_job_and_its_result_pickle_for_a_process_pool(tmp_path):
    """The per-lesson unit of parallel work, :func:`render_job`, takes and returns plain
    values (taggers are dataclasses, not closures), so it can run in another process."""
    import pickle

    from pipeline.encode import lesson_tagger
    from pipeline.models import Lesson

    lesson = Lesson("dj-1", 1, "ab" * 32, "牢記初心使命", "party-spirit", "cdo", 2.0, speaker="林老師")
    src = write_wav(tmp_path / "p.wav", _prompt(2.5, -6.0), R)
    p = PROFILES["broadcast"]
    job = SourceJob(key="ab" * 32, path=src, prepare=chain.prepare("mono"), duration_s=2.5, label="dj-1",
                    targets=(Target(p, profile_hash(p), tmp_path / "out.wav", lesson_tagger(p, lesson), lesson.title),),
                    steps=("channels mono",))
    job2, settings = pickle.loads(pickle.dumps((job, Settings())))
    result = pickle.loads(pickle.dumps(render_job(job2, settings)))
    (r,) = result.renditions
    info = subprocess.run(["mediainfo", r.path], capture_output=True, text=True, timeout=60).stdout
    assert "牢記初心使命" in info and "林老師" in info


def _lecture_frames(seconds: float) -> meter.Frames:
    """1 ms frames of a speech-like signal with pauses, silence at both ends."""
    x = _pulse_speech(seconds, -6.0, 3).astype(np.float32)
    x[:R // 2] = 0
    x[-R // 2:] *= 1e-3
    m = meter.Meter(R, 1, midpoints_only=True)
    for i in range(0, x.size, 1 << 16):
        m.feed(x[i:i + (1 << 16)])
    return m.frames()


@pytest.mark.parametrize("chunk, spill_frames", [(977, 1000), (1 << 16, 1 << 20)])
def test_the_chunked_plan_is_the_whole_array_plan_bit_for_bit(monkeypatch, chunk, spill_frames):
    """Issue 11 item 5: the plan works in bounded chunks (per-frame columns in temporary
    files past ``SPILL_FRAMES``) and decides exactly what the whole-array computation
    decides, so renditions stay byte-identical; chunk edges fall everywhere here."""
    from pipeline.encode import chunked, dynamics
    from pipeline.media import spill
    monkeypatch.setattr(chunked, "CHUNK", chunk)
    monkeypatch.setattr(spill, "SPILL_FRAMES", spill_frames)
    frames = _lecture_frames(12.0)
    on_disk = meter.Frames(frames.rate, frames.samples, spill.Spill(0, np.float32), spill.Spill(0, np.float32))
    on_disk.energy.append(frames.energy)
    on_disk.peak.append(frames.peak)
    offsets = np.zeros(len(frames))
    offsets[600:1100] = 3.0
    offsets[7000:7060] = 1.37
    for shape in (chain.shape(PROFILES["broadcast"]), chain.shape(PROFILES["player"]),
                  chain.shape(PROFILES["loudspeaker"]), dynamics.Shape(limit_attack_db_ms=16, limit_release_db_ms=16)):
        for kw in ({}, {"start": 300, "end": len(frames) - 200, "noise_factor": 1.1, "noise_window_ms": 23,
                        "ceiling_offset_db": offsets}):
            got = dynamics.plan(on_disk if spill_frames < 10_000 else frames, -16.0, -2.0, 30.0, shape, **kw)
            want = dynamics.plan_whole(frames, -16.0, -2.0, 30.0, shape, **kw)
            assert (got.gain_db, got.predicted_lufs, got.predicted_peak_dbtp, got.limited_db, got.capped) == \
                   (want.gain_db, want.predicted_lufs, want.predicted_peak_dbtp, want.limited_db, want.capped)
            assert (got.curve_db is None) == (want.curve_db is None)
            assert dynamics.trim_range(on_disk, -50.0, 0.5) == dynamics.trim_range(frames, -50.0, 0.5)
            assert meter.loudness_range(on_disk.window(300, 9000)) == meter.loudness_range(frames.window(300, 9000))
            if want.curve_db is not None:
                assert isinstance(got.curve_db, chunked.Spill) == (len(frames) > spill_frames)
                assert np.array_equal(np.asarray(got.curve_db), want.curve_db)
                assert np.array_equal(np.concatenate(list(got.envelope(frames))),
                                      np.concatenate(list(want.envelope(frames))))


def test_planning_memory_does_not_grow_with_the_lesson(monkeypatch):
    """Issue 11 item 5: planning a long lesson allocates a bounded working set (chunks),
    not float64 arrays of its length: 20 minutes of frames (1.2 million) plan within
    8 MB of Python allocations (3.6 million: the same; the whole-array plan needs ~10 x 9.6 MB)."""
    import tracemalloc

    from pipeline.encode import chunked, dynamics
    from pipeline.media import spill
    monkeypatch.setattr(spill, "SPILL_FRAMES", 1 << 18)
    rng = np.random.default_rng(7)
    n = 1_200_000
    talk = (np.arange(n) // 700) % 3 != 0
    energy = (rng.random(n) * 44.1 * 0.01 * talk + 1e-7).astype(np.float32)
    peak = (rng.random(n) * 0.3 * talk + 1e-4).astype(np.float32)
    frames = meter.Frames(R, int(meter.frame_edges(R, n)), energy, peak)
    tracemalloc.start()
    try:
        got = dynamics.plan(frames, -16.0, -2.0, 30.0, chain.shape(PROFILES["loudspeaker"]), noise_factor=0.3)
        _, top = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert isinstance(got.curve_db, chunked.Spill)
    assert top < 8e6, top / 1e6


def test_a_streamed_summary_measures_what_the_frames_measure():
    """Verification keeps a :class:`meter.Summary`, not the 1 ms frames of each output:
    its loudness and curve are those of the frames, exactly, also for short signals."""
    for seconds in (0.05, 0.25, 2.0, 12.0):
        x = _pulse_speech(max(seconds, 0.05), -6.0, 5).astype(np.float32)[:int(seconds * R)]
        m = meter.Meter(R, 1, exact_within_db=0.0, floor_dbtp=-8.0)
        s = meter.Summary(R, keep_above=10 ** (-3 / 20))
        streamed = meter.Meter(R, 1, exact_within_db=0.0, floor_dbtp=-8.0, sink=s.add)
        for i in range(0, x.size, 5000):
            m.feed(x[i:i + 5000])
            streamed.feed(x[i:i + 5000])
        frames = m.frames()
        s.samples = streamed.finish()
        assert s.loudness() == meter.measure(frames)
        a, b = s.curve(), meter.curve(frames)
        for field in ("momentary", "short_term", "peak", "rms"):
            assert np.array_equal(getattr(a, field), getattr(b, field)), (seconds, field)
        idx, peaks = s.overshoots()
        assert np.array_equal(idx, np.flatnonzero(frames.peak > 10 ** (-3 / 20)))
        assert np.array_equal(peaks, frames.peak[idx])
