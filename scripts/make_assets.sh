#!/bin/sh
# Synthesize the example station's own assets into config/assets/ (or the folder given):
# the jingles (bell-like chimes from ffmpeg's aevalsrc, 48 kHz mono 24-bit FLAC; the
# schedule stage normalizes them per profile like any other rendition) and the feed
# artwork (1400x1400 PNG, Apple's minimum). Output is deterministic.
set -eu
out="${1:-$(dirname "$0")/../config/assets}"
note() { # start_s freq_hz: one bell strike (fundamental + 2nd and 3rd partials), 5 ms attack, exponential decay
  echo "if(gte(t,$1),min(1,(t-$1)/0.005)*(sin(2*PI*$2*(t-$1))*exp(-2.2*(t-$1))+0.35*sin(2*PI*2*$2*(t-$1))*exp(-4*(t-$1))+0.12*sin(2*PI*3.01*$2*(t-$1))*exp(-6*(t-$1))),0)"
}
chime() { # name duration_s fade_out_start_s (start_s freq_hz)...
  name=$1; dur=$2; fade=$3; shift 3; expr="0"
  while [ $# -gt 0 ]; do expr="$expr+$(note "$1" "$2")"; shift 2; done
  ffmpeg -v error -y -f lavfi -i "aevalsrc='0.2*($expr)':s=48000:d=$dur" \
    -af "afade=t=out:st=$fade:d=0.5" -ac 1 -sample_fmt s32 -c:a flac -fflags +bitexact "$out/$name.flac"
}
# county-fm: ascending G4 C5 E5 G5 (intro), descending G5 E5 C5 (outro)
chime jingle_county-fm_intro 5.0 4.5  0 392.00 0.45 523.25 0.9 659.25 1.35 783.99
chime jingle_county-fm_outro 4.0 3.5  0 783.99 0.45 659.25 0.9 523.25
# village-speakers: ding-dong E5 C5 (intro), dong-ding C5 E5 (outro)
chime jingle_village-speakers_intro 3.5 3.0  0 659.25 0.6 523.25
chime jingle_village-speakers_outro 3.5 3.0  0 523.25 0.6 659.25
# feed artwork: a loudspeaker-like emblem, gold on red, 1400x1400 RGB PNG
shape="lt(hypot(X-700,Y-640),330)*gt(hypot(X-700,Y-640),300)+lt(hypot(X-700,Y-640),210)+between(Y,1080,1130)*between(X,300,1100)"
ffmpeg -v error -y -f lavfi -i "color=c=0xB71C1C:s=1400x1400:d=1,format=rgb24" \
  -vf "geq=r='if($shape,255,183)':g='if($shape,204,28)':b='if($shape,0,28)'" \
  -frames:v 1 -fflags +bitexact "$out/cover.png"
