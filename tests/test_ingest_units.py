"""Pure pieces of ingest: signal statistics on synthetic samples, ffmpeg log parsers on
captured text, the mojibake heuristic, names, the settle clock and sidecar decoding."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

from pipeline.errors import InputRejected
from pipeline.ingest import files
from pipeline.ingest.metadata import decode_sidecar, one_line
from pipeline.media.decodelog import parse_decode_log, parse_ebur128_summary
from pipeline.media.signal import SignalMeter, effective_bandwidth_hz, level_spread_db, silent_spans
from pipeline.media.tags import repair_mojibake

RATE = 16000


def tone(freq: float, seconds: float, level: float = 0.5, rate: int = RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return level * np.sin(2 * math.pi * freq * t)


def syllables(seconds: float) -> np.ndarray:
    """A 200 Hz tone switched on and off every quarter second over a -60 dBFS noise floor."""
    n = int(seconds * RATE)
    floor = np.random.default_rng(3).normal(0, 0.001, n)
    return tone(200, seconds) * (np.arange(n) % 8000 < 4000) + floor


def meter(*channels: np.ndarray, rate: int = RATE, block: int = 3000):
    data = np.stack(channels, axis=1).astype(np.float32)
    m = SignalMeter(rate, data.shape[1])
    for i in range(0, len(data), block):  # odd block size: frames straddle blocks
        m.add(data[i:i + block])
    return m.result()


def test_meter_counts_samples_levels_dc_and_clipping():
    x = tone(440, 2.0, level=1.2).clip(-1, 1) + 0.0
    stats = meter(x, tone(440, 2.0, level=0.5) + 0.1)
    assert stats.samples == 32000 and stats.duration_s == 2.0
    left, right = stats.channels
    assert left.clipped_share > 0.3 and right.clipped_share == 0.0
    assert right.dc_offset == pytest.approx(0.1, abs=1e-3)
    assert right.peak_dbfs == pytest.approx(20 * math.log10(0.6), abs=0.01)
    assert left.rms_dbfs > right.rms_dbfs


def test_meter_correlation_tells_same_opposite_and_unrelated_channels():
    voice = tone(300, 1.0) * np.hanning(RATE)
    noise = np.random.default_rng(1).normal(0, 0.2, RATE)
    assert meter(voice, voice).correlation == pytest.approx(1.0)
    assert meter(voice, -voice).correlation == pytest.approx(-1.0)
    assert abs(meter(voice, noise).correlation) < 0.1
    assert meter(voice).correlation is None


def test_silent_spans_and_level_spread():
    stats = meter(np.concatenate([np.zeros(RATE), tone(200, 1.0), np.zeros(2 * RATE)]))
    spans = silent_spans(stats, -50.0, 0.5)
    assert spans[0][0] == 0.0 and spans[0][1] == pytest.approx(1.0, abs=0.07)
    assert spans[-1][1] == pytest.approx(4.0) and spans[-1][0] == pytest.approx(2.0, abs=0.07)
    assert level_spread_db(meter(syllables(2.0)), -70.0) > 20
    hum = meter(tone(150, 3.0, level=0.1))
    assert level_spread_db(hum, -70.0) < 1 and silent_spans(hum, -50.0, 0.5) == ()


def test_dc_offset_does_not_hide_the_level_changes_of_speech():
    assert level_spread_db(meter(syllables(2.0) + 0.3), -70.0) > 20


def test_effective_bandwidth_finds_telephone_band_whatever_the_rate():
    rng = np.random.default_rng(2)
    wide = rng.normal(0, 0.1, 4 * 48000)
    spectrum = np.fft.rfft(wide)
    freqs = np.fft.rfftfreq(len(wide), 1 / 48000)
    spectrum[freqs > 3400] = 0
    narrow = np.fft.irfft(spectrum, len(wide))
    assert 3300 <= effective_bandwidth_hz(meter(narrow, rate=48000)) <= 3700
    assert effective_bandwidth_hz(meter(wide, rate=48000)) == 24000
    assert effective_bandwidth_hz(meter(np.zeros(RATE))) == 0.0


def test_meter_rejects_blocks_of_the_wrong_shape():
    with pytest.raises(ValueError):
        SignalMeter(RATE, 2).add(np.zeros((10, 1), np.float32))


R128_SUMMARY = """[Parsed_ebur128_0 @ 0x1] [info] Summary:

  Integrated loudness:
    I:         -70.0 LUFS
    Threshold:   0.0 LUFS

  True peak:
    Peak:       -inf dBFS
[info] Stream mapping:
[Parsed_ebur128_0 @ 0x2] [info] Summary:

  Integrated loudness:
    I:         -22.4 LUFS
    Threshold: -32.8 LUFS

  Loudness range:
    LRA:         2.6 LU
    Threshold: -42.7 LUFS
    LRA low:   -23.9 LUFS
    LRA high:  -21.3 LUFS

  True peak:
    Peak:       -4.2 dBFS
"""


def test_ebur128_summary_uses_the_last_block():
    loud = parse_ebur128_summary(R128_SUMMARY)
    assert (loud.integrated_lufs, loud.lra_lu, loud.true_peak_dbtp) == (-22.4, 2.6, -4.2)
    silent = parse_ebur128_summary(R128_SUMMARY.split("[info] Stream mapping")[0])
    assert silent.integrated_lufs == -math.inf and silent.true_peak_dbtp == -math.inf
    with pytest.raises(ValueError):
        parse_ebur128_summary("[info] nothing decoded\n")


DECODE_LOG = """[mp3 @ 0x55f0] [warning] filesize and duration do not match (growing file?)
[info] Input #0, mp3, from 'x.mp3':
[mp3float @ 0x55f1] [error] invalid new backstep -1
[wav @ 0x55f2] [warning] Estimating duration from bitrate, this may be inaccurate
[info] Guessed Channel Layout for Input Stream #0.0 : mono
[warning] Guessed Channel Layout for Input Stream #0.0 : mono
"""


def test_decode_log_sorts_warnings():
    log = parse_decode_log(DECODE_LOG)
    assert log.duration_estimated
    assert log.incomplete == ("mp3: filesize and duration do not match (growing file?)",)
    assert log.errors == ("mp3float: invalid new backstep -1",)
    assert parse_decode_log("[info] all fine\n").errors == ()


@pytest.mark.parametrize("chinese", ["第一课：汉语拼音入门", "黨課", "黨性教育", "牢記初心使命", "連江縣", "王老师", "講"])
def test_mojibake_of_chinese_in_either_script_is_repaired(chinese):
    assert repair_mojibake(chinese.encode("gbk").decode("latin-1")) == chinese


@pytest.mark.parametrize("latin", ["Lesson 1", "Café", "Zürich", "Éxito", "Größe", "Fußball", "Smörgåsbord", "Noël"])
def test_latin1_text_and_ascii_are_left_alone(latin):
    assert repair_mojibake(latin) == latin


def test_a_gbk_character_cut_in_half_by_id3v1_is_dropped_not_garbled():
    raw = "汉语拼音".encode("gbk")[:7]
    assert repair_mojibake(raw.decode("latin-1")) == "汉语拼"


def test_file_names_in_gbk_bytes_are_shown_in_chinese():
    name = os.fsdecode("黨課錄音.mp3".encode("gbk"))
    assert files.display_name(name) == "黨課錄音.mp3"
    assert files.display_name("e\u0301.mp3") == "é.mp3"


@pytest.mark.parametrize("name, ext", [("a.MP3", ".mp3"), ("结尾有点.", ".bin"), ("末尾空格 .mp3 ", ".mp3"),
                                       ("noext", ".bin"), ("x.tar.gz", ".gz"), ("weird.m p3", ".bin")])
def test_library_extensions_are_plain(name, ext):
    assert files.library_extension(name) == ext


def test_unique_names_fit_the_file_system_and_do_not_collide(tmp_path):
    long = "汉" * 83 + ".mp3"
    first = files.unique_path(tmp_path, long)
    assert len((first.name + ".reason.txt").encode()) <= 255 - 24 and first.suffix == ".mp3"
    first.write_bytes(b"x")
    second = files.unique_path(tmp_path, long)
    assert second != first and "(2)" in second.name
    assert files.unique_path(tmp_path, "a.mp3") == tmp_path / "a.mp3"


@pytest.mark.parametrize("name", ["a.mp3.part", "a.mp3.crdownload", ".a.mp3.XXXXXX", "~$a.docx", "a.tmp",
                                  "a.mp3.filepart", "a.mp3.xltd", "a.mp3.baiduyun.downloading", "a.part.mp3"])
def test_temporary_names_wait(name):
    assert files.is_temporary(name)


def test_settler_needs_the_file_unchanged_for_the_settle_time(tmp_path):
    now = [100.0]
    settler = files.Settler(2.0, clock=lambda: now[0])
    f = tmp_path / "a.mp3"
    f.write_bytes(b"1")
    settler.observe([f])
    assert not settler.is_settled(f) and settler.next_due() == 2.0
    now[0] += 2.5
    settler.observe([f])
    assert settler.is_settled(f)
    f.write_bytes(b"12")
    settler.observe([f])
    assert not settler.is_settled(f)
    now[0] += 2.5
    settler.observe([f])
    settler.defer(f, 60)
    assert not settler.is_settled(f)
    f.write_bytes(b"123")  # a change ends the deferral
    settler.observe([f])
    now[0] += 2.5
    settler.observe([f])
    assert settler.is_settled(f)


def test_open_for_writing_sees_a_local_writer(tmp_path):
    import subprocess
    import sys
    import time
    f = tmp_path / "copying.mp3"
    f.write_bytes(b"")
    writer = subprocess.Popen([sys.executable, "-c", f"f = open({str(f)!r}, 'ab'); import time; time.sleep(30)"])
    try:
        time.sleep(0.5)
        assert files.open_for_writing([f]) == {f}
    finally:
        writer.kill()
        writer.wait()
    assert files.open_for_writing([f]) == set()


def test_sidecars_in_utf8_utf16_or_gbk_are_read_and_broken_ones_explained():
    data = {"title": "鮑魚養殖"}
    import json
    text = json.dumps(data, ensure_ascii=False)
    assert decode_sidecar(text.encode("utf-8"), "s.json") == (data, None)
    assert decode_sidecar(b"\xef\xbb\xbf" + text.encode("utf-8"), "s.json") == (data, None)
    assert decode_sidecar(text.encode("utf-16"), "s.json")[0] == data
    assert decode_sidecar(text.encode("gbk"), "s.json") == (data, "read as GBK/GB18030, not UTF-8")
    with pytest.raises(InputRejected) as err:
        decode_sidecar(b'{"title": "x",\n "category": }', "s.json")
    assert "line 2" in err.value.message and "s.json" in err.value.message


def test_titles_become_one_line():
    assert one_line("  第一講\n\t總論\u3000上 ") == "第一講 總論 上"
    assert one_line("   ") is None


def test_every_bundled_sample_has_a_chinese_title_category_and_dialect():
    """The demo publishes every sample to players, whose ID3 titles must read in Chinese:
    each sample in ``samples/inbox`` gets a Chinese title, a category and a dialect from
    its sidecar or its file name (the first two sources of the contract's order)."""
    import re
    from pathlib import Path
    from pipeline.ingest.metadata import from_name, from_sidecar, merge
    inbox = Path(__file__).resolve().parent.parent / "samples" / "inbox"
    audio = [p for p in sorted(inbox.iterdir()) if p.suffix != ".json"]
    assert len(audio) >= 10
    for p in audio:
        side = p.with_suffix(".json")
        sources = [from_sidecar(decode_sidecar(side.read_bytes(), side.name)[0], side.name)] if side.exists() else []
        meta = merge(*sources, from_name(p.name))
        assert meta.title and re.search(r"[\u4e00-\u9fff]", meta.title), p.name
        assert meta.category and meta.dialect, p.name
