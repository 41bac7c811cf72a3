"""Load and validate the station configuration (TOML).

The configuration is found at ``--config PATH``, else ``$DANGKE_CONFIG``, else
``./dangke.toml``. Relative paths resolve against the config file's folder. Every
section is a frozen dataclass whose field names are the TOML keys, so the defaults live
in one place; an unknown key is an error that names the file and the key.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import tomllib
import types
import typing
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError
from .models import CategoryRule, ChannelSpec, DeviceProfile, SlotSpec
from .vocab import CATEGORIES, DIALECTS, accepted_categories, accepted_dialects, category_code, dialect_code


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
    silent_below_lufs: float = -55.0


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
class PlanSection:
    #: the dialect every device may fall back to (ISO 639-3)
    fallback_dialect: str = "cmn"
    #: solver time limit per distinct requirement set (seconds)
    solver_seconds: float = 10.0


@dataclass(frozen=True)
class ScheduleSection:
    #: remainders of a slot at least this long (seconds) are filled with the bed
    filler_min_s: float = 1.0
    #: a lesson should not air twice on one channel within this many days
    rotation_days: int = 14


@dataclass(frozen=True)
class FeedsSection:
    #: the profile whose renditions are the enclosures of feeds/lessons-<dialect>.xml
    lesson_profile: str = "player"
    author: str = ""
    owner_email: str = ""


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


CHAIN_VERSION = "2"
"""Version of the encode chain; part of every rendition's cache key."""


def profile_hash(profile: DeviceProfile) -> str:
    """A short hash of a profile's settings and the chain version (rendition cache key)."""
    blob = json.dumps([CHAIN_VERSION, dataclasses.asdict(profile)], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


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
             "feeds", "profiles", "rules", "channels"}
    for key in data:
        if key not in known:
            raise ConfigError(f"unknown section [{key}]", path=path,
                              fix=f"use one of: {', '.join(sorted(known))}")
    sections = {name: _section(cls, data.get(name, {}), name, path) for name, cls in (
        ("station", StationSection), ("paths", PathsSection), ("publish", PublishSection),
        ("fleet", FleetSection), ("ingest", IngestSection), ("encode", EncodeSection),
        ("plan", PlanSection), ("schedule", ScheduleSection), ("feeds", FeedsSection))}
    _check_station(sections["station"], path)
    profiles = _profiles(data.get("profiles", {}), path)
    rules = _rules(data.get("rules", {}), path)
    channels = _channels(data.get("channels", {}), profiles, path)
    if sections["feeds"].lesson_profile not in profiles:
        raise ConfigError(f"[feeds] lesson_profile = {sections['feeds'].lesson_profile!r} is not a "
                          "profile", path=path, fix=f"use one of: {', '.join(sorted(profiles))}")
    if dialect_code(sections["plan"].fallback_dialect) != sections["plan"].fallback_dialect:
        raise ConfigError(f"[plan] fallback_dialect = {sections['plan'].fallback_dialect!r} is "
                          "not an ISO 639-3 code we know", path=path, fix=f"use one of: {accepted_dialects()}")
    return Config(path=path, profiles=profiles, rules=rules, channels=channels, **sections)


def _check_station(station: StationSection, path: Path) -> None:
    try:
        zoneinfo.ZoneInfo(station.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"[station] timezone = {station.timezone!r} is not an IANA time zone",
                          path=path, fix="use e.g. Asia/Shanghai") from exc
    if not station.base_url.endswith("/"):
        raise ConfigError(f"[station] base_url = {station.base_url!r} must end with '/'",
                          path=path, fix="add the trailing slash")


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


_FORMATS = {"mp3": "mp3", "wav": "wav", "m4a": "m4a"}


def _profiles(table: dict, path: Path) -> dict[str, DeviceProfile]:
    if not isinstance(table, dict) or not table:
        raise ConfigError("no [profiles.<name>] defined", path=path,
                          fix="define at least the profiles `player` and `broadcast`")
    profiles = {}
    for name, body in sorted(table.items()):
        body = dict(body) if isinstance(body, dict) else body
        if isinstance(body, dict):
            body.setdefault("extension", _FORMATS.get(str(body.get("format")), "bin"))
        prof = _section(DeviceProfile, body, f"profiles.{name}", path, name=name)
        if prof.format not in _FORMATS:
            raise ConfigError(f"[profiles.{name}] format = {prof.format!r} is not supported",
                              path=path, fix="use mp3, wav or m4a")
        if prof.format != "wav" and not prof.bitrate_kbps:
            raise ConfigError(f"[profiles.{name}] needs bitrate_kbps for format {prof.format}",
                              path=path, fix="add e.g. bitrate_kbps = 64")
        if prof.true_peak_dbtp > 0 or not -70 < prof.loudness_lufs < 0:
            raise ConfigError(f"[profiles.{name}] loudness_lufs/true_peak_dbtp out of range",
                              path=path, fix="e.g. loudness_lufs = -16.0, true_peak_dbtp = -1.5")
        if prof.channels not in (1, 2):
            raise ConfigError(f"[profiles.{name}] channels must be 1 or 2", path=path, fix="")
        profiles[name] = prof
    return profiles


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


def _channels(table: dict, profiles: dict[str, DeviceProfile], path: Path) -> dict[str, ChannelSpec]:
    channels = {}
    for name, body in sorted(table.items()):
        where = f"channels.{name}"
        if not isinstance(body, dict):
            raise ConfigError(f"[{where}] must be a table", path=path, fix="")
        unknown = set(body) - {"profile", "slots", "filler", "title"}
        if unknown:
            raise ConfigError(f"unknown key {sorted(unknown)[0]!r} in [{where}]", path=path,
                              fix="known keys: profile, title, filler, slots")
        profile = body.get("profile")
        if profile not in profiles:
            raise ConfigError(f"[{where}] profile = {profile!r} is not a profile", path=path,
                              fix=f"use one of: {', '.join(sorted(profiles))}")
        slots = tuple(_slot(s, f"{where}.slots #{i + 1}", path)
                      for i, s in enumerate(body.get("slots", [])))
        if not slots:
            raise ConfigError(f"[{where}] has no slots", path=path,
                              fix="add [[channels.<name>.slots]] with start and length_s")
        channels[name] = ChannelSpec(name=name, profile=profile, slots=slots,
                                     filler=body.get("filler") or None,
                                     title=str(body.get("title", name)))
    return channels


def _slot(body: object, where: str, path: Path) -> SlotSpec:
    if not isinstance(body, dict) or set(body) - {"start", "length_s", "dialects", "categories"}:
        raise ConfigError(f"{where}: takes start, length_s, dialects, categories", path=path, fix="")
    try:
        start = dt.time.fromisoformat(str(body.get("start")))
    except ValueError as exc:
        raise ConfigError(f"{where}: start = {body.get('start')!r} is not HH:MM", path=path,
                          fix="e.g. start = \"06:30\"") from exc
    length = body.get("length_s")
    if not isinstance(length, (int, float)) or length <= 0:
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
    return SlotSpec(start=start, length_s=float(length), dialects=tuple(dialects),
                    categories=tuple(categories))


__all__ = ["Config", "load_config", "find_config", "profile_hash", "CHAIN_VERSION",
           "CATEGORIES", "DIALECTS"]
