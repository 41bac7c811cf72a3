"""What the report shows, gathered from the catalog, the staging tree and the inbox.

Plain values only (dicts, lists, numbers, strings), ready for the templates; no HTML and
no pictures here. Everything is derived from stored state, never from the clock, so the
same state gives the same pages (a publish with nothing new then writes nothing).
Units: seconds, bytes, LUFS, dBTP, LU.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Callable, TypeVar

from .. import layout
from ..catalog import Catalog
from ..config import Config
from ..encode.lifecycle import current
from ..models import BroadcastDay, Quarter
from ..vocab import CATEGORIES, CATEGORY_NAMES_ZH, DIALECT_NAMES_ZH

T = TypeVar("T")

GROUP_NAMES_ZH = {"fisher": "漁民", "elderly": "高齡", "mobility": "行動不便", "general": "一般"}
KIND_NAMES_ZH = {"not-planned": "未能安排", "must-carry": "必載課程", "group-topic": "群體主題",
                 "own-dialect": "本地方言", "listening-time": "收聽時數", "order": "點單", "note": "說明"}
WEEKS_SHOWN = 8
"""Broadcast weeks with pages: the newest this many calendar weeks that have schedules."""


def slug(text: str) -> str:
    """A file-name-safe, URL-safe name for an id (ASCII letters, digits, ``._-``); ids
    that need changing get a short hash so two ids never share a name."""
    import hashlib
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", text).strip("._") or "x"
    return safe if safe == text else f"{safe[:40]}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def local_day(cfg: Config, iso: str) -> str:
    """The station's calendar day (``YYYY-MM-DD``) of an ISO 8601 time ('' if unreadable)."""
    try:
        t = dt.datetime.fromisoformat(iso)
    except (TypeError, ValueError):
        return ""
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return t.astimezone(cfg.tz).date().isoformat()


def _split_reason(text: str) -> tuple[str, str]:
    """A stored rejection reason ``"English / 中文"`` as ``(en, zh)``."""
    en, sep, zh = (text or "").rpartition(" / ")
    return (en, zh) if sep else (text or "", "")


# -- inbox and ingest ----------------------------------------------------------------------

def inbox(cfg: Config, catalog: Catalog) -> dict:
    """Accepted, rejected, duplicates per day (newest first), and what waits in the inbox."""
    from ..ingest import inbox_candidates
    from ..ingest.files import display_name
    days: dict[str, dict[str, list]] = defaultdict(lambda: {"accepted": [], "rejected": [], "duplicates": []})
    for rec in catalog.lesson_rows():
        lesson = rec.lesson
        days[local_day(cfg, lesson.ingested_at)]["accepted"].append({
            "name": lesson.original_name, "lesson_id": lesson.lesson_id, "version": lesson.version,
            "title": lesson.title, "category": lesson.category, "dialect": lesson.dialect,
            "duration_s": lesson.duration_s, "superseded": rec.superseded,
            "warnings": list(rec.warnings), "page": f"lesson/{slug(lesson.lesson_id)}.html"
            if not rec.superseded else None, "at": lesson.ingested_at})
    for rej in catalog.rejections(limit=100000):
        en, zh = _split_reason(rej.reason)
        days[local_day(cfg, rej.at)]["rejected"].append({"name": rej.name, "reason": en, "reason_zh": zh,
                                                         "at": rej.at})
    for event in catalog.events("ingest", "same bytes as "):
        days[local_day(cfg, event.at)]["duplicates"].append({"name": event.subject, "note": event.message,
                                                             "at": event.at})
    audio, waiting = inbox_candidates(cfg)
    waits = [{"name": display_name(p.name), "why": "complete: taken by the next ingest",
              "why_zh": "已完整：下次匯入時處理"} for p in audio]
    waits += [{"name": w.name, "why": w.why, "why_zh": w.why_zh} for w in waiting]
    out = [{"day": d, **v} for d, v in sorted(days.items(), reverse=True)]
    totals = Counter()
    for d in out:
        for k in ("accepted", "rejected", "duplicates"):
            totals[k] += len(d[k])
    return {"days": out, "waiting": sorted(waits, key=lambda w: w["name"]), "totals": dict(totals)}


# -- lessons ---------------------------------------------------------------------------------

def lessons(cfg: Config, catalog: Catalog, published_keys: set[str] | None = None) -> list[dict]:
    """Every current lesson with its source findings and its renditions (measured values,
    target, ceiling, store key and whether the upcoming generation carries it: with
    ``published_keys`` None, :func:`mark_published` is to tell that later)."""
    out = []
    for lesson in catalog.lessons():
        src = catalog.source(lesson.source_sha256)
        findings = dict(src.analysis) if src is not None else {}
        rends = []
        for name, p in sorted(cfg.profiles.items()):
            r = current(cfg, catalog, lesson.source_sha256, name)
            rends.append({"profile": name, "target_lufs": p.loudness_lufs, "ceiling_dbtp": p.true_peak_dbtp,
                          "made": r is not None,
                          **({"integrated_lufs": r.integrated_lufs, "true_peak_dbtp": r.true_peak_dbtp,
                              "bytes": r.bytes, "duration_s": r.duration_s, "gain_db": r.gain_db,
                              "notes": list(r.notes), "key": r.key, "sha256": r.sha256}
                           if r is not None else {})})
        out.append({"lesson_id": lesson.lesson_id, "version": lesson.version, "title": lesson.title,
                    "category": lesson.category, "dialect": lesson.dialect, "duration_s": lesson.duration_s,
                    "speaker": lesson.speaker, "series": lesson.series, "episode": lesson.episode,
                    "original_name": lesson.original_name, "ingested_at": lesson.ingested_at,
                    "source_sha256": lesson.source_sha256, "bytes": src.bytes if src is not None else 0,
                    "findings": findings, "renditions": rends, "slug": slug(lesson.lesson_id)})
    if published_keys is not None:
        mark_published(out, published_keys)
    return out


def mark_published(lessons: list[dict], published_keys: set[str]) -> None:
    """Set ``published`` on each made rendition of :func:`lessons`: whether the upcoming
    generation carries its key."""
    for lesson in lessons:
        for r in lesson["renditions"]:
            if r["made"]:
                r["published"] = r["key"] in published_keys


# -- the quarter -------------------------------------------------------------------------------

def _read(reader: Callable[[bytes], T], path: Path) -> T | None:
    """A staged document read with a :mod:`pipeline.layout` reader; None when it is
    missing or is not that document (the report shows what it can)."""
    try:
        return reader(path.read_bytes())
    except (OSError, ValueError):
        return None


def _problems(path: Path) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = defaultdict(list)
    try:
        with open(path, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                out[row.get("device_id") or ""].append({"kind": row.get("kind") or "", "message": row.get("message") or ""})
    except OSError:
        pass
    return out


def staged_quarters(cfg: Config, staged: list[str]) -> list[str]:
    """Quarters with device plans among the ``staged`` keys that the next publish carries
    (the newest ``[publish] keep_quarters`` of devices and broadcast days, as publish
    counts them)."""
    from ..publish.objects import kept_quarters
    kept = kept_quarters(staged, cfg.publish.keep_quarters)
    found = {k.split("/")[1] for k in staged if k.startswith("devices/") and k.count("/") >= 2}
    out = []
    for name in found:
        try:
            q = Quarter.parse(name)
        except ValueError:
            continue
        if q in kept:
            out.append(q)
    return [str(q) for q in sorted(out, key=lambda q: (q.year, q.number))]


def _empty_group() -> dict:
    return {"devices": 0, "planned": 0, "not_planned": 0, "shortfalls": 0, "seconds": Counter(),
            "bytes_to_write": 0, "files_to_add": 0}


def quarter(cfg: Config, quarter_text: str, devices: list) -> dict:
    """One quarter's plan as staged: per device (manifest totals, bytes to write, problems),
    per township and per group (counts, hours per category, rule shares, bytes)."""
    qdir = cfg.build / "devices" / quarter_text
    problems = _problems(cfg.build / "reports" / quarter_text / "problems.csv")
    rows, towns, groups = [], defaultdict(_empty_group), defaultdict(_empty_group)
    keys: set[str] = set()
    for d in sorted(devices, key=lambda d: d.device_id):
        man = _read(layout.read_manifest, qdir / d.device_id / "manifest.json")
        dif = _read(layout.read_diff, qdir / d.device_id / "diff.json")
        probs = problems.get(d.device_id, [])
        seconds = Counter(layout.category_seconds(man) if man is not None else {})
        if man is not None:
            keys.update(i.key for i in man.items if i.key)
        row = {"device_id": d.device_id, "township": d.township, "village": d.village, "group": d.group,
               "dialect": d.dialect, "profile": d.profile, "planned": man is not None,
               "lessons_count": len(man.items) if man is not None else 0, "seconds": sum(seconds.values()),
               "bytes": man.bytes if man is not None else 0,
               "bytes_to_write": dif.bytes_to_write if dif is not None else 0,
               "files_to_add": len(dif.add) if dif is not None else 0,
               "problems": probs, "town_slug": slug(d.township)}
        rows.append(row)
        for agg in (towns[d.township], groups[d.group]):
            agg["devices"] += 1
            agg["planned"] += row["planned"]
            agg["not_planned"] += any(p["kind"] == "not-planned" for p in probs) or not row["planned"]
            agg["shortfalls"] += any(p["kind"] != "not-planned" for p in probs)
            agg["seconds"].update(seconds)
            agg["bytes_to_write"] += row["bytes_to_write"]
            agg["files_to_add"] += row["files_to_add"]
    notes = problems.get("", [])
    all_seconds = Counter()
    for g in groups.values():
        all_seconds.update(g["seconds"])
    return {"quarter": quarter_text, "devices": rows, "keys": keys,
            "townships": [{"name": k, "slug": slug(k), **_finish(v, cfg)} for k, v in sorted(towns.items())],
            "groups": [{"name": k, "name_zh": GROUP_NAMES_ZH.get(k, k), **_finish(v, cfg)}
                       for k, v in sorted(groups.items())],
            "total": _finish({**_empty_group(), "devices": len(rows), "planned": sum(r["planned"] for r in rows),
                              "not_planned": sum(v["not_planned"] for v in towns.values()),
                              "shortfalls": sum(v["shortfalls"] for v in towns.values()),
                              "seconds": all_seconds, "bytes_to_write": sum(r["bytes_to_write"] for r in rows),
                              "files_to_add": sum(r["files_to_add"] for r in rows)}, cfg),
            "reasons": _reasons([(r["device_id"], p) for r in rows for p in r["problems"]]),
            "notes": [n["message"] for n in notes]}


def _finish(agg: dict, cfg: Config) -> dict:
    seconds = agg["seconds"]
    return {**agg, "seconds": dict(seconds), "hours": sum(seconds.values()) / 3600,
            "hours_by_category": [(c, seconds.get(c, 0.0) / 3600) for c in CATEGORIES],
            "rules": rule_shares(cfg, seconds)}


def rule_shares(cfg: Config, seconds: dict[str, float]) -> list[dict]:
    """Each county rule's share of ``seconds`` per category: ``{"rule", "rule_zh", "share",
    "min_share", "met"}`` (share None when there is no audio)."""
    total = sum(seconds.values())
    out = []
    for rule in cfg.rules:
        have = sum(v for k, v in seconds.items() if k in rule.categories)
        share = have / total if total > 0 else None
        out.append({"rule": " + ".join(sorted(rule.categories)),
                    "rule_zh": "＋".join(CATEGORY_NAMES_ZH.get(c, c) for c in sorted(rule.categories)),
                    "share": share, "min_share": rule.min_share,
                    "met": share is not None and share >= rule.min_share - 1e-9})
    return out


def _reasons(pairs: list[tuple[str, dict]], limit: int = 30) -> list[dict]:
    """Problems grouped by (kind, message), most common first: count and first device."""
    counts: dict[tuple[str, str], list[str]] = defaultdict(list)
    for device_id, p in pairs:
        counts[(p["kind"], p["message"])].append(device_id)
    ranked = sorted(counts.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    return [{"kind": k, "kind_zh": KIND_NAMES_ZH.get(k, k), "message": m, "count": len(ids), "first": ids[0]}
            for (k, m), ids in ranked[:limit]]


# -- the broadcast week -------------------------------------------------------------------------

def broadcast_weeks(cfg: Config) -> list[dict]:
    """The newest :data:`WEEKS_SHOWN` calendar weeks (Monday first) with staged schedules:
    per channel a grid of slots x days with each slot's lessons, the week's seconds per
    category against the county rule, and the lessons aired more than once."""
    root = cfg.build / "broadcast"
    by_week: dict[dt.date, dict[str, dict[dt.date, BroadcastDay]]] = defaultdict(lambda: defaultdict(dict))
    for channel_dir in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        for path in channel_dir.glob("*.json"):
            try:
                day = dt.date.fromisoformat(path.stem)
            except ValueError:
                continue
            doc = _read(layout.read_schedule, path)
            if doc is not None:
                by_week[day - dt.timedelta(days=day.weekday())][channel_dir.name][day] = doc
    weeks = []
    for monday in sorted(by_week)[-WEEKS_SHOWN:]:
        days = [monday + dt.timedelta(days=i) for i in range(7)]
        weeks.append({"monday": monday.isoformat(), "iso": f"{monday.isocalendar()[0]}-W{monday.isocalendar()[1]:02d}",
                      "days": [d.isoformat() for d in days],
                      "channels": [_channel_week(cfg, name, docs, days) for name, docs in sorted(by_week[monday].items())]})
    return weeks


def _channel_week(cfg: Config, channel: str, docs: dict[dt.date, BroadcastDay], days: list[dt.date]) -> dict:
    times: dict[str, dict[str, dict]] = defaultdict(dict)
    seconds: Counter = Counter()
    aired: dict[str, list[str]] = defaultdict(list)
    titles: dict[str, str] = {}
    for day, doc in docs.items():
        for slot in doc.slots:
            lessons_ = [i for i in slot.items if i.kind == "lesson"]
            for i in lessons_:
                seconds[i.category or "other"] += float(i.duration_s)
                aired[i.lesson_id or ""].append(day.isoformat())
                titles[i.lesson_id or ""] = i.title
            times[f"{slot.start:%H:%M}"][day.isoformat()] = {
                "title": slot.title, "end": f"{slot.end:%H:%M}",
                "lessons": [{"title": i.title, "category": i.category or "",
                             "category_zh": CATEGORY_NAMES_ZH.get(i.category or "", i.category or ""),
                             "lesson_id": i.lesson_id or "", "slug": slug(i.lesson_id or ""),
                             "duration_s": i.duration_s} for i in lessons_]}
    grid = [{"time": t, "cells": [times[t].get(d.isoformat()) for d in days]} for t in sorted(times)]
    repeats = [{"lesson_id": k, "slug": slug(k), "title": titles.get(k, ""), "count": len(v), "days": sorted(v)}
               for k, v in sorted(aired.items()) if len(v) > 1]
    return {"name": channel, "grid": grid, "seconds": dict(seconds), "hours": sum(seconds.values()) / 3600,
            "hours_by_category": [(c, seconds.get(c, 0.0) / 3600) for c in CATEGORIES],
            "rules": rule_shares(cfg, seconds), "repeats": repeats, "days_scheduled": len(docs)}


def schedule_keys(cfg: Config) -> set[str]:
    """Every audio key the staged schedules refer to."""
    from ..publish.objects import schedule_keys as day_keys
    keys: set[str] = set()
    root = cfg.build / "broadcast"
    for path in root.glob("*/*.json") if root.is_dir() else []:
        day = _read(layout.read_schedule, path)
        if day is not None:
            keys |= day_keys(day)
    return keys


# -- names shown beside codes ----------------------------------------------------------------

NAMES = {"category": CATEGORY_NAMES_ZH, "dialect": DIALECT_NAMES_ZH, "group": GROUP_NAMES_ZH}
