"""Encode (issue 4): the meter against EBU Tech 3341/3342, every rendition of every test
recording measured on its decoded output by independent readers (pyloudnorm, scipy),
the hard sources of corpus/bugs BR-13, BR-18, BR-19, tags, caching, failures."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile
from mutagen.id3 import ID3, Encoding
from mutagen.mp4 import MP4

from pipeline.catalog import Catalog
from pipeline.config import load_config
from pipeline.encode.lifecycle import profile_hash
from pipeline.encode import chain, encode_all
from pipeline.encode.render import Settings, SourceJob, Target, render_job
from pipeline.media import bext, meter
from pipeline.media.tags import repair_mojibake
from tests.conftest import DATA, decode, drop, ffprobe, loudness_lufs, make_station, run_cli, true_peak_dbtp

SHIPPED = load_config(Path(__file__).resolve().parent.parent / "config" / "dangke.toml")
PROFILES = dict(SHIPPED.profiles)
FS = 48000
RECORDINGS = sorted(p.name for p in DATA.iterdir() if p.suffix in (".wav", ".mp3"))


# -- the meter: EBU Tech 3341 / 3342 signals (standards.md Appendix A) ---------------------

def _tone(db: float, dur: float, f: float = 1000.0) -> np.ndarray:
    t = np.arange(int(round(dur * FS))) / FS
    return 10 ** (db / 20) * np.sin(2 * np.pi * f * t)


def _seq(parts: list[tuple[float | None, float]]) -> np.ndarray:
    return np.concatenate([np.zeros(int(round(d * FS))) if db is None else _tone(db, d) for db, d in parts])


def _stereo(x: np.ndarray) -> np.ndarray:
    return np.stack([x, x], axis=1)


EBU_3341 = {
    1: (_stereo(_tone(-23, 20)), -23.0),
    2: (_stereo(_tone(-33, 20)), -33.0),
    3: (_stereo(_seq([(-36, 10), (-23, 60), (-36, 10)])), -23.0),
    4: (_stereo(_seq([(-72, 10), (-36, 10), (-23, 60), (-36, 10), (-72, 10)])), -23.0),
    5: (_stereo(_seq([(-26, 20), (-20, 20.1), (-26, 20)])), -23.0),
}


@pytest.mark.parametrize("case", sorted(EBU_3341))
def test_meter_agrees_with_ebu_tech_3341_cases_1_to_5(case):
    signal, expected = EBU_3341[case]
    got = meter.measure_array(signal, FS)
    assert abs(got.integrated_lufs - expected) <= 0.1
    if case in (1, 2):  # M and S of a steady tone equal I
        assert abs(got.max_momentary_lufs - expected) <= 0.1
        assert abs(got.max_short_term_lufs - expected) <= 0.1


def _tp_tone(div: int, amp: float, phase_deg: float) -> np.ndarray:
    n = np.arange(FS)
    x = amp * np.sin(2 * np.pi * n / div + np.deg2rad(phase_deg))
    ramp = np.linspace(0, 1, int(0.010 * FS))
    x[:ramp.size] *= ramp
    x[-ramp.size:] *= ramp[::-1]
    return x


@pytest.mark.parametrize("div, amp, phase, expected", [
    (4, 0.5, 0, -6.0), (4, 0.5, 45, -6.0), (6, 0.5, 60, -6.0), (8, 0.5, 67.5, -6.0), (4, 1.41, 45, 3.0)])
def test_true_peak_agrees_with_ebu_tech_3341_cases_15_to_19(div, amp, phase, expected):
    got = meter.measure_array(_stereo(_tp_tone(div, amp, phase)), FS).true_peak_dbtp
    assert expected - 0.4 <= got <= expected + 0.2


@pytest.mark.parametrize("levels, expected", [((-20, -30), 10), ((-20, -15), 5), ((-40, -20), 20)])
def test_loudness_range_agrees_with_ebu_tech_3342(levels, expected):
    got = meter.measure_array(_stereo(_seq([(levels[0], 20), (levels[1], 20)])), FS).lra_lu
    assert abs(got - expected) <= 1.0


def test_k_weighting_at_48_khz_is_the_bs1770_table():
    sos = meter.k_weighting_sos(48000)
    assert np.allclose(sos[0], [1.53512485958697, -2.69169618940638, 1.19839281085285,
                                1.0, -1.69065929318241, 0.73248077421585], atol=1e-8)
    assert np.allclose(sos[1][4:], [-1.99004745483398, 0.99007225036621], atol=1e-8)


# -- helpers --------------------------------------------------------------------------------

def _speech(name: str = "zh-cmn_funasr_03_long.wav") -> tuple[np.ndarray, int]:
    data, rate = soundfile.read(str(DATA / name), always_2d=True, dtype="float64")
    return data[:, 0], rate


def _write(path: Path, data: np.ndarray, rate: int, subtype: str = "PCM_16") -> Path:
    soundfile.write(str(path), data, rate, subtype=subtype)
    return path


def _render(tmp: Path, source: Path, names: list[str], mode: str = "mono",
            settings: Settings = Settings(), profiles: dict | None = None):
    profiles = profiles or PROFILES
    targets = tuple(Target(profiles[n], profile_hash(profiles[n]), tmp / f"{source.stem}.{n}.{profiles[n].extension}")
                    for n in names)
    job = SourceJob(key=source.stem, path=source, prepare=chain.prepare(mode), duration_s=60.0,
                    targets=targets, label=source.stem)
    return render_job(job, settings)


def _check_output(path: Path, profile, tmp: Path, tolerance: float = 0.5) -> tuple[float, float]:
    """Loudness and true peak of a decoded rendition by the independent readers."""
    i = loudness_lufs(path, tmp)
    tp = true_peak_dbtp(path, tmp)
    assert abs(i - profile.loudness_lufs) <= tolerance, (path.name, i)
    assert tp <= profile.true_peak_dbtp, (path.name, tp)
    return i, tp


# -- every rendition of every test recording ---------------------------------------------

@pytest.fixture(scope="module")
def all_renditions(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("renditions")
    results = {}
    for name in RECORDINGS:
        info = soundfile.info(str(DATA / name)) if name.endswith(".wav") else None
        mode = "mix" if info is not None and info.channels == 2 else "mono"
        results[name] = _render(out, DATA / name, sorted(PROFILES), mode)
    return out, results


def test_shipped_profiles_are_the_five_of_the_issue():
    assert {"player", "player-legacy", "broadcast", "web", "loudspeaker"} <= set(PROFILES)
    assert PROFILES["player-legacy"].sample_rate == 22050 and PROFILES["player-legacy"].bitrate_kbps == 32
    assert PROFILES["loudspeaker"].speech_compression and PROFILES["loudspeaker"].bitrate_kbps == 128
    assert (PROFILES["broadcast"].loudness_lufs, PROFILES["broadcast"].true_peak_dbtp) == (-24.0, -2.0)


@pytest.mark.parametrize("name", RECORDINGS)
def test_every_rendition_meets_its_target_and_ceiling_measured_on_the_decoded_file(all_renditions, name, tmp_path):
    out, results = all_renditions
    result = results[name]
    assert not result.errors, result.errors
    assert {r.profile for r in result.renditions} == set(PROFILES)
    for r in result.renditions:
        p = PROFILES[r.profile]
        i, tp = _check_output(Path(r.path), p, tmp_path)
        assert abs(r.integrated_lufs - i) <= 0.1          # our meter agrees with pyloudnorm
        assert abs(r.true_peak_dbtp - tp) <= 0.05


def test_renditions_have_the_profile_format(all_renditions):
    out, results = all_renditions
    expected = {"player": ("mp3", "44100", "64000"), "player-legacy": ("mp3", "22050", "32000"),
                "web": ("aac", "44100", None), "loudspeaker": ("mp3", "44100", "128000"),
                "broadcast": ("pcm_s16le", "48000", None)}
    for r in results["zh-cmn_aishell_01.wav"].renditions:
        s = ffprobe(Path(r.path))["streams"][0]
        codec, rate, bitrate = expected[r.profile]
        assert (s["codec_name"], s["sample_rate"], s["channels"]) == (codec, rate, 1), r.profile
        if bitrate:
            assert s["bit_rate"] == bitrate
    web = [r for r in results["zh-cmn_aishell_01.wav"].renditions if r.profile == "web"][0]
    assert ffprobe(Path(web.path))["streams"][0]["profile"] == "LC"


def test_mpeg2_layer3_for_the_legacy_players(all_renditions):
    from mutagen.mp3 import MP3
    r = [r for r in all_renditions[1]["zh-cmn_aishell_01.wav"].renditions if r.profile == "player-legacy"][0]
    info = MP3(r.path).info
    assert (info.version, info.layer, info.sample_rate) == (2, 3, 22050)


# -- hard sources ---------------------------------------------------------------------------

def test_a_1_5_s_jingle_is_normalised(tmp_path):
    """BR-13: clips shorter than the 3 s short-term window."""
    t = np.arange(int(1.5 * FS)) / FS
    notes = sum(np.sin(2 * np.pi * f * t) * ((t >= s) & (t < s + 0.5)) for f, s in ((523, 0), (659, 0.5), (784, 1.0)))
    jingle = _write(tmp_path / "jingle.wav", 0.05 * notes * np.hanning(t.size) ** 0.2, FS)
    result = _render(tmp_path, jingle, ["player", "broadcast", "web"])
    assert not result.errors
    for r in result.renditions:
        _check_output(Path(r.path), PROFILES[r.profile], tmp_path)
        assert abs(r.duration_s - 1.5) < 0.1


@pytest.mark.parametrize("seconds, level_db", [(1.2, -17.0), (2.5, -13.0)])
def test_short_clips_quiet_and_loud_are_normalised(tmp_path, seconds, level_db):
    """BR-13: a 1.2 s quiet clip and a 2.5 s clip."""
    speech, rate = _speech()
    clip = speech[int(2 * rate):int((2 + seconds) * rate)]
    clip = clip / np.max(np.abs(clip)) * 10 ** (level_db / 20)
    src = _write(tmp_path / "clip.wav", clip, rate)
    result = _render(tmp_path, src, ["player", "player-legacy"])
    assert not result.errors
    for r in result.renditions:
        _check_output(Path(r.path), PROFILES[r.profile], tmp_path)


def test_a_quiet_noisy_recording_is_not_boosted_past_the_maximum_gain_and_this_is_reported(tmp_path):
    speech, rate = _speech("zh-cmn_paddlespeech_01.wav")     # about -41 LUFS already
    rng = np.random.default_rng(7)
    noisy = speech * 0.3 + rng.normal(0, 10 ** (-62 / 20), speech.size)
    src = _write(tmp_path / "field.wav", noisy, rate)
    source_lufs = meter.measure_array(noisy, rate).integrated_lufs
    result = _render(tmp_path, src, ["player", "broadcast"], settings=Settings(max_gain_db=12.0))
    assert not result.errors
    for r in result.renditions:
        p = PROFILES[r.profile]
        assert r.gain_db <= 12.0 + 1e-6
        i = loudness_lufs(Path(r.path), tmp_path)
        assert i <= source_lufs + 12.0 + 0.3               # never more than the maximum gain
        assert i < p.loudness_lufs - 0.5
        assert true_peak_dbtp(Path(r.path), tmp_path) <= p.true_peak_dbtp
        assert r.notes and "short of target" in r.notes[0] and "max gain 12.0 dB" in r.notes[0]


def test_a_clipped_source_is_not_made_worse(tmp_path):
    speech, rate = _speech()
    clipped = np.clip(speech * 4.0, -1.0, 1.0)                # hard clipped, +12 dB
    assert np.mean(np.abs(clipped) >= 0.999) > 0.001
    src = _write(tmp_path / "clipped.wav", clipped, rate)
    result = _render(tmp_path, src, ["player", "broadcast"])
    assert not result.errors
    for r in result.renditions:
        _check_output(Path(r.path), PROFILES[r.profile], tmp_path)
        data, _ = decode(Path(r.path), tmp_path)
        assert np.max(np.abs(data)) < 0.95                     # no new clipping anywhere


def _stereo_speech(tmp: Path, right: str) -> Path:
    speech, rate = _speech("zh-cmn_aishell_01.wav")
    other = {"dead": np.zeros_like(speech), "inverted": -speech}[right]
    return _write(tmp / f"{right}.wav", np.stack([speech, other], axis=1), rate)


@pytest.mark.parametrize("right, mode", [("dead", "left"), ("inverted", "invert-right")])
def test_bad_stereo_keeps_the_voice_at_full_level(tmp_path, right, mode):
    """BR-18: a dead right channel, and a right channel in opposite phase."""
    speech, rate = _speech("zh-cmn_aishell_01.wav")
    mono = _write(tmp_path / "mono.wav", speech, rate)
    (tmp_path / "ref").mkdir()
    reference = _render(tmp_path / "ref", mono, ["player"], "mono")
    src = _stereo_speech(tmp_path, right)
    result = _render(tmp_path, src, ["player", "broadcast"], mode)
    assert not result.errors
    for r in result.renditions:
        _check_output(Path(r.path), PROFILES[r.profile], tmp_path)
    player = [r for r in result.renditions if r.profile == "player"][0]
    assert abs(player.gain_db - reference.renditions[0].gain_db) <= 0.5   # the voice kept at full level


def test_prepare_turns_every_channel_mode_into_mono():
    for mode in ("mono", "mix", "left", "right", "invert-right"):
        filters = chain.prepare(mode)
        assert filters[-1].name == "highpass"
    assert "0.5*c0-0.5*c1" in chain.prepare("invert-right")[0].options[0][1]


def test_a_master_at_minus_1_dbtp_stays_under_the_ceiling_after_mp3_encoding(tmp_path):
    """BR-19: true-peak overshoot of low-bitrate MP3."""
    speech, rate = _speech()
    x = speech / np.max(np.abs(speech))
    tp = meter.measure_array(x, rate).true_peak_dbtp
    src = _write(tmp_path / "master.wav", x * 10 ** ((-1.0 - tp) / 20), rate, "FLOAT")
    assert abs(meter.measure_array(soundfile.read(str(src))[0], rate).true_peak_dbtp + 1.0) < 0.01
    result = _render(tmp_path, src, ["player", "player-legacy", "loudspeaker"])
    assert not result.errors
    for r in result.renditions:
        _check_output(Path(r.path), PROFILES[r.profile], tmp_path)


def test_leading_and_trailing_silence_is_trimmed_to_the_configured_length(tmp_path):
    speech, rate = _speech("zh-cmn_aishell_01.wav")
    padded = np.concatenate([np.zeros(5 * rate), speech, np.zeros(4 * rate)])
    src = _write(tmp_path / "padded.wav", padded, rate)
    result = _render(tmp_path, src, ["broadcast"], settings=Settings(keep_silence_s=0.5))
    (r,) = result.renditions
    assert len(speech) / rate < r.duration_s <= len(speech) / rate + 1.0 + 0.05


def test_elderly_clarity_slows_speech_without_changing_pitch(tmp_path):
    profiles = dict(PROFILES)
    from dataclasses import replace
    profiles["elderly"] = replace(PROFILES["player"], name="elderly", clarity=True, tempo=0.93)
    t = np.arange(6 * FS) / FS
    tone = 0.2 * np.sin(2 * np.pi * 440 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
    src = _write(tmp_path / "tone.wav", tone, FS)
    result = _render(tmp_path, src, ["elderly"], profiles=profiles)
    (r,) = result.renditions
    _check_output(Path(r.path), profiles["elderly"], tmp_path)
    assert abs(r.duration_s - 6 / 0.93) < 0.1
    data, rate = decode(Path(r.path), tmp_path)
    spectrum = np.abs(np.fft.rfft(data[:, 0] * np.hanning(data.shape[0])))
    assert abs(np.argmax(spectrum) * rate / data.shape[0] - 440) < 3


def test_loudspeaker_compression_narrows_the_dynamics(all_renditions):
    results = all_renditions[1]["zh-cmn_funasr_03_long.wav"].renditions
    by = {r.profile: r for r in results}
    lra = {n: meter.measure_array(soundfile.read(str(_wav(Path(by[n].path))))[0], 44100).lra_lu
           for n in ("broadcast", "loudspeaker")}
    assert lra["loudspeaker"] < lra["broadcast"] - 1.0      # broadcast: no levelling, the dynamics kept


def _wav(path: Path) -> Path:
    out = path.with_suffix(".check.wav")
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(path), "-ar", "44100", "-c:a", "pcm_f32le", str(out)],
                   check=True, timeout=60)
    return out


# -- through the station: tags, caching, failures ------------------------------------------

SIDECAR = {"title": "牢記初心使命", "speaker": "林老師", "category": "黨性教育", "dialect": "福州話",
           "series": "初心講堂", "episode": 3, "lesson_id": "cxjt-003"}


@pytest.fixture
def encoded_station(tmp_path) -> dict:
    cfg_path = make_station(tmp_path / "station")
    root = cfg_path.parent
    drop(root / "inbox", "zh-cmn_aishell_01.wav", "a.wav", SIDECAR)
    drop(root / "inbox", "nan_ithuan_01.wav", "nan_words.wav",
         {"title": "閩南話詞語", "category": "skills", "dialect": "nan"})
    png = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de"
                        "0000000c4944415408d763f8cfc000000301010018dd8db00000000049454e44ae426082")
    (root / "assets" / "covers").mkdir(parents=True, exist_ok=True)
    (root / "assets" / "covers" / "初心講堂.png").write_bytes(png)
    assert run_cli("--config", cfg_path, "ingest") == 0
    assert run_cli("--config", cfg_path, "encode") == 0
    return {"cfg": cfg_path, "root": root, "png": png}


def _catalog_path(cfg_path: Path) -> Path:
    lib = load_config(cfg_path).library
    found = [p for p in lib.glob("*.sqlite*") if p.suffix == ".sqlite"] or list(lib.glob("*.db"))
    return found[0]


def test_mp3_tags_are_id3v23_utf16_with_gbk_id3v1_cover_language_and_catalog_id(encoded_station):
    cfg = load_config(encoded_station["cfg"])
    with Catalog(_catalog_path(encoded_station["cfg"])) as cat:
        lesson = [l for l in cat.lessons() if l.lesson_id == "cxjt-003"][0]
        r = cat.rendition(lesson.source_sha256, "player", profile_hash(cfg.profiles["player"]))
    path = cfg.library / r.path
    tags = ID3(path)
    assert tags.version == (2, 3, 0)
    assert tags["TIT2"].encoding == Encoding.UTF16 and str(tags["TIT2"]) == "牢記初心使命"
    assert str(tags["TLAN"]) == "cdo" and str(tags["TXXX:DANGKE_LESSON_ID"]) == "cxjt-003"
    assert str(tags["TPE1"]) == "林老師" and str(tags["TALB"]) == "初心講堂"
    apic = tags.getall("APIC")[0]
    assert apic.type == 3 and apic.mime == "image/png" and apic.data == encoded_station["png"]
    raw = path.read_bytes()
    assert raw[-128:-125] == b"TAG"
    assert raw[-125:-95].rstrip(b"\0").decode("gbk") == "牢記初心使命"
    assert raw[-65:-35].rstrip(b"\0").decode("gbk") == "初心講堂"
    assert b"cxjt-003" in raw[-31:-3]
    v1_title = raw[-125:-95].rstrip(b"\0").decode("latin-1")
    assert repair_mojibake(v1_title) == "牢記初心使命"


def test_m4a_tags_and_bext_loudness(encoded_station, tmp_path):
    cfg = load_config(encoded_station["cfg"])
    with Catalog(_catalog_path(encoded_station["cfg"])) as cat:
        lesson = [l for l in cat.lessons() if l.lesson_id == "cxjt-003"][0]
        web = cat.rendition(lesson.source_sha256, "web", profile_hash(cfg.profiles["web"]))
        wav = cat.rendition(lesson.source_sha256, "broadcast", profile_hash(cfg.profiles["broadcast"]))
    m4a = MP4(cfg.library / web.path)
    assert m4a.tags["\xa9nam"] == ["牢記初心使命"]
    assert bytes(m4a.tags["----:org.dangke:lesson_id"][0]) == b"cxjt-003"
    assert bytes(m4a.tags["covr"][0]) == encoded_station["png"]
    b = bext.read_loudness(cfg.library / wav.path)
    assert b["version"] == 2
    assert abs(b["integrated_lufs"] - loudness_lufs(cfg.library / wav.path, tmp_path)) <= 0.1
    assert b["true_peak_dbtp"] <= -2.0 and b["max_momentary_lufs"] is not None
    assert b["max_short_term_lufs"] is not None


def test_cache_hits_and_a_changed_profile_re_renders_only_that_profile(encoded_station, capsys):
    cfg_path = encoded_station["cfg"]
    before = {(r.source_sha256, r.profile): r.sha256 for r in _renditions_of(cfg_path)}
    assert len(before) == 2 * len(load_config(cfg_path).profiles)
    capsys.readouterr()
    assert run_cli("--config", cfg_path, "encode") == 0
    out = capsys.readouterr()
    assert "encode: 0 rendition(s) made, 10 already cached, 0 failed" in out.out
    assert "|" not in out.err                       # no progress bar when not on a terminal
    text = cfg_path.read_text(encoding="utf-8")
    cfg_path.write_text(text.replace('[profiles.web]\nformat = "m4a"\nbitrate_kbps = 64',
                                     '[profiles.web]\nformat = "m4a"\nbitrate_kbps = 96'), encoding="utf-8")
    assert run_cli("--config", cfg_path, "encode") == 0
    assert "encode: 2 rendition(s) made, 8 already cached, 0 failed" in capsys.readouterr().out
    cfg = load_config(cfg_path)
    with Catalog(_catalog_path(cfg_path)) as cat:
        current = {}
        for lesson in cat.lessons():
            for name, p in cfg.profiles.items():
                r = cat.rendition(lesson.source_sha256, name, profile_hash(p))
                current[(lesson.source_sha256, name)] = r.sha256
    changed = {k for k in current if current[k] != before.get(k)}
    assert {profile for _, profile in changed} == {"web"}


def _renditions_of(cfg_path: Path) -> list:
    with Catalog(_catalog_path(cfg_path)) as cat:
        return cat.renditions()


def _broken_midway(tmp: Path) -> bytes:
    """An M4A whose audio data is damaged after the first 30 %: ffmpeg decodes the start,
    then gives up (exit 69, too many decoding errors)."""
    good = tmp / "good.m4a"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(DATA / "zh-cmn_funasr_03_long.wav"), "-t", "10",
                    "-c:a", "aac", "-movflags", "+faststart", str(good)], check=True, timeout=60)
    data = bytearray(good.read_bytes())
    rng = np.random.default_rng(3)
    start = data.find(b"mdat") + 8
    first = start + int((len(data) - start) * 0.3)
    data[first:] = rng.integers(0, 256, len(data) - first, dtype=np.uint8).tobytes()
    return bytes(data)


def test_a_source_ffmpeg_fails_on_midway_is_reported_and_the_other_lessons_are_done(tmp_path, capsys):
    cfg_path = make_station(tmp_path / "station")
    root = cfg_path.parent
    drop(root / "inbox", "zh-cmn_aishell_01.wav", "a.wav", {"title": "好", "category": "theory", "dialect": "cmn"})
    drop(root / "inbox", "zh-cmn_funasr_03_long.wav", "b.wav", {"title": "壞", "category": "theory",
                                                                   "dialect": "cmn", "lesson_id": "broken-1"})
    assert run_cli("--config", cfg_path, "ingest") == 0
    cfg = load_config(cfg_path)
    with Catalog(_catalog_path(cfg_path)) as cat:
        lesson = [l for l in cat.lessons() if l.lesson_id == "broken-1"][0]
        stored = cfg.library / cat.source(lesson.source_sha256).path
    stored.chmod(0o644)
    stored.write_bytes(_broken_midway(tmp_path))              # the stored copy went bad
    capsys.readouterr()
    assert run_cli("--config", cfg_path, "encode") == 1
    out = capsys.readouterr()
    assert "encode failed: broken-1" in out.err and "exit 69" in out.err
    assert f"encode: {len(cfg.profiles)} rendition(s) made" in out.out
    made = {r.profile for r in _renditions_of(cfg_path)}
    assert made == set(cfg.profiles)


def test_encode_report_carries_the_max_gain_note(tmp_path, capsys):
    cfg_path = make_station(tmp_path / "station")
    text = cfg_path.read_text(encoding="utf-8").replace("max_gain_db = 30.0", "max_gain_db = 10.0")
    cfg_path.write_text(text, encoding="utf-8")
    drop(cfg_path.parent / "inbox", "zh-cmn_paddlespeech_01.wav", "q.wav",
         {"title": "輕聲", "category": "theory", "dialect": "cmn"})
    assert run_cli("--config", cfg_path, "ingest") == 0
    capsys.readouterr()
    assert run_cli("--config", cfg_path, "encode") == 0
    out = capsys.readouterr().out
    assert re.search(r"note: .*player: \d+\.\d LU short of target \(max gain 10\.0 dB reached\)", out)


def test_lessons_encode_in_parallel_with_progress_per_lesson(tmp_path):
    cfg_path = make_station(tmp_path / "station")
    text = cfg_path.read_text(encoding="utf-8").replace("jobs = 0", "jobs = 2")
    cfg_path.write_text(text, encoding="utf-8")
    for i, name in enumerate(("zh-cmn_aishell_01.wav", "zh-cmn_paddlespeech_01.wav", "nan_ithuan_01.wav")):
        drop(cfg_path.parent / "inbox", name, f"l{i}.wav", {"title": f"課{i}", "category": "theory", "dialect": "cmn"})
    assert run_cli("--config", cfg_path, "ingest") == 0
    cfg = load_config(cfg_path)
    seen, totals = [], []
    with Catalog(_catalog_path(cfg_path)) as cat:
        report = encode_all(cfg, cat, progress=lambda r: seen.append(r.label), on_total=totals.append)
    assert totals == [3] and len(seen) == 3
    assert len(report.made) == 3 * len(cfg.profiles) and not report.errors


def test_a_pcm_rendition_of_a_16_khz_source_lands_within_0_1_lu_first_time(tmp_path):
    """The plan predicts the rendered PCM: no encoder, so no correction is needed (the
    level is decided at 48 kHz, where the K-weighting is exact; see working_rate)."""
    result = _render(tmp_path, DATA / "zh-cmn_aishell_01.wav", ["broadcast"])
    (r,) = result.renditions
    assert abs(r.integrated_lufs - (-24.0)) <= 0.1
    assert abs(loudness_lufs(Path(r.path), tmp_path) - (-24.0)) <= 0.1


def test_the_progress_bar_shows_on_a_terminal(tmp_path):
    import os
    import pty
    import sys
    cfg_path = make_station(tmp_path / "station")
    drop(cfg_path.parent / "inbox", "zh-cmn_aishell_01.wav", "theory_cmn_a.wav")
    assert run_cli("--config", cfg_path, "ingest") == 0
    import fcntl
    import struct
    import termios
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a 100-column terminal
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "--config", str(cfg_path), "encode"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    out, _ = proc.communicate(timeout=300)
    os.close(master)
    assert proc.returncode == 0, b"".join(chunks)
    bar = b"".join(chunks).decode("utf-8", "replace")
    assert "encode" in bar and "1/1" in bar and "100%" in bar
    assert "1 rendition" not in bar and b"rendition(s) made" in out


def test_filters_run_in_float_on_a_16_bit_source(tmp_path):
    """A +6 dB lift of a 16-bit sine at -3 dBFS goes over full scale: it must come out at
    +3 dBFS (float), not clipped at 0 dBFS (ffmpeg ran the biquads on 16-bit integers)."""
    from pipeline.media import ffmpeg
    from pipeline.media.ffmpeg import Filter

    rate = 44100
    t = np.arange(rate * 2) / rate
    src = tmp_path / "sine16.wav"
    soundfile.write(src, 10 ** (-3 / 20) * np.sin(2 * np.pi * 1000 * t), rate, subtype="PCM_16")
    got = []
    ffmpeg.stream_pcm(src, [(Filter.of("equalizer", f=1000, t="q", w=1.0, g=6),)], rate, 1, [got.append])
    peak = float(np.max(np.abs(np.concatenate(got)[rate // 2:])))
    assert 20 * np.log10(peak) == pytest.approx(3.0, abs=0.1)


def test_aac_keeps_extra_headroom_only_around_the_first_sound():
    from pipeline.encode.render import onset_offsets

    peak = np.full(10_000, 1e-4)
    peak[3000:] = 0.5
    frames = meter.Frames(48000, 480_000, np.ones(10_000, np.float32), peak)
    web = load_config(Path(__file__).parent.parent / "config" / "dangke.toml").profiles["web"]
    offsets = onset_offsets(frames, chain.codec(web), -50.0)
    span = int(chain.codec(web).onset_s * 1000)
    assert offsets[:3000].max() == 0 and offsets[3000 + span:].max() == 0
    assert chain.codec(web).onset_headroom_db > 0
    assert offsets[3000:3000 + span].min() == pytest.approx(chain.codec(web).onset_headroom_db)
    player = load_config(Path(__file__).parent.parent / "config" / "dangke.toml").profiles["player"]
    assert onset_offsets(frames, chain.codec(player), -50.0) is None


def test_loudness_range_before_and_after_is_in_the_catalog_and_in_status(encoded_station, capsys):
    """Issue 11 item 2: every rendition's loudness range before and after, its
    levelling and its renders are catalogued; `dangke status` shows them per profile."""
    cfg = load_config(encoded_station["cfg"])
    with Catalog(_catalog_path(encoded_station["cfg"])) as cat:
        for name, p in cfg.profiles.items():
            rows = cat.rendition_dynamics(name, profile_hash(p))
            assert len(rows) == 2, name
            for row in rows:
                assert row.source_lra_lu is not None and row.lra_lu is not None
                assert bool(row.levelling) == p.levelling and row.renders in (1, 2)
    capsys.readouterr()
    assert run_cli("--config", encoded_station["cfg"], "status") == 0
    out = capsys.readouterr().out
    for name, p in cfg.profiles.items():
        block = out[out.index(f"renditions {name}:"):]
        line = block.splitlines()[1]
        assert re.match(r"\s+loudness range \(LU\) before -> after: median \d+\.\d -> \d+\.\d, most reduced", line)
        assert f"levelling {'on' if p.levelling else 'off'}" in line and "corrective render(s)" in line
