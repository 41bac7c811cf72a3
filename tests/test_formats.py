"""The format table (issue 17): every place reads pipeline.formats, an unknown format is
a configuration error naming the file and the key, and Opus in Ogg (the shipped but
disabled `[profiles.opus-web]` example) encodes a real lesson with the real ffmpeg."""

from __future__ import annotations

import base64
import re
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from mutagen.flac import Picture
from mutagen.oggopus import OggOpus

from pipeline import formats
from pipeline.catalog import Catalog
from pipeline.config import load_config
from pipeline.encode import chain
from pipeline.encode.lifecycle import current
from pipeline.errors import ConfigError, DangkeError
from pipeline.media import tags
from pipeline.publish.objects import CONTENT_TYPES
from tests.conftest import drop, ffprobe, make_station, run_cli

SHIPPED = Path(__file__).resolve().parent.parent / "config" / "dangke.toml"


def opus_example() -> str:
    """The shipped `[profiles.opus-web]` example of config/dangke.toml, uncommented."""
    text = SHIPPED.read_text(encoding="utf-8")
    block = re.search(r"^# \[profiles\.opus-web\]\n(?:# .*\n)+", text, re.M)
    assert block, "config/dangke.toml lost its [profiles.opus-web] example"
    return re.sub(r"^# ", "", block.group(0), flags=re.M)


def with_profile(cfg: Path, body: str) -> Path:
    cfg.write_text(cfg.read_text(encoding="utf-8") + "\n" + body, encoding="utf-8")
    return cfg


@pytest.fixture
def cfg_copy(tmp_path: Path) -> Path:
    cfg = tmp_path / "dangke.toml"
    cfg.write_text(SHIPPED.read_text(encoding="utf-8"), encoding="utf-8")
    return cfg


# -- the table ---------------------------------------------------------------------------

def test_every_format_has_its_tag_writer_content_type_and_encoder():
    for f in formats.FORMATS.values():
        assert f.tag_style in tags.WRITERS or f.tag_style == "bext", f.name
        assert CONTENT_TYPES[f".{f.extension}"] == f.content_type
        assert f.encoder or f.pcm_encoders
        assert f.lossy or not f.noise_factors
    assert CONTENT_TYPES[".opus"] == "audio/ogg" and CONTENT_TYPES[".json"].startswith("application/json")


def test_an_unknown_format_is_refused_everywhere_not_taken_for_another():
    odd = replace(load_config(SHIPPED).profiles["web"], format="ogg")
    with pytest.raises(DangkeError, match="unknown audio format 'ogg'"):
        chain.codec(odd)                    # was: PCM's model with 0.1 dB headroom
    with pytest.raises(DangkeError, match="unknown audio format"):
        chain.output_options(odd)           # was: AAC in an ipod container
    with pytest.raises(DangkeError, match="unknown audio format"):
        odd.mime_type                       # was: a KeyError in the feeds
    with pytest.raises(ValueError, match="no tag writer"):
        tags.write("ape", Path("x.ogg"), tags.TagSet(title="x"))


@pytest.mark.parametrize("key, value, says", [
    ("format", '"ogg"', "format = 'ogg' is not supported"),
    ("tags", '"id3v2.3"', "tags = 'id3v2.3' does not go with format opus"),
    ("sample_rate", "44100", "sample_rate = 44100 is not one format opus takes"),
    ("bitrate_kbps", None, "needs bitrate_kbps for format opus"),
])
def test_a_profile_the_format_table_does_not_allow_is_a_config_error_naming_file_and_key(cfg_copy, key, value, says):
    lines = [line for line in opus_example().splitlines() if not line.startswith(f"{key} =")]
    if value is not None:
        lines.append(f"{key} = {value}")
    with_profile(cfg_copy, "\n".join(lines) + "\n")
    with pytest.raises(ConfigError) as err:
        load_config(cfg_copy)
    assert says in err.value.message and "[profiles.opus-web]" in err.value.message
    assert err.value.path == str(cfg_copy)


def test_the_shipped_opus_example_loads_and_reads_the_table(cfg_copy):
    assert "opus-web" not in load_config(SHIPPED).profiles     # shipped, but not enabled
    p = load_config(with_profile(cfg_copy, opus_example())).profiles["opus-web"]
    assert (p.format, p.extension, p.mime_type, p.tags) == ("opus", "opus", "audio/ogg", "vorbis")
    opts = dict(chain.output_options(p, "title", "history"))
    assert (opts["acodec"], opts["format"], opts["b:a"], opts["ar"]) == ("libopus", "ogg", "64k", 48000)
    assert "metadata" not in opts and "metadata:g" not in opts          # no INFO/bext: not PCM
    c = chain.codec(p)
    assert (c.level_db, c.noise_factor, c.window_ms) == (0.0, 0.85, 20)
    assert chain.codec(replace(p, bitrate_kbps=24)).noise_factor == 1.0     # below every fit: the lowest's


# -- a real lesson to Opus in Ogg ----------------------------------------------------------

SIDECAR = {"title": "牢記初心使命", "speaker": "林老師", "category": "黨性教育", "dialect": "福州話",
           "series": "初心講堂", "episode": 3, "lesson_id": "cxjt-003"}
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de"
                    "0000000c4944415408d763f8cfc000000301010018dd8db00000000049454e44ae426082")


def _ebur128(path: Path) -> tuple[float, float]:
    """Integrated loudness (LUFS) and true peak (dBTP) of the decoded file by ffmpeg's ebur128."""
    proc = subprocess.run(["ffmpeg", "-hide_banner", "-nostats", "-i", str(path), "-af", "ebur128=peak=true",
                           "-f", "null", "-"], capture_output=True, text=True, timeout=120, check=True)
    summary = proc.stderr[proc.stderr.rindex("Summary:"):]
    return (float(re.search(r"I:\s+(-?[\d.]+) LUFS", summary).group(1)),
            float(re.search(r"True peak:\s+Peak:\s+(-?[\d.]+|-inf) dBFS", summary).group(1)))


@pytest.fixture(scope="module")
def opus_station(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("opus") / "station"
    cfg_path = with_profile(make_station(root), opus_example())
    drop(root / "inbox", "zh-cmn_funasr_03_long.wav", "lesson.wav", SIDECAR)
    (root / "assets" / "covers").mkdir(parents=True, exist_ok=True)
    (root / "assets" / "covers" / "初心講堂.png").write_bytes(PNG)
    assert run_cli("--config", cfg_path, "ingest") == 0
    assert run_cli("--config", cfg_path, "encode") == 0
    cfg = load_config(cfg_path)
    with Catalog(cfg.library / "catalog.sqlite") as cat:
        lesson = [les for les in cat.lessons() if les.lesson_id == "cxjt-003"][0]
        r = current(cfg, cat, lesson.source_sha256, "opus-web")
    return {"cfg_path": cfg_path, "cfg": cfg, "rendition": r, "path": cfg.library / r.path}


def test_a_real_lesson_encodes_to_opus_in_ogg_at_the_profile_target(opus_station, tmp_path):
    r, path, p = opus_station["rendition"], opus_station["path"], opus_station["cfg"].profiles["opus-web"]
    assert path.suffix == ".opus" and r.key.startswith("audio/opus-web/") and r.key.endswith(".opus")
    info = ffprobe(path)
    stream = info["streams"][0]
    assert info["format"]["format_name"] == "ogg"
    assert (stream["codec_name"], int(stream["sample_rate"]), stream["channels"]) == ("opus", 48000, 1)
    assert 40_000 <= int(info["format"]["bit_rate"]) <= 90_000          # 64 kb/s, with Ogg overhead
    lufs, peak = _ebur128(path)                                          # an independent reader
    assert abs(lufs - p.loudness_lufs) <= 0.5, lufs
    assert peak <= p.true_peak_dbtp + 0.1, peak                          # ebur128's 4x true peak
    assert abs(r.integrated_lufs - lufs) <= 0.3 and r.renders == 1       # the model: right first time


def test_opus_vorbis_comments_read_back_with_mutagen(opus_station):
    f = OggOpus(str(opus_station["path"]))
    assert f.tags["TITLE"] == ["牢記初心使命"] and f.tags["ARTIST"] == ["林老師"]
    assert f.tags["ALBUM"] == ["初心講堂"] and f.tags["TRACKNUMBER"] == ["3"]
    assert f.tags["LANGUAGE"] == ["cdo"] and f.tags["DANGKE_LESSON_ID"] == ["cxjt-003"]
    pic = Picture(base64.b64decode(f.tags["METADATA_BLOCK_PICTURE"][0]))
    assert (pic.type, pic.mime, pic.data) == (3, "image/png", PNG)
    got = tags.read_tags(opus_station["path"])                           # the ingest reader too
    assert got["title"] == "牢記初心使命" and got["language"] == "cdo"


def test_an_opus_rendition_is_cached_like_any(opus_station, capsys):
    before = opus_station["path"].stat().st_mtime_ns
    capsys.readouterr()
    assert run_cli("--config", opus_station["cfg_path"], "encode") == 0
    assert opus_station["path"].stat().st_mtime_ns == before
