"""``dangke status``: what is where and what failed, as plain lines for editors."""

from __future__ import annotations

from collections import Counter

from .catalog import Catalog
from .config import Config
from .encode.lifecycle import profile_hash
from .ingest import inbox_candidates
from .ingest import inbox
from .ingest.files import display_name, open_for_writing
from .publish import store_for


def dynamics_lines(rows: list, levelling: bool) -> list[str]:
    """One line on a profile's loudness range, before (as the chain received the source)
    and after (decoded rendition), median and the largest change, in LU, plus the
    renders beyond the first."""
    pairs = [(r.source_lra_lu, r.lra_lu) for r in rows if r.source_lra_lu is not None and r.lra_lu is not None]
    if not pairs:
        return []
    before = sorted(a for a, _ in pairs)
    after = sorted(b for _, b in pairs)
    widest = max(pairs, key=lambda ab: ab[0] - ab[1])
    again = sum(1 for r in rows if r.renders > 1)
    return [f"  loudness range (LU) before -> after: median {before[len(before) // 2]:.1f} -> "
            f"{after[len(after) // 2]:.1f}, most reduced {widest[0]:.1f} -> {widest[1]:.1f}; "
            f"levelling {'on' if levelling else 'off'}; {again} corrective render(s)"]


def _inbox_lines(cfg: Config, catalog: Catalog) -> list[str]:
    """Each inbox file: ready for `dangke ingest`, or waiting and why, in the words
    ingest uses (:mod:`pipeline.ingest.inbox`), incomplete files with their rejection time."""
    audio, waiting = inbox_candidates(cfg)
    busy = open_for_writing(audio)
    states = [(p, inbox.state(cfg, catalog, p, busy)) for p in audio]
    waits = [w for _, w in states if w is not None] + waiting
    ready = [p for p, w in states if w is None]
    lines = [f"inbox: {len(ready)} file(s) ready for `dangke ingest`, {len(waits)} waiting  [{cfg.inbox}]"]
    lines += [f"  {display_name(p.name)}: ready for `dangke ingest`" for p in ready]
    lines += [f"  waiting {w.name}: {w.why}" + (f" / {w.why_zh}" if w.why_zh else "")
              for w in sorted(waits, key=lambda w: w.name)]
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
    for ingested in rows:
        rec, lesson = ingested.record, ingested.record.lesson
        shown.add((lesson.lesson_id, lesson.version))
        version = f"v{lesson.version}" + (f" (supersedes v{lesson.version - 1})" if lesson.version > 1 else "")
        state = " [superseded]" if rec.superseded else ""
        verdict = f"{len(rec.warnings)} warning(s)" if rec.warnings else "ok"
        lines.append(f"  {lesson.ingested_at[:16]}  {lesson.lesson_id} {version}{state} "
                     f"{lesson.title} [{lesson.category}, {lesson.dialect}, {lesson.duration_s:.1f} s] "
                     f"from {lesson.original_name}: {verdict}")
        lines += [f"    warning: {w}" for w in rec.warnings]
    return lines, shown


def status_lines(cfg: Config, catalog: Catalog) -> list[str]:
    """The status report, one line each."""
    lines = [f"station: {cfg.station.name} ({cfg.path})"]
    lines += _inbox_lines(cfg, catalog)
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
    for rec in catalog.lesson_rows():
        lesson = rec.lesson
        if rec.warnings and not rec.superseded and (lesson.lesson_id, lesson.version) not in shown:
            lines.append(f"  warning {lesson.lesson_id} ({lesson.original_name}): {'; '.join(rec.warnings)}")
    for name, p in sorted(cfg.profiles.items()):
        ph = profile_hash(p)
        have = sum(1 for l in lessons if catalog.rendition(l.source_sha256, name, ph))
        lines.append(f"renditions {name}: {have} of {len(lessons)} lesson(s)")
        lines += dynamics_lines(catalog.rendition_dynamics(name, ph), p.levelling)
    lines += _disk_lines(cfg, catalog)
    rejected = catalog.rejections(20)
    lines.append(f"rejected: {len(rejected)} recent, newest first (reasons in <name>.reason.txt)  [{cfg.rejected}]")
    for r in rejected:
        lines.append(f"  {r.at[:16]}  {r.name}: {r.reason}")
    gen = catalog.last_generation(store_for(cfg).describe())
    lines.append("published: never" if gen is None else
                 f"published: generation {gen.number} at {gen.published_at} ({gen.objects} objects, "
                 f"{gen.bytes} bytes) to {cfg.publish.target}")
    from .listens.statuslines import listening_lines  # issue 15: plays read back from cards, downloads
    lines += listening_lines(cfg, catalog)
    errors = [e for e in catalog.recent_events(200) if e.level == "error"
              and not (e.stage == "ingest" and e.message.startswith("rejected:"))][:10]
    if errors:
        lines.append("recent errors:")
        lines += [f"  {e.at} [{e.stage}] {e.subject}: {e.message}" for e in errors]
    return lines


def _disk_lines(cfg: Config, catalog: Catalog) -> list[str]:
    """Disk use of the library by kind (issue 12; ``dangke gc`` reclaims renditions)."""
    from .gc import disk_use

    d = disk_use(cfg, catalog)
    mb = lambda n: f"{n / 1e6:.1f} MB"  # noqa: E731
    line = (f"disk: originals {mb(d.originals)}, renditions {mb(d.lessons)}, fillers {mb(d.fillers)}, "
            f"slot files {mb(d.slots)}")
    extra = [f"decodable copies {mb(d.decodable)}"] if d.decodable else []
    extra += [f"unrecorded {mb(d.other)}"] if d.other else []
    return [line + (", " + ", ".join(extra) if extra else "") + "  (`dangke gc` lists what is no longer needed)"]
