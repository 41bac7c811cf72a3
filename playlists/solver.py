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


def solve_ranked(items: Sequence[Item], bin_lengths: Sequence[int | None], rules: Sequence[ShareRule],
                 objectives: Sequence[dict[str, int]], slack: Sequence[int] = (),
                 base: dict[str, int] | None = None, work_limit: float = 10.0,
                 balance: bool = False, gaps: Sequence[int] = ()) -> dict[str, int] | None:
    """Choose items and their bins under lexicographic objectives.

    Each item goes to at most one of its bins; each bin's items fit its length. Share
    rules count ``base`` too: lengths per category already chosen elsewhere (e.g. the
    earlier days of a broadcast week), so ``10000 * (inside + base inside) >= basis
    points * (total + base total)``.

    ``objectives`` are per-item weights (missing keys weigh 0), maximised in order: after
    objective k reaches its best value v_k, the next ones keep ``sum >= v_k - slack[k]``.
    Each phase gets an equal share of ``work_limit`` (CP-SAT deterministic time) and
    starts from the previous phase's solution. With ``balance``, a last phase spreads
    the chosen items over the bins, minimising the largest unfilled share of a bin
    (per mille). ``gaps[k]`` lets phase k stop once its value is that close to the best
    possible (CP-SAT ``absolute_gap_limit``): packing problems rarely prove optimality
    quickly, and a few hundred milliseconds of a slot do not matter. Deterministic: one
    worker, fixed seed.

    Returns:
        ``{item key: bin index}`` of the best selection found, or None when none exists
        (the rules cannot be met).
    """
    items = sorted(items, key=lambda i: i.key)
    base = base or {}
    model = cp_model.CpModel()
    x = {}
    for n, it in enumerate(items):
        for b in it.bins:
            x[n, b] = model.NewBoolVar(f"x{n}_{b}")
        if len(it.bins) > 1:
            model.AddAtMostOne(x[n, b] for b in it.bins)
    for b, limit in enumerate(bin_lengths):
        if limit is not None:
            model.Add(sum(items[n].length * v for (n, bb), v in x.items() if bb == b) <= limit)
    total = sum(items[n].length * v for (n, _), v in x.items())
    base_total = sum(base.values())
    for rule in rules:
        inside = sum(items[n].length * v for (n, _), v in x.items() if items[n].category in rule.categories)
        base_inside = sum(v for c, v in base.items() if c in rule.categories)
        model.Add(10000 * (inside + base_inside) >= rule.basis_points * (total + base_total))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = 7
    phases = list(objectives) or [{}]
    solver.parameters.max_deterministic_time = work_limit / (len(phases) + balance)
    chosen: dict[tuple[int, int], int] | None = None
    for k, weights in enumerate(phases):
        expr = sum(weights.get(items[n].key, 0) * v for (n, _), v in x.items())
        model.Maximize(expr)
        solver.parameters.absolute_gap_limit = float(gaps[k]) if k < len(gaps) else 0.0
        if chosen is not None:
            model.ClearHints()
            for key, v in x.items():
                model.AddHint(v, chosen[key])
        status = solver.Solve(model)
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            if chosen is None:
                return None
            break
        chosen = {key: int(solver.Value(v)) for key, v in x.items()}
        best = sum(weights.get(items[n].key, 0) * chosen[n, b] for (n, b) in x)
        if not isinstance(expr, int):
            model.Add(expr >= best - (slack[k] if k < len(slack) else 0))
    assert chosen is not None
    if balance and x:
        worst = model.NewIntVar(0, 1000, "worst_unfilled")
        for b, limit in enumerate(bin_lengths):
            if limit:
                fill = sum(items[n].length * v for (n, bb), v in x.items() if bb == b)
                model.Add(worst * limit >= 1000 * (limit - fill))
        model.Minimize(worst)
        solver.parameters.absolute_gap_limit = 1.0
        model.ClearHints()
        for key, v in x.items():
            model.AddHint(v, chosen[key])
        if solver.Solve(model) in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            chosen = {key: int(solver.Value(v)) for key, v in x.items()}
    return {items[n].key: b for (n, b), v in chosen.items() if v}
