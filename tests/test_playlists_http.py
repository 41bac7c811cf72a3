"""Broadcast playlists as real players fetch them over HTTP, and derived documents that
follow the configuration (issue 13).

- cvlc and mpv play (and liquidsoap's ``playlist()`` reads) the day's M3U8 and a per-slot playlist served by moto's S3 server with
  the Content-Type dangke set (VLC plays nothing of an ``application/vnd.apple.mpegurl``
  one: it is handed to the HLS and MPEG-PS demuxers, "garbage at input");
- the folder store served by Python's http.server (its type map is the system's, like
  Apache's: ``.m3u8`` is HLS there, ``.m3u`` a plain playlist) plays through the
  ``<date>.m3u`` twin;
- a changed ``[station] base_url`` reaches the M3U8, M3U, per-slot playlists and
  iCalendar files of days already published at the next publish, with nothing planned again.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest

from pipeline.catalog import Catalog
from tests.conftest import PUBLISH_DATE, run_cli
from tests.test_publish_s3 import S3Station

CHANNEL = "county-fm"


def _as_user() -> list[str]:
    """VLC refuses to run as root: drop to nobody (setpriv, util-linux) when we are root."""
    if os.geteuid() != 0:
        return []
    return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "env", "HOME=/tmp"]


def _entries(playlist: bytes) -> list[str]:
    return [line for line in playlist.decode("utf-8").splitlines() if line and not line.startswith("#")]


def vlc_opened(url: str) -> list[str]:
    """Play ``url`` with cvlc (half a second of each entry, into a WAV file); returns the
    HTTP locations VLC demuxed as WAV audio, after checking that audio came out."""
    with tempfile.TemporaryDirectory(prefix="dangke-vlc-") as tmp:  # under /tmp: nobody may write there
        os.chmod(tmp, 0o777)
        out = Path(tmp) / "out.wav"
        run = subprocess.run(_as_user() + ["cvlc", "--play-and-exit", "--no-video", "--stop-time=0.5", "-vv",
                                           "--aout=afile", f"--audiofile-file={out}", url],
                             capture_output=True, text=True, timeout=120)
        played = out.stat().st_size if out.exists() else 0
    log = run.stderr + run.stdout
    opened, current = [], None
    for line in log.splitlines():
        m = re.search(r"creating demux: access='https?' demux='any' location='([^']+)'", line)
        if m:
            current = m.group(1)
        elif "wav demux debug: chunk: fcc=`data`" in line and current and current not in opened:
            opened.append(current)
    assert "garbage at input" not in log
    assert played > 1000, "VLC wrote no audio"
    return opened


def mpv_played(url: str) -> list[str]:
    """Play ``url`` with mpv (half a second of each entry, no audio device); returns the
    entries mpv played."""
    run = subprocess.run(["mpv", "--no-config", "--no-video", "--ao=null", "--end=0.5", url],
                         capture_output=True, text=True, timeout=120)
    return re.findall(r"^Playing: (\S+)", run.stdout + run.stderr, re.M)


def liquidsoap_prepared(url: str, tmp: Path) -> bool:
    """liquidsoap's ``playlist()`` on ``url``: True once it has fetched an entry of the list
    and prepared it for playing (then it is stopped)."""
    script = tmp / "list.liq"
    script.write_text("settings.init.allow_root.set(true)\nsettings.log.stdout.set(true)\n"
                      f"s = playlist(reload_mode=\"never\", \"{url}\")\n"
                      f"output.file(%wav, \"{tmp / 'list.wav'}\", fallible=true, s)\n", encoding="utf-8")
    engine = subprocess.Popen(["liquidsoap", str(script)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, start_new_session=True)
    timer = threading.Timer(90, engine.kill)
    timer.start()
    try:
        for line in engine.stdout:
            if 'Prepared "' in line:  # an entry fetched through the list (a temporary file)
                return True
        return False
    finally:
        timer.cancel()
        engine.kill()
        engine.wait(timeout=30)


def _strip_scheme(u: str) -> str:
    return u.split("://", 1)[1]


@pytest.fixture
def st(publish_template, tmp_path, fault_proxy, s3_server) -> S3Station:
    st = S3Station(publish_template, tmp_path, fault_proxy, s3_server, f"dk-play-{os.getpid()}")
    assert st.publish() == 0
    return st


def test_vlc_and_mpv_play_the_day_and_a_slot_served_by_s3_with_our_content_type(st, tmp_path):
    day = f"broadcast/{CHANNEL}/{PUBLISH_DATE}.m3u8"
    r = st.get(day)
    assert r.headers["Content-Type"] == "audio/x-mpegurl; charset=utf-8"
    entries = _entries(r.content)
    assert entries and all(e.startswith(st.base) for e in entries)
    # VLC: each distinct entry of the day is fetched and demuxed as WAV
    opened = vlc_opened(st.base + day)
    assert opened and set(opened) == {_strip_scheme(e) for e in entries}
    assert set(mpv_played(st.base + day)) == set(entries)
    # a per-slot playlist: the whole-slot file, exactly the slot, at the slot's start
    first = sorted(k for k in st.index()["files"] if k.startswith(f"broadcast/{CHANNEL}/{PUBLISH_DATE}/"))[0]
    slot = st.get(first)
    assert slot.headers["Content-Type"] == "audio/x-mpegurl; charset=utf-8"
    text = slot.content.decode("utf-8")
    assert re.search(r"^#DANGKE-SLOT:start=2026-12-01T\d\d:\d\d:\d\d\+08:00,end=", text, re.M)
    (entry,) = _entries(slot.content)
    assert vlc_opened(st.base + first) == [_strip_scheme(entry)]
    assert mpv_played(st.base + first) == [entry]
    assert liquidsoap_prepared(st.base + first, tmp_path)


def test_the_hls_type_is_what_broke_vlc(st, tmp_path):
    """The input that showed the bug: the same bytes re-uploaded as application/vnd.apple.mpegurl."""
    day = f"broadcast/{CHANNEL}/{PUBLISH_DATE}.m3u8"
    st.client.put_object(Bucket=st.bucket, Key=f"dangke/{day}", Body=st.get(day).content,
                         ContentType="application/vnd.apple.mpegurl")
    with pytest.raises(AssertionError):
        vlc_opened(st.base + day)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def test_folder_store_behind_a_stock_web_server_plays_through_the_m3u_twin(publish_template, tmp_path):
    root = tmp_path / "station"
    shutil.copytree(publish_template, root)
    cfg = root / "dangke.toml"
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(_Quiet, directory=str(root / "public")))
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    text = cfg.read_text(encoding="utf-8")
    cfg.write_text(text.replace('base_url = "https://media.example.org/dangke/"', f'base_url = "{base}"'),
                   encoding="utf-8")
    assert run_cli("--config", cfg, "publish") == 0
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        twin = root / "public" / "broadcast" / CHANNEL / f"{PUBLISH_DATE}.m3u"
        assert twin.read_bytes() == twin.with_suffix(".m3u8").read_bytes()
        entries = _entries(twin.read_bytes())
        opened = vlc_opened(f"{base}broadcast/{CHANNEL}/{PUBLISH_DATE}.m3u")
        assert set(opened) == {_strip_scheme(e) for e in entries}
    finally:
        server.shutdown()
        server.server_close()


def test_a_new_base_url_reaches_every_published_day_without_planning_again(publish_template, tmp_path):
    root = tmp_path / "station"
    shutil.copytree(publish_template, root)
    cfg, store = root / "dangke.toml", root / "public"
    before = {p.relative_to(store).as_posix(): p.read_bytes() for p in (store / "broadcast").rglob("*.json")}
    with Catalog(root / "library" / "catalog.sqlite") as cat:
        airings = cat.channel_airings(CHANNEL)
    assert run_cli("--config", cfg, "publish") == 0  # the per-slot playlists and .m3u twins appear
    text = cfg.read_text(encoding="utf-8")
    new = "https://cdn.example.net/新 路徑/"
    cfg.write_text(text.replace('base_url = "https://media.example.org/dangke/"', f'base_url = "{new}"'),
                   encoding="utf-8")
    assert run_cli("--config", cfg, "publish") == 0
    derived = [p for p in (store / "broadcast").rglob("*") if p.suffix in (".m3u8", ".m3u", ".ics")]
    assert len([p for p in derived if p.parent.name == CHANNEL and p.suffix == ".m3u8"]) == 2
    assert any(p.parent.name == PUBLISH_DATE for p in derived)
    for p in derived:
        body = p.read_text(encoding="utf-8")
        assert "https://media.example.org/" not in body, p
        assert "https://cdn.example.net/%E6%96%B0%20%E8%B7%AF%E5%BE%91/audio/" in body.replace("\r\n ", ""), p
    feed = (store / "feeds" / f"broadcast-{CHANNEL}.xml").read_text(encoding="utf-8")
    assert "https://media.example.org/" not in feed
    # nothing re-planned: the schedules and the catalog's airings are as they were
    assert {p.relative_to(store).as_posix(): p.read_bytes() for p in (store / "broadcast").rglob("*.json")} == before
    with Catalog(root / "library" / "catalog.sqlite") as cat:
        assert cat.channel_airings(CHANNEL) == airings
    # and a publish with nothing changed writes nothing
    with Catalog(root / "library" / "catalog.sqlite") as cat:
        generations = len(cat.store_generations(f"file://{store.resolve()}"))
    assert run_cli("--config", cfg, "publish") == 0
    with Catalog(root / "library" / "catalog.sqlite") as cat:
        assert len(cat.store_generations(f"file://{store.resolve()}")) == generations
