"""Rendering the gathered data into the site's files (Jinja2; the only module that imports it).

Every page is rendered from a template of ``templates/`` with ``root`` (the relative path
back to ``reports/``) so links work wherever the folder is served from. Files are written
atomically and only when their bytes changed.
"""

from __future__ import annotations

import json
import math
from importlib import resources
from pathlib import Path

import jinja2

from .. import curves
from ..config import Config
from ..fsutil import write_atomic
from . import gather, plots


def _num(x, digits: int = 1, unit: str = "") -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    return f"{x:.{digits}f}{(' ' + unit) if unit else ''}"


def _mb(n) -> str:
    return "—" if n is None else f"{n / 1e6:.1f} MB"


def _clock(seconds) -> str:
    if seconds is None:
        return "—"
    s = int(round(float(seconds)))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def _pct(x) -> str:
    return "—" if x is None else f"{100 * x:.0f}%"


def environment() -> jinja2.Environment:
    """The template environment: package templates, autoescaping, the number filters."""
    env = jinja2.Environment(loader=jinja2.PackageLoader("pipeline.report", "templates"),
                             autoescape=jinja2.select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined)
    env.filters.update(num=_num, mb=_mb, clock=_clock, pct=_pct,
                       zh=lambda code, kind="category": gather.NAMES.get(kind, {}).get(code, code))
    return env


class Site:
    """The site under ``out`` (``<build>/reports``): pictures, pages, static files."""

    def __init__(self, cfg: Config, out: Path) -> None:
        self.cfg, self.out = cfg, out
        self.env = environment()
        self.written: set[Path] = set()
        self.pages = 0
        self.changed = 0

    # -- files ------------------------------------------------------------------------------
    def _put(self, rel: str, data: bytes) -> None:
        path = self.out / rel
        self.written.add(path)
        if write_atomic(path, data, sync=False):
            self.changed += 1

    def page(self, rel: str, template: str, **context) -> None:
        """Render ``template`` to ``reports/<rel>``."""
        root = "../" * rel.count("/")
        context.setdefault("station", self.data["station"])
        html = self.env.get_template(template).render(root=root, **context)
        self._put(rel, html.encode("utf-8"))
        self.pages += 1

    # -- pictures ---------------------------------------------------------------------------
    def pictures(self, catalog, lessons: list[dict], workers: int) -> tuple[plots.Drawing, int]:
        """Give each lesson its picture (``lesson["picture"]``, relative to reports/) and
        start drawing the missing ones (in ``workers`` processes when there are many);
        returns the :class:`~.plots.Drawing` to wait for and the number of pictures."""
        shas = [l["source_sha256"] for l in lessons]
        shas += [r["sha256"] for l in lessons for r in l["renditions"] if r["made"]]
        stored = curves.load(catalog, shas)
        jobs = []
        total = 0
        for l in lessons:
            src = stored.get(l["source_sha256"])
            series = [plots.Series(r["profile"], stored[r["sha256"]].curve, r["target_lufs"], stored[r["sha256"]].digest)
                      for r in l["renditions"] if r["made"] and r["sha256"] in stored]
            l["has_source_curve"] = src is not None
            if src is None and not series:
                l["picture"] = None
                continue
            name = plots.picture_name("lesson", src.digest if src else "-",
                                      *((s.label, s.target_lufs, s.digest) for s in series))
            rel = f"img/{name[7:9]}/{name}"
            l["picture"] = rel
            path = self.out / rel
            self.written.add(path)
            total += 1
            if not path.is_file():
                path.parent.mkdir(parents=True, exist_ok=True)
                jobs.append((str(path), src.curve if src else None, series))
        return plots.Drawing(jobs, workers), total

    # -- pages ------------------------------------------------------------------------------
    def write_all(self, data: dict) -> None:
        """Every page and static file of the site."""
        self.data = data
        static = resources.files("pipeline.report") / "static"
        for name in ("style.css", "search.js"):
            self._put(f"static/{name}", (static / name).read_bytes())
        self.page("index.html", "index.html", **data)
        self.page("inbox.html", "inbox.html", inbox=data["inbox"])
        self.page("lessons.html", "lessons.html", lessons=data["lessons"])
        listens = data["listens"] or {}
        for l in data["lessons"]:
            self.page(f"lesson/{l['slug']}.html", "lesson.html", lesson=l,
                      listens=(listens.get("lessons") or {}).get(l["lesson_id"]))
        for q in data["quarters"]:
            self._quarter(q)
        for w in data["weeks"]:
            self.page(f"week/{w['iso']}.html", "week.html", week=w, pages={l["slug"] for l in data["lessons"]})
        self.page("publishing.html", "publishing.html", generations=data["generations"], target=data["target"])

    def _quarter(self, q: dict) -> None:
        index = {d["device_id"]: [d["township"], d["village"], d["group"], d["dialect"], int(d["planned"]),
                                  round(d["seconds"] / 3600, 2), d["bytes_to_write"], len(d["problems"]),
                                  d["town_slug"]] for d in q["devices"]}
        script = "window.DANGKE_DEVICES = " + json.dumps(index, ensure_ascii=False, separators=(",", ":")) + ";\n"
        self._put(f"quarter/{q['quarter']}/devices.js", script.encode("utf-8"))
        self.page(f"quarter/{q['quarter']}.html", "quarter.html", q=q)
        by_town: dict[str, list[dict]] = {}
        for d in q["devices"]:
            by_town.setdefault(d["township"], []).append(d)
        for t in q["townships"]:
            self.page(f"quarter/{q['quarter']}/{t['slug']}.html", "township.html", q=q, town=t,
                      devices=by_town.get(t["name"], []))
