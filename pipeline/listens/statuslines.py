"""The listening block of ``dangke status`` (plain lines; the CLI prints them)."""

from __future__ import annotations

from .summary import ListeningSummary, listening_summary


def percent(x: float | None) -> str:
    """A share (0..1) as a whole percentage, ``n/a`` when unknown."""
    return "n/a" if x is None else f"{100 * x:.0f}%"


_pct = percent


def _names(ids: tuple[str, ...], limit: int = 8) -> str:
    return ", ".join(ids[:limit]) + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def summary_lines(s: ListeningSummary, limit: int = 20) -> list[str]:
    """The lines of a :class:`ListeningSummary`."""
    lines = [f"listening {s.quarter or '(no card read back yet)'}: {s.read} card(s) read back, {s.reporting} with a "
             f"play log or counter" + (f", {len(s.without_log)} from players that keep none (no data, not "
                                       "'unplayed')" if s.without_log else "")]
    if s.unplayed:
        lines.append(f"  came back unplayed: {len(s.unplayed)} device(s): {_names(s.unplayed)}")
    for t in s.townships:
        lines.append(f"  {t.township}: {t.read} read back, {t.reporting} reporting, {len(t.unplayed)} unplayed")
    rows = sorted(s.lessons, key=lambda r: (-(r.share_played or 0), r.lesson_id))
    for r in rows[:limit]:
        lines.append(f"  {r.lesson_id}{' ' + r.title if r.title else ''}: played on {r.played} of {r.reporting} reporting device(s) "
                     f"({_pct(r.share_played)}), {r.plays} play(s), completion {_pct(r.completion)}")
    if len(rows) > limit:
        lines.append(f"  ... {len(rows) - limit} more lesson(s) (see the report)")
    for r in sorted(s.by_township, key=lambda r: (r.township, -(r.share_played or 0), r.lesson_id))[:limit]:
        lines.append(f"  {r.township} {r.lesson_id}: {r.played}/{r.reporting} device(s) ({_pct(r.share_played)}), "
                     f"completion {_pct(r.completion)}")
    if s.feeds:
        lines.append("downloads (IAB v2.1): " + ", ".join(
            f"{f.feed or '(no feed)'} {f.downloads} in {f.days} day(s) {f.first_day}..{f.last_day}" for f in s.feeds))
    return lines


def listening_lines(cfg, catalog) -> list[str]:
    """The status block: the newest quarter's listening and the downloads, or nothing
    when no card was read back and nothing was counted."""
    from pipeline.fleet import load_fleet
    try:
        towns = {d.device_id: d.township for d in load_fleet(cfg.registry, frozenset(cfg.profiles))}
    except Exception:  # the fleet registry is reported by the plan; status still shows plays
        towns = {}
    s = listening_summary(catalog, towns)
    return summary_lines(s) if s is not None else []
