"""The plan stage: quarterly playlists of the fleet into the staging tree.

Reads the catalog (current lessons and their renditions, and what each device carried
last quarter), the fleet registry and the village orders; calls the pure planner
(:mod:`playlists.quarter`), with its solves spread over ``[plan] jobs`` processes;
re-checks every playlist independently; records each device's files in the catalog
and writes, under ``build/``: ``devices/<quarter>/<device_id>/manifest.json``,
``playlist.m3u`` and ``diff.json``, and ``reports/<quarter>/fleet-summary.csv`` and
``problems.csv``. A device whose hard rules cannot be met gets no files, and its
problem is reported.

The catalog is the source of truth for what is planned (and so what a card keeps next
quarter); ``build/`` is the staging tree written from it and never read back here.
"""

from __future__ import annotations

import dataclasses
import gc
import multiprocessing
import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

from playlists.demand import GroupWishes, QuarterRules
from playlists.quarter import check_playlist, plan_quarter
from playlists.report import CardFile, DeviceDiff, TownshipSummary, device_diffs, fleet_summary, lesson_ids
from playlists.rules import matches_topic

from . import layout, planfiles
from .catalog import Catalog, PlannedFile
from .config import Config
from .encode import lifecycle
from .fsutil import write_atomic
from .fleet import load_fleet, load_orders
from .models import Device, DevicePlaylist, PlanProblem, Quarter, Track
from .staged import read_staged


@dataclass(frozen=True)
class PlanReport:
    """What a plan did: devices planned, problems (not planned), shortfalls (wishes not
    met), fleet notes, the summary rows, files written, solves and the time taken."""

    quarter: str
    devices: int
    planned: int
    problems: tuple[PlanProblem, ...]
    written: int
    shortfalls: tuple[PlanProblem, ...] = ()
    notes: tuple[str, ...] = ()
    summary: tuple[TownshipSummary, ...] = ()
    solves: int = 0
    seconds: float = 0.0
    reports: tuple[Path, ...] = ()

    @property
    def failed(self) -> bool:
        return bool(self.problems)


def tracks(cfg: Config, catalog: Catalog, profile: str) -> list[Track]:
    """Current lessons that have a rendition in ``profile`` as configured now, with the
    ``[[plan.topics]]`` they are about."""
    out = []
    for lesson in catalog.lessons():
        r = lifecycle.current(cfg, catalog, lesson.source_sha256, profile)
        if r is None:
            continue
        topics = tuple(t.name for t in cfg.plan.topics
                       if matches_topic(lesson.lesson_id, (lesson.title, lesson.series, lesson.description),
                                        t.keywords, t.lessons))
        out.append(Track(lesson_id=lesson.lesson_id, title=lesson.title, category=lesson.category,
                         dialect=lesson.dialect, duration_s=r.duration_s, bytes=r.bytes, sha256=r.sha256,
                         key=r.key, series=lesson.series, episode=lesson.episode,
                         valid_from=lesson.valid_from, valid_until=lesson.valid_until,
                         audiences=lesson.audiences, evergreen=lesson.evergreen, topics=topics))
    return out


def settings(cfg: Config, quarter: Quarter | None = None) -> QuarterRules:
    """The planner's settings from ``[plan]`` and ``[rules]`` (must-carry of ``quarter``)."""
    p = cfg.plan
    must = tuple((lid, m.groups) for m in p.must_carry if quarter is not None and m.quarter == str(quarter)
                 for lid in m.lessons)
    return QuarterRules(rules=cfg.rules, fallback_dialect=p.fallback_dialect, work_limit=p.solver_seconds,
                        min_listening_s=p.min_listening_hours * 3600, max_listening_s=p.max_listening_hours * 3600,
                        own_dialect_min_share=p.own_dialect_min_share, card_reserve_share=p.card_reserve_share,
                        groups=tuple(GroupWishes(g.group, g.topics, g.per_topic, g.prefer_max_minutes * 60)
                                     for g in p.groups),
                        must_carry=must)


def process_map(jobs: int, threshold: int = 32) -> Callable:
    """A ``map`` that spreads the calls over ``jobs`` processes (0 = one per core) when
    there are at least ``threshold`` of them; results keep the input order.

    Like ``map`` it is lazy: every call is queued before it returns, and the results are
    yielded as they come, so the caller can work on the first ones while the others
    run. The processes end when the results are used up (or the iterator is dropped)."""
    jobs = jobs or os.cpu_count() or 1

    def run(fn: Callable, items: Iterable) -> Iterator:
        items = list(items)
        if jobs <= 1 or len(items) < threshold:
            return map(fn, items)
        # the workers are forked, maybe while the caller paused the cyclic GC: resume it there
        pool = ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("fork"), initializer=gc.enable)
        try:
            results = pool.map(fn, items, chunksize=max(1, len(items) // (jobs * 32)))
        except BaseException:
            pool.shutdown(cancel_futures=True)
            raise
        return _until_done(pool, results)
    return run


def _until_done(pool: ProcessPoolExecutor, results: Iterator) -> Iterator:
    try:
        yield from results
    finally:
        pool.shutdown(cancel_futures=True)


def adopt_staged_plans(cfg: Config, catalog: Catalog, quarter: Quarter, devices: list[Device]) -> int:
    """Once, for a catalog written before it kept plans' files: record the files of the
    ``quarter`` plans it knows by lesson id only from their staged manifests (what that
    version wrote from the same plan). Returns how many plans were completed.

    Raises:
        DangkeError: such a manifest cannot be read.
    """
    root = cfg.build / "devices" / str(quarter)
    plans = catalog.plans(str(quarter))
    legacy = [d.device_id for d in devices if d.device_id in plans and not any(f.sha256 for f in plans[d.device_id])
              and (root / d.device_id / "manifest.json").is_file()]
    if legacy:
        with catalog.transaction():
            for device_id in legacy:
                staged = read_staged(layout.read_manifest, root / device_id / "manifest.json")
                catalog.save_plan(str(quarter), device_id, planned_files(staged))
    return len(legacy)


def planned_files(playlist: DevicePlaylist) -> list[PlannedFile]:
    """The files a playlist puts on the card, in play order, as the catalog records them."""
    return [PlannedFile(i.lesson_id, i.sha256, i.bytes, i.card_path) for i in playlist.items]


def previous_files(catalog: Catalog, quarter: Quarter, devices: list[Device],
                   by_profile: dict[str, list[Track]]) -> dict[str, tuple[CardFile, ...]]:
    """What each device carried in ``quarter`` (the previous one), as the catalog's plans
    record it; a plan recorded by lesson id only gets today's renditions."""
    now = {p: {t.lesson_id: t for t in ts} for p, ts in by_profile.items()}
    plans = catalog.plans(str(quarter))
    seen: dict[tuple, tuple[CardFile, ...]] = {}
    out = {}
    for d in devices:
        tracks_now = now.get(d.profile, {})
        files = tuple(CardFile(f.lesson_id, f.sha256, f.bytes, f.card_path) if f.sha256
                      else CardFile(f.lesson_id, tracks_now[f.lesson_id].sha256, tracks_now[f.lesson_id].bytes)
                      if f.lesson_id in tracks_now else CardFile(f.lesson_id, "", 0)
                      for f in plans.get(d.device_id, ()))
        if files:
            out[d.device_id] = seen.setdefault(files, files)
    return out


def _write_all(files: list[tuple[Path, bytes]]) -> int:
    with ThreadPoolExecutor(8) as pool:
        written = sum(pool.map(lambda f: write_atomic(*f, sync=False), files))  # one os.sync() below
    if written:
        os.sync()
    return written


def _use_listens(catalog: Catalog, quarter: Quarter, previous: dict, rules: QuarterRules,
                 by_profile: dict[str, list[Track]]) -> tuple[dict, QuarterRules, list[str], object]:
    """``[plan] use_listens``: lessons heard (played fully) instead of lessons carried, the
    completion preference, and the notes that explain them."""
    from playlists.listens import completion, heard, plan_notes
    from .listens.planfacts import listening_for_plan
    facts = listening_for_plan(catalog, str(quarter.previous()))
    titles = {t.lesson_id: t.title for ts in by_profile.values() for t in ts}
    notes = plan_notes(facts, previous, titles)
    return heard(previous, facts), dataclasses.replace(rules, completion=completion(facts)), notes, facts


def _repeats(result, facts, by_profile: dict[str, list[Track]]) -> tuple[PlanProblem, ...]:
    """Shortfalls of devices that carry again a lesson they played fully (not evergreen:
    the rules, a must-carry, an order or the library left no other choice)."""
    from playlists.listens import repeats
    out = []
    by_id = {d.device_id: d for d in facts.devices}
    evergreen = {t.lesson_id for ts in by_profile.values() for t in ts if t.evergreen}
    for pl in result.playlists:
        again = [i for i in repeats((i.lesson_id for i in pl.items), by_id.get(pl.device_id)) if i not in evergreen]
        if again:
            out.append(PlanProblem(pl.device_id, f"{pl.device_id}: carries again {len(again)} lesson(s) it "
                                   f"played fully ({', '.join(again[:5])}): the rules or wishes needed them",
                                   "repeat"))
    return tuple(out)


def run_plan(cfg: Config, catalog: Catalog, quarter: Quarter) -> PlanReport:
    """Plan ``quarter`` for the whole fleet and write the staging tree.

    Raises:
        ConfigError: the fleet registry or the village orders are invalid.
    """
    started = time.perf_counter()
    devices = load_fleet(cfg.registry, frozenset(cfg.profiles))
    orders = load_orders(cfg.resolve(cfg.plan.orders)) if cfg.plan.orders else []
    rules = settings(cfg, quarter)
    by_profile = {p: tracks(cfg, catalog, p) for p in sorted({d.profile for d in devices})}
    adopt_staged_plans(cfg, catalog, quarter.previous(), devices)
    before = previous_files(catalog, quarter.previous(), devices, by_profile)
    previous, listen_notes, listening = lesson_ids(before), [], None
    if cfg.plan.use_listens:  # issue 15: what the cards' play logs say
        previous, rules, listen_notes, listening = _use_listens(catalog, quarter, previous, rules, by_profile)
    result = plan_quarter(devices, by_profile, quarter, rules,
                          previous=previous,
                          orders=orders, mapper=process_map(cfg.plan.jobs))
    if listen_notes:
        result = dataclasses.replace(result, notes=tuple(listen_notes) + result.notes,
                                     shortfalls=result.shortfalls + _repeats(result, listening, by_profile))
    by_id = {d.device_id: d for d in devices}
    library = {t.lesson_id: t for ts in by_profile.values() for t in ts}
    problems = list(result.problems)
    root = cfg.build / "devices" / str(quarter)
    files: list[tuple[Path, bytes]] = []
    planned = []
    for pl in result.playlists:
        broken = check_playlist(pl, by_id[pl.device_id], rules, library, quarter)
        if broken:  # never publish a playlist that breaks the rules, whatever the solver said
            problems.append(PlanProblem(pl.device_id, f"{pl.device_id}: rejected plan: {'; '.join(broken)}"))
            continue
        planned.append(pl)
    diffs: dict[str, DeviceDiff] = device_diffs(planned, before, str(quarter.previous()))
    for pl in planned:
        d = diffs[pl.device_id]
        folder = root / pl.device_id
        files += [(folder / "manifest.json", layout.manifest(pl)), (folder / "playlist.m3u", layout.device_m3u(pl)),
                  (folder / "diff.json", layout.diff(d))]
    keep = {pl.device_id for pl in planned}
    result_ok = dataclasses.replace(result, playlists=tuple(planned),
                                    problems=tuple(sorted(problems, key=lambda p: p.device_id)))
    summary = fleet_summary(devices, result_ok, diffs)
    reports = cfg.build / "reports" / str(quarter)
    files += [(reports / "fleet-summary.csv", planfiles.summary_csv(summary)),
              (reports / "problems.csv", planfiles.problems_csv(list(result_ok.problems) + list(result.shortfalls),
                                                                by_id, list(result.notes)))]
    written = _write_all(files)
    if root.is_dir():
        for stale in sorted(p for p in root.iterdir() if p.is_dir() and p.name not in keep):
            shutil.rmtree(stale)
    with catalog.transaction():
        for pl in planned:
            catalog.save_plan(str(quarter), pl.device_id, planned_files(pl))
        catalog.forget_plans(str(quarter), keep)
        for p in result_ok.problems:
            catalog.log("plan", "error", p.device_id, p.message)
    return PlanReport(quarter=str(quarter), devices=len(devices), planned=len(planned),
                      problems=result_ok.problems, written=written, shortfalls=result.shortfalls,
                      notes=result.notes, summary=tuple(summary), solves=result.solves,
                      seconds=time.perf_counter() - started,
                      reports=(reports / "fleet-summary.csv", reports / "problems.csv"))
