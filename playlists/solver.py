"""Constrained selection with OR-Tools CP-SAT (the one module that imports it).

Items (lessons) are assigned to at most one bin (a device playlist, a broadcast slot),
each bin with an optional length limit; the whole selection may have a size limit
(bytes) and must meet share rules (seconds of some categories over all seconds). The
objective maximises the sum of item values. Deterministic: one worker, a fixed seed and
a deterministic time limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from ortools.sat.python import cp_model


@dataclass(frozen=True)
class Item:
    """A candidate: ``length`` in integer units (e.g. deciseconds), ``size`` in bytes,
    ``value`` to maximise, its ``category``, and the bins it may go to."""

    key: str
    length: int
    size: int
    value: int
    category: str
    bins: tuple[int, ...] = (0,)


@dataclass(frozen=True)
class ShareRule:
    """``categories`` take at least ``basis_points`` / 10000 of the selected length."""

    categories: frozenset[str]
    basis_points: int


def solve(items: Sequence[Item], bin_lengths: Sequence[int | None], rules: Sequence[ShareRule],
          max_size: int | None = None, min_items: int = 1, work_limit: float = 20.0,
          min_length: int = 0, max_length: int | None = None) -> dict[str, int] | None:
    """Choose items and their bins.

    Args:
        items: candidates (sorted by key inside, so input order does not matter).
        bin_lengths: per bin, the most total length, or None for no limit.
        rules: share rules over the whole selection.
        max_size: the most total size (bytes), or None.
        min_items: the fewest items to select.
        work_limit: CP-SAT deterministic time limit (roughly seconds of work).
        min_length / max_length: bounds on the total selected length.

    Returns:
        ``{item key: bin index}`` of the best selection found, or None when none exists.
    """
    items = sorted(items, key=lambda i: i.key)
    model = cp_model.CpModel()
    x = {}
    for n, it in enumerate(items):
        for b in it.bins:
            x[n, b] = model.NewBoolVar(f"x{n}_{b}")
        if len(it.bins) > 1:
            model.AddAtMostOne(x[n, b] for b in it.bins)
    total = sum(items[n].length * v for (n, _), v in x.items())
    for b, limit in enumerate(bin_lengths):
        if limit is not None:
            model.Add(sum(items[n].length * v for (n, bb), v in x.items() if bb == b) <= limit)
    if max_size is not None:
        model.Add(sum(items[n].size * v for (n, _), v in x.items()) <= max_size)
    if min_items:
        model.Add(sum(x.values()) >= min_items)
    if min_length:
        model.Add(total >= min_length)
    if max_length is not None:
        model.Add(total <= max_length)
    for rule in rules:
        inside = sum(items[n].length * v for (n, _), v in x.items() if items[n].category in rule.categories)
        model.Add(10000 * inside >= rule.basis_points * total)
    model.Maximize(sum(items[n].value * v for (n, _), v in x.items()))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = 7
    solver.parameters.max_deterministic_time = work_limit
    status = solver.Solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    return {items[n].key: b for (n, b), v in x.items() if solver.Value(v)}
