"""What containers hide (issue 12): lengths written as "unknown", frames a decoder drops,
chunks without their pad byte, tag text in the wrong encoding, cover pictures. Each input
is the one that showed the bug, made from a real recording with the real tools, and
ingested (and, where the audio is rewritten, encoded) by the real dangke."""

from __future__ import annotations

import json
import sqlite3
import struct
import subprocess
from pathlib import Path

import pytest
from mutagen import id3

from pipeline.ingest import quality
from pipeline.media import amr, repair, riff, tags
from tests.conftest import ffprobe, run_cli
from tests.inputs import QUIET, SPEECH, amr_dtx, convert, station

SPEECH_S = 4.281


def piped(src: Path, dest: Path, *options: object, fmt: str) -> Path:
    """``src`` encoded by ffmpeg to its stdout (a pipe: no seeking back to fix headers)."""
    out = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(src), *map(str, options), "-f", fmt, "-"],
                         capture_output=True, check=True, timeout=120).stdout
    dest.write_bytes(out)
    return dest


def zero_sizes(src: Path, dest: Path) -> Path:
    """A piped WAV whose RIFF and data sizes are 0 (the other "unknown" marker)."""
    data = bytearray(piped(src, dest, fmt="wav").read_bytes())
    at = data.find(b"data")
    data[4:8] = data[at + 4:at + 8] = b"\0\0\0\0"
    dest.write_bytes(bytes(data))
    return dest


def wav_without_pad_byte(src: Path, dest: Path) -> Path:
    """A BWF whose odd-sized ``bext`` chunk (603 bytes) is not followed by its pad byte."""
    raw = convert(src, dest.with_suffix(".plain.wav")).read_bytes()
    layout = riff.read_layout(raw[:65536], len(raw))
    fmt, data = layout.find(b"fmt "), layout.find(b"data")
    fmt_b, data_b = raw[fmt.offset:fmt.offset + fmt.size], raw[data.offset:data.offset + data.size]
    bext = b"county studio recorder".ljust(603, b"\0")
    body = (b"WAVE" + b"fmt " + struct.pack("<I", len(fmt_b)) + fmt_b + b"bext" + struct.pack("<I", 603) + bext
            + b"data" + struct.pack("<I", len(data_b)) + data_b)
    dest.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    dest.with_suffix(".plain.wav").unlink()
    return dest


def mp3_with_cover(src: Path, dest: Path, tmp: Path) -> Path:
    """An MP3 with a 20 KB PNG cover whose first IDAT chunk length is wrong, as some
    taggers write it: ffmpeg's png decoder says "chunk too big" while opening the file."""
    png = tmp / "cover.png"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
                    "color=c=gray:s=84x84,noise=alls=100:allf=t+u", "-frames:v", "1", str(png)],
                   check=True, timeout=60)
    data = bytearray(png.read_bytes())
    at = data.find(b"IDAT")
    data[at - 4:at] = struct.pack(">I", 0x7FFF0000)
    assert len(data) > 20000
    convert(src, dest, "-c:a", "libmp3lame", "-b:a", "64k")
    t = id3.ID3()
    t.add(id3.APIC(encoding=3, mime="image/png", type=id3.PictureType.COVER_FRONT, desc="", data=bytes(data)))
    t.save(str(dest), v2_version=3)
    return dest


def mp3_with_misflagged_text(src: Path, dest: Path) -> Path:
    """ID3v2.4 as Chinese tag editors write it: TIT2, TPE1 and COMM flagged UTF-8 ($03)
    holding GBK bytes, TALB flagged UTF-16 ($01) in big-endian order without a BOM."""
    convert(src, dest, "-c:a", "libmp3lame", "-b:a", "64k")
    t = id3.ID3()
    gbk = lambda text: text.encode("gbk").decode("latin-1")  # noqa: E731 (bytes carried as Latin-1)
    t.add(id3.TIT2(encoding=0, text=[gbk("牢記初心使命")]))
    t.add(id3.TPE1(encoding=0, text=[gbk("林老師")]))
    t.add(id3.TALB(encoding=2, text=["黨課"]))
    t.add(id3.COMM(encoding=0, lang="chi", desc="", text=[gbk("基層宣講")]))
    t.save(str(dest), v2_version=4)
    raw = bytearray(dest.read_bytes())
    for frame, encoding in ((b"TIT2", 3), (b"TPE1", 3), (b"COMM", 3), (b"TALB", 1)):
        raw[raw.find(frame) + 10] = encoding
    dest.write_bytes(bytes(raw))
    return dest


def cut_mid_sample(src: Path, dest: Path) -> Path:
    """A piped WAV whose writer stopped one byte into a sample frame."""
    piped(src, dest, fmt="wav")
    dest.write_bytes(dest.read_bytes()[:-1])
    return dest


def wav_list_without_pad_byte(src: Path, dest: Path) -> Path:
    """A WAV whose odd-sized ``LIST`` chunk, and the odd ``ISFT`` inside it, lack pad bytes."""
    raw = convert(src, dest.with_suffix(".plain.wav")).read_bytes()
    dest.with_suffix(".plain.wav").unlink()
    layout = riff.read_layout(raw[:65536], len(raw))
    fmt, data = layout.find(b"fmt "), layout.find(b"data")
    fmt_b, data_b = raw[fmt.offset:fmt.offset + fmt.size], raw[data.offset:data.offset + data.size]
    info = b"INFOISFT" + struct.pack("<I", 5) + b"Sound"
    body = (b"WAVE" + b"fmt " + struct.pack("<I", len(fmt_b)) + fmt_b + b"LIST" + struct.pack("<I", len(info)) + info
            + b"data" + struct.pack("<I", len(data_b)) + data_b)
    dest.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)
    return dest


def m4a_with_cover(src: Path, dest: Path, tmp: Path) -> Path:
    """An M4A with a JPEG cover (``covr``), as phone apps and iTunes write them."""
    jpeg = tmp / "cover.jpg"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", "color=c=red:s=300x300",
                    "-frames:v", "1", str(jpeg)], check=True, timeout=60)
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(src), "-i", str(jpeg), "-map", "0:a",
                    "-map", "1:v", "-c:a", "aac", "-c:v", "mjpeg", "-disposition:v", "attached_pic", str(dest)],
                   check=True, timeout=60)
    return dest


def rows(root: Path) -> dict[str, sqlite3.Row]:
    db = sqlite3.connect(str(root / "library" / "catalog.sqlite"))
    db.row_factory = sqlite3.Row
    return {r["original_name"]: r for r in db.execute(
        "SELECT l.*, s.analysis, s.path AS stored FROM lessons l JOIN sources s ON s.sha256 = l.source_sha256")}


# name: (builder(dest, tmp), decoded seconds)
UNKNOWN_LENGTH = {
    "wav-pipe-ffffffff.wav": (lambda d, t: piped(QUIET, d, fmt="wav"), 4.997),
    "wav-pipe-zero.wav": (lambda d, t: zero_sizes(QUIET, d), 4.997),
    "rf64-pipe.wav": (lambda d, t: piped(QUIET, d, "-rf64", "always", fmt="wav"), 4.997),
    "mp3-pipe-no-xing.mp3": (lambda d, t: piped(QUIET, d, "-c:a", "libmp3lame", fmt="mp3"), 4.997),
    "m4a-fragments.m4a": (lambda d, t: piped(QUIET, d, "-c:a", "aac", "-movflags", "frag_keyframe+empty_moov",
                                             fmt="mp4"), 4.997),
    "webm-no-duration.webm": (lambda d, t: piped(QUIET, d, "-c:a", "libopus", fmt="webm"), 4.997),
    "ogg-pipe.ogg": (lambda d, t: piped(QUIET, d, "-c:a", "libvorbis", fmt="ogg"), 4.997),
    "flac-pipe.flac": (lambda d, t: piped(QUIET, d, fmt="flac"), 4.997),
    "aac-adts.aac": (lambda d, t: piped(QUIET, d, "-c:a", "aac", fmt="adts"), 4.997),
    "wav-bext-no-pad.wav": (lambda d, t: wav_without_pad_byte(QUIET, d), 4.997),
    "amr-nb-dtx.amr": (lambda d, t: amr_dtx(SPEECH, d), 2 * SPEECH_S + 2.0),
    "amr-wb-dtx.awb": (lambda d, t: amr_dtx(SPEECH, d, wide=True), 2 * SPEECH_S + 2.0),
    "wav-pipe-cut-mid-sample.wav": (lambda d, t: cut_mid_sample(QUIET, d), 4.997),
    "wav-list-no-pad.wav": (lambda d, t: wav_list_without_pad_byte(QUIET, d), 4.997),
    "mp3-cover.mp3": (lambda d, t: mp3_with_cover(SPEECH, d, t), SPEECH_S),
    "m4a-cover.m4a": (lambda d, t: m4a_with_cover(SPEECH, d, t), SPEECH_S),
    "mp3-gbk-as-utf8.mp3": (lambda d, t: mp3_with_misflagged_text(SPEECH, d), SPEECH_S),
}


@pytest.fixture(scope="module")
def ingested(tmp_path_factory) -> dict:
    """One station, every input dropped as ``theory_cmn_<name>``, one `dangke ingest`,
    then `dangke encode`."""
    tmp = tmp_path_factory.mktemp("hidden")
    root = tmp / "station"
    cfg = station(root)
    made = {}
    for name, (build, _) in UNKNOWN_LENGTH.items():
        made[name] = build(root / "inbox" / f"theory_cmn_{name}", tmp).name
    status = run_cli("--config", cfg, "ingest")
    encoded = run_cli("--config", cfg, "encode")
    return {"root": root, "cfg": cfg, "status": status, "encoded": encoded, "made": made, "rows": rows(root)}


def test_every_input_is_accepted(ingested):
    assert ingested["status"] == 0
    assert sorted(p.name for p in (ingested["root"] / "inbox").iterdir()) == []
    assert set(ingested["rows"]) == set(ingested["made"].values())


@pytest.mark.parametrize("name", sorted(UNKNOWN_LENGTH))
def test_length_comes_from_the_data(ingested, name):
    row = ingested["rows"][ingested["made"][name]]
    assert row["duration_s"] == pytest.approx(UNKNOWN_LENGTH[name][1], abs=0.15)  # codec priming


def test_a_piped_wav_is_not_taken_for_a_44739_s_file():
    # the header of the bug report: 48 kHz mono 16-bit, sizes 0xFFFFFFFF
    head = (b"RIFF" + struct.pack("<I", 0xFFFFFFFF) + b"WAVEfmt " + struct.pack("<IHHIIHH", 16, 1, 1, 48000, 96000, 2, 16)
            + b"data" + struct.pack("<I", 0xFFFFFFFF))
    layout = riff.read_layout(head + bytes(480000), len(head) + 480000)
    assert layout.unknown_size and layout.declared_data_size is None
    assert layout.find(b"data").size == 480000


@pytest.mark.parametrize("name", ["amr-nb-dtx.amr", "amr-wb-dtx.awb"])
def test_amr_with_dtx_keeps_its_pauses_in_every_rendition(ingested, name):
    row = ingested["rows"][ingested["made"][name]]
    analysis = json.loads(row["analysis"])
    assert analysis["repair"] == "amr-dtx"
    assert analysis["codec"] in ("amr_nb", "amr_wb")
    assert ingested["encoded"] == 0
    db = sqlite3.connect(str(ingested["root"] / "library" / "catalog.sqlite"))
    paths = [p for (p,) in db.execute("SELECT path FROM renditions WHERE source_sha256 = ?", (row["source_sha256"],))]
    assert paths
    for p in paths:  # the published audio is as long as the memo, pauses included
        assert float(ffprobe(ingested["root"] / "library" / p)["format"]["duration"]) == pytest.approx(
            row["duration_s"], abs=0.1)


def test_a_wav_without_its_pad_byte_is_read_and_encoded(ingested):
    row = ingested["rows"][ingested["made"]["wav-bext-no-pad.wav"]]
    assert json.loads(row["analysis"])["repair"] == "wav-layout"
    stored = ingested["root"] / "library" / row["stored"]
    assert repair.plan(stored).code == "wav-layout"   # the original is kept as it came
    db = sqlite3.connect(str(ingested["root"] / "library" / "catalog.sqlite"))
    assert db.execute("SELECT count(*) FROM renditions WHERE source_sha256 = ?", (row["source_sha256"],)).fetchone()[0]


@pytest.mark.parametrize("name", sorted(UNKNOWN_LENGTH))
def test_nothing_here_is_reported_as_damaged_audio(ingested, name):
    """Cover pictures, tags ffmpeg cannot read, "unknown" sizes, a cut sample frame:
    none of them is damage of the recording."""
    row = ingested["rows"][ingested["made"][name]]
    assert not any("damaged" in w for w in json.loads(row["warnings"] or "[]"))
    assert json.loads(row["analysis"])["decode_problems"] == []


def test_gbk_in_frames_flagged_utf8_and_utf16_without_bom_is_read(ingested):
    row = ingested["rows"][ingested["made"]["mp3-gbk-as-utf8.mp3"]]
    # the file name gives category and dialect; the title and speaker come from the tags
    got = tags.read_tags(ingested["root"] / "library" / row["stored"])
    assert got == {"title": "牢記初心使命", "artist": "林老師", "album": "黨課", "comment": "基層宣講"}


def test_frame_text_repair_leaves_valid_text_alone():
    assert tags.fix_frame_text(b"\x03" + "牢記".encode("utf-8")) == b"\x03" + "牢記".encode("utf-8")
    assert tags.fix_frame_text(b"\x03" + "牢記".encode("gbk")) == b"\x03" + "牢記".encode("utf-8")
    assert tags.fix_frame_text(b"\x03" + "Zürich".encode("utf-8")) == b"\x03" + "Zürich".encode("utf-8")
    assert tags.fix_frame_text(b"\x01" + "黨課".encode("utf-16-be")) == b"\x01\xfe\xff" + "黨課".encode("utf-16-be")
    assert tags.fix_frame_text(b"\x01" + "黨課".encode("utf-16-le")) == b"\x01\xff\xfe" + "黨課".encode("utf-16-le")
    assert tags.fix_frame_text(b"\x00abc") == b"\x00abc"


def test_amr_frames_are_counted_whatever_their_type(tmp_path):
    path = amr_dtx(SPEECH, tmp_path / "memo.amr")
    frames = amr.count_frames(path.read_bytes())
    assert frames.dtx and frames.complete
    assert frames.duration_s == pytest.approx(2 * SPEECH_S + 2.0, abs=0.04)
    assert amr.count_frames(path.read_bytes() + b"\x3c" + bytes(5)).complete is False   # a 12.2k frame cut off
    assert amr.count_frames(b"RIFF") is None


def test_a_decoder_that_drops_frames_is_caught():
    # what ffmpeg's own AMR decoder makes of the DTX memo: every pause collapsed
    with pytest.raises(quality.FramesDropped, match="shortened"):
        quality.check_frames_kept(decoded_s=6.92, held_s=8.0, tolerance_s=0.5)
    quality.check_frames_kept(decoded_s=7.99, held_s=8.0, tolerance_s=0.5)
    quality.check_frames_kept(decoded_s=5.0, held_s=None, tolerance_s=0.5)


def test_without_the_reference_decoder_a_dtx_memo_is_rejected_not_shortened(tmp_path, monkeypatch):
    """If the opencore decoder cannot run, the memo is judged by ffmpeg alone: the
    dropped frames are found and the file is rejected with the reason."""
    root = tmp_path / "station"
    cfg = station(root)
    amr_dtx(SPEECH, root / "inbox" / "theory_cmn_memo.amr")
    monkeypatch.setattr(repair, "plan", lambda path: None)
    from pipeline.catalog import Catalog
    from pipeline.config import load_config
    from pipeline.ingest import ingest_pass
    c = load_config(cfg)
    report = ingest_pass(c, Catalog(c.library / "catalog.sqlite"))
    assert not report.accepted
    assert "dropped" in report.rejected[0].reason


def test_rewritten_wav_holds_the_original_samples_in_a_layout_strict_readers_take(tmp_path):
    import soundfile

    src = wav_without_pad_byte(QUIET, tmp_path / "in.wav")
    with pytest.raises(RuntimeError):
        soundfile.info(str(src))    # libsndfile, like ffmpeg and sox, loses the data chunk
    repair.write_copy(src, repair.plan(src), tmp_path / "out.wav")
    ref, _ = soundfile.read(str(convert(QUIET, tmp_path / "ref.wav")), dtype="int16")
    got, rate = soundfile.read(str(tmp_path / "out.wav"), dtype="int16")
    assert rate == 16000 and (got == ref).all()


def test_status_says_what_ingest_said_of_a_file_that_looks_incomplete(tmp_path, capsys):
    """The bug: ingest said a truncated M4A waits ("looks incomplete ... rejected in 10
    min"), status called it "ready for `dangke ingest`" with "0 waiting"."""
    from tests.inputs import prefix

    root = tmp_path / "station"
    cfg = station(root, incomplete_wait_s=600.0)
    full = convert(SPEECH, tmp_path / "full.m4a", "-c:a", "aac", "-b:a", "64k")   # moov at the end
    prefix(full, root / "inbox" / "theory_cmn_phone-copy.m4a", 0.6)
    assert run_cli("--config", cfg, "ingest") == 0
    out = capsys.readouterr().out
    said = next(line for line in out.splitlines() if "theory_cmn_phone-copy.m4a" in line)
    assert "looks incomplete" in said and "rejected at" in said and "(in 10 min)" in said
    assert "0 accepted" in out and "1 waiting" in out
    assert run_cli("--config", cfg, "status") == 0
    out = capsys.readouterr().out
    assert "inbox: 0 file(s) ready for `dangke ingest`, 1 waiting" in out
    line = next(line for line in out.splitlines() if "theory_cmn_phone-copy.m4a" in line)
    why = said.split("theory_cmn_phone-copy.m4a: ", 1)[1].split(" / ")[0]
    assert why in line          # the same words, the same rejection time
    assert "ready" not in line
    # once the file changes, the recorded wait no longer applies: it is looked at again
    (root / "inbox" / "theory_cmn_phone-copy.m4a").write_bytes(full.read_bytes())
    assert run_cli("--config", cfg, "status") == 0
    assert "theory_cmn_phone-copy.m4a: ready for `dangke ingest`" in capsys.readouterr().out
    assert run_cli("--config", cfg, "ingest") == 0
    assert run_cli("--config", cfg, "status") == 0
    assert "inbox: 0 file(s) ready for `dangke ingest`, 0 waiting" in capsys.readouterr().out
