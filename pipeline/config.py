"""Load and validate the station configuration (TOML).

The configuration is found at ``--config PATH``, else ``$DANGKE_CONFIG``, else
``./dangke.toml``. Relative paths resolve against the config file's folder. Every
section is a frozen dataclass whose field names are the TOML keys, so the defaults live
in one place; an unknown key is an error that names the file and the key.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import re
import tomllib
import types
import typing
import urllib.parse
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path

from . import formats
from .errors import ConfigError
from .models import CategoryRule, ChannelSpec, ClockSpec, DeviceProfile, SlotSpec
from .vocab import CATEGORIES, DIALECTS, accepted_categories, accepted_dialects, category_code, dialect_code
from .vocab import GROUPS, group_code


@dataclass(frozen=True)
class StationSection:
    name: str = "dangke station"
    timezone: str = "Asia/Shanghai"
    base_url: str = "http://localhost/dangke/"


@dataclass(frozen=True)
class PathsSection:
    inbox: str = "inbox"
    library: str = "library"
    rejected: str = "rejected"
    #: staging tree of plans and schedules in the published layout (extension)
    build: str = "build"


@dataclass(frozen=True)
class PublishSection:
    target: str = "file://public"
    endpoint_url: str = ""
    region: str = ""
    addressing_style: str = ""
    #: canned ACL for uploaded objects, e.g. "public-read"; empty = none (bucket policy)
    acl: str = ""
    timeout_s: float = 60.0
    #: generations whose objects stay in the store (at least 2: the previous one stays whole)
    keep_generations: int = 3
    #: newest quarters (device manifests, broadcast days) kept published; older ones are pruned
    keep_quarters: int = 4
    #: parallel uploads
    jobs: int = 8
    #: files at least this large (MiB) are uploaded in parts of multipart_chunk_mb
    multipart_threshold_mb: int = 64
    multipart_chunk_mb: int = 16
    #: checksum sent with every upload: "sha256" (x-amz-checksum-sha256), "md5" (Content-MD5,
    #: for S3-compatible services without flexible checksums) or "none"
    checksum: str = "sha256"
    #: botocore retry mode ("standard" or "adaptive") and attempts per request, first included
    retry_mode: str = "standard"
    max_attempts: int = 5
    #: canned ACL for devices/ (e.g. "private" when acl makes the rest public); empty = as acl
    devices_acl: str = ""


@dataclass(frozen=True)
class FleetSection:
    registry: str = "fleet.csv"


@dataclass(frozen=True)
class IngestSection:
    #: recordings shorter than this (seconds, decoded) are rejected
    min_duration_s: float = 1.0
    #: a file is taken once its size and mtime were stable this long (seconds)
    settle_s: float = 2.0
    #: integrated loudness below this (LUFS) is "near silent" and rejected
    silent_below_lufs: float = -50.0
    #: a file that looks cut off (shorter than its header, no end marker) waits this long
    #: after its last change before it is rejected as truncated (seconds)
    incomplete_wait_s: float = 600.0
    #: `dangke watch` scans the inbox at least this often, for shares without file events (s)
    poll_s: float = 5.0
    #: recordings sampled below this rate (Hz) are rejected
    min_sample_rate_hz: int = 8000
    #: a decoded duration this much (seconds, or 0.5 % if more) short of the header's is truncation
    truncation_tolerance_s: float = 0.5
    #: below this loudness (LUFS) the recording is accepted with a "very quiet" warning
    quiet_below_lufs: float = -35.0
    #: frame levels spreading less than this (dB, 95th minus 10th percentile) are steady
    #: noise (room tone, hum, hiss) without speech: rejected
    min_level_spread_db: float = 5.0
    #: frames below this level (dBFS) are silence; spans shorter than silence_min_s are pauses
    silence_threshold_dbfs: float = -50.0
    silence_min_s: float = 0.5
    #: leading or trailing silence longer than this (seconds) gets a warning
    long_silence_s: float = 10.0
    #: more than this share of silence (0..1) gets a warning
    mostly_silence_share: float = 0.5
    #: more than this share of samples at full scale (0..1) gets a "clipped" warning
    clipped_warn_share: float = 0.001
    #: a DC offset beyond this (fraction of full scale) gets a warning
    dc_offset_warn: float = 0.02
    #: a channel this many dB below the other is dead: the live channel is used alone
    dead_channel_db: float = 25.0
    #: channel correlation below this (-1..1) means opposite phase: invert one, then mix
    opposite_phase_below: float = -0.2
    #: effective bandwidth below this (Hz) is telephone-band: a warning
    narrowband_below_hz: float = 5000.0
    #: the level drop (dB) below the speech band that ends the effective bandwidth
    bandwidth_drop_db: float = 50.0


@dataclass(frozen=True)
class EncodeSection:
    #: the most gain (dB) a rendition may get; quieter sources stay short of target
    max_gain_db: float = 30.0
    #: accepted distance (LU) between a rendition's measured loudness and its target
    tolerance_lu: float = 0.5
    #: parallel encodes; 0 = number of cores
    jobs: int = 0
    #: leading/trailing stretches with every peak below this (dBFS) are silence
    silence_threshold_dbfs: float = -50.0
    #: silence kept at each end (seconds); longer leading/trailing silence is trimmed
    keep_silence_s: float = 0.5
    #: folder of series cover images, <series>.jpg or .png ("" = no cover art)
    covers: str = ""


@dataclass(frozen=True)
class TopicSpec:
    """``[[plan.topics]]``: a topic lessons can be about. A lesson is on the topic when
    its id is in ``lessons`` or one of ``keywords`` occurs in its title, series or
    description (case and width folded; list both scripts, e.g. 養殖 and 养殖)."""

    name: str
    keywords: tuple[str, ...] = ()
    lessons: tuple[str, ...] = ()


@dataclass(frozen=True)
class GroupRule:
    """``[[plan.groups]]``: what one listener group gets.

    ``topics``: lessons on these topics are carried (all of them, or ``per_topic`` of
    each when it is above 0) as far as the hard rules allow. ``prefer_max_minutes``:
    lessons longer than this are chosen only when shorter ones run out (0 = no limit).
    """

    group: str
    topics: tuple[str, ...] = ()
    per_topic: int = 0
    prefer_max_minutes: float = 0.0


@dataclass(frozen=True)
class MustCarry:
    """``[[plan.must_carry]]``: lessons (ids) the editors want on every device in
    ``quarter`` (``YYYYQn``), or only on the devices of ``groups`` when given."""

    quarter: str
    lessons: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class PlanSection:
    #: the dialect every device may fall back to (ISO 639-3)
    fallback_dialect: str = "cmn"
    #: solver time limit per distinct requirement set (seconds)
    solver_seconds: float = 10.0
    #: listening time per quarter (hours): less is reported, more is never planned (0 = none)
    min_listening_hours: float = 0.0
    max_listening_hours: float = 0.0
    #: share of the seconds in the device's own dialect, as far as the library has it
    own_dialect_min_share: float = 0.0
    #: share of each card left free for the file system and cluster rounding
    card_reserve_share: float = 0.04
    #: village orders (點單), CSV: village,lesson_or_topic,priority[,township][,quarter]
    orders: str = ""
    #: parallel solver processes; 0 = number of cores
    jobs: int = 0
    #: use the play logs read back from cards (issue 15): avoid lessons a device played
    #: fully, let unfinished ones stay, prefer lessons listeners completed
    use_listens: bool = False
    topics: tuple[TopicSpec, ...] = ()
    groups: tuple[GroupRule, ...] = ()
    must_carry: tuple[MustCarry, ...] = ()


@dataclass(frozen=True)
class ScheduleSection:
    #: remainders of a slot at least this long (seconds) are filled with the bed
    filler_min_s: float = 1.0
    #: a lesson should not air twice on one channel within this many days
    rotation_days: int = 14
    #: also write one audio file per slot, exactly the slot's length (for controllers
    #: that can only start one file at a time)
    assemble: bool = True


@dataclass(frozen=True)
class FeedsSection:
    #: the profile whose renditions are the enclosures of feeds/lessons-<dialect>.xml
    lesson_profile: str = "player"
    author: str = ""
    owner_email: str = ""
    #: feed artwork (<itunes:image>): a JPEG or PNG, 1400x1400 to 3000x3000 px
    artwork: str = ""
    #: days of past airings the broadcast feeds keep (every coming airing is listed);
    #: 0 = every airing of the published days, as the contract promises by default
    broadcast_days: int = 0
    # issue 13: what podcast directories require
    #: <language> of every feed, a code of Apple Podcasts' list (ISO 639-1, optionally with
    #: a region: zh-cn, zh-tw); each feed's dialect (ISO 639-3) is in <podcast:txt purpose="dialect">
    language: str = "zh-cn"
    #: <podcast:locked>: true = other platforms must not import the feeds (owner: owner_email)
    locked: bool = True
    #: the profile of the broadcast feeds' enclosures (MP3 for podcast apps; the channel's own
    #: file is kept as <podcast:alternateEnclosure>); "" = the channel's own files only
    broadcast_profile: str = "player"


@dataclass(frozen=True)
class ComputeSection:
    """Where the per-lesson work of ingest analysis and encode runs (issue 16)."""

    #: a Dask distributed scheduler, "tcp://host:8786" ("" = the local pool; $DANGKE_SCHEDULER wins when set)
    scheduler: str = ""
    #: where task inputs and outputs travel: "s3://bucket/prefix" or a folder every worker sees
    exchange: str = ""
    #: S3 exchange only: endpoint, region and addressing style ("" = the [publish] value)
    endpoint_url: str = ""
    region: str = ""
    addressing_style: str = ""
    #: address-space cap of each process of a task (MB, RLIMIT_AS; 0 = none)
    task_memory_mb: int = 4096
    #: a task's wall-clock limit (seconds; 0 = 600 s + 6 x the audio's duration)
    task_timeout_s: float = 0.0
    #: times a task that raised is run again (a lost worker's tasks are always moved on)
    retries: int = 1
    #: seconds to reach the scheduler
    connect_timeout_s: float = 30.0


@dataclass(frozen=True)
class LibrarySection:
    """``[library]``: retention of the library's renditions (``dangke gc``, issue 12)."""

    #: run `dangke gc --yes` at the end of every successful `dangke run`
    gc_after_run: bool = False


@dataclass(frozen=True)
class Config:
    """The whole validated configuration. Paths are absolute."""

    path: Path
    station: StationSection
    paths: PathsSection
    publish: PublishSection
    fleet: FleetSection
    ingest: IngestSection
    encode: EncodeSection
    plan: PlanSection
    schedule: ScheduleSection
    feeds: FeedsSection
    profiles: dict[str, DeviceProfile] = field(default_factory=dict)
    rules: tuple[CategoryRule, ...] = ()
    channels: dict[str, ChannelSpec] = field(default_factory=dict)
    compute: ComputeSection = field(default_factory=ComputeSection)
    library_gc: LibrarySection = field(default_factory=LibrarySection)

    @property
    def root(self) -> Path:
        return self.path.parent

    def resolve(self, value: str) -> Path:
        """A path from the config, absolute, relative ones against the config's folder."""
        p = Path(value).expanduser()
        return p if p.is_absolute() else (self.root / p)

    @property
    def inbox(self) -> Path:
        return self.resolve(self.paths.inbox)

    @property
    def library(self) -> Path:
        return self.resolve(self.paths.library)

    @property
    def rejected(self) -> Path:
        return self.resolve(self.paths.rejected)

    @property
    def build(self) -> Path:
        return self.resolve(self.paths.build)

    @property
    def registry(self) -> Path:
        return self.resolve(self.fleet.registry)

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.station.timezone)

    def today(self) -> dt.date:
        """Today's date in the station's time zone."""
        return dt.datetime.now(self.tz).date()


def find_config(explicit: str | None) -> Path:
    """The config path per the contract: ``--config``, ``$DANGKE_CONFIG``, ``./dangke.toml``."""
    chosen = explicit or os.environ.get("DANGKE_CONFIG") or "dangke.toml"
    return Path(chosen).expanduser().resolve()


def load_config(path: Path) -> Config:
    """Read and validate a station configuration.

    Raises:
        ConfigError: the file is missing, not TOML, has an unknown key, a value of the
            wrong type, or an inconsistent setting; the message names file and key.
    """
    path = Path(path).resolve()
    if not path.is_file():
        raise ConfigError("configuration file not found", path=path,
                          fix="run `dangke init DIR` to create a station, or pass --config PATH")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"not valid TOML: {exc}", path=path, fix="fix the syntax") from exc
    known = {"station", "paths", "publish", "fleet", "ingest", "encode", "plan", "schedule",
             "feeds", "profiles", "rules", "channels", "compute", "library"}
    for key in data:
        if key not in known:
            raise ConfigError(f"unknown section [{key}]", path=path,
                              fix=f"use one of: {', '.join(sorted(known))}")
    sections = {name: _section(cls, data.get(name, {}), name, path) for name, cls in (
        ("station", StationSection), ("paths", PathsSection), ("publish", PublishSection),
        ("fleet", FleetSection), ("ingest", IngestSection), ("encode", EncodeSection),
        ("plan", PlanSection), ("schedule", ScheduleSection), ("feeds", FeedsSection))}
    _check_station(sections["station"], path)
    sections["plan"] = _check_plan(sections["plan"], path)
    _check_publish(sections["publish"], path)
    profiles = _profiles(data.get("profiles", {}), path)
    rules = _rules(data.get("rules", {}), path)
    channels = _channels(data.get("channels", {}), profiles, path)
    if sections["feeds"].lesson_profile not in profiles:
        raise ConfigError(f"[feeds] lesson_profile = {sections['feeds'].lesson_profile!r} is not a "
                          "profile", path=path, fix=f"use one of: {', '.join(sorted(profiles))}")
    _check_schedule(sections["schedule"], sections["feeds"], path)
    _check_feeds(sections["feeds"], profiles, path)
    if dialect_code(sections["plan"].fallback_dialect) != sections["plan"].fallback_dialect:
        raise ConfigError(f"[plan] fallback_dialect = {sections['plan'].fallback_dialect!r} is "
                          "not an ISO 639-3 code we know", path=path, fix=f"use one of: {accepted_dialects()}")
    compute = _section(ComputeSection, data.get("compute", {}), "compute", path)
    library_gc = _section(LibrarySection, data.get("library", {}), "library", path)
    return Config(path=path, profiles=profiles, rules=rules, channels=channels, compute=compute,
                  library_gc=library_gc, **sections)


def _check_station(station: StationSection, path: Path) -> None:
    try:
        zoneinfo.ZoneInfo(station.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"[station] timezone = {station.timezone!r} is not an IANA time zone",
                          path=path, fix="use e.g. Asia/Shanghai") from exc
    if not station.base_url.endswith("/"):
        raise ConfigError(f"[station] base_url = {station.base_url!r} must end with '/'",
                          path=path, fix="add the trailing slash")
    parts = urllib.parse.urlsplit(station.base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"[station] base_url = {station.base_url!r} is not an http(s) URL: every feed "
                          "enclosure and playout URL starts with it", path=path,
                          fix="use the store's public URL, e.g. https://media.example.org/dangke/")


def _check_plan(plan: PlanSection, path: Path) -> PlanSection:
    """Validate ``[plan]`` and its tables; group names come back as codes."""
    def bad(what: str, fix: str) -> ConfigError:
        return ConfigError(f"[plan] {what}", path=path, fix=fix)

    if not 0 <= plan.own_dialect_min_share <= 1:
        raise bad(f"own_dialect_min_share = {plan.own_dialect_min_share} is not between 0 and 1", "e.g. 0.5")
    if not 0 <= plan.card_reserve_share < 1:
        raise bad(f"card_reserve_share = {plan.card_reserve_share} is not in [0, 1)", "e.g. 0.04")
    if plan.min_listening_hours < 0 or plan.max_listening_hours < 0:
        raise bad("listening hours cannot be negative", "use 0 for no limit")
    if 0 < plan.max_listening_hours < plan.min_listening_hours:
        raise bad(f"max_listening_hours = {plan.max_listening_hours} is below min_listening_hours = "
                  f"{plan.min_listening_hours}", "raise the maximum or lower the minimum")
    if plan.jobs < 0 or plan.solver_seconds <= 0:
        raise bad("jobs must be 0 or more and solver_seconds above 0", "e.g. jobs = 0, solver_seconds = 10")
    names = [t.name for t in plan.topics]
    for t in plan.topics:
        if not t.name.strip() or names.count(t.name) > 1:
            raise bad(f"topic name {t.name!r} is empty or used twice", "give each [[plan.topics]] its own name")
        if not t.keywords and not t.lessons:
            raise bad(f"topic {t.name!r} has neither keywords nor lessons", "add keywords = [\"...\"]")

    def group(name: str, where: str) -> str:
        code = group_code(name)
        if code is None:
            raise bad(f"{where}: unknown group {name!r}", f"use one of: {', '.join(GROUPS)}")
        return code

    groups, seen = [], set()
    for g in plan.groups:
        code = group(g.group, "[[plan.groups]]")
        if code in seen:
            raise bad(f"[[plan.groups]] group {code!r} appears twice", "merge the two tables")
        seen.add(code)
        for t in g.topics:
            if t not in names:
                raise bad(f"[[plan.groups]] {code}: unknown topic {t!r}", "define it in [[plan.topics]]")
        if g.per_topic < 0 or g.prefer_max_minutes < 0:
            raise bad(f"[[plan.groups]] {code}: per_topic and prefer_max_minutes cannot be negative", "use 0 for none")
        groups.append(dataclasses.replace(g, group=code))
    must = []
    for m in plan.must_carry:
        if not re.fullmatch(r"\d{4}Q[1-4]", m.quarter):
            raise bad(f"[[plan.must_carry]] quarter = {m.quarter!r} is not YYYYQn", "e.g. quarter = \"2027Q1\"")
        must.append(dataclasses.replace(m, groups=tuple(group(g, "[[plan.must_carry]]") for g in m.groups)))
    return dataclasses.replace(plan, groups=tuple(groups), must_carry=tuple(must))
def _check_publish(publish: PublishSection, path: Path) -> None:
    scheme = urllib.parse.urlsplit(publish.target).scheme
    if scheme not in ("file", "s3"):
        raise ConfigError(f"[publish] target = {publish.target!r} is not file:// or s3://", path=path,
                          fix="use file://public or s3://bucket/prefix")
    checks = [
        (publish.keep_generations >= 2, "keep_generations", "at least 2, so the previous generation stays whole"),
        (publish.keep_quarters >= 1, "keep_quarters", "at least 1"),
        (1 <= publish.jobs <= 64, "jobs", "between 1 and 64"),
        (publish.multipart_chunk_mb >= 5, "multipart_chunk_mb", "at least 5 (the S3 minimum part size)"),
        (publish.multipart_threshold_mb >= publish.multipart_chunk_mb, "multipart_threshold_mb",
         "at least multipart_chunk_mb"),
        (publish.checksum in ("sha256", "md5", "none"), "checksum", "sha256, md5 or none"),
        (publish.retry_mode in ("standard", "adaptive", "legacy"), "retry_mode", "standard or adaptive"),
        (1 <= publish.max_attempts <= 20, "max_attempts", "between 1 and 20"),
        (publish.addressing_style in ("", "auto", "path", "virtual"), "addressing_style",
         "path, virtual or auto"),
        (publish.timeout_s > 0, "timeout_s", "a positive number of seconds"),
    ]
    for ok, key, want in checks:
        if not ok:
            raise ConfigError(f"[publish] {key} = {getattr(publish, key)!r} is out of range", path=path,
                              fix=f"use {want}")


def _check_schedule(schedule: ScheduleSection, feeds: FeedsSection, path: Path) -> None:
    if not 0.1 <= schedule.filler_min_s <= 1.0:
        raise ConfigError(f"[schedule] filler_min_s = {schedule.filler_min_s} must be between 0.1 and 1.0 "
                          "seconds (every slot is filled to its length within 1 s)", path=path,
                          fix="e.g. filler_min_s = 1.0")
    if schedule.rotation_days < 1:
        raise ConfigError(f"[schedule] rotation_days = {schedule.rotation_days} must be at least 1",
                          path=path, fix="e.g. rotation_days = 14")
    if feeds.broadcast_days < 0:
        raise ConfigError(f"[feeds] broadcast_days = {feeds.broadcast_days} cannot be negative", path=path,
                          fix="e.g. broadcast_days = 14 (0 keeps every published day)")
    if feeds.artwork and Path(feeds.artwork).suffix.lower() not in (".jpg", ".jpeg", ".png"):
        raise ConfigError(f"[feeds] artwork = {feeds.artwork!r} must be a JPEG or PNG file", path=path,
                          fix="use a 1400x1400 to 3000x3000 px .jpg or .png (Apple Podcasts)")


def _check_feeds(feeds: FeedsSection, profiles: dict, path: Path) -> None:
    """Issue 13: the feed language is one Apple Podcasts accepts; the broadcast enclosure
    profile exists and is MP3 or AAC."""
    import re
    if not re.fullmatch(r"[a-z]{2}(-[a-z]{2})?", feeds.language):
        raise ConfigError(f"[feeds] language = {feeds.language!r} is not a code Apple Podcasts accepts "
                          "(ISO 639-1 with an optional region; ISO 639-3 dialect codes such as cmn are not)",
                          path=path, fix='e.g. language = "zh-cn" (or "zh-tw")')
    if feeds.broadcast_profile and feeds.broadcast_profile not in profiles:
        raise ConfigError(f"[feeds] broadcast_profile = {feeds.broadcast_profile!r} is not a profile", path=path,
                          fix=f"use one of: {', '.join(sorted(profiles))}, or \"\"")


def _coerce(value: object, kind: object, where: str, path: Path) -> object:
    origin = typing.get_origin(kind)
    if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if kind in (int, str, bool) and type(value) is kind:
        return value
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(kind):
            if option is type(None) and value is None:
                return None
            try:
                return _coerce(value, option, where, path)
            except ConfigError:
                continue
    if dataclasses.is_dataclass(kind) and isinstance(value, dict):
        return _section(kind, value, where.strip("[]").replace("] ", "."), path)
    if origin is tuple and isinstance(value, list):
        inner = typing.get_args(kind)[0]
        return tuple(_coerce(v, inner, where, path) for v in value)
    name = getattr(kind, "__name__", str(kind))
    raise ConfigError(f"{where} must be {name}, not {value!r}", path=path, fix="correct the value")


def _section(cls: type, table: object, where: str, path: Path, **extra: object):
    """Build dataclass ``cls`` from a TOML table, rejecting unknown keys."""
    if not isinstance(table, dict):
        raise ConfigError(f"[{where}] must be a table", path=path, fix="see config/dangke.toml")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.name not in extra]
    values: dict[str, object] = dict(extra)
    for key, value in table.items():
        if key not in names:
            raise ConfigError(f"unknown key {key!r} in [{where}]", path=path,
                              fix=f"known keys: {', '.join(names)}")
        values[key] = _coerce(value, hints[key], f"[{where}] {key}", path)
    try:
        return cls(**values)
    except TypeError as exc:
        missing = [f.name for f in dataclasses.fields(cls)
                   if f.name not in values and f.default is dataclasses.MISSING
                   and f.default_factory is dataclasses.MISSING]
        raise ConfigError(f"[{where}] is missing {', '.join(missing)}", path=path,
                          fix="add the key(s)") from exc


def _profiles(table: dict, path: Path) -> dict[str, DeviceProfile]:
    if not isinstance(table, dict) or not table:
        raise ConfigError("no [profiles.<name>] defined", path=path,
                          fix="define at least the profiles `player` and `broadcast`")
    profiles = {}
    for name, body in sorted(table.items()):
        body = dict(body) if isinstance(body, dict) else body
        if isinstance(body, dict):
            fmt = formats.FORMATS.get(str(body.get("format")))
            body.setdefault("extension", fmt.extension if fmt is not None else "bin")
        prof = _section(DeviceProfile, body, f"profiles.{name}", path, name=name)
        _check_format(prof, path)
        if prof.true_peak_dbtp > 0 or not -70 < prof.loudness_lufs < 0:
            raise ConfigError(f"[profiles.{name}] loudness_lufs/true_peak_dbtp out of range",
                              path=path, fix="e.g. loudness_lufs = -16.0, true_peak_dbtp = -1.5")
        if prof.channels not in (1, 2):
            raise ConfigError(f"[profiles.{name}] channels must be 1 or 2", path=path, fix="")
        profiles[name] = prof
    return profiles


def _check_format(prof: DeviceProfile, path: Path) -> None:
    """``[profiles.<name>]`` ``format``, ``bitrate_kbps``, ``sample_rate`` and ``tags``
    against the format's entry in :data:`pipeline.formats.FORMATS`."""
    where = f"[profiles.{prof.name}]"
    fmt = formats.FORMATS.get(prof.format)
    if fmt is None:
        raise ConfigError(f"{where} format = {prof.format!r} is not supported",
                          path=path, fix=f"use {', '.join(formats.FORMATS)}")
    if fmt.lossy and not prof.bitrate_kbps:
        raise ConfigError(f"{where} needs bitrate_kbps for format {prof.format}",
                          path=path, fix="add e.g. bitrate_kbps = 64")
    if fmt.sample_rates and prof.sample_rate not in fmt.sample_rates:
        raise ConfigError(f"{where} sample_rate = {prof.sample_rate} is not one format {prof.format} takes",
                          path=path, fix=f"use {', '.join(map(str, fmt.sample_rates))}")
    if prof.tags not in (fmt.tag_style, "none"):
        raise ConfigError(f"{where} tags = {prof.tags!r} does not go with format {prof.format}",
                          path=path, fix=f'use tags = "{fmt.tag_style}" (or "none")')


def _rules(table: dict, path: Path) -> tuple[CategoryRule, ...]:
    rules = []
    for key in table:
        if key != "category_share":
            raise ConfigError(f"unknown key {key!r} in [rules]", path=path,
                              fix="known keys: category_share")
    for i, item in enumerate(table.get("category_share", [])):
        where = f"[[rules.category_share]] #{i + 1}"
        if not isinstance(item, dict) or set(item) - {"categories", "min_share"}:
            raise ConfigError(f"{where} takes only categories and min_share", path=path, fix="")
        cats = []
        for c in item.get("categories", []):
            code = category_code(str(c))
            if code is None:
                raise ConfigError(f"{where}: unknown category {c!r}", path=path,
                                  fix=f"use one of: {accepted_categories()}")
            cats.append(code)
        share = item.get("min_share")
        if not isinstance(share, (int, float)) or not 0 <= share <= 1 or not cats:
            raise ConfigError(f"{where}: needs categories and 0 <= min_share <= 1", path=path,
                              fix="e.g. categories = [\"party-spirit\"], min_share = 0.2")
        rules.append(CategoryRule(frozenset(cats), float(share)))
    return tuple(rules)


_CHANNEL_KEYS = ("profile", "title", "filler", "intro", "outro", "slots", "clocks")
_CLOCK_KEYS = ("title", "weekdays", "dates", "slots")
_SLOT_KEYS = ("start", "length_s", "title", "dialects", "categories", "series", "pinned")
_WEEKDAYS = {name: n for n, names in enumerate(
    (("mon", "monday", "週一", "周一", "星期一"), ("tue", "tuesday", "週二", "周二", "星期二"),
     ("wed", "wednesday", "週三", "周三", "星期三"), ("thu", "thursday", "週四", "周四", "星期四"),
     ("fri", "friday", "週五", "周五", "星期五"), ("sat", "saturday", "週六", "周六", "星期六"),
     ("sun", "sunday", "週日", "周日", "星期日", "星期天")), start=1) for name in names}


def _channels(table: dict, profiles: dict[str, DeviceProfile], path: Path) -> dict[str, ChannelSpec]:
    """``[channels.<name>]``: profile, title, filler bed, intro/outro jingles, the default
    daily ``slots`` and the ``clocks.<variant>`` used on some weekdays or dates."""
    channels = {}
    for name, body in sorted(table.items()):
        where = f"channels.{name}"
        if not isinstance(body, dict):
            raise ConfigError(f"[{where}] must be a table", path=path, fix="")
        unknown = set(body) - set(_CHANNEL_KEYS)
        if unknown:
            raise ConfigError(f"unknown key {sorted(unknown)[0]!r} in [{where}]", path=path,
                              fix=f"known keys: {', '.join(_CHANNEL_KEYS)}")
        profile = body.get("profile")
        if profile not in profiles:
            raise ConfigError(f"[{where}] profile = {profile!r} is not a profile", path=path,
                              fix=f"use one of: {', '.join(sorted(profiles))}")
        for key in ("title", "filler", "intro", "outro"):
            if key in body and not isinstance(body[key], str):
                raise ConfigError(f"[{where}] {key} must be text", path=path, fix=f'e.g. {key} = "..."')
        slots = _slots(body.get("slots", []), f"{where}.slots", path)
        if not slots:
            raise ConfigError(f"[{where}] has no slots", path=path,
                              fix="add [[channels.<name>.slots]] with start and length_s")
        clocks = body.get("clocks", {})
        if not isinstance(clocks, dict):
            raise ConfigError(f"[{where}.clocks] must be a table of clocks", path=path,
                              fix=f"write [{where}.clocks.sunday] with weekdays and slots")
        variants = tuple(_clock(cname, cbody, f"{where}.clocks.{cname}", path)
                         for cname, cbody in sorted(clocks.items()))
        _check_clock_overlap(variants, where, path)
        channels[name] = ChannelSpec(name=name, profile=profile, slots=slots,
                                     filler=body.get("filler") or None,
                                     title=str(body.get("title", name)),
                                     intro=body.get("intro") or None, outro=body.get("outro") or None,
                                     clocks=variants)
    return channels


def _clock(name: str, body: object, where: str, path: Path) -> ClockSpec:
    if name == "daily":
        raise ConfigError(f"[{where}]: the name 'daily' is reserved for the channel's own slots",
                          path=path, fix="choose another name, e.g. sunday or national-day")
    if not isinstance(body, dict) or set(body) - set(_CLOCK_KEYS):
        raise ConfigError(f"[{where}] takes {', '.join(_CLOCK_KEYS)}", path=path, fix="")
    weekdays = []
    for w in body.get("weekdays", []):
        n = _WEEKDAYS.get(str(w).strip().lower())
        if n is None:
            raise ConfigError(f"[{where}] weekdays: {w!r} is not a weekday", path=path,
                              fix="use mon, tue, wed, thu, fri, sat, sun")
        weekdays.append(n)
    dates = []
    for d in body.get("dates", []):
        text = str(d).strip()
        try:
            dt.date.fromisoformat(text if len(text) == 10 else f"2000-{text}")
            if len(text) not in (5, 10):
                raise ValueError(text)
        except ValueError as exc:
            raise ConfigError(f"[{where}] dates: {d!r} is not MM-DD or YYYY-MM-DD", path=path,
                              fix='e.g. dates = ["07-01", "2027-10-01"]') from exc
        dates.append(text)
    if not weekdays and not dates:
        raise ConfigError(f"[{where}] applies to no day", path=path,
                          fix='add weekdays = ["sun"] or dates = ["07-01"]')
    slots = _slots(body.get("slots", []), f"{where}.slots", path)
    if not slots:
        raise ConfigError(f"[{where}] has no slots", path=path, fix=f"add [[{where}.slots]]")
    title = body.get("title", "")
    if not isinstance(title, str):
        raise ConfigError(f"[{where}] title must be text", path=path, fix="")
    return ClockSpec(name=name, slots=slots, title=title, weekdays=tuple(sorted(set(weekdays))),
                     dates=tuple(sorted(set(dates))))


def _check_clock_overlap(clocks: tuple[ClockSpec, ...], where: str, path: Path) -> None:
    seen: dict[object, str] = {}
    for clock in clocks:
        for day in (*clock.weekdays, *clock.dates):
            if day in seen:
                raise ConfigError(f"[{where}.clocks] {day!r} is in both {seen[day]} and {clock.name}",
                                  path=path, fix="give each weekday or date to one clock only")
            seen[day] = clock.name


def _slots(items: object, where: str, path: Path) -> tuple[SlotSpec, ...]:
    """Slots of one clock, in start order; they may not overlap or run past midnight."""
    if not isinstance(items, list):
        raise ConfigError(f"[[{where}]] must be an array of tables", path=path, fix="")
    slots = sorted((_slot(s, f"{where} #{i + 1}", path) for i, s in enumerate(items)),
                   key=lambda s: s.start)
    for a, b in zip(slots, slots[1:]):
        if _seconds(a.start) + a.length_s > _seconds(b.start):
            raise ConfigError(f"{where}: the {a.start:%H:%M} slot ({a.length_s:g} s) overlaps the "
                              f"{b.start:%H:%M} slot", path=path, fix="shorten it or move the next slot")
    if slots and _seconds(slots[-1].start) + slots[-1].length_s > 86400:
        raise ConfigError(f"{where}: the {slots[-1].start:%H:%M} slot runs past midnight", path=path,
                          fix="end every slot by 24:00")
    return tuple(slots)


def _seconds(t: dt.time) -> float:
    return t.hour * 3600 + t.minute * 60 + t.second + t.microsecond / 1e6


def _slot(body: object, where: str, path: Path) -> SlotSpec:
    if not isinstance(body, dict) or set(body) - set(_SLOT_KEYS):
        raise ConfigError(f"{where}: takes {', '.join(_SLOT_KEYS)}", path=path, fix="")
    try:
        start = dt.time.fromisoformat(str(body.get("start")))
    except ValueError as exc:
        raise ConfigError(f"{where}: start = {body.get('start')!r} is not HH:MM", path=path,
                          fix="e.g. start = \"06:30\"") from exc
    if start.tzinfo is not None:
        raise ConfigError(f"{where}: start is local time without an offset", path=path,
                          fix="the station's [station] timezone applies")
    length = body.get("length_s")
    if not isinstance(length, (int, float)) or isinstance(length, bool) or length <= 0:
        raise ConfigError(f"{where}: length_s must be a positive number of seconds", path=path, fix="")
    dialects, categories = [], []
    for d in body.get("dialects", []):
        if dialect_code(str(d)) is None:
            raise ConfigError(f"{where}: unknown dialect {d!r}", path=path,
                              fix=f"use one of: {accepted_dialects()}")
        dialects.append(dialect_code(str(d)))
    for c in body.get("categories", []):
        if category_code(str(c)) is None:
            raise ConfigError(f"{where}: unknown category {c!r}", path=path,
                              fix=f"use one of: {accepted_categories()}")
        categories.append(category_code(str(c)))
    title, series, pinned = body.get("title", ""), body.get("series", ""), body.get("pinned", [])
    if not isinstance(title, str) or not isinstance(series, str):
        raise ConfigError(f"{where}: title and series must be text", path=path, fix="")
    if not isinstance(pinned, list) or not all(isinstance(p, str) and p.strip() for p in pinned):
        raise ConfigError(f"{where}: pinned must be a list of lesson ids", path=path,
                          fix='e.g. pinned = ["dj-2027-0701"]')
    return SlotSpec(start=start, length_s=float(length), dialects=tuple(dialects),
                    categories=tuple(categories), title=title.strip(), series=series.strip(),
                    pinned=tuple(p.strip() for p in pinned))


__all__ = ["Config", "load_config", "find_config", "CATEGORIES", "DIALECTS"]
