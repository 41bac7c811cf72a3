#!/bin/sh
# The main job on the bundled sample recordings: a demo station in ./demo-station,
# the samples dropped into its inbox, `dangke run`, then where the store is and a summary.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
station="$PWD/demo-station"
rm -rf "$station"
.venv/bin/dangke init "$station"
cp samples/inbox/* "$station/inbox/"
status=0
.venv/bin/dangke --config "$station/dangke.toml" run || status=$?
echo
.venv/bin/dangke --config "$station/dangke.toml" status
echo
echo "published store: $station/public"
echo "  index:     $station/public/index.json"
echo "  feeds:     $(cd "$station/public" && ls feeds | tr '\n' ' ')"
echo "  devices:   $(find "$station/public/devices" -name manifest.json | wc -l) manifest(s)"
echo "  schedules: $(find "$station/public/broadcast" -name '*.json' | wc -l) channel-day(s)"
exit $status
