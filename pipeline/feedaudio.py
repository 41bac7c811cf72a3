"""Podcast versions of broadcast airings: the enclosures of ``feeds/broadcast-<channel>.xml``.

Podcast apps and directories take MP3/AAC enclosures, not the channel's PCM WAV (issue
13). Each aired file gets a rendition in ``[feeds] broadcast_profile`` (default
``player``, MP3): a lesson's is its own rendition in that profile (made by ``encode``), a
jingle's and a filler's are made from the same source as their broadcast file, a whole
slot's is made from the slot file itself (source key ``<sha256>+asset``). They are made by
the schedule stage, cached like every rendition, and looked up here for the feeds and for
publishing; the WAV stays in the feed as ``podcast:alternateEnclosure``.
"""

from __future__ import annotations

from pathlib import Path

from .catalog import Catalog
from .config import Config
from .errors import DangkeError
from .models import BroadcastDay, ChannelSpec, Rendition


#: enclosure types every podcast app and directory takes: a channel in such a profile
#: (the village loudspeakers' MP3) needs no other version
PODCAST_TYPES = ("audio/mpeg",)


def _profile(cfg: Config) -> str:
    return cfg.feeds.broadcast_profile


def _ready(cfg: Config, profile: str) -> bool:
    return profile in cfg.profiles and cfg.profiles[profile].mime_type in PODCAST_TYPES


def podcast_version(cfg: Config, catalog: Catalog, aired: Rendition | None) -> Rendition | None:
    """The rendition in ``[feeds] broadcast_profile`` of what ``aired`` (a broadcast
    rendition) carries, when it has been made; None without a profile or a version."""
    name = _profile(cfg)
    if not name or aired is None or aired.profile == name or _ready(cfg, aired.profile):
        return None
    from .encode import lifecycle
    for source in (aired.source_sha256, f"{aired.sha256}+asset"):
        r = lifecycle.cached(cfg, catalog, source, cfg.profiles[name])
        if r is not None:
            return r
    return None


def make_podcast_versions(cfg: Config, catalog: Catalog, channel: ChannelSpec, day: BroadcastDay) -> list[str]:
    """Make the missing podcast versions of a scheduled day's jingles, fillers and
    whole-slot files (lessons have theirs from ``encode``). Returns problems (a version
    that could not be made leaves that airing's enclosure the channel's own file).
    """
    name = _profile(cfg)
    if not name or _ready(cfg, channel.profile):
        return []
    from .encode import filler_rendition
    from .encode.assemble import asset_rendition
    by_key = {r.key: r for r in catalog.renditions()}
    problems = []
    for slot in day.slots:
        todo = [(a.kind, a.key or "", a.title, a.duration_s) for a in slot.items if a.kind != "lesson"]
        if slot.key:
            todo.append(("slot", slot.key, f"{channel.title or channel.name} {slot.start:%Y-%m-%d %H:%M}", 0.0))
        for kind, key, title, seconds in todo:
            aired = by_key.get(key)
            if aired is None or podcast_version(cfg, catalog, aired) is not None:
                continue
            try:
                if kind == "filler" and channel.filler:
                    filler_rendition(cfg, catalog, cfg.resolve(channel.filler), name, seconds)
                elif kind == "jingle" and aired.source_sha256.endswith("+asset"):
                    asset = next((cfg.resolve(p) for p in (channel.intro, channel.outro) if p
                                  and _same_asset(cfg.resolve(p), aired)), None)
                    asset_rendition(cfg, catalog, asset or cfg.library / aired.path, name, title)
                else:
                    asset_rendition(cfg, catalog, cfg.library / aired.path, name, title)
            except DangkeError as exc:
                problems.append(f"{channel.name} {day.date}: no {name} version of {key} for the feed: {exc}")
    return problems


def _same_asset(path: Path, aired: Rendition) -> bool:
    from .fsutil import sha256_file
    return path.is_file() and aired.source_sha256 == f"{sha256_file(path)}+asset"


def podcast_keys(cfg: Config, catalog: Catalog, aired_keys: set[str]) -> set[str]:
    """The keys of the podcast versions of ``aired_keys`` (what publishing must upload
    for the broadcast feeds)."""
    by_key = {r.key: r for r in catalog.renditions()}
    out = set()
    for key in aired_keys:
        r = podcast_version(cfg, catalog, by_key.get(key))
        if r is not None:
            out.add(r.key)
    return out
