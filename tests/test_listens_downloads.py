"""Downloads from access logs (issue 15), counted by the IAB Podcast Measurement Technical
Guidelines v2.1: hand-made combined-format lines for each rule (a 0-1 probe, ranged
requests assembled, overlapping ranges united, a repeat within the day, a second user
agent on the same IP, a bot, HEAD, errors), the catalog's state (a log read twice, days
closed with their hashed clients dropped), and real requests to moto's S3 server: moto
writes access-log objects of its own, which are not in the documented format (no key,
no bytes, an unquoted request line), so the test also writes the documented S3 format
from the real responses and reads both back through ``dangke listens --logs s3://``."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import zoneinfo
from pathlib import Path

import pytest
import requests

from pipeline.catalog import Catalog
from pipeline.listens.accesslog import parse_line
from pipeline.listens.downloads import count_downloads
from pipeline.listens.iab import DownloadCounter, Episode
from tests.conftest import run_cli, s3_client, set_publish

TZ = zoneinfo.ZoneInfo("Asia/Shanghai")
SHA = "a" * 64
KEY = f"/dangke/audio/player/{SHA}.mp3"
PHONE = "AppleCoreMedia/1.0.0.20G165 (iPhone; U; CPU OS 16_6 like Mac OS X; zh_cn)"
ANDROID = "Xiaoyuzhou/2.57.1 (Android 13)"


def line(ip: str, when: str, path: str, status: int, sent: int, ua: str, rng: str = "-", method: str = "GET") -> str:
    return f'{ip} - - [{when} +0800] "{method} {path} HTTP/1.1" {status} {sent} "-" "{ua}" "{rng}"'


def iab_lines() -> list[str]:
    """One day (10 Jan 2027) and the next, for an episode of 960,000 bytes and 480 s:
    one minute of audio is 120,000 bytes."""
    d1, d2 = "10/Jan/2027", "11/Jan/2027"
    return [
        line("203.0.113.9", f"{d1}:08:00:00", KEY, 206, 2, PHONE, "bytes=0-1"),             # probe
        line("203.0.113.9", f"{d1}:08:00:01", KEY, 206, 65536, PHONE, "bytes=0-65535"),     # partial
        line("203.0.113.9", f"{d1}:08:00:05", KEY, 206, 65536, PHONE, "bytes=65536-"),      # counted: assembled
        line("203.0.113.9", f"{d1}:11:30:00", KEY, 200, 960000, PHONE),                      # repeat, same day
        line("203.0.113.9", f"{d1}:12:00:00", KEY, 200, 960000, ANDROID),                    # counted: other UA
        line("198.51.100.7", f"{d1}:09:00:00", KEY, 206, 100000, PHONE, "bytes=0-99999"),    # partial
        line("198.51.100.7", f"{d1}:09:00:09", KEY, 206, 100000, PHONE, "bytes=0-99999"),    # partial: same bytes
        line("66.249.66.1", f"{d1}:10:00:00", KEY, 200, 960000,
             "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"),    # bot
        line("203.0.113.10", f"{d1}:10:00:00", KEY, 200, 0, PHONE, method="HEAD"),          # HEAD
        line("203.0.113.11", f"{d1}:10:00:00", KEY, 404, 0, PHONE),                          # error
        line("203.0.113.11", f"{d1}:10:00:00", "/dangke/feeds/lessons-cmn.xml", 200, 5000, PHONE),  # not audio
        line("203.0.113.9", f"{d2}:07:00:00", KEY, 200, 960000, PHONE),                      # counted: next day
        line("203.0.113.12", f"{d2}:08:00:00", KEY, 200, 960000, "dangke-card/0.1.0"),       # a crew's loader
    ]


def test_the_iab_rules_on_hand_made_lines():
    counter = DownloadCounter({SHA: Episode(SHA, "L-1", "lessons-cmn", 960_000, 480.0)}, TZ,
                              salt=lambda day: day.isoformat().encode(), is_open=lambda day: True)
    outcomes = [counter.add(parse_line(text)) for text in iab_lines()]
    assert outcomes == ["probe", "partial", "counted", "repeat", "counted", "partial", "partial", "bot", "method",
                        "status", "other", "counted", "own"]
    assert dict(counter.downloads) == {(dt.date(2027, 1, 10), SHA): 2, (dt.date(2027, 1, 11), SHA): 1}


def test_an_episode_shorter_than_a_minute_needs_the_whole_file():
    assert Episode(SHA, "L", "", 30_000, 45.0).needed == 30_000
    assert Episode(SHA, "L", "", 960_000, 480.0).needed == 120_000


@pytest.fixture
def station(publish_template, tmp_path) -> Path:
    root = tmp_path / "station"
    shutil.copytree(publish_template, root)
    return root


def renditions(cat: Catalog, profile: str = "player"):
    """The lessons' renditions in ``profile``. The template also holds renditions in
    ``player`` of jingles and whole slots (the broadcast feed's MP3 enclosures), whose
    sources sort anywhere: the slots' sha256 varies with the ingest time in their bext."""
    lessons = {l.source_sha256 for l in cat.lessons()}
    return [r for r in cat.renditions() if r.profile == profile and r.source_sha256 in lessons]


def test_counts_are_stored_once_per_log_and_days_close_without_personal_data(station):
    with Catalog(station / "library" / "catalog.sqlite") as cat:
        r = renditions(cat)[0]
        log = station / "access.log"
        log.write_text("\n".join(text.replace(SHA, r.sha256).replace("960000", str(r.bytes))
                                 for text in iab_lines()) + "\n", encoding="utf-8")
        during = dt.datetime(2027, 1, 11, 12, tzinfo=TZ)
        first = count_downloads(cat, str(log), TZ, "player", now=during)
        assert (first.sources, first.lines, first.unparsed) == (1, 13, 0)
        assert first.closed_days == ("2027-01-10",)  # over for 6 hours: its clients are dropped
        again = count_downloads(cat, str(log), TZ, "player", now=during)
        assert (again.sources, again.seen_before, again.downloads) == (0, 1, 0)
        rows = cat.db.execute("SELECT day, lesson_id, feed, downloads FROM downloads ORDER BY day").fetchall()
        lesson = cat.lesson_for_source(r.source_sha256)
        assert [tuple(x) for x in rows][1] == ("2027-01-11", lesson.lesson_id, f"lessons-{lesson.dialect}", 1)
        assert cat.db.execute("SELECT COUNT(*) FROM download_open WHERE day='2027-01-10'").fetchone()[0] == 0
        assert cat.db.execute("SELECT COUNT(*) FROM download_open WHERE day='2027-01-11'").fetchone()[0] == 1
        late = station / "late.log"
        late.write_text(iab_lines()[4].replace(SHA, r.sha256).replace("12:00:00", "23:00:00") + "\n")
        assert dict(count_downloads(cat, str(late), TZ, "player", now=during).outcomes) == {"closed": 1}
        count_downloads(cat, str(late), TZ, "player", now=during + dt.timedelta(days=2))
        assert cat.db.execute("SELECT COUNT(*) FROM download_open").fetchone()[0] == 0
        assert cat.db.execute("SELECT COUNT(*) FROM download_salts WHERE length(salt) > 0").fetchone()[0] == 0
    raw = (station / "library" / "catalog.sqlite").read_bytes()
    assert b"203.0.113.9" not in raw and b"AppleCoreMedia" not in raw


def s3_line(bucket: str, key: str, when: dt.datetime, ip: str, ua: str, status: int, sent: int, size: int,
            method: str = "GET") -> str:
    """A line in the documented Amazon S3 server access log format."""
    from urllib.parse import quote
    stamp = when.astimezone(dt.timezone.utc).strftime("%d/%b/%Y:%H:%M:%S +0000")
    op = f"REST.{method}.OBJECT"
    return (f"{'7' * 64} {bucket} [{stamp}] {ip} - 3E57427F3EXAMPLE {op} {quote(key)} "
            f'"{method} /{bucket}/{quote(key)} HTTP/1.1" {status} - {sent if sent else "-"} {size} 12 10 "-" "{ua}" - '
            "s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234= SigV4 "
            f"ECDHE-RSA-AES128-GCM-SHA256 AuthHeader {bucket}.s3.us-east-1.amazonaws.com TLSv1.2 - -")


def test_listens_reads_s3_access_logs_from_moto(station, s3_server, capsys):
    client = s3_client(s3_server)
    client.create_bucket(Bucket="dk-media")
    client.create_bucket(Bucket="dk-logs")
    client.put_bucket_policy(Bucket="dk-logs", Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "logging.s3.amazonaws.com"}, "Action": ["s3:PutObject"],
        "Resource": "arn:aws:s3:::dk-logs/*"}]}))
    client.put_bucket_logging(Bucket="dk-media", BucketLoggingStatus={"LoggingEnabled": {
        "TargetBucket": "dk-logs", "TargetPrefix": "moto/"}})
    with Catalog(station / "library" / "catalog.sqlite") as cat:
        r = renditions(cat)[0]
    data = (station / "library" / r.path).read_bytes() if (station / "library" / r.path).is_file() else \
        Path(r.path).read_bytes()
    assert hashlib.sha256(data).hexdigest() == r.sha256
    key = f"county/audio/player/{r.sha256}.mp3"
    client.put_object(Bucket="dk-media", Key=key, Body=data)
    client.put_bucket_policy(Bucket="dk-media", Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::dk-media/*"}]}))
    url = f"{s3_server}/dk-media/{key}"
    now = dt.datetime.now(dt.timezone.utc)
    documented = []
    third = r.bytes // 3 + 1
    for ip, ua, rng in [("203.0.113.9", PHONE, f"bytes=0-{third - 1}"), ("203.0.113.9", PHONE, f"bytes={third}-"),
                        ("198.51.100.7", ANDROID, "bytes=0-1"), ("66.249.66.1", "Googlebot/2.1", None)]:
        resp = requests.get(url, headers={"User-Agent": ua, **({"Range": rng} if rng else {})}, timeout=30)
        assert resp.status_code in (200, 206)
        documented.append(s3_line("dk-media", key, now, ip, ua, resp.status_code, len(resp.content), r.bytes))
    client.put_object(Bucket="dk-logs", Key="documented/2026-12-03-00-00-00-A1B2C3D4",
                      Body=("\n".join(documented) + "\n").encode())
    moto_logs = client.list_objects_v2(Bucket="dk-logs", Prefix="moto/").get("Contents", [])
    assert moto_logs, "moto writes access-log objects for a bucket with logging enabled"
    sample = client.get_object(Bucket="dk-logs", Key=moto_logs[0]["Key"])["Body"].read().decode()
    assert parse_line(sample.splitlines()[0]) is None  # not the documented format: no key, no bytes, unquoted

    cfg = station / "dangke.toml"
    set_publish(cfg, target="s3://dk-media/county", endpoint_url=s3_server, region="us-east-1",
                addressing_style="path")
    assert run_cli("--config", cfg, "listens", "--logs", "s3://dk-logs/documented") == 0
    out = capsys.readouterr().out
    assert "downloads: 1 new from 4 line(s) of 1 log file(s)" in out and "1 bot" in out and "1 probe" in out
    assert run_cli("--config", cfg, "listens", "--logs", "s3://dk-logs/moto") == 0
    captured = capsys.readouterr()
    assert "downloads: 0 new" in captured.out and "in no known log format" in captured.err
