#!/bin/sh
# Prepare a fresh Debian machine (as root) or an existing checkout: system tools and
# the Python virtual environment in .venv with dangke installed (editable, with test
# extras). Safe to run again; installs only what is missing.
set -eu
cd "$(dirname "$0")/.."

need=""
command -v ffmpeg >/dev/null 2>&1 || need="$need ffmpeg"
command -v ffprobe >/dev/null 2>&1 || need="$need ffmpeg"
command -v mkfs.vfat >/dev/null 2>&1 || need="$need dosfstools"
command -v mcopy >/dev/null 2>&1 || need="$need mtools"
command -v fatsort >/dev/null 2>&1 || need="$need fatsort"
command -v python3 >/dev/null 2>&1 || need="$need python3"
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need="$need python3-venv"
# AMR encoder libraries: the tests make AMR-NB/WB phone recordings with them (Debian's
# ffmpeg decodes AMR but cannot encode it)
for pkg in libopencore-amrnb0 libvo-amrwbenc0; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need="$need $pkg"
done
# sox with its AMR formats: AMR with DTX is decoded by the opencore-amr reference
# decoders (ffmpeg's own AMR decoders drop the comfort-noise frames)
command -v sox >/dev/null 2>&1 || need="$need sox"
for pkg in libsox-fmt-base libopencore-amrwb0; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need="$need $pkg"
done
# the report (issue 14): a CJK font for the pictures' Chinese text; headless Chromium and its
# driver for the report's browser tests
dpkg -s fonts-noto-cjk >/dev/null 2>&1 || need="$need fonts-noto-cjk"
command -v chromium >/dev/null 2>&1 || need="$need chromium"
command -v chromedriver >/dev/null 2>&1 || need="$need chromium-driver"
# playout and players (issue 13): the tests run liquidsoap, cvlc and mpv on what dangke publishes
command -v liquidsoap >/dev/null 2>&1 || need="$need liquidsoap"
command -v cvlc >/dev/null 2>&1 || need="$need vlc-bin"
dpkg -s vlc-plugin-base >/dev/null 2>&1 || need="$need vlc-plugin-base"
command -v mpv >/dev/null 2>&1 || need="$need mpv"
# Broadcast WAVE readers the encode tests check bext and titles with (issue 11)
command -v mediainfo >/dev/null 2>&1 || need="$need mediainfo"
command -v exiftool >/dev/null 2>&1 || need="$need libimage-exiftool-perl"
command -v sndfile-info >/dev/null 2>&1 || need="$need sndfile-programs"
if [ -n "$need" ]; then
  echo "installing system packages:$need"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq $need >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[test,bench]'
