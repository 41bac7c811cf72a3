"""The plan stage: quarterly playlists of the fleet into the staging tree.

Reads the catalog (current lessons and their renditions) and the fleet registry, calls
the pure planner (:mod:`playlists.quarter`), re-checks every playlist independently, and
writes ``build/devices/<quarter>/<device_id>/manifest.json`` and ``playlist.m3u``.
A device whose rules cannot be met gets no files, and its problem is reported.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass

from playlists.quarter import QuarterRules, check_playlist, plan_quarter

from . import layout
from .catalog import Catalog
from .config import Config, profile_hash
from .fleet import load_fleet
from .fsutil import write_atomic
from .models import PlanProblem, Quarter, Track


@dataclass(frozen=True)
class PlanReport:
    quarter: str
    devices: int
    planned: int
    problems: tuple[PlanProblem, ...]
    written: int

    @property
    def failed(self) -> bool:
        return bool(self.problems)


def tracks(cfg: Config, catalog: Catalog, profile: str) -> list[Track]:
    """Current lessons that have a rendition in ``profile`` as configured now."""
    ph = profile_hash(cfg.profiles[profile])
    out = []
    for lesson in catalog.lessons():
        r = catalog.rendition(lesson.source_sha256, profile, ph)
        if r is None:
            continue
        out.append(Track(lesson_id=lesson.lesson_id, title=lesson.title, category=lesson.category,
                         dialect=lesson.dialect, duration_s=r.duration_s, bytes=r.bytes, sha256=r.sha256,
                         key=r.key, series=lesson.series, episode=lesson.episode,
                         valid_from=lesson.valid_from, valid_until=lesson.valid_until,
                         audiences=lesson.audiences, evergreen=lesson.evergreen))
    return out


def settings(cfg: Config) -> QuarterRules:
    return QuarterRules(rules=cfg.rules, fallback_dialect=cfg.plan.fallback_dialect,
                        work_limit=cfg.plan.solver_seconds)


def run_plan(cfg: Config, catalog: Catalog, quarter: Quarter) -> PlanReport:
    """Plan ``quarter`` for the whole fleet and write the staging tree."""
    devices = load_fleet(cfg.registry, frozenset(cfg.profiles))
    rules = settings(cfg)
    by_profile = {p: tracks(cfg, catalog, p) for p in sorted({d.profile for d in devices})}
    result = plan_quarter(devices, by_profile, quarter, rules)
    by_id = {d.device_id: d for d in devices}
    problems = list(result.problems)
    root = cfg.build / "devices" / str(quarter)
    keep, written = set(), 0
    for pl in result.playlists:
        broken = check_playlist(pl, by_id[pl.device_id], rules)
        if broken:  # never publish a playlist that breaks the rules, whatever the solver said
            problems.append(PlanProblem(pl.device_id, f"{pl.device_id}: rejected plan: {'; '.join(broken)}"))
            continue
        folder = root / pl.device_id
        written += write_atomic(folder / "manifest.json", layout.manifest(pl))
        written += write_atomic(folder / "playlist.m3u", layout.device_m3u(pl))
        keep.add(pl.device_id)
        catalog.save_plan(str(quarter), pl.device_id, [i.lesson_id for i in pl.items])
    if root.is_dir():
        for stale in sorted(p for p in root.iterdir() if p.is_dir() and p.name not in keep):
            shutil.rmtree(stale)
    for p in problems:
        catalog.log("plan", "error", p.device_id, p.message)
    return PlanReport(quarter=str(quarter), devices=len(devices), planned=len(keep),
                      problems=tuple(sorted(problems, key=lambda p: p.device_id)), written=written)
