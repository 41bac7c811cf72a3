"""The county rule and other category-share rules, checked and explained.

A rule says that at least ``min_share`` of the seconds of lesson audio are in a set of
categories (design.md: theory plus party-spirit at least 70%, party-spirit alone at
least 20%, measured in seconds of audio).
"""

from __future__ import annotations

import math
from typing import Iterable

from pipeline.models import CategoryRule

from . import solver

EPS = 1e-9


def basis_points(share: float) -> int:
    """A share (0..1) in whole basis points (1/10000), rounded up so that the integer
    rule the solver enforces is never weaker than the configured one (0.70005 -> 7001)."""
    return max(0, math.ceil(share * 10000 - 1e-6))


def share_rules(rules: Iterable[CategoryRule]) -> tuple[solver.ShareRule, ...]:
    """The solver's integer form of category-share rules, built the same way for
    quarterly device playlists and for broadcast weeks (see :func:`basis_points`)."""
    return tuple(solver.ShareRule(r.categories, basis_points(r.min_share)) for r in rules)


def seconds_by_category(items: Iterable[tuple[str, float]]) -> dict[str, float]:
    """Sum ``(category, seconds)`` pairs per category."""
    out: dict[str, float] = {}
    for category, seconds in items:
        out[category] = out.get(category, 0.0) + seconds
    return out


def violations(rules: Iterable[CategoryRule], by_category: dict[str, float]) -> list[str]:
    """The rules not met by ``by_category`` (seconds per category), in plain words.
    An empty selection meets no rule."""
    total = sum(by_category.values())
    out = []
    for rule in rules:
        have = sum(v for k, v in by_category.items() if k in rule.categories)
        if total <= 0 or have < rule.min_share * total - EPS:
            share = have / total if total > 0 else 0.0
            out.append(f"{' + '.join(sorted(rule.categories))} is {share:.0%} of the time "
                       f"(at least {rule.min_share:.0%} required)")
    return out


def missing_seconds(rule: CategoryRule, by_category: dict[str, float]) -> float:
    """How many more seconds of ``rule.categories`` would make ``by_category`` meet the
    rule if added: x with (have + x) / (total + x) = min_share."""
    total = sum(by_category.values())
    have = sum(v for k, v in by_category.items() if k in rule.categories)
    if rule.min_share >= 1.0:
        return float("inf") if total > have else 0.0
    return max(0.0, (rule.min_share * total - have) / (1.0 - rule.min_share))


def fold(text: str) -> str:
    """Text folded for matching: NFKC (full-width to ASCII), case-folded, no spaces."""
    import unicodedata
    return "".join(unicodedata.normalize("NFKC", text or "").casefold().split())


def matches_topic(lesson_id: str, texts: Iterable[str], keywords: Iterable[str],
                  lessons: Iterable[str] = ()) -> bool:
    """True when ``lesson_id`` is one of ``lessons`` or a folded keyword occurs in one of
    the folded ``texts`` (title, series, description)."""
    if lesson_id in set(lessons):
        return True
    folded = [fold(t) for t in texts if t]
    return any(k and any(k in t for t in folded) for k in (fold(k) for k in keywords))


def share_bound_seconds(rules: Iterable[CategoryRule], by_category: dict[str, float]) -> float:
    """The most seconds a selection can have and still meet every rule, given at most
    ``by_category`` seconds available per category: for each rule, the seconds of its
    categories divided by its share (fill the rest with anything)."""
    bound = sum(by_category.values())
    for rule in rules:
        if rule.min_share > 0:
            have = sum(v for k, v in by_category.items() if k in rule.categories)
            bound = min(bound, have / rule.min_share)
    return bound
