"""``dangke status``: what is where and what failed, as plain lines for editors."""

from __future__ import annotations

import json
import time
from collections import Counter

from .catalog import Catalog
from .config import Config, profile_hash
from .ingest import inbox_candidates
from .ingest.files import display_name, open_for_writing, snapshot
from .publish import store_for


def dynamics_lines(rows: list, levelling: bool) -> list[str]:
    """One line on a profile's loudness range, before (as the chain received the source)
    and after (decoded rendition), median and the largest change, in LU, plus the
    renders beyond the first."""
    pairs = [(r["source_lra_lu"], r["lra_lu"]) for r in rows
             if r["source_lra_lu"] is not None and r["lra_lu"] is not None]
    if not pairs:
        return []
    before = sorted(a for a, _ in pairs)
    after = sorted(b for _, b in pairs)
    widest = max(pairs, key=lambda ab: ab[0] - ab[1])
    again = sum(1 for r in rows if (r["renders"] or 1) > 1)
    return [f"  loudness range (LU) before -> after: median {before[len(before) // 2]:.1f} -> "
            f"{after[len(after) // 2]:.1f}, most reduced {widest[0]:.1f} -> {widest[1]:.1f}; "
            f"levelling {'on' if levelling else 'off'}; {again} corrective render(s)"]


def _inbox_lines(cfg: Config) -> list[str]:
    audio, waiting = inbox_candidates(cfg)
    busy = open_for_writing(audio)
    lines = [f"inbox: {len(audio)} file(s) to ingest, {len(waiting)} waiting  [{cfg.inbox}]"]
    now = time.time()
    for p in audio:
        snap = snapshot(p)
        if p in busy:
            lines.append(f"  {display_name(p.name)}: still being written (open in another program)")
        elif snap is not None and now - snap.mtime_ns / 1e9 < cfg.ingest.settle_s:
            lines.append(f"  {display_name(p.name)}: changed in the last {cfg.ingest.settle_s:g} s")
        else:
            lines.append(f"  {display_name(p.name)}: ready for `dangke ingest`")
    lines += [f"  waiting {w.name}: {w.why}" for w in waiting]
    if cfg.inbox.is_dir():
        folders = sorted(p for p in cfg.inbox.iterdir() if p.is_dir() and not p.name.startswith("."))
        lines += [f"  folder {display_name(p.name)}/: its files are moved up and taken by the next ingest"
                  for p in folders]
    return lines


def _ingest_lines(catalog: Catalog, limit: int = 10) -> tuple[list[str], set[tuple[str, int]]]:
    """Recently accepted lessons with their verdicts, and the (lesson_id, version) shown."""
    rows = catalog.recent_ingests(limit)
    lines = [f"recently accepted (newest first, {len(rows)} shown):"] if rows else []
    shown = set()
    for row in rows:
        shown.add((row["lesson_id"], row["version"]))
        warnings = json.loads(row["warnings"] or "[]")
        version = f"v{row['version']}" + (f" (supersedes v{row['version'] - 1})" if row["version"] > 1 else "")
        state = " [superseded]" if row["superseded"] else ""
        verdict = f"{len(warnings)} warning(s)" if warnings else "ok"
        lines.append(f"  {(row['ingested_at'] or '')[:16]}  {row['lesson_id']} {version}{state} "
                     f"{row['title']} [{row['category']}, {row['dialect']}, {row['duration_s']:.1f} s] "
                     f"from {row['original_name']}: {verdict}")
        lines += [f"    warning: {w}" for w in warnings]
    return lines, shown


def status_lines(cfg: Config, catalog: Catalog) -> list[str]:
    """The status report, one line each."""
    lines = [f"station: {cfg.station.name} ({cfg.path})"]
    lines += _inbox_lines(cfg)
    unfinished = catalog.intents()
    if unfinished:
        lines.append(f"unfinished: {len(unfinished)} file move(s) of an interrupted ingest; "
                     "the next `dangke ingest` completes them")
    lessons = catalog.lessons()
    by_cat = Counter(l.category for l in lessons)
    by_dia = Counter(l.dialect for l in lessons)
    hours = sum(l.duration_s for l in lessons) / 3600
    lines.append(f"library: {len(lessons)} lesson(s), {hours:.2f} h  [{cfg.library}]")
    if lessons:
        lines.append("  by category: " + ", ".join(f"{k} {v}" for k, v in sorted(by_cat.items())))
        lines.append("  by dialect:  " + ", ".join(f"{k} {v}" for k, v in sorted(by_dia.items())))
    recent, shown = _ingest_lines(catalog)
    lines += recent
    for row in catalog.lesson_rows():
        warnings = json.loads(row["warnings"] or "[]")
        if warnings and not row["superseded"] and (row["lesson_id"], row["version"]) not in shown:
            lines.append(f"  warning {row['lesson_id']} ({row['original_name']}): {'; '.join(warnings)}")
    for name, p in sorted(cfg.profiles.items()):
        ph = profile_hash(p)
        have = sum(1 for l in lessons if catalog.rendition(l.source_sha256, name, ph))
        lines.append(f"renditions {name}: {have} of {len(lessons)} lesson(s)")
        lines += dynamics_lines(catalog.rendition_dynamics(name, ph), p.levelling)
    rejected = catalog.rejections(20)
    lines.append(f"rejected: {len(rejected)} recent, newest first (reasons in <name>.reason.txt)  [{cfg.rejected}]")
    for r in rejected:
        lines.append(f"  {r['at'][:16]}  {r['name']}: {r['reason']}")
    gen = catalog.last_generation(store_for(cfg).describe())
    lines.append("published: never" if gen is None else
                 f"published: generation {gen['number']} at {gen['published_at']} ({gen['objects']} objects, "
                 f"{gen['bytes']} bytes) to {cfg.publish.target}")
    errors = [e for e in catalog.recent_events(200) if e["level"] == "error"
              and not (e["stage"] == "ingest" and e["message"].startswith("rejected:"))][:10]
    if errors:
        lines.append("recent errors:")
        lines += [f"  {e['at']} [{e['stage']}] {e['subject']}: {e['message']}" for e in errors]
    return lines
