"""``dangke report``: the station's state as a static HTML site with pictures.

The site is written into the staging tree under ``reports/`` (front page
``reports/index.html``), so the next publish carries it with the generation to the folder
or bucket; it works from ``file://`` and over plain HTTP: relative links only, no server,
no external fonts, scripts or stylesheets. Pages come from the Jinja2 templates in
``pipeline/report/templates`` (Chinese first, English beside it); pictures from the
loudness curves kept in the catalog (:mod:`pipeline.curves`), drawn by :mod:`.plots` and
reused while what they show is unchanged. A page is rewritten only when its text changed,
and files the site no longer has are removed (only in the site's own folders).
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from ..catalog import Catalog
from ..config import Config
from ..errors import ConfigError
from ..fleet import load_fleet
from . import gather, plots, publishing
from .site import Site

OWN_DIRS = ("lesson", "quarter", "week", "img", "static")
"""Folders of ``reports/`` that belong to the site (the plan's CSV files live beside them)."""


@dataclass(frozen=True)
class ReportResult:
    """What a report run did: the front page's path, pages written (changed) of all pages,
    pictures drawn of all pictures, files removed, and the wall time (seconds)."""

    index: Path
    pages: int
    pages_written: int
    pictures: int
    pictures_drawn: int
    removed: int
    seconds: float
    notes: tuple[str, ...] = ()


def listens_source(cfg: Config, catalog: Catalog) -> dict | None:
    """Play statistics for the report (issue 15), from the cards read back and the
    downloads counted (:func:`pipeline.listens.summary.listening_summary`):
    ``{"summary": {label: text}, "lessons": {lesson_id: {label: text}}}`` with bilingual
    labels; None (the listening sections hidden) when there is nothing to show."""
    from ..listens.statuslines import percent
    from ..listens.summary import listening_summary
    try:
        towns = {d.device_id: d.township for d in load_fleet(cfg.registry, set(cfg.profiles))}
    except ConfigError:  # the planner reports registry problems; plays are still shown
        towns = {}
    s = listening_summary(catalog, towns)
    if s is None:
        return None
    summary: dict[str, str] = {
        "季度 quarter": s.quarter or "—",
        "讀回的卡 cards read back": f"{s.read}，有播放記錄 with a play log or counter: {s.reporting}",
        "未播放的卡 cards that came back unplayed": (f"{len(s.unplayed)}: {', '.join(s.unplayed)}"
                                                   if s.unplayed else "0"),
    }
    for t in s.townships:
        summary[f"{t.township}"] = (f"讀回 read back {t.read}，有記錄 reporting {t.reporting}，"
                                    f"未播放 unplayed {len(t.unplayed)}")
    for f in s.feeds:
        summary[f"下載 downloads {f.feed or '(no feed)'}"] = (f"{f.downloads} ({f.first_day} – {f.last_day}, "
                                                              "IAB v2.1)")
    lessons: dict[str, dict[str, str]] = {}
    for r in s.lessons:
        lessons[r.lesson_id] = {
            "播放的裝置 devices that played it": f"{r.played} / {r.reporting} ({percent(r.share_played)})",
            "播放次數 plays": str(r.plays),
            "聽完比例 completion": percent(r.completion),
        }
    for lesson_id, n in s.downloads_by_lesson:
        lessons.setdefault(lesson_id, {})["下載 downloads"] = str(n)
    return {"summary": summary, "lessons": lessons}


def published_keys(cfg: Config, catalog: Catalog, quarters: list[dict]) -> set[str]:
    """Audio keys the next publish carries: those of the staged manifests and schedules
    and of the lesson feeds."""
    from ..publish.feedset import lesson_feed_sources
    keys = set().union(*(q["keys"] for q in quarters)) if quarters else set()
    keys |= gather.schedule_keys(cfg)
    keys.update(item.key for _, item in lesson_feed_sources(cfg, catalog))
    return keys


def build_report(cfg: Config, catalog: Catalog, workers: int | None = None) -> ReportResult:
    """Write the site into ``<build>/reports/``.

    Raises:
        DangkeError: no CJK font for the pictures (install fonts-noto-cjk).
    """
    started = time.monotonic()
    plots.cjk_font()  # fail before any work when pictures could not show Chinese
    out = cfg.build / "reports"
    notes: list[str] = []
    try:
        devices = load_fleet(cfg.registry, set(cfg.profiles))
    except ConfigError as exc:  # the planner reports registry problems; the report goes on
        devices = []
        notes.append(f"fleet registry not read: {exc}")
    site = Site(cfg, out)
    lessons = gather.lessons(cfg, catalog)
    # the pictures are drawn (in worker processes) while the rest is gathered and written
    drawing, pictures = site.pictures(catalog, lessons, workers or os.cpu_count() or 1)
    with drawing:
        staged = publishing.staged_keys(cfg)
        quarters = [gather.quarter(cfg, q, devices) for q in gather.staged_quarters(cfg, staged)]
        gather.mark_published(lessons, published_keys(cfg, catalog, quarters))
        from ..publish import store_for
        data = {
            "station": cfg.station.name, "inbox": gather.inbox(cfg, catalog),
            "lessons": lessons, "quarters": quarters,
            "weeks": gather.broadcast_weeks(cfg),
            "generations": publishing.generations(cfg, catalog, store_for(cfg).describe()),
            "target": cfg.publish.target, "listens": listens_source(cfg, catalog),
        }
        site.write_all(data)
        drawn = drawing.wait()
    removed = _remove_stale(out, site.written)
    return ReportResult(index=out / "index.html", pages=site.pages, pages_written=site.changed,
                        pictures=pictures, pictures_drawn=drawn, removed=removed,
                        seconds=time.monotonic() - started, notes=tuple(notes))


def _remove_stale(out: Path, written: set[Path]) -> int:
    removed = 0
    for sub in OWN_DIRS:
        root = out / sub
        if not root.is_dir():
            continue
        for dirpath, _dirs, names in os.walk(root, topdown=False):
            for n in names:
                p = Path(dirpath, n)
                if p not in written:
                    p.unlink()
                    removed += 1
            if dirpath != str(root) and not os.listdir(dirpath):
                shutil.rmtree(dirpath, ignore_errors=True)
    return removed


__all__ = ["build_report", "ReportResult", "listens_source"]
