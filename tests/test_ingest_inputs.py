"""Every input kind editors drop (issue 3, item 2), made from a real Mandarin recording with
the real ffmpeg, ingested in one pass: accepted, measured by decoding, stored verbatim."""

from __future__ import annotations

import hashlib
import json
import sqlite3

import pytest

from tests.conftest import ffprobe, run_cli
from tests.inputs import SPEECH, amr_nb, amr_wb, convert, pcm, station, write_wav

SPEECH_S = 4.281  # decoded duration of the source (68496 samples at 16 kHz)

# kind: (extension, builder(src, dest), codec, sample rate, channels)
KINDS = {
    "wav-u8": ("wav", lambda s, d: convert(s, d, "-c:a", "pcm_u8"), "pcm_u8", 16000, 1),
    "wav-s16-8k": ("wav", lambda s, d: convert(s, d, "-ar", 8000), "pcm_s16le", 8000, 1),
    "wav-s24-extensible-48k": ("wav", lambda s, d: convert(s, d, "-c:a", "pcm_s24le", "-ar", 48000),
                               "pcm_s24le", 48000, 1),
    "wav-s32": ("wav", lambda s, d: convert(s, d, "-c:a", "pcm_s32le"), "pcm_s32le", 16000, 1),
    "wav-float32": ("wav", lambda s, d: convert(s, d, "-c:a", "pcm_f32le"), "pcm_f32le", 16000, 1),
    "wav-float64": ("wav", lambda s, d: convert(s, d, "-c:a", "pcm_f64le"), "pcm_f64le", 16000, 1),
    "wav-extensible-s16": ("wav", lambda s, d: write_wav(d, pcm(s, 16000), 16000, "PCM_16", "WAVEX"),
                           "pcm_s16le", 16000, 1),
    "wav-extensible-float": ("wav", lambda s, d: write_wav(d, pcm(s, 16000), 16000, "FLOAT", "WAVEX"),
                             "pcm_f32le", 16000, 1),
    "bwf": ("wav", lambda s, d: convert(s, d, "-write_bext", 1, "-metadata", "originator=county studio",
                                        "-metadata", "description=lesson"), "pcm_s16le", 16000, 1),
    "rf64": ("wav", lambda s, d: convert(s, d, "-rf64", "always"), "pcm_s16le", 16000, 1),
    "mp3-cbr-info": ("mp3", lambda s, d: convert(s, d, "-c:a", "libmp3lame", "-b:a", "64k", "-ar", 44100),
                     "mp3", 44100, 1),
    "mp3-cbr-no-info": ("mp3", lambda s, d: convert(s, d, "-c:a", "libmp3lame", "-b:a", "32k", "-write_xing", 0),
                        "mp3", 16000, 1),
    "mp3-vbr-xing": ("mp3", lambda s, d: convert(s, d, "-c:a", "libmp3lame", "-q:a", 4, "-ar", 22050),
                     "mp3", 22050, 1),
    "mp3-vbr-no-xing": ("mp3", lambda s, d: convert(s, d, "-c:a", "libmp3lame", "-q:a", 4, "-write_xing", 0),
                        "mp3", 16000, 1),
    "m4a-aac-phone": ("m4a", lambda s, d: convert(s, d, "-c:a", "aac", "-b:a", "96k", "-ar", 44100),
                      "aac", 44100, 1),
    "m4a-aac-faststart-stereo-48k": ("m4a", lambda s, d: convert(s, d, "-c:a", "aac", "-ac", 2, "-ar", 48000,
                                                                 "-movflags", "+faststart"), "aac", 48000, 2),
    "amr-nb": ("amr", amr_nb, "amr_nb", 8000, 1),
    "amr-wb": ("awb", amr_wb, "amr_wb", 16000, 1),
    "ogg-vorbis": ("ogg", lambda s, d: convert(s, d, "-c:a", "libvorbis", "-q:a", 3), "vorbis", 16000, 1),
    "opus": ("opus", lambda s, d: convert(s, d, "-c:a", "libopus", "-b:a", "24k"), "opus", 48000, 1),
    "flac": ("flac", lambda s, d: convert(s, d, "-c:a", "flac"), "flac", 16000, 1),
    "wma": ("wma", lambda s, d: convert(s, d, "-c:a", "wmav2", "-b:a", "64k"), "wmav2", 16000, 1),
    "wav-stereo-44k": ("wav", lambda s, d: convert(s, d, "-af", "pan=stereo|c0=0.7071*c0|c1=0.7071*c0",
                                                   "-ar", 44100), "pcm_s16le", 44100, 2),
}


@pytest.fixture(scope="module")
def ingested(tmp_path_factory) -> dict:
    """One station, every kind dropped as ``theory_cmn_<kind>.<ext>``, one `dangke ingest`."""
    root = tmp_path_factory.mktemp("inputs") / "station"
    cfg = station(root)
    made = {}
    for kind, (ext, build, *_rest) in KINDS.items():
        path = build(SPEECH, root / "inbox" / f"theory_cmn_{kind}.{ext}")
        made[kind] = (path.name, hashlib.sha256(path.read_bytes()).hexdigest())
    status = run_cli("--config", cfg, "ingest")
    db = sqlite3.connect(str(root / "library" / "catalog.sqlite"))
    db.row_factory = sqlite3.Row
    rows = {r["original_name"]: r for r in db.execute(
        "SELECT l.*, s.analysis, s.path AS stored, s.sha256 AS sha FROM lessons l JOIN sources s"
        " ON s.sha256 = l.source_sha256")}
    return {"root": root, "status": status, "made": made, "rows": rows}


def test_every_kind_is_accepted_and_leaves_the_inbox(ingested):
    assert ingested["status"] == 0
    assert sorted(p.name for p in (ingested["root"] / "inbox").iterdir()) == []
    assert set(ingested["rows"]) == {name for name, _ in ingested["made"].values()}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_kind_is_measured_by_decoding(ingested, kind):
    _ext, _build, codec, rate, channels = KINDS[kind]
    name, sha = ingested["made"][kind]
    row = ingested["rows"][name]
    found = json.loads(row["analysis"])
    assert (found["codec"], found["sample_rate"], found["channels"]) == (codec, rate, channels)
    # decoded duration, whatever the header says (AMR frames are 20 ms; an MP3 without a
    # LAME/Info header keeps its encoder delay and padding: up to 0.1 s more)
    assert row["duration_s"] == pytest.approx(SPEECH_S, abs=0.1)
    assert found["integrated_lufs"] == pytest.approx(-30.5, abs=1.5)
    assert found["verdict"] in ("accept", "warn")
    assert found["channel_mode"] == ("mono" if channels == 1 else "mix")
    assert (row["category"], row["dialect"], row["title"]) == ("theory", "cmn", kind)
    stored = ingested["root"] / "library" / row["stored"]
    assert row["sha"] == sha == hashlib.sha256(stored.read_bytes()).hexdigest()


def test_vbr_without_xing_header_gets_its_true_duration(ingested):
    """BR-10: the header guess (from the first frame's bitrate) is not trusted."""
    name, _ = ingested["made"]["mp3-vbr-no-xing"]
    stored = ingested["root"] / "library" / ingested["rows"][name]["stored"]
    guessed = float(ffprobe(stored)["format"]["duration"])
    assert ingested["rows"][name]["duration_s"] == pytest.approx(SPEECH_S, abs=0.1)
    assert json.loads(ingested["rows"][name]["analysis"])["header_duration_s"] == pytest.approx(guessed)


def test_narrowband_sources_are_flagged_and_wideband_ones_are_not(ingested):
    def bandwidth(kind: str) -> tuple[float, tuple]:
        found = json.loads(ingested["rows"][ingested["made"][kind][0]]["analysis"])
        return found["effective_bandwidth_hz"], tuple(r["code"] for r in found["reasons"])

    for kind in ("amr-nb", "wav-s16-8k"):
        hz, codes = bandwidth(kind)
        assert hz <= 4000 and "narrowband" in codes, kind
    for kind in ("flac", "amr-wb", "wav-s24-extensible-48k"):
        hz, codes = bandwidth(kind)
        assert hz >= 7000 and "narrowband" not in codes, kind
