"""Publish benchmark (issue 7): a full quarter of the example station scaled to 6,000
devices, published to a local S3 server, against ``aws s3 sync`` of the same tree.

Steps (one run, side by side):
1. A station from ``dangke init`` with the bundled sample recordings, its fleet scaled to
   ``--devices`` players (the shipped rows repeated with new ids), planned for one quarter
   and scheduled for every day of it; published once to a folder (``file://``), which is
   the tree ``aws s3 sync`` uploads.
2. moto's S3 server (``moto_server``, 127.0.0.1, its own process); its request log is
   what the request counts come from.
3. For each tool, into its own bucket: a first publish, then a no-change publish
   (``--repeat`` times, median), each as its own process, timed by wall clock.

awscli comes from PyPI in a virtual environment of its own (``benchmarks/.venv-awscli``,
made on first use), since it pins its own botocore. Both clients run with their
defaults (dangke: 8 parallel uploads; awscli: 10 concurrent requests). The machine is
shared: expect noise of a few tens of percent; the request counts are exact.

Usage: .venv/bin/python benchmarks/publish_bench.py [--devices 6000] [--quarter 2027Q1]
"""

from __future__ import annotations

import argparse
import collections
import csv
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
AWS_VENV = REPO / "benchmarks" / ".venv-awscli"
ENV = dict(os.environ, AWS_ACCESS_KEY_ID="AKIAIOSFODNN7EXAMPLE",
           AWS_SECRET_ACCESS_KEY="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", AWS_DEFAULT_REGION="us-east-1",
           AWS_EC2_METADATA_DISABLED="true", AWS_CONFIG_FILE="/nonexistent", AWS_SHARED_CREDENTIALS_FILE="/nonexistent")
LOG_LINE = re.compile(r'"(GET|PUT|POST|DELETE|HEAD) /([^/ ?]+)[^ ]* HTTP/1\.[01]" (\d{3})')


def run(cmd: list[str], timeout: float = 3600, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], env=ENV, timeout=timeout, check=True, **kw)


def aws_cli() -> Path:
    exe = AWS_VENV / "bin" / "aws"
    if not exe.exists():
        print("installing awscli (PyPI) into", AWS_VENV, flush=True)
        run([sys.executable, "-m", "venv", AWS_VENV], timeout=600)
        run([AWS_VENV / "bin" / "pip", "install", "-q", "awscli"], timeout=1200)
    return exe


def scale_fleet(path: Path, devices: int) -> None:
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    fields = list(rows[0].keys())
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        for i in range(devices):
            row = dict(rows[i % len(rows)])
            row["device_id"] = f"LJ-{i + 1:05d}"
            w.writerow(row)


def build_station(work: Path, devices: int, quarter: str) -> Path:
    from pipeline.models import Quarter
    q = Quarter.parse(quarter)
    root = work / "station"
    dangke = BIN / "dangke"
    run([dangke, "init", root], stdout=subprocess.DEVNULL)
    cfg = root / "dangke.toml"
    for f in (REPO / "samples" / "inbox").iterdir():
        shutil.copy(f, root / "inbox" / f.name)
    scale_fleet(root / "fleet.csv", devices)
    days = (q.last_day - q.first_day).days + 1
    for stage in (["ingest"], ["encode"], ["plan", "--quarter", quarter],
                  ["schedule", "--date", q.first_day.isoformat(), "--days", str(days)]):
        t = time.monotonic()
        proc = subprocess.run([str(dangke), "--config", str(cfg), *stage], env=ENV, timeout=7200,
                              capture_output=True, text=True)
        print(f"  {' '.join(stage)}: exit {proc.returncode}, {time.monotonic() - t:.1f} s; "
              f"{(proc.stdout.strip().splitlines() or [''])[-1]}", flush=True)
    t = time.monotonic()
    run([dangke, "--config", cfg, "publish"], stdout=subprocess.DEVNULL)
    print(f"  publish to a folder (the tree for aws s3 sync): {time.monotonic() - t:.1f} s", flush=True)
    return cfg


class MotoServer:
    """moto_server in its own process; counts requests per bucket from its log."""

    def __init__(self, port: int) -> None:
        self.proc = subprocess.Popen([str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                                     env=ENV, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        self.url = f"http://127.0.0.1:{port}"
        self.lines: list[tuple[str, str, str]] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()
        import requests
        for _ in range(300):
            try:
                requests.get(self.url, timeout=1)
                return
            except requests.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError("moto_server did not start")

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            m = LOG_LINE.search(line)
            if m:
                with self.lock:
                    self.lines.append((m.group(1), m.group(2), m.group(3)))

    def mark(self) -> int:
        time.sleep(0.3)  # let the log catch up
        with self.lock:
            return len(self.lines)

    def counts(self, start: int, end: int, bucket: str) -> collections.Counter:
        with self.lock:
            return collections.Counter(m for m, b, _ in self.lines[start:end] if b == bucket)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


def timed(server: MotoServer, bucket: str, cmd: list) -> tuple[float, collections.Counter]:
    start = server.mark()
    t = time.monotonic()
    run(cmd, stdout=subprocess.DEVNULL)
    elapsed = time.monotonic() - t
    return elapsed, server.counts(start, server.mark(), bucket)


def fmt(counter: collections.Counter) -> str:
    return f"{sum(counter.values()):>6}  " + " ".join(f"{k}={v}" for k, v in sorted(counter.items()))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--devices", type=int, default=6000)
    ap.add_argument("--quarter", default="2027Q1")
    ap.add_argument("--repeat", type=int, default=3, help="no-change publishes per tool (median)")
    ap.add_argument("--work", type=Path, default=None,
                    help="keep the station here, or reuse the one built there before (default: a temp folder)")
    args = ap.parse_args()
    sys.path.insert(0, str(REPO))
    aws = aws_cli()
    work = args.work or Path(tempfile.mkdtemp(prefix="dangke-publish-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"station: {args.devices} devices, quarter {args.quarter}, in {work}", flush=True)
    cfg = work / "station" / "dangke.toml"
    if cfg.exists():
        print("  reusing the station built there before", flush=True)
    else:
        cfg = build_station(work, args.devices, args.quarter)
    tree = cfg.parent / "public"
    objects = sum(1 for p in tree.rglob("*") if p.is_file())
    size = sum(p.stat().st_size for p in tree.rglob("*") if p.is_file())
    print(f"tree: {objects} objects, {size / 1e6:.1f} MB", flush=True)

    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = MotoServer(port)
    try:
        import boto3
        client = boto3.session.Session().client("s3", endpoint_url=server.url, region_name="us-east-1",
                                                aws_access_key_id=ENV["AWS_ACCESS_KEY_ID"],
                                                aws_secret_access_key=ENV["AWS_SECRET_ACCESS_KEY"])
        for b in ("bench-dangke", "bench-awscli"):
            client.create_bucket(Bucket=b)
        text = cfg.read_text(encoding="utf-8").replace(
            'target = "file://public"',
            f'target = "s3://bench-dangke/dangke"\nendpoint_url = "{server.url}"\nregion = "us-east-1"\n'
            'addressing_style = "path"', 1)
        s3cfg = cfg.with_name("dangke-s3.toml")
        s3cfg.write_text(text, encoding="utf-8")
        ours = [BIN / "dangke", "--config", s3cfg, "publish"]
        theirs = [aws, "s3", "sync", tree, "s3://bench-awscli/dangke", "--endpoint-url", server.url,
                  "--only-show-errors"]
        results = {}
        results["first", "dangke"] = timed(server, "bench-dangke", ours)
        results["first", "aws"] = timed(server, "bench-awscli", theirs)
        for tool, cmd, bucket in (("dangke", ours, "bench-dangke"), ("aws", theirs, "bench-awscli")):
            runs = [timed(server, bucket, cmd) for _ in range(args.repeat)]
            median = statistics.median(r[0] for r in runs)
            results["no-change", tool] = (median, runs[0][1])
    finally:
        server.stop()

    print()
    print(f"{'publish':<10} {'tool':<14} {'seconds':>8}  {'requests':>8}  by method")
    for kind in ("first", "no-change"):
        for tool, label in (("dangke", "dangke publish"), ("aws", "aws s3 sync")):
            sec, counts = results[kind, tool]
            print(f"{kind:<10} {label:<14} {sec:>8.1f}  {fmt(counts)}")
        ours_s, ours_c = results[kind, "dangke"]
        aws_s, aws_c = results[kind, "aws"]
        ratio_r = (sum(ours_c.values()) / sum(aws_c.values())) if sum(aws_c.values()) else float("nan")
        print(f"{kind:<10} {'ratio':<14} {ours_s / aws_s:>8.2f}  {ratio_r:>6.2f}  (dangke / aws s3 sync)")
    print(f"\nobjects in the tree: {objects}; dangke also writes index.json and keeps a ledger. "
          "Times are wall clock on a shared 2-core machine: expect noise.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
