"""``dangke status``: what is where and what failed, as plain lines for editors."""

from __future__ import annotations

import json
from collections import Counter

from .catalog import Catalog
from .config import Config, profile_hash
from .ingest import inbox_candidates


def status_lines(cfg: Config, catalog: Catalog) -> list[str]:
    """The status report, one line each."""
    lines = [f"station: {cfg.station.name} ({cfg.path})"]
    audio, waiting = inbox_candidates(cfg)
    lines.append(f"inbox: {len(audio)} file(s) to ingest, {len(waiting)} waiting  [{cfg.inbox}]")
    lessons = catalog.lessons()
    by_cat = Counter(l.category for l in lessons)
    by_dia = Counter(l.dialect for l in lessons)
    hours = sum(l.duration_s for l in lessons) / 3600
    lines.append(f"library: {len(lessons)} lesson(s), {hours:.2f} h  [{cfg.library}]")
    if lessons:
        lines.append("  by category: " + ", ".join(f"{k} {v}" for k, v in sorted(by_cat.items())))
        lines.append("  by dialect:  " + ", ".join(f"{k} {v}" for k, v in sorted(by_dia.items())))
    for row in catalog.lesson_rows():
        warnings = json.loads(row["warnings"] or "[]")
        if warnings and not row["superseded"]:
            lines.append(f"  warning {row['lesson_id']} ({row['original_name']}): {'; '.join(warnings)}")
    for name, p in sorted(cfg.profiles.items()):
        ph = profile_hash(p)
        have = sum(1 for l in lessons if catalog.rendition(l.source_sha256, name, ph))
        lines.append(f"renditions {name}: {have} of {len(lessons)} lesson(s)")
    rejected = catalog.rejections(20)
    lines.append(f"rejected: {len(rejected)} recent  [{cfg.rejected}]")
    for r in rejected:
        lines.append(f"  {r['at']}  {r['name']}: {r['reason']}")
    gen = catalog.last_generation()
    lines.append("published: never" if gen is None else
                 f"published: generation {gen['number']} at {gen['published_at']} ({gen['objects']} objects, "
                 f"{gen['bytes']} bytes) to {cfg.publish.target}")
    errors = [e for e in catalog.recent_events(200) if e["level"] == "error"][:10]
    if errors:
        lines.append("recent errors:")
        lines += [f"  {e['at']} [{e['stage']}] {e['subject']}: {e['message']}" for e in errors]
    return lines
