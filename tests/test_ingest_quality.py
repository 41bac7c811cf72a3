"""Quality verdicts, metadata and rejections of ingest (issue 3 items 3-5, 7, 8), with the
corpus bug kinds BR-01, 03, 05, 10, 15, 18, 20, 24 built in fixtures from real recordings."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from mutagen import id3

from pipeline.encode import chain
from pipeline.media import ffmpeg
from tests.conftest import ffprobe, run_cli
from tests.inputs import HOT, QUIET, SPEECH, convert, ffmpeg as run_ffmpeg, pcm, prefix, station, write_wav

GBK_TITLE = "第一课：汉语拼音入门"


def gbk_as_latin1(text: str) -> str:
    """What an old Chinese tagger leaves in a frame declared ISO-8859-1."""
    return text.encode("gbk").decode("latin-1")


class Station:
    """A test station: drop files, run `dangke ingest`, read the catalog and rejected/."""

    def __init__(self, root: Path, **ingest: object) -> None:
        self.root = root
        self.cfg = station(root, **ingest)
        self.inbox = root / "inbox"

    def drop(self, name: str, build=None, sidecar: dict | str | bytes | None = None) -> Path:
        path = self.inbox / name
        if build is not None:
            build(path)
        if sidecar is not None:
            side = self.inbox / (name.rpartition(".")[0] + ".json")
            if isinstance(sidecar, dict):
                side.write_text(json.dumps(sidecar, ensure_ascii=False), encoding="utf-8")
            elif isinstance(sidecar, str):
                side.write_text(sidecar, encoding="utf-8")
            else:
                side.write_bytes(sidecar)
        return path

    def ingest(self) -> int:
        return run_cli("--config", self.cfg, "ingest")

    def lessons(self, all_versions: bool = False) -> dict[str, sqlite3.Row]:
        db = sqlite3.connect(str(self.root / "library" / "catalog.sqlite"))
        db.row_factory = sqlite3.Row
        where = "" if all_versions else "WHERE l.superseded = 0"
        rows = db.execute("SELECT l.*, s.analysis, s.path AS stored FROM lessons l JOIN sources s"
                          f" ON s.sha256 = l.source_sha256 {where} ORDER BY l.version").fetchall()
        return {r["original_name"]: r for r in rows}

    def findings(self, name: str) -> dict:
        return json.loads(self.lessons()[name]["analysis"])

    def reason(self, name: str) -> str:
        return (self.root / "rejected" / (name + ".reason.txt")).read_text(encoding="utf-8")


@pytest.fixture
def st(tmp_path) -> Station:
    return Station(tmp_path / "station")


def mp3(src: Path = SPEECH, *options: object):
    return lambda dest: convert(src, dest, "-c:a", "libmp3lame", "-b:a", "64k", *options)


# --- BR-01: a prefix of the real file ----------------------------------------------------------

TRUNCATIONS = {
    "mp3-with-info-header": ("mp3", ("-c:a", "libmp3lame", "-b:a", "64k"), 0.4),
    "m4a-moov-at-end": ("m4a", ("-c:a", "aac", "-b:a", "64k"), 0.9),
    "m4a-faststart": ("m4a", ("-c:a", "aac", "-b:a", "64k", "-movflags", "+faststart"), 0.6),
    "flac": ("flac", ("-c:a", "flac"), 0.6),
    "wav": ("wav", (), 0.5),
    "rf64": ("wav", ("-rf64", "always"), 0.5),
    "wma": ("wma", ("-c:a", "wmav2"), 0.5),
    "ogg-vorbis": ("ogg", ("-c:a", "libvorbis"), 0.5),
    "opus": ("opus", ("-c:a", "libopus"), 0.6),
}


@pytest.mark.parametrize("kind", sorted(TRUNCATIONS))
def test_truncated_copies_are_rejected_as_incomplete(st, tmp_path, kind):
    ext, options, share = TRUNCATIONS[kind]
    full = convert(HOT, tmp_path / f"full.{ext}", *options)
    name = f"theory_cmn_{kind}.{ext}"
    st.drop(name, lambda d: prefix(full, d, share))
    assert st.ingest() == 1
    note = st.reason(name)
    assert "incomplete" in note and "不完整" in note and "again" in note
    assert not st.lessons()
    assert (st.root / "rejected" / name).read_bytes() == full.read_bytes()[:int(full.stat().st_size * share)]


def test_a_file_that_looks_cut_off_waits_while_it_may_still_grow(tmp_path):
    """A stalled copy is not rejected at once; once complete it is accepted."""
    st = Station(tmp_path / "station", incomplete_wait_s=600.0)
    full = convert(HOT, tmp_path / "full.mp3", "-c:a", "libmp3lame", "-b:a", "64k")
    path = st.drop("theory_cmn_growing.mp3", lambda d: prefix(full, d, 0.4))
    assert st.ingest() == 0
    assert path.exists() and not st.lessons() and not (st.root / "rejected" / path.name).exists()
    path.write_bytes(full.read_bytes())
    assert st.ingest() == 0
    assert st.lessons()["theory_cmn_growing.mp3"]["duration_s"] == pytest.approx(25.0, abs=0.1)


# --- BR-03: nothing decodable -----------------------------------------------------------------

def _image(dest: Path) -> None:
    png = dest.with_suffix(".png")
    run_ffmpeg("-f", "lavfi", "-i", "color=c=red:s=64x64", "-frames:v", 1, png)
    png.rename(dest)


def _tag_only(dest: Path) -> None:
    dest.write_bytes(b"")
    tags = id3.ID3()
    tags.add(id3.TIT2(encoding=3, text=["只有標籤"]))
    tags.save(str(dest))


@pytest.mark.parametrize("name, build, words", [
    ("empty.mp3", lambda d: d.write_bytes(b""), "empty (0 bytes)"),
    ("image.m4a", _image, "not decodable audio: this is a PNG picture"),
    ("notes.wav", lambda d: d.write_text("會議記錄，不是錄音\n" * 20, encoding="utf-8"),
     "not decodable audio: this is a text file"),
    ("tag_only.mp3", _tag_only, "not decodable audio: the file holds only tags"),
    ("slides.mp3", lambda d: d.write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 8), "this is a PDF document"),
    ("voice.amr", lambda d: d.write_bytes(b"\x02#!SILK_V3" + bytes(range(256)) * 4), "WeChat/QQ voice message"),
    ("noise.mp3", lambda d: d.write_bytes(bytes(range(256)) * 64), "not decodable audio"),
])
def test_files_that_are_not_audio_get_one_clear_reason(st, name, build, words):
    path = st.drop(name, build)
    original = path.read_bytes()
    assert st.ingest() == 1
    note = st.reason(name)
    assert words in note and "處理方法" in note and "What to do" in note
    assert (st.root / "rejected" / name).read_bytes() == original
    assert not any(st.inbox.iterdir())


# --- BR-05: WAVE_FORMAT_EXTENSIBLE and IEEE float -----------------------------------------------

WAV_KINDS = {
    "s24-extensible": (lambda d: convert(SPEECH, d, "-c:a", "pcm_s24le", "-ar", 48000, "-ac", 2), 0xFFFE, "pcm_s24le"),
    "f32-extensible": (lambda d: convert(SPEECH, d, "-c:a", "pcm_f32le", "-ar", 48000, "-ac", 2), 0xFFFE, "pcm_f32le"),
    "f32-format-3": (lambda d: write_wav(d, pcm(SPEECH, 48000, 2), 48000, "FLOAT"), 0x0003, "pcm_f32le"),
}


@pytest.mark.parametrize("kind", sorted(WAV_KINDS))
def test_extensible_and_float_wavs_are_decoded_and_accepted(st, kind):
    build, fmt_tag, codec = WAV_KINDS[kind]
    name = f"skills_cmn_{kind}.wav"
    path = st.drop(name, build)
    assert int.from_bytes(path.read_bytes()[20:22], "little") == fmt_tag
    assert st.ingest() == 0
    found = st.findings(name)
    assert (found["sample_rate"], found["channels"], found["codec"]) == (48000, 2, codec)


# --- BR-10: VBR without a Xing header, near-silent start ----------------------------------------

def test_vbr_mp3_without_xing_header_is_measured_by_decoding(st):
    def build(dest: Path) -> None:
        run_ffmpeg("-f", "lavfi", "-i", "anoisesrc=a=0.0003:d=4:r=44100", "-i", HOT,
                   "-filter_complex", "[1:a]aresample=44100[s];[0:a][s]concat=n=2:v=0:a=1",
                   "-c:a", "libmp3lame", "-q:a", 6, "-write_xing", 0, dest)

    path = st.drop("theory_cmn_vbr.mp3", build)
    guessed = float(ffprobe(path)["format"]["duration"])
    assert st.ingest() == 0
    decoded = st.lessons()["theory_cmn_vbr.mp3"]["duration_s"]
    assert decoded == pytest.approx(29.0, abs=0.1)
    assert abs(guessed - decoded) > 3  # what a header-trusting pipeline would have stored


# --- BR-15: silence and steady noise ---------------------------------------------------------------

@pytest.mark.parametrize("name, source, words", [
    ("digital_silence.wav", "anullsrc=r=48000:cl=mono:d=10", "silent or nearly silent"),
    ("room_tone_quiet.wav", "anoisesrc=c=pink:a=0.001:d=10:r=48000", "silent or nearly silent"),
    ("room_tone_loud.wav", "anoisesrc=c=brown:a=0.05:d=10:r=48000", "no speech"),
    ("steady_hum.wav", "sine=f=150:r=48000:d=10,volume=0.1", "no speech"),
])
def test_silence_and_steady_noise_are_rejected_not_boosted(st, name, source, words):
    st.drop("theory_cmn_" + name, lambda d: run_ffmpeg("-f", "lavfi", "-i", source, d))
    assert st.ingest() == 1
    assert words in st.reason("theory_cmn_" + name)
    assert not st.lessons()


def test_quiet_real_speech_is_accepted_with_a_warning(st):
    st.drop("theory_cmn_quiet.wav", lambda d: convert(QUIET, d))
    assert st.ingest() == 0
    found = st.findings("theory_cmn_quiet.wav")
    assert found["verdict"] == "warn" and [r["code"] for r in found["reasons"]] == ["quiet"]
    assert "錄音音量很小" in found["warnings"][0]


def test_recordings_shorter_than_the_minimum_are_rejected(st):
    st.drop("theory_cmn_short.wav", lambda d: convert(SPEECH, d, "-t", 0.5))
    assert st.ingest() == 1
    assert "only 0.5 s long" in st.reason("theory_cmn_short.wav")


def test_sample_rates_below_8_khz_are_rejected(st):
    st.drop("theory_cmn_6k.wav", lambda d: convert(SPEECH, d, "-ar", 6000))
    assert st.ingest() == 1
    assert "6000 Hz" in st.reason("theory_cmn_6k.wav")


# --- BR-18: bad stereo ---------------------------------------------------------------------------

STEREO_CASES = {
    "opposite-phase": ("pan=stereo|c0=c0|c1=-1*c0", "invert-right", "opposite-phase"),
    "dead-right": ("pan=stereo|c0=c0|c1=0.0005*c0", "left", "dead-right"),
    "dead-left": ("pan=stereo|c0=0*c0|c1=c0", "right", "dead-left"),
    "partly-opposite": ("pan=stereo|c0=c0|c1=-0.6*c0", "invert-right", "opposite-phase"),
}


@pytest.mark.parametrize("case", sorted(STEREO_CASES))
def test_bad_stereo_is_detected_and_the_voice_survives_the_downmix(st, case):
    pan, mode, code = STEREO_CASES[case]
    name = f"policy_cmn_{case}.wav"
    st.drop(name, lambda d: convert(SPEECH, d, "-af", pan, "-ar", 44100))
    assert st.ingest() == 0
    found = st.findings(name)
    assert found["channel_mode"] == mode and code in [r["code"] for r in found["reasons"]]
    stored = st.root / "library" / st.lessons()[name]["stored"]
    mono = ffmpeg.measure(stored, chain.prepare(mode))
    source = ffmpeg.measure(SPEECH)
    assert mono.integrated_lufs > source.integrated_lufs - 4.5  # voice kept
    if mode == "invert-right":
        plain = ffmpeg.measure(stored, chain.prepare("mix"))
        assert plain.integrated_lufs < mono.integrated_lufs - 6  # what a plain sum does


def test_surround_recordings_use_the_standard_downmix(st):
    pan = "pan=5.1|FL=0.2*c0|FR=0.2*c0|FC=c0|LFE=0*c0|BL=0.1*c0|BR=0.1*c0"
    st.drop("policy_cmn_surround.flac", lambda d: convert(SPEECH, d, "-af", pan))
    assert st.ingest() == 0
    found = st.findings("policy_cmn_surround.flac")
    assert found["channels"] == 6 and found["channel_mode"] == "downmix"
    assert "multichannel" in [r["code"] for r in found["reasons"]]


def test_ordinary_stereo_is_mixed(st):
    st.drop("policy_cmn_stereo.wav", lambda d: convert(SPEECH, d, "-af", "pan=stereo|c0=c0|c1=0.8*c0"))
    assert st.ingest() == 0
    found = st.findings("policy_cmn_stereo.wav")
    assert found["channel_mode"] == "mix" and found["channel_correlation"] > 0.9
    assert found["verdict"] == "accept"


# --- other findings -----------------------------------------------------------------------------

def test_clipped_offset_and_late_starting_recordings_get_plain_warnings(st):
    st.drop("theory_cmn_hot.wav", lambda d: convert(HOT, d, "-af", "volume=6dB"))
    st.drop("theory_cmn_dc.wav", lambda d: convert(SPEECH, d, "-af", "dcshift=0.05"))
    st.drop("theory_cmn_late.wav", lambda d: convert(SPEECH, d, "-af", "adelay=12000:all=1"))
    assert st.ingest() == 0
    codes = {n: [r["code"] for r in st.findings(n)["reasons"]]
             for n in ("theory_cmn_hot.wav", "theory_cmn_dc.wav", "theory_cmn_late.wav")}
    assert "clipped" in codes["theory_cmn_hot.wav"]
    assert "dc-offset" in codes["theory_cmn_dc.wav"]
    assert "long-leading-silence" in codes["theory_cmn_late.wav"]
    late = st.findings("theory_cmn_late.wav")
    assert 12.0 <= late["leading_silence_s"] <= 12.6  # the delay plus the recording's own lead-in
    assert late["total_silence_s"] >= late["leading_silence_s"]
    hot = st.findings("theory_cmn_hot.wav")
    assert hot["clipped_share"] > 0.001 and hot["true_peak_dbtp"] > 0


def test_findings_hold_the_full_analysis(st):
    st.drop("theory_cmn_speech.flac", lambda d: convert(SPEECH, d))
    assert st.ingest() == 0
    found = st.findings("theory_cmn_speech.flac")
    for key in ("duration_s", "sample_rate", "channels", "codec", "integrated_lufs", "lra_lu", "true_peak_dbtp",
                "clipped_share", "leading_silence_s", "trailing_silence_s", "total_silence_s", "dc_offset",
                "effective_bandwidth_hz", "per_channel", "channel_mode", "verdict", "reasons"):
        assert key in found, key
    assert found["integrated_lufs"] == pytest.approx(-30.5, abs=0.3)
    assert found["true_peak_dbtp"] == pytest.approx(-14.9, abs=0.5)
    assert 7000 <= found["effective_bandwidth_hz"] <= 8000


# --- BR-20 and metadata precedence ----------------------------------------------------------------

def _gbk_tagged(dest: Path, v2: bool, title: str = GBK_TITLE) -> None:
    convert(SPEECH, dest, "-c:a", "libmp3lame", "-b:a", "64k", "-write_xing", 1, "-id3v2_version", 0)
    tags = id3.ID3()
    tags.add(id3.TIT2(encoding=id3.Encoding.LATIN1, text=[gbk_as_latin1(title)]))
    tags.add(id3.TPE1(encoding=id3.Encoding.LATIN1, text=[gbk_as_latin1("王老师")]))
    tags.add(id3.TCON(encoding=id3.Encoding.LATIN1, text=[gbk_as_latin1("党性教育")]))
    tags.add(id3.TLAN(encoding=id3.Encoding.LATIN1, text=["cdo"]))
    tags.save(str(dest), v1=2, v2_version=3)
    if not v2:
        id3.delete(str(dest), delete_v1=False, delete_v2=True)


def test_gbk_bytes_in_latin1_id3_frames_are_repaired(st):
    st.drop("recording-01.mp3", lambda d: _gbk_tagged(d, v2=True))
    assert st.ingest() == 0
    row = st.lessons()["recording-01.mp3"]
    assert (row["title"], row["speaker"], row["category"], row["dialect"]) == (GBK_TITLE, "王老师", "party-spirit", "cdo")


def test_gbk_bytes_in_id3v1_are_repaired_even_when_cut_mid_character(st):
    long_title = "第1课：汉语拼音入门与声调练习一"  # 31 GBK bytes: ID3v1 keeps 30 and half a character
    st.drop("theory_cmn.mp3", lambda d: _gbk_tagged(d, v2=False, title=long_title))
    assert (st.inbox / "theory_cmn.mp3").read_bytes()[-128:][:3] == b"TAG"
    assert st.ingest() == 0
    row = st.lessons()["theory_cmn.mp3"]
    assert row["title"] == long_title[:-1] and row["speaker"] == "王老师"


def test_sidecar_wins_over_name_which_wins_over_tags(st):
    st.drop("政策宣講_普通話_檔名標題_名字講師.mp3", lambda d: _gbk_tagged(d, v2=True),
            sidecar={"title": "說明檔標題", "dialect": "福州话", "valid_from": "2026-12-01"})
    assert st.ingest() == 0
    row = st.lessons()["政策宣講_普通話_檔名標題_名字講師.mp3"]
    assert (row["title"], row["dialect"], row["category"], row["speaker"]) == ("說明檔標題", "cdo", "policy", "名字講師")
    assert row["valid_from"] == "2026-12-01"
    assert (st.root / "library" / "sidecars" / f"{row['source_sha256']}.json").is_file()


def test_traditional_and_simplified_names_map_to_the_same_codes(st):
    st.drop("黨性教育_福州話_甲.mp3", mp3())
    st.drop("党性教育_福州话_乙.mp3", mp3(SPEECH, "-b:a", "48k"))
    assert st.ingest() == 0
    rows = st.lessons()
    assert {(r["category"], r["dialect"]) for r in rows.values()} == {("party-spirit", "cdo")}


@pytest.mark.parametrize("sidecar, words", [
    ({"category": "history"}, ["unknown category 'history'", "party-spirit (黨性教育)"]),
    ({"dialect": "klingon"}, ["unknown dialect 'klingon'", "cdo (福州話)"]),
    ({"recorded_on": "2026/11/02"}, ["recorded_on", "YYYY-MM-DD"]),
    ({"colour": "red"}, ["unknown field 'colour'", "lesson_id"]),
    ('{"title": "少了括號"', ["not valid JSON", "line 1"]),
    ({"lesson_id": "a/b"}, ["lesson_id 'a/b'", "slashes"]),
])
def test_bad_sidecars_reject_the_pair_naming_the_field(st, sidecar, words):
    st.drop("theory_cmn_lesson.mp3", mp3(), sidecar=sidecar)
    assert st.ingest() == 1
    note = st.reason("theory_cmn_lesson.mp3")
    for w in words:
        assert w in note
    assert (st.root / "rejected" / "theory_cmn_lesson.json").is_file()
    assert not any(st.inbox.iterdir())


def test_a_sidecar_saved_as_gbk_by_notepad_is_read_with_a_warning(st):
    st.drop("lesson.mp3", mp3(), sidecar=json.dumps({"title": "鮑魚養殖", "category": "技能培训",
                                                     "dialect": "連江話"}, ensure_ascii=False).encode("gbk"))
    assert st.ingest() == 0
    row = st.lessons()["lesson.mp3"]
    assert (row["title"], row["category"], row["dialect"]) == ("鮑魚養殖", "skills", "cdo")
    assert "sidecar-encoding" in [r["code"] for r in json.loads(row["analysis"])["reasons"]]


def test_missing_category_and_dialect_are_explained(st):
    st.drop("recording 12.mp3", mp3())
    assert st.ingest() == 1
    note = st.reason("recording 12.mp3")
    assert "no category and dialect" in note and "類別_方言_標題_講師" in note


# --- BR-24: names that are not safe elsewhere ------------------------------------------------------

BAD_NAMES = ["Lesson 3: What is tone?.mp3", '第4课 "问答" <上>.mp3', "复习|总结*.mp3", "CON.mp3",
             "第５课：全角冒号？.mp3", "末尾空格 .mp3 ", "汉" * 83 + ".mp3"]  # the corpus names (BR-24)


def test_names_with_characters_illegal_elsewhere_ingest_with_the_full_title(st):
    for i, name in enumerate(BAD_NAMES):
        st.drop(name, mp3(SPEECH, "-b:a", f"{(32, 40, 48, 56, 64, 80, 96, 112)[i]}k", "-f", "mp3"),
                sidecar={"category": "theory", "dialect": "cmn"})
    st.drop("结尾有点.", lambda d: convert(SPEECH, d, "-f", "wav"), sidecar={"category": "theory", "dialect": "cmn"})
    assert st.ingest() == 0
    rows = st.lessons()
    titles = {r["title"] for r in rows.values()}
    assert titles == {"Lesson 3: What is tone?", '第4课 "问答" <上>', "复习|总结*", "CON", "第５课：全角冒号？",
                      "末尾空格", "汉" * 83, "结尾有点"}
    for r in rows.values():
        assert Path(r["stored"]).suffix in (".mp3", ".bin")
    assert not any(st.inbox.iterdir())


def test_a_very_long_name_can_still_be_rejected_with_its_note(st):
    name = "没有类别" + "汉" * 79 + ".mp3"  # 253 bytes: the reason note needs a shorter name
    st.drop(name, lambda d: d.write_bytes(b"not audio at all"))
    assert st.ingest() == 1
    notes = list((st.root / "rejected").glob("*.reason.txt"))
    assert len(notes) == 1 and name in notes[0].read_text(encoding="utf-8")
    kept = [p for p in (st.root / "rejected").iterdir() if not p.name.endswith(".reason.txt")]
    assert len(kept) == 1 and kept[0].read_bytes() == b"not audio at all"


# --- duplicates and versions ----------------------------------------------------------------------

def test_the_same_bytes_again_are_a_duplicate_not_a_second_lesson(st, capsys):
    first = st.drop("theory_cmn_原稿.mp3", mp3())
    data = first.read_bytes()
    assert st.ingest() == 0
    (st.inbox / "theory_cmn_再次上傳.mp3").write_bytes(data)
    assert st.ingest() == 0
    assert len(st.lessons(all_versions=True)) == 1 and not any(st.inbox.iterdir())
    out = capsys.readouterr().out
    assert "duplicate theory_cmn_再次上傳.mp3: same bytes as theory_cmn_原稿.mp3" in out


def test_a_new_recording_with_an_existing_lesson_id_supersedes_it_keeping_history(st, capsys):
    st.drop("a.mp3", mp3(), sidecar={"lesson_id": "dj-01", "category": "theory", "dialect": "cmn", "title": "初版"})
    assert st.ingest() == 0
    st.drop("b.wav", lambda d: convert(SPEECH, d),
            sidecar={"lesson_id": "dj-01", "category": "theory", "dialect": "cmn", "title": "修訂版"})
    assert st.ingest() == 0
    assert "dj-01 v2 (supersedes v1)" in capsys.readouterr().out
    current = st.lessons()
    history = st.lessons(all_versions=True)
    assert [r["title"] for r in current.values()] == ["修訂版"]
    assert sorted((r["version"], r["superseded"]) for r in history.values()) == [(1, 1), (2, 0)]


# --- what editors see --------------------------------------------------------------------------------

def test_ingest_and_status_tell_what_was_accepted_warned_and_rejected(st, capsys):
    st.drop("theory_cmn_good.flac", lambda d: convert(SPEECH, d))
    st.drop("theory_cmn_quiet.wav", lambda d: convert(QUIET, d))
    st.drop("theory_cmn_broken.mp3", lambda d: d.write_bytes(b"\x00" * 4096))
    st.drop("孤兒說明檔.json", None, sidecar=None)
    (st.inbox / "孤兒說明檔.json").write_text("{}", encoding="utf-8")
    (st.inbox / "下載中.mp3.part").write_bytes(b"partial")
    assert st.ingest() == 1
    out, err = capsys.readouterr()
    assert "ingest: 2 accepted (1 with warnings), 0 duplicate(s), 1 rejected, 2 waiting" in out
    assert "rejected  theory_cmn_broken.mp3: not decodable audio" in err
    assert "waiting   孤兒說明檔.json: sidecar without its recording" in out
    assert "waiting   下載中.mp3.part: temporary name" in out
    assert run_cli("--config", st.cfg, "status") == 0
    out = capsys.readouterr().out
    assert "recently accepted" in out and "theory_cmn_quiet.wav: 1 warning(s)" in out
    assert "warning: very quiet recording" in out
    assert "theory_cmn_broken.mp3: not decodable audio" in out
    assert "waiting 下載中.mp3.part: temporary name" in out


def test_file_names_in_gbk_bytes_are_read_as_chinese(st):
    """Zip archives and shares from Chinese Windows give GBK bytes in file names."""
    import os
    good = os.fsdecode("黨性教育_福州話_牢記初心使命.mp3".encode("gbk"))
    bad = os.fsdecode("壞檔.mp3".encode("gbk"))
    st.drop(good, mp3())
    st.drop(bad, lambda d: d.write_bytes(b"not audio"))
    assert st.ingest() == 1
    row = st.lessons()["黨性教育_福州話_牢記初心使命.mp3"]
    assert (row["title"], row["category"], row["dialect"]) == ("牢記初心使命", "party-spirit", "cdo")
    assert (st.root / "rejected" / bad).read_bytes() == b"not audio"
    assert "檔案：壞檔.mp3" in (st.root / "rejected" / (bad + ".reason.txt")).read_text(encoding="utf-8")
    assert not any(st.inbox.iterdir())
