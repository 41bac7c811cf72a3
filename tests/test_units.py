"""Small pure pieces: vocabularies, metadata precedence, ffmpeg output parsers, config
and fleet validation, the CLI surface."""

from __future__ import annotations

import pytest

from pipeline.config import load_config
from pipeline.errors import ConfigError, InputRejected
from pipeline.fleet import load_fleet
from pipeline.ingest.metadata import from_name, from_sidecar, from_tags, merge
from pipeline.media.parse import parse_astats, parse_r128_metadata, parse_silencedetect
from pipeline.media.tags import repair_mojibake
from pipeline.models import Quarter
from tests.conftest import run_cli


def test_names_in_either_script_map_to_the_same_codes():
    a = from_name("黨性教育_福州話_牢記初心使命_林老師.mp3")
    b = from_name("党性教育_福州话_牢记初心使命_林老师.mp3")
    assert (a.category, a.dialect, a.title, a.speaker) == ("party-spirit", "cdo", "牢記初心使命", "林老師")
    assert (b.category, b.dialect) == ("party-spirit", "cdo")
    c = from_name("skills_cmn_abalone-farming.wav")
    assert (c.category, c.dialect, c.title, c.speaker) == ("skills", "cmn", "abalone-farming", None)
    assert from_name("recording 12.m4a").category is None


def test_sidecar_wins_over_name_which_wins_over_tags():
    side = from_sidecar({"title": "側欄標題", "category": "theory"}, "x.json")
    name = from_name("黨性教育_福州話_檔名標題.mp3")
    tags = from_tags({"title": "標籤標題", "artist": "講師", "genre": "政策宣講", "language": "cmn"})
    m = merge(side, name, tags)
    assert (m.title, m.category, m.dialect, m.speaker) == ("側欄標題", "theory", "cdo", "講師")


@pytest.mark.parametrize("data, field", [
    ({"category": "history"}, "history"),
    ({"dialect": "klingon"}, "klingon"),
    ({"valid_from": "2026/12/01"}, "valid_from"),
    ({"colour": "red"}, "colour"),
    ({"episode": "three"}, "episode"),
])
def test_bad_sidecars_are_rejected_naming_the_field(data, field):
    with pytest.raises(InputRejected) as err:
        from_sidecar(data, "lesson.json")
    assert field in err.value.message and "lesson.json" in err.value.message
    assert err.value.message_zh and err.value.fix


def test_gbk_mojibake_is_repaired_but_ascii_is_left_alone():
    mojibake = "第一课：汉语拼音入门".encode("gbk").decode("latin-1")
    assert repair_mojibake(mojibake) == "第一课：汉语拼音入门"
    assert repair_mojibake("Lesson 1") == "Lesson 1"
    assert repair_mojibake("Café") == "Café"


def test_quarters():
    q = Quarter.parse("2027Q1")
    assert (str(q), q.first_day.isoformat(), q.last_day.isoformat()) == ("2027Q1", "2027-01-01", "2027-03-31")
    assert str(Quarter.parse("2026q4").next()) == "2027Q1"
    with pytest.raises(ValueError):
        Quarter.parse("2027Q5")


R128 = """frame:249  pts:398400  pts_time:24.9
lavfi.r128.M=-13.915
lavfi.r128.S=-11.011
lavfi.r128.I=-12.549
lavfi.r128.LRA=5.540
lavfi.r128.true_peaks_ch0=1.138
lavfi.r128.true_peak=1.138
"""

ASTATS = """[Parsed_astats_1 @ 0x55] Channel: 1
[Parsed_astats_1 @ 0x55] DC offset: -0.000024
[Parsed_astats_1 @ 0x55] Peak level dB: -1.385449
[Parsed_astats_1 @ 0x55] RMS level dB: -14.405518
[Parsed_astats_1 @ 0x55] Peak count: 2
[Parsed_astats_1 @ 0x55] Overall
[Parsed_astats_1 @ 0x55] DC offset: -0.000024
[Parsed_astats_1 @ 0x55] Peak level dB: -1.385449
[Parsed_astats_1 @ 0x55] RMS level dB: -14.405517
[Parsed_astats_1 @ 0x55] Peak count: 2.000000
[Parsed_astats_1 @ 0x55] Number of samples: 95616
"""


def test_parsers_read_captured_ffmpeg_output():
    loud = parse_r128_metadata(R128)
    assert (loud.integrated_lufs, loud.lra_lu) == (-12.549, 5.54)
    assert abs(loud.true_peak_dbtp - 1.1228) < 1e-3
    stats = parse_astats(ASTATS)
    assert stats.samples == 95616 and len(stats.channels) == 1
    assert stats.channels[0].rms_db == -14.405518
    spans = parse_silencedetect("[silencedetect @ 0x1] silence_start: 0\n[silencedetect @ 0x1] silence_end: 1.5 "
                                "| silence_duration: 1.5\n[silencedetect @ 0x1] silence_start: 9.2\n", 10.0)
    assert spans == ((0.0, 1.5), (9.2, 10.0))
    assert parse_r128_metadata("lavfi.r128.I=-70.000\n").integrated_lufs == float("-inf")


def test_unknown_config_key_names_file_and_key(tmp_path):
    cfg = tmp_path / "dangke.toml"
    cfg.write_text('[station]\nname = "x"\ncolour = "red"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(cfg)
    assert "colour" in str(err.value) and str(cfg) in str(err.value)


def test_fleet_problems_are_reported_all_at_once_with_line_numbers(tmp_path):
    f = tmp_path / "fleet.csv"
    f.write_text("device_id,township,village,group,dialect,profile,capacity_mb,phone\n"
                 "A,t,v,fisher,cdo,player,512,138\n"
                 "A,t,v,fisher,cdo,player,512,139\n"
                 "B,t,v,sailor,xx,tablet,-1,140\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_fleet(f, {"player"})
    text = str(err.value)
    for expected in ("line 3: duplicate device_id A", "line 4: unknown profile", "line 4: unknown dialect",
                     "line 4: unknown group", "line 4: capacity_mb"):
        assert expected in text
    ok = tmp_path / "ok.csv"
    ok.write_text("device_id,township,village,group,dialect,profile,capacity_mb,holder_name\n"
                  "Z,t,v,漁民,福州話,player,64,林\n", encoding="utf-8")
    (d,) = load_fleet(ok, {"player"})
    assert (d.group, d.dialect) == ("fisher", "cdo") and not hasattr(d, "holder_name")


COMMANDS = ["init", "ingest", "watch", "encode", "plan", "schedule", "publish", "run", "status", "card"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command, capsys):
    assert run_cli(command, "--help") == 0
    assert "Usage" in capsys.readouterr().out


def test_bad_configuration_exits_2_with_one_clear_line(tmp_path, capsys):
    assert run_cli("--config", tmp_path / "missing.toml", "status") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "configuration file not found" in err[0] and "dangke init" in err[0]
    assert run_cli("--config", tmp_path / "missing.toml", "plan", "--quarter", "2027Q9") == 2


@pytest.mark.parametrize("old, new, message", [
    ('base_url = "https://media.example.org/dangke/"', 'base_url = "media.example.org/dangke/"',
     "is not an http(s) URL"),
    ('target = "file://public"', 'target = "ftp://example.org/dangke"', "is not file:// or s3://"),
])
def test_station_urls_are_checked_naming_the_file(tmp_path, old, new, message):
    """Found by a new user: a base_url without its scheme was accepted (every published
    URL would have been broken) and a bad target's error did not name the file."""
    from pipeline.config import load_config
    from pipeline.errors import ConfigError
    from tests.conftest import make_station
    cfg = make_station(tmp_path / "st")
    text = cfg.read_text(encoding="utf-8")
    assert old in text
    cfg.write_text(text.replace(old, new), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(cfg)
    assert message in str(err.value) and str(cfg) in str(err.value)


def test_bad_run_and_plan_options_are_refused_before_any_work(tmp_path, capsys):
    """Found by a new user: `run --days 0` ingested, encoded and planned before it
    complained, and `plan --quarter 1999Q1` planned (and later published) a long-gone
    quarter."""
    from tests.conftest import make_station, run_cli
    cfg = make_station(tmp_path / "st")
    (tmp_path / "st" / "inbox" / "x.mp3").write_bytes(b"not audio")
    assert run_cli("--config", cfg, "run", "--days", "0") == 2
    assert (tmp_path / "st" / "inbox" / "x.mp3").exists() and not any((tmp_path / "st" / "rejected").iterdir())
    capsys.readouterr()
    assert run_cli("--config", cfg, "plan", "--quarter", "1999Q1") == 2
    err = capsys.readouterr().err
    assert "1999Q1 has ended" in err and "--quarter" in err
    assert not (tmp_path / "st" / "build" / "devices" / "1999Q1").exists()
    assert run_cli("--config", cfg, "plan", "--quarter", "19Q1") == 2
    assert capsys.readouterr().err.count("e.g.") == 1
