#!/bin/sh
# The test suite: installs what it needs, then runs pytest with the real ffmpeg, a real
# S3-compatible server (started by the test session) and real feed parsers.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
exec .venv/bin/python -m pytest "$@"
