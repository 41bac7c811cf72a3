"""Publishing to a real S3-compatible server over HTTP (moto in server mode, started by
the test session), through a proxy that logs every request and injects faults (issue 7).

Readers are independent: objects are fetched with plain HTTP GETs (``requests``), feeds
parsed by feedparser, checksums recomputed here.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import feedparser
import pytest
import requests

from pipeline.catalog import Catalog
from tests.conftest import (PUBLISH_DATE, PUBLISH_DAYS, PUBLISH_QUARTER, TEST_ACCESS_KEY, TEST_SECRET_KEY, drop,
                            run_cli, s3_client, set_publish)

QUARTER, DATE, DAYS = PUBLISH_QUARTER, PUBLISH_DATE, PUBLISH_DAYS


class S3Station:
    """A copy of the template publishing to ``s3://<bucket>/dangke`` through the proxy."""

    def __init__(self, template: Path, tmp: Path, proxy, server: str, bucket: str, public: bool = True,
                 **publish: object) -> None:
        self.root = tmp / "station"
        shutil.copytree(template, self.root)
        self.cfg = self.root / "dangke.toml"
        self.proxy, self.server, self.bucket, self.public = proxy, server, bucket, public
        self.client = s3_client(server)
        self.client.create_bucket(Bucket=bucket)
        if public:
            self.client.put_bucket_policy(Bucket=bucket, Policy=json.dumps({  # the deployment's read policy
                "Version": "2012-10-17",
                "Statement": [{"Sid": "PublicRead", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                               "Resource": f"arn:aws:s3:::{bucket}/dangke/*"}]}))
        self.base = f"{server}/{bucket}/dangke/"
        text = self.cfg.read_text(encoding="utf-8")
        self.cfg.write_text(text.replace('base_url = "https://media.example.org/dangke/"',
                                         f'base_url = "{self.base}"'), encoding="utf-8")
        self.configure(**publish)

    def configure(self, **publish: object) -> None:
        keys = dict(target=f"s3://{self.bucket}/dangke", endpoint_url=self.proxy.url, region="us-east-1",
                    addressing_style="path", timeout_s=2.0, max_attempts=3, jobs=4)
        keys.update(publish)
        set_publish(self.cfg, **keys)

    def cli(self, *args: str) -> int:
        return run_cli("--config", self.cfg, *args)

    def publish(self, *args: str) -> int:
        return self.cli("publish", *args)

    def get(self, key: str) -> requests.Response:
        r = requests.get(self.base + key, timeout=30)
        r.raise_for_status()
        return r

    def fetch(self, key: str) -> bytes:
        """An object's bytes: an anonymous HTTP GET, or a signed one when the bucket is private."""
        if self.public:
            return self.get(key).content
        return self.client.get_object(Bucket=self.bucket, Key=f"dangke/{key}")["Body"].read()

    def index(self) -> dict:
        return json.loads(self.fetch("index.json"))

    def keys(self) -> set[str]:
        out = set()
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix="dangke/"):
            out.update(o["Key"][len("dangke/"):] for o in page.get("Contents", []))
        return out

    def requests(self):
        return self.proxy.requests(self.bucket)

    def uploaded_keys(self) -> list[str]:
        return [r.path.split("/", 3)[3] for r in self.requests()
                if r.method == "PUT" and r.status == 200 and r.path.count("/") >= 3 and not r.query]

    def add_version(self, source: str, lesson_id: str, title: str, category: str = "理論教育") -> None:
        drop(self.root / "inbox", source, f"{lesson_id}-{source}",
             {"lesson_id": lesson_id, "title": title, "category": category, "dialect": "普通話"})

    def stages(self, quarter: str = QUARTER, date: str = DATE, days: str = DAYS) -> None:
        """Every stage but publish."""
        assert self.cli("ingest") == 0
        assert self.cli("encode") == 0
        assert self.cli("plan", "--quarter", quarter) == 0
        assert self.cli("schedule", "--date", date, "--days", days) == 0


_counter = iter(range(10_000))


@pytest.fixture
def st(publish_template, tmp_path, fault_proxy, s3_server) -> S3Station:
    return S3Station(publish_template, tmp_path, fault_proxy, s3_server, f"dk-{os.getpid()}-{next(_counter)}")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _assert_index_whole(st: S3Station) -> dict:
    index = st.index()
    for key, meta in index["files"].items():
        data = st.fetch(key)
        assert len(data) == meta["bytes"], key
        assert _sha(data) == meta["sha256"], key
    return index


# -- a full publish ------------------------------------------------------------------------------

def test_full_publish_writes_every_index_key_whole_with_the_right_headers(st):
    assert st.publish() == 0
    index = _assert_index_whole(st)
    assert index["generation"] == 1
    assert st.keys() == set(index["files"]) | {"index.json"}
    expect = {
        "audio/player/": ("audio/mpeg", "public, max-age=31536000, immutable"),
        "audio/broadcast/": ("audio/wav", "public, max-age=31536000, immutable"),
        "feeds/": ("application/rss+xml; charset=utf-8", "public, max-age=300"),
        "devices/": (None, "public, max-age=300"),
        "broadcast/": (None, "public, max-age=300"),
    }
    seen = set()
    for key, meta in index["files"].items():
        head = st.get(key)  # moto answers anonymous HEADs with 403 even when the policy allows GetObject
        assert head.headers["x-amz-meta-sha256"] == meta["sha256"], key
        for prefix, (ctype, cache) in expect.items():
            if key.startswith(prefix):
                seen.add(prefix)
                assert head.headers["Cache-Control"] == cache, key
                if ctype:
                    assert head.headers["Content-Type"] == ctype, key
        if key.endswith("manifest.json"):
            assert head.headers["Content-Type"] == "application/json; charset=utf-8"
        if key.endswith(".m3u8"):
            assert head.headers["Content-Type"] == "audio/x-mpegurl; charset=utf-8"
    assert seen == set(expect)
    assert st.get("index.json").headers["Cache-Control"] == "no-cache"


def test_publish_order_is_audio_then_documents_then_feeds_then_index(st):
    assert st.publish() == 0
    kinds = []
    for key in st.uploaded_keys():
        kind = ("audio" if key.startswith(("audio/", "images/")) else "feeds" if key.startswith("feeds/")
                else "index" if key == "index.json" else "documents")
        if not kinds or kinds[-1] != kind:
            kinds.append(kind)
    assert kinds == ["audio", "documents", "feeds", "index"]


def test_every_manifest_and_schedule_points_at_whole_audio(st):
    assert st.publish() == 0
    index = st.index()
    for key in index["files"]:
        if key.endswith(".json"):
            doc = st.get(key).json()
            items = doc.get("items", []) + [i for s in doc.get("slots", []) for i in s["items"]]
            for item in items:
                assert _sha(st.get(item["key"]).content) == item["sha256"], (key, item["key"])


def test_feeds_fetched_over_http_parse_and_their_enclosures_are_whole(st):
    assert st.publish() == 0
    feeds = [k for k in st.index()["files"] if k.startswith("feeds/")]
    assert {"feeds/lessons-cmn.xml", "feeds/broadcast-county-fm.xml", "feeds/broadcast-village-speakers.xml"} \
        <= set(feeds)
    for key in feeds:
        d = feedparser.parse(st.get(key).content)
        assert not d.bozo, (key, d.bozo_exception)
        assert d.entries, key
        for e in d.entries:
            enc = e.enclosures[0]
            assert enc.href.startswith(st.base)
            body = requests.get(enc.href, timeout=30)
            assert body.status_code == 200 and len(body.content) == int(enc.length), enc.href


def test_nothing_personal_and_no_credential_is_published_or_logged(st, capsys):
    assert st.publish() == 0
    out = capsys.readouterr()
    fleet = (st.root / "fleet.csv").read_text(encoding="utf-8").splitlines()[1:]
    personal = {row.split(",")[7] for row in fleet} | {row.split(",")[8] for row in fleet}
    secrets = {TEST_ACCESS_KEY, TEST_SECRET_KEY}
    for key in st.index()["files"]:
        if not key.startswith(("audio/", "images/")) and not key.endswith(".png"):  # report pictures
            text = st.get(key).content.decode("utf-8")
            assert not any(p in text for p in personal | secrets), key
    assert not any(s in out.out + out.err for s in secrets)
    with Catalog(st.root / "library" / "catalog.sqlite") as cat:
        events = " ".join(f"{e.subject} {e.message}" for e in cat.recent_events(500))
    assert not any(s in events for s in secrets)


# -- incremental ----------------------------------------------------------------------------------

def test_no_change_publish_uploads_nothing(st, capsys):
    st.client.put_bucket_versioning(Bucket=st.bucket, VersioningConfiguration={"Status": "Enabled"})
    assert st.publish() == 0
    first = st.index()
    st.proxy.reset()
    capsys.readouterr()
    assert st.publish() == 0
    assert "nothing changed" in capsys.readouterr().out
    writes = [r for r in st.requests() if r.is_write]
    assert writes == []
    assert len(st.requests()) <= 1  # at most a HEAD of index.json
    versions = st.client.list_object_versions(Bucket=st.bucket, Prefix="dangke/")["Versions"]
    assert len(versions) == len(first["files"]) + 1
    assert st.index() == first


def test_a_changed_lesson_uploads_only_its_new_audio_and_the_documents_that_changed(st):
    assert st.publish() == 0
    first = st.index()
    st.add_version("nan_ithuan_01.wav", "L-theory-a", "理論學習問答（修訂）")
    st.stages()
    st.proxy.reset()
    assert st.publish() == 0
    second = _assert_index_whole(st)
    assert second["generation"] == 2
    uploaded = st.uploaded_keys()
    new_audio = {k for k in second["files"] if k.startswith("audio/")} - set(first["files"])
    assert {k for k in uploaded if k.startswith("audio/")} == new_audio
    # the new version for the players; broadcast days already published are kept as they
    # were (issue 6), so its broadcast rendition is not referenced yet
    assert any(k.startswith("audio/player/") for k in new_audio)
    changed = {k for k, v in second["files"].items() if first["files"].get(k) != v}
    assert set(uploaded) == changed | {"index.json"}
    old_audio = {k for k in first["files"] if k.startswith("audio/")} - set(second["files"])
    assert old_audio <= st.keys()  # the previous generation's audio stays
    # v1's player MP3 is still in the generation: the kept broadcast days' feed items enclose
    # it as the podcast version of the v1 airings (issue 13)
    assert {k for k in first["files"] if k.startswith("audio/player/")} <= set(second["files"])


def test_dry_run_lists_uploads_with_bytes_and_writes_nothing(st, capsys):
    assert st.publish("--dry-run") == 0
    out = capsys.readouterr().out
    assert [r for r in st.requests() if r.is_write] == []
    assert st.keys() == set()
    lines = [line for line in out.splitlines() if line.startswith("would upload ")]
    assert any("audio/player/" in line for line in lines) and lines[-1].startswith("would upload index.json (")
    assert "publish (dry run): generation 1;" in out
    assert st.publish() == 0
    with Catalog(st.root / "library" / "catalog.sqlite") as cat:
        assert len(cat.store_generations(f"s3://{st.bucket}/dangke at {st.proxy.url}")) == 1


def test_retention_keeps_the_last_generations_and_quarters_and_prunes_the_rest(st, capsys):
    st.configure(keep_generations=2, keep_quarters=1)
    assert st.publish() == 0
    gen1 = st.index()
    # generation 2: a new version of a lesson and the next quarter; 2027Q1 and 2026Q4 drop out
    st.add_version("nan_ithuan_01.wav", "L-theory-a", "理論學習問答（修訂）")
    st.stages(quarter="2027Q2", date="2027-04-01", days="1")
    assert st.publish() == 0
    gen2 = _assert_index_whole(st)
    assert not any(k.startswith("devices/2027Q1/") or k.startswith("broadcast/county-fm/2026-")
                   for k in gen2["files"])
    assert any(k.startswith("devices/2027Q2/") for k in gen2["files"])
    assert set(gen1["files"]) <= st.keys()  # generation 1 is retained: all of it stays
    # generation 3: one more day; what only generation 1 referred to goes
    assert st.cli("schedule", "--date", "2027-04-02", "--days", "1") == 0
    capsys.readouterr()
    assert st.publish("--dry-run") == 0
    out = capsys.readouterr().out
    only_gen1 = set(gen1["files"]) - set(gen2["files"])
    would = {line.split()[2] for line in out.splitlines() if line.startswith("would delete ")}
    assert would and would <= only_gen1
    assert all(line.endswith(" bytes)") for line in out.splitlines() if line.startswith("would delete "))
    assert set(gen1["files"]) <= st.keys()
    assert st.publish() == 0
    gen3 = _assert_index_whole(st)
    assert gen3["generation"] == 3
    keys = st.keys()
    assert set(gen2["files"]) | set(gen3["files"]) <= keys
    assert keys == set(gen2["files"]) | set(gen3["files"]) | {"index.json"}
    assert not any(k.startswith("devices/2027Q1/") for k in keys)
    # what only generation 1 referred to is gone (its devices/2027Q1 plan); v1's player MP3
    # stays: the broadcast feeds enclose it for the airings of v1 (issue 13)
    assert only_gen1 - keys and all(not k.startswith("audio/") for k in only_gen1 - keys)


def test_verify_finds_what_vanished_from_the_store_and_uploads_it_again(st, capsys):
    assert st.publish() == 0
    index = st.index()
    audio = sorted(k for k in index["files"] if k.startswith("audio/player/"))[0]
    manifest = sorted(k for k in index["files"] if k.endswith("manifest.json"))[0]
    for key in (audio, manifest):
        st.client.delete_object(Bucket=st.bucket, Key=f"dangke/{key}")
    capsys.readouterr()
    st.proxy.reset()
    assert st.publish("--verify") == 0
    out = capsys.readouterr().out
    assert "2 missing" in out and f"missing   {audio}" in out and f"missing   {manifest}" in out
    uploaded = set(st.uploaded_keys())
    assert {audio, manifest} <= uploaded
    assert not {k for k in uploaded if k.startswith("audio/")} - {audio}
    _assert_index_whole(st)


def test_a_store_changed_behind_our_back_is_checked_without_being_asked(st):
    assert st.publish() == 0
    st.client.delete_object(Bucket=st.bucket, Key="dangke/index.json")
    st.proxy.reset()
    assert st.publish() == 0
    assert "index.json" in st.uploaded_keys()
    assert not [k for k in st.uploaded_keys() if k.startswith("audio/")]
    _assert_index_whole(st)


# -- faults -----------------------------------------------------------------------------------------

def test_transient_500s_resets_and_stalls_are_retried(st):
    st.configure(timeout_s=1.0, max_attempts=4)
    st.proxy.stall_s = 2.5
    tried: dict[str, int] = {}
    faults = ["500", "reset", "stall", "503"]

    def rule(r):
        if not r.is_object_upload:
            return None
        n = tried[r.path] = tried.get(r.path, 0) + 1
        h = int(hashlib.md5(r.path.encode()).hexdigest(), 16)
        return faults[h % 4] if n == 1 and h % 3 == 0 else None
    st.proxy.rule = rule
    assert st.publish() == 0
    injected = [r.fault for r in st.requests() if r.fault]
    assert {"500", "reset", "stall", "503"} <= set(injected)
    st.proxy.rule = lambda r: None
    _assert_index_whole(st)


def test_a_failure_mid_publish_keeps_the_previous_generation_and_the_next_publish_resumes(st, capsys):
    assert st.publish() == 0
    gen1 = st.index()
    feeds1 = {k: st.get(k).content for k in gen1["files"] if k.startswith("feeds/")}
    st.add_version("nan_ithuan_01.wav", "L-theory-a", "理論學習問答（修訂）")
    st.stages()
    st.configure(max_attempts=2)
    documents_ok = []

    def rule(r):  # documents fail for good once five of them made it
        if r.method == "PUT" and "/dangke/devices/" in r.path:
            if len(documents_ok) >= 5:
                return "500"
            documents_ok.append(r.path)
        return None
    st.proxy.reset()
    st.proxy.rule = rule
    capsys.readouterr()
    assert st.publish() == 1
    err = capsys.readouterr().err
    assert "publish stopped while uploading documents" in err
    assert "generation 1 is still the published one" in err and "InternalError" in err
    assert TEST_SECRET_KEY not in err and TEST_ACCESS_KEY not in err
    failed_run = st.uploaded_keys()
    assert any(k.startswith("audio/") for k in failed_run)
    # readers still see generation 1: its index and feeds untouched, everything it lists there and whole
    st.proxy.rule = lambda r: None
    assert st.index() == gen1
    assert {k: st.get(k).content for k in feeds1} == feeds1
    gen2_docs = {}
    for key, meta in gen1["files"].items():
        data = st.get(key).content
        if key.startswith("audio/"):
            assert _sha(data) == meta["sha256"], key
        else:  # a document at a fixed key: generation 1's or already the next one, never partial
            gen2_docs[key] = json.loads(data) if key.endswith(".json") else data
    # the next publish resumes: nothing that made it is sent again
    st.proxy.reset()
    assert st.publish() == 0
    again = set(st.uploaded_keys()) & set(failed_run)
    assert again == set(), again
    gen2 = _assert_index_whole(st)
    assert gen2["generation"] == 2


def test_kill_9_mid_publish_then_a_clean_resume(st):
    import threading
    st.configure(jobs=2)
    gate = threading.Semaphore(0)

    def rule(r):  # let uploads through slowly, so the kill lands in the middle
        if r.is_object_upload:
            time.sleep(0.15)
        return None
    st.proxy.rule = rule
    env = dict(os.environ)
    proc = subprocess.Popen([sys.executable, "-m", "pipeline.cli", "--config", str(st.cfg), "publish"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            cwd=Path(__file__).parent.parent)
    deadline = time.monotonic() + 120
    while len(st.uploaded_keys()) < 12 and time.monotonic() < deadline and proc.poll() is None:
        gate.acquire(timeout=0.05)
    assert proc.poll() is None, "the publish finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    time.sleep(0.5)
    before = set(st.uploaded_keys())
    assert "index.json" not in before
    assert st.keys() and "index.json" not in st.keys()  # nothing published yet: no index, nothing half
    st.proxy.reset()
    assert st.publish() == 0
    assert set(st.uploaded_keys()) & before == set()
    _assert_index_whole(st)


def test_missing_credentials_fail_with_a_clear_message(st, capsys, monkeypatch):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    assert st.publish() == 1
    err = capsys.readouterr().err
    assert "no credentials found" in err and "AWS_ACCESS_KEY_ID" in err


# -- transfer details -----------------------------------------------------------------------------

def test_large_files_go_up_in_parts_with_their_sha256(fault_proxy, s3_server, tmp_path):
    from pipeline.publish.s3 import S3Store
    from pipeline.publish.store import Put
    client = s3_client(s3_server)
    client.create_bucket(Bucket="dk-multipart")
    big = tmp_path / "big.wav"
    big.write_bytes(os.urandom(11 * 1024 * 1024 + 7))
    sha = hashlib.sha256(big.read_bytes()).hexdigest()
    store = S3Store("dk-multipart", "p", endpoint_url=fault_proxy.url, region="us-east-1",
                    addressing_style="path", multipart_threshold=5 * 1024 * 1024,
                    multipart_chunk=5 * 1024 * 1024)
    etag = store.put(Put("audio/broadcast/x.wav", sha, big.stat().st_size, "audio/wav",
                         "public, max-age=31536000, immutable", path=big))
    assert etag.endswith("-3")
    parts = [r for r in fault_proxy.requests("dk-multipart") if r.method == "PUT" and "partNumber" in r.query]
    assert len(parts) == 3
    assert store.head("audio/broadcast/x.wav").sha256 == sha
    assert hashlib.sha256(store.get("audio/broadcast/x.wav")).hexdigest() == sha
    listed = store.listing()["audio/broadcast/x.wav"]
    assert listed.size == big.stat().st_size and listed.etag == etag


def test_acls_make_audio_public_and_device_files_private(st):
    st.configure(acl="public-read", devices_acl="private")
    assert st.publish() == 0
    index = st.index()
    audio = next(k for k in index["files"] if k.startswith("audio/"))
    manifest = next(k for k in index["files"] if k.endswith("manifest.json"))

    def public(key: str) -> bool:
        grants = st.client.get_object_acl(Bucket=st.bucket, Key=f"dangke/{key}")["Grants"]
        return any(g["Grantee"].get("URI", "").endswith("/global/AllUsers") and g["Permission"] == "READ"
                   for g in grants)
    assert public(audio) and public("feeds/lessons-cmn.xml") and public("index.json")
    assert not public(manifest)
    head = st.client.head_object(Bucket=st.bucket, Key=f"dangke/{manifest}")
    assert head["CacheControl"] == "private, max-age=300"


def test_keep_generations_below_two_is_a_configuration_error(st, capsys):
    st.configure(keep_generations=1)
    assert st.publish() == 2
    assert "keep_generations" in capsys.readouterr().err


def test_a_lost_ledger_adopts_what_the_store_has_and_generations_keep_rising(st):
    assert st.publish() == 0
    first = st.index()
    with Catalog(st.root / "library" / "catalog.sqlite") as cat:  # the catalog's publish tables are lost
        for table in ("publish_ledger", "publish_generations", "publish_files", "publish_runs"):
            cat.db.execute(f"DELETE FROM {table}")
    st.proxy.reset()
    assert st.publish() == 0
    second = _assert_index_whole(st)
    assert second["generation"] == first["generation"] + 1
    assert not [k for k in st.uploaded_keys() if k.startswith(("audio/", "devices/", "broadcast/"))]
