"""Unattended playout on a real liquidsoap (issue 13).

liquidsoap (Debian's 2.1) runs the script `dangke playout` writes, recording with
``output.file``. While it runs, a day whose slots start a few seconds apart is published
to a folder store (tones of distinct frequencies, one per slot), synced, re-published with
another third slot, and the store is then made unreachable. The recording shows, per
slot, when its tone began and ended against the slot's start and end (within 1 s, and
the figures are printed), which tone aired (the re-published one for slot 3), and
silence outside the slots.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import os
import signal
import subprocess
import time
import zoneinfo
from pathlib import Path

import numpy as np
import pytest
import soundfile

from pipeline.layout import schedule
from pipeline.models import Airing, BroadcastDay, SlotPlan
from pipeline.playout_script import parse_output, station_script
from pipeline.publish.objects import index_object
from pipeline.publish.store import FileStore, Put
from pipeline.errors import UsageError
from tests.conftest import run_cli

CHANNEL = "county-fm"
TZ = zoneinfo.ZoneInfo("Asia/Shanghai")
SLOT_S, FIRST_S, EVERY_S = 2.5, 4.0, 4.0
RATE = 48000


def tone(folder: Path, hz: int, seconds: float = SLOT_S) -> Path:
    """A broadcast-format WAV (48 kHz, stereo, 16-bit) of ``hz`` (one slot long by default)."""
    t = np.arange(int(round(seconds * RATE))) / RATE
    x = (0.25 * np.sin(2 * np.pi * hz * t)).astype(np.float32)
    path = folder / f"tone-{hz}-{seconds:g}.wav"
    soundfile.write(path, np.stack([x, x], axis=1), RATE, subtype="PCM_16")
    return path


def _put(key: str, data: bytes) -> Put:
    return Put(key=key, sha256=hashlib.sha256(data).hexdigest(), size=len(data), content_type="",
               cache_control="", data=data)


def publish_day(store: Path, starts: list[float], tones: list, generation: int) -> None:
    """Publish one day of ``CHANNEL`` and index.json to a folder store: a slot given one
    WAV has it as its whole-slot file, a slot given a tuple airs those items in order
    (no whole-slot file, as with ``[schedule] assemble = false``)."""
    fs = FileStore(store)
    objects, slots = [], []
    for start, parts in zip(starts, tones):
        begin = dt.datetime.fromtimestamp(start, TZ)
        items, at = [], begin
        for path in parts if isinstance(parts, tuple) else (parts,):
            data = path.read_bytes()
            sha = hashlib.sha256(data).hexdigest()
            key = f"audio/broadcast/{sha}.wav"
            objects.append(_put(key, data))
            seconds = soundfile.info(path).frames / RATE
            items.append(Airing(start=at, duration_s=seconds, kind="lesson", title=path.stem, lesson_id=path.stem,
                                category="theory", key=key, sha256=sha))
            at += dt.timedelta(seconds=seconds)
        whole = {} if isinstance(parts, tuple) else dict(key=items[0].key, sha256=items[0].sha256,
                                                          bytes=objects[-1].size)
        slots.append(SlotPlan(start=begin, end=begin + dt.timedelta(seconds=SLOT_S), items=tuple(items),
                              title=f"slot {len(slots) + 1}", **whole))
    first = dt.datetime.fromtimestamp(starts[0], TZ)
    day = BroadcastDay(channel=CHANNEL, date=first.date(), timezone="Asia/Shanghai", slots=tuple(slots),
                       clock="test")
    objects.append(_put(f"broadcast/{CHANNEL}/{first.date().isoformat()}.json", schedule(day)))
    for obj in objects:
        fs.put(obj)
    fs.put(index_object(generation, dt.datetime.now(dt.timezone.utc), objects))


def sound_runs(x: np.ndarray, rate: int) -> list[tuple[int, int]]:
    """``(first, last)`` sample of each stretch of sound (above -50 dBFS, gaps under 50 ms)."""
    idx = np.flatnonzero(np.abs(x) > 10 ** (-50 / 20))
    if not len(idx):
        return []
    cuts = np.flatnonzero(np.diff(idx) > rate * 0.05)
    starts = np.concatenate([[idx[0]], idx[cuts + 1]])
    ends = np.concatenate([idx[cuts], [idx[-1]]])
    return list(zip(starts.tolist(), ends.tolist()))


def frequency(x: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / rate)[spectrum.argmax()])


def playout(store: Path, cache: Path, record: Path, *extra: str) -> int:
    return run_cli("playout", CHANNEL, "--from", f"file://{store}", "--cache", cache,
                   "--output", f"file:{record}", "--reload", "1", "--once", "--allow-root", *extra)


def test_liquidsoap_airs_each_slot_at_its_time_and_nothing_else(tmp_path, capsys):
    store, cache, record = tmp_path / "store", tmp_path / "cache", tmp_path / "air.wav"
    fs = FileStore(store)
    fs.put(index_object(1, dt.datetime.now(dt.timezone.utc), []))  # a store with nothing on air yet
    assert playout(store, cache, record) == 0
    script = cache / CHANNEL / "playout.liq"
    assert script.is_file()
    tones = [tone(tmp_path, hz) for hz in (440, 660, 880, 1100)]
    halves = (tone(tmp_path, 660, SLOT_S / 2), tone(tmp_path, 770, SLOT_S / 2))  # slot 2: two items in order
    engine = subprocess.Popen(["liquidsoap", str(script)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              start_new_session=True)
    try:
        marker = Path(f"{record}.start")
        deadline = time.monotonic() + 60
        while not marker.exists():  # liquidsoap takes seconds to type-check its library
            assert engine.poll() is None, engine.stdout.read().decode(errors="replace")
            assert time.monotonic() < deadline, "liquidsoap did not start recording within 60 s"
            time.sleep(0.05)
        now = time.time()
        starts = [round(now + FIRST_S + n * EVERY_S, 3) for n in range(3)]
        publish_day(store, starts, [tones[0], halves, tones[2]], 2)  # a new day, picked up without a restart
        assert playout(store, cache, record) == 0
        before = (cache / CHANNEL / "cue.tsv").read_text(encoding="utf-8").splitlines()
        publish_day(store, starts, [tones[0], halves, tones[3]], 3)  # re-published: slot 3 changed
        assert playout(store, cache, record) == 0
        cue = (cache / CHANNEL / "cue.tsv").read_text(encoding="utf-8")
        assert len(before) == 3 and cue.splitlines()[:2] == before[:2] and cue.splitlines()[2] != before[2]
        os.rename(store, tmp_path / "gone")  # the store cannot be reached any more
        capsys.readouterr()
        assert playout(store, cache, record) == 1
        assert "the last known schedule stays on air" in capsys.readouterr().err
        assert (cache / CHANNEL / "cue.tsv").read_text(encoding="utf-8") == cue
        time.sleep(max(0.0, starts[-1] + SLOT_S + 1.5 - time.time()))
    finally:
        os.killpg(engine.pid, signal.SIGTERM)
        log = engine.communicate(timeout=30)[0].decode(errors="replace")
    began = float(marker.read_text())
    x, rate = soundfile.read(record)
    x = x.mean(axis=1)
    runs = sound_runs(x, rate)
    assert len(runs) == 3, (runs, log[-3000:])
    print(f"\nliquidsoap {log.split('Liquidsoap ')[1].split()[0] if 'Liquidsoap ' in log else '?'} recording, "
          f"{len(x) / rate:.2f} s at {rate} Hz; slot: start error, end error, tone")
    for n, ((a, b), start, want) in enumerate(zip(runs, starts, ((440,), (660, 770), (1100,))), 1):
        on, off = began + a / rate - start, began + (b + 1) / rate - (start + SLOT_S)
        cut = (b - a) // len(want)
        hz = [frequency(x[a + k * cut + cut // 10:a + (k + 1) * cut - cut // 10], rate) for k in range(len(want))]
        print(f"  slot {n}: start {on * 1000:+.0f} ms, end {off * 1000:+.0f} ms, "
              f"{' then '.join(f'{h:.0f}' for h in hz)} Hz (scheduled {' then '.join(map(str, want))} Hz)")
        assert abs(on) <= 1.0 and abs(off) <= 1.0
        assert all(abs(h - w) < 5 for h, w in zip(hz, want))
    # nothing airs outside the slots: every stretch of sound lies within one slot (±1 s)
    for a, b in runs:
        t0, t1 = began + a / rate, began + b / rate
        assert any(s - 1.0 <= t0 and t1 <= s + SLOT_S + 1.0 for s in starts)


def test_every_output_kind_is_a_valid_liquidsoap_21_script(tmp_path):
    """``liquidsoap --check`` type-checks the generated script against the installed
    engine's library (Icecast with a bed; the sound card and file outputs differ in one
    line and the file one runs in the test above)."""
    bed = tone(tmp_path, 220)
    script = tmp_path / "station.liq"
    script.write_text(station_script(CHANNEL, str(tmp_path / "cue.tsv"),
                                     parse_output("icecast://127.0.0.1:8000/county-fm"), bed=str(bed),
                                     allow_root=True), encoding="utf-8")
    run = subprocess.run(["liquidsoap", "--check", str(script)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "ICECAST_PASSWORD" in script.read_text() and "hackme" not in script.read_text()
    assert station_script(CHANNEL, "cue.tsv", parse_output("alsa")).count("output.alsa(radio)") == 1


@pytest.mark.parametrize("spec", ["icecast://source:secret@host:8000/fm", "speakers", "file:", "icecast://host"])
def test_bad_outputs_are_refused_and_passwords_never_go_into_the_script(spec):
    with pytest.raises(UsageError):
        parse_output(spec)


def test_a_late_start_joins_the_running_slot_and_ended_slots_are_left_out(tmp_path):
    from pipeline.cardsource import open_source
    from pipeline.playout import sync
    store, cache = tmp_path / "store", tmp_path / "cache"
    now = time.time()
    tones = [tone(tmp_path, hz) for hz in (440, 660, 880)]
    publish_day(store, [now - 100, now - 1, now + 60], tones, 1)
    report = sync(open_source(f"file://{store}"), CHANNEL, cache, dt.datetime.now(dt.timezone.utc))
    assert not report.error and report.slots == 2 and report.downloaded == 3
    first = (cache / CHANNEL / "cue.tsv").read_text().splitlines()[0].split("\t")
    assert float(first[0]) == pytest.approx(now - 1, abs=0.01)
    assert Path(first[2]).suffix == ".wav" and Path(first[2]).is_file()
    script = station_script(CHANNEL, "cue.tsv", parse_output("alsa"))
    assert "liq_cue_in" in script and "cue_cut(queue)" in script
    again = sync(open_source(f"file://{store}"), CHANNEL, cache, dt.datetime.now(dt.timezone.utc))
    assert again.downloaded == 0 and again.fetched == ()
    assert dataclasses.astuple(again)[3] == 2
