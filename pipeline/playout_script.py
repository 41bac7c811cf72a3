"""The liquidsoap station script of ``dangke playout`` (pure: settings in, text out).

Written for liquidsoap 2.1 (Debian bookworm's 2.1.3; refs are read with ``!r``), the
engine behind LibreTime and AzuraCast. The script reads a local cue file that
``dangke playout`` keeps up to date (:mod:`pipeline.playout`), one line per slot, tab
separated, sorted by start::

    <start, Unix seconds>\t<end, Unix seconds>\t<audio file>[\t<audio file>...]

It re-reads the file every ``reload_s`` seconds (a new or re-published day is picked up
without a restart). ``lead`` seconds before a slot starts it pushes the slot's audio (the
whole-slot file, or the items in order) into a ``request.queue``; a ``switch`` without
track sensitivity selects that queue from the first frame at or after the slot's start
(frames last 0.04 s) until its end, and the bed (or silence) otherwise. A slot already
running when liquidsoap starts is joined where it is (``liq_cue_in`` with ``cue_cut``).
The file is local, so a store that cannot be reached changes nothing here: the last cue
file stays and is aired.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlsplit

from .errors import UsageError

#: seconds before a slot's start its audio is queued (the request is resolved by then)
LEAD_S = 5.0


@dataclass(frozen=True)
class Output:
    """Where the station airs: ``kind`` is ``alsa``, ``pulseaudio``, ``icecast`` or
    ``file``; ``target`` the Icecast URL or the file path."""

    kind: str
    target: str = ""


def parse_output(spec: str) -> Output:
    """``alsa``, ``pulseaudio``, ``icecast://HOST:PORT/MOUNT`` (the source password is read
    from ``$ICECAST_PASSWORD`` when liquidsoap starts, never written into the script) or
    ``file:PATH`` (a WAV recording, for checks).

    Raises:
        UsageError: anything else.
    """
    if spec in ("alsa", "pulseaudio"):
        return Output(spec)
    if spec.startswith("file:") and len(spec) > 5:
        return Output("file", spec[5:])
    if spec.startswith("icecast://"):
        parts = urlsplit(spec)
        if parts.hostname and parts.path.strip("/") and not parts.password:
            return Output("icecast", spec)
    raise UsageError(f"--output {spec!r} is not alsa, pulseaudio, icecast://HOST:PORT/MOUNT or file:PATH",
                     fix="e.g. --output icecast://localhost:8000/county-fm (password in $ICECAST_PASSWORD)")


def _s(text: str) -> str:
    """A liquidsoap string literal (JSON's escapes are liquidsoap's for these)."""
    return json.dumps(text, ensure_ascii=False)


def _output_line(out: Output) -> str:
    if out.kind == "alsa":
        return "output.alsa(radio)"
    if out.kind == "pulseaudio":
        return "output.pulseaudio(radio)"
    if out.kind == "file":
        return (f"def recording_started() =\n  file.write(data=\"#{{time()}}\", {_s(out.target + '.start')})\nend\n"
                f"output.file(%wav(stereo=true, samplerate=48000), on_start=recording_started, "
                f"{_s(out.target)}, radio)")
    parts = urlsplit(out.target)
    return (f"output.icecast(%mp3(bitrate=128), host={_s(parts.hostname or '')}, port={parts.port or 8000}, "
            f"mount={_s(parts.path.strip('/'))}, password=getenv(\"ICECAST_PASSWORD\"), "
            f"name={_s(parts.path.strip('/'))}, radio)")


def station_script(channel: str, cue_file: str, output: Output, bed: str = "", reload_s: float = 10.0,
                   allow_root: bool = False) -> str:
    """The ``.liq`` text airing ``channel`` from ``cue_file``; ``bed`` (an audio file,
    looped) fills the time between slots, else silence."""
    bed_source = f"single({_s(bed)})" if bed else "blank()"
    root = "settings.init.allow_root.set(true)\n" if allow_root else ""
    return f"""# dangke playout: the station script of channel {channel} (generated; liquidsoap 2.1)
# Run: liquidsoap THIS_FILE, with `dangke playout {channel}` keeping the cue file fresh.
{root}settings.log.stdout.set(true)
settings.log.file.set(false)
settings.log.level.set(3)

cue_file = {_s(cue_file)}
lead = {LEAD_S}

entries = ref([])
loaded = ref("")
def reload() =
  if file.exists(cue_file) then
    text = file.contents(cue_file)
    if text != !loaded then
      loaded := text
      def fields(line) = string.split(separator="\\t", line) end
      def complete(f) = list.length(f) >= 3 end
      def parse(f) =
        (float_of_string(list.nth(f, 0)), float_of_string(list.nth(f, 1)), list.tl(list.tl(f)))
      end
      entries := list.map(parse, list.filter(complete, list.map(fields, string.split(separator="\\n", text))))
      log.important("dangke: cue file loaded, #{{list.length(!entries)}} slot(s)")
    end
  end
end

queue = request.queue(id="dangke_slot")
armed_start = ref(0.)
armed_end = ref(0.)

def tick() =
  now = time()
  if !armed_end > 0. and now >= !armed_end then
    log.important("dangke: slot #{{!armed_start}} ended")
    armed_start := 0.
    armed_end := 0.
    queue.set_queue([])
    queue.skip()
  end
  if !armed_end == 0. then
    def coming(e) =
      let (s, e_, _) = e
      e_ > now + 0.2 and s - now < lead
    end
    upcoming = list.filter(coming, !entries)
    if upcoming != [] then
      let (s, e_, files) = list.hd(upcoming)
      late = now - s
      def push(f) =
        if late > 0.5 then queue.push.uri("annotate:liq_cue_in=\\"#{{late}}\\":#{{f}}") else queue.push.uri(f) end
      end
      list.iter(push, files)
      armed_start := s
      armed_end := e_
      log.important("dangke: slot #{{s}} to #{{e_}} queued (#{{list.length(files)}} file(s))")
    end
  end
end
reload()
thread.run(every={float(reload_s)!r}, reload)
thread.run(every=0.1, tick)

def on_air() =
  !armed_start > 0. and time() >= !armed_start and time() < !armed_end
end
radio = mksafe(switch(track_sensitive=false, [(on_air, cue_cut(queue)), ({{true}}, {bed_source})]))
{_output_line(output)}
"""
