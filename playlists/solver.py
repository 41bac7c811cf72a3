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

from ortools.sat.python import cp_model, cp_model_helper


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


def _placements(model: cp_model.CpModel, items: Sequence[Item]) -> dict[tuple[int, int], cp_model.IntVar]:
    """One Boolean per (item index, bin) the item may go to; each item in at most one bin."""
    x = {}
    for n, it in enumerate(items):
        for b in it.bins:
            x[n, b] = model.NewBoolVar(f"x{n}_{b}")
        if len(it.bins) > 1:
            model.AddAtMostOne(x[n, b] for b in it.bins)
    return x


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
    x = _placements(model, items)
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


# -- quarterly selection: one device playlist, hard rules plus weighted wishes --------------

@dataclass(frozen=True)
class Candidate:
    """A lesson a device may carry, for :func:`select`.

    ``ms`` is its duration in whole milliseconds (as published, so the share rules hold
    exactly on the published durations), ``size`` its bytes, ``value`` what carrying it
    is worth (negative: rather not), ``own`` whether it counts toward the own-dialect
    share, ``slot`` a name shared by versions of one episode (at most one is chosen).
    """

    key: str
    ms: int
    size: int
    category: str
    value: int
    own: bool = False
    slot: str = ""


@dataclass(frozen=True)
class Bonus:
    """``weight`` for each of the first ``cap`` candidates of ``keys`` that are chosen
    (a must-carry lesson, the lessons of a topic, a village order)."""

    keys: tuple[str, ...]
    weight: int
    cap: int = 1


@dataclass(frozen=True)
class Selection:
    """One selection problem (a device's quarterly playlist) for :func:`select`.

    Hard: ``shares`` (basis points of the chosen milliseconds), ``max_size`` bytes,
    ``max_ms`` total milliseconds, ``after`` pairs ``(later, earlier)`` of slots (a later
    episode only with an earlier one), at least one candidate. Soft, in the objective:
    candidate values, ``bonuses``, ``short_weight`` per second below ``min_ms``, and
    ``own_weight`` per second the own-dialect milliseconds fall short of
    ``min(own_bp / 10000 * total, own_cap_ms)``.
    """

    candidates: tuple[Candidate, ...]
    shares: tuple[ShareRule, ...] = ()
    max_size: int | None = None
    max_ms: int | None = None
    after: tuple[tuple[str, str], ...] = ()
    bonuses: tuple[Bonus, ...] = ()
    min_ms: int = 0
    short_weight: int = 0
    own_bp: int = 0
    own_cap_ms: int = 0
    own_weight: int = 0
    gap: int = 0
    work_limit: float = 10.0
    #: keys of a good selection to start from (e.g. the same problem without its orders)
    hint: tuple[str, ...] = ()


@dataclass(frozen=True)
class Selected:
    """The chosen candidate keys (sorted), the objective reached and whether it is proven
    optimal (within ``gap``)."""

    keys: tuple[str, ...]
    objective: int
    optimal: bool
    #: seconds below ``min_ms`` and seconds the own-dialect share lacks, as solved
    short_s: int = 0
    own_lack_s: int = 0


class _Model(cp_model.CpModel):
    """A CpModel without the deprecated camel-case aliases that ``CpModel()`` attaches to
    every instance (about 1 ms per model, and :func:`select` builds one per solve)."""

    def __init__(self) -> None:
        try:
            cp_model_helper.CpBaseModel.__init__(self, None)
        except Exception:  # pragma: no cover - another OR-Tools layout: take the slow path
            cp_model.CpModel.__init__(self)


def _maximize(model: cp_model.CpModel, terms: dict[int, int]) -> None:
    """Maximise ``sum(coef * var)`` given ``{variable index: coef}``, written straight into
    the model (``CpModel.maximize`` walks the expression in Python)."""
    model.clear_objective()
    objective = model.proto.objective
    objective.vars.extend(list(terms))
    objective.coeffs.extend([-c for c in terms.values()])
    objective.scaling_factor = -1.0


class _Proto:
    """Writes a CP-SAT model straight into its proto: variables by index, linear
    constraints as merged ``{variable index: coef}`` sorted by index (the form the
    expression API produces, without walking expressions in Python)."""

    def __init__(self, model: cp_model.CpModel) -> None:
        self.model = model
        self.proto = model.proto

    def var(self, lo: int, hi: int, name: str = "") -> int:
        v = self.proto.variables.add()
        if name:
            v.name = name
        v.domain.extend((lo, hi))
        return len(self.proto.variables) - 1

    def bools(self, n: int) -> None:
        """The first ``n`` variables, all Boolean (copied from a cached model)."""
        template = _BOOLS.get(n)
        if template is None:
            template = _BOOLS[n] = cp_model_helper.CpModelProto()
            for _ in range(n):
                template.variables.add().domain.extend((0, 1))
        self.proto.copy_from(template)

    def linear(self, terms: dict[int, int], lo: int = cp_model.INT_MIN, hi: int = cp_model.INT_MAX) -> None:
        """``lo <= sum(coef * var) <= hi``; zero coefficients are dropped."""
        order = sorted(v for v, c in terms.items() if c)
        self._add(order, [terms[v] for v in order], lo, hi)

    def dense(self, coefs: Sequence[int], extra: tuple[int, int] | None = None, lo: int = cp_model.INT_MIN,
              hi: int = cp_model.INT_MAX) -> None:
        """Like :meth:`linear` with ``coefs[n]`` for variable n, and ``extra`` = ``(variable,
        coef)`` of a later variable (above every n)."""
        vars_ = [n for n, c in enumerate(coefs) if c]
        values = [c for c in coefs if c]
        if extra is not None and extra[1]:
            vars_.append(extra[0])
            values.append(extra[1])
        self._add(vars_, values, lo, hi)

    def _add(self, vars_: list[int], coefs: list[int], lo: int, hi: int) -> None:
        if not vars_:
            if not lo <= 0 <= hi:  # nothing to choose and the bound excludes 0: infeasible
                self.proto.constraints.add().linear.domain.extend((1, 1))
            return
        ct = self.proto.constraints.add().linear
        ct.vars.extend(vars_)
        ct.coeffs.extend(coefs)
        ct.domain.extend((lo, hi))


#: models of n Boolean variables, copied by :meth:`_Proto.bools`
_BOOLS: dict[int, "cp_model_helper.CpModelProto"] = {}


def _own_goal_is_share(problem: Selection, cands: Sequence[Candidate], hi: Sequence[int]) -> bool:
    """The own-dialect goal is ``own >= min(share * total, what the library has)``.
    Which of the two binds is decided up front from the longest playlist the card and
    the maximum allow, so that the constraint stays linear (a disjunction solves far
    slower): True for the share, False for all the library has (whole seconds)."""
    longest = sum(hi)
    if problem.max_ms is not None:
        longest = min(longest, problem.max_ms // 1000)
    if problem.max_size is not None and sum(c.size for c in cands):
        longest = min(longest, problem.max_size * sum(hi) // sum(c.size for c in cands))
    return 10000 * (problem.own_cap_ms // 1000) >= problem.own_bp * longest


def own_lack_certain(problem: Selection) -> bool:
    """True when every selection of ``problem`` falls short of its own-dialect goal
    (:func:`select` would report ``own_lack_s`` above 0, or find no selection): the goal
    is all the library has, and the candidates hold less of it."""
    if not (problem.own_bp and problem.own_weight):
        return False
    hi = [-(-c.ms // 1000) for c in problem.candidates]
    if _own_goal_is_share(problem, problem.candidates, hi):
        return False
    return sum(c.ms // 1000 for c in problem.candidates if c.own) < problem.own_cap_ms // 1000


def select(problem: Selection) -> Selected | None:
    """Choose the candidates of ``problem`` maximising the objective under its hard rules.

    CP-SAT with one worker, a fixed seed and a deterministic time limit, on candidates
    sorted by key: equal problems give equal answers. Stops when the best answer is
    within ``gap`` of the bound. Returns None when no selection meets the hard rules.
    The model is written straight into the CP-SAT proto (see :class:`_Proto`).
    """
    cands = sorted(problem.candidates, key=lambda c: c.key)
    model = _Model()
    m = _Proto(model)
    n_c = len(cands)
    m.bools(n_c)
    index = {c.key: n for n, c in enumerate(cands)}
    # Whole seconds keep the coefficients small; rounding is conservative, so the hard
    # rules hold on the exact (millisecond) durations: the categories a rule asks for
    # count rounded down, the others and the maximum rounded up.
    lo = [c.ms // 1000 for c in cands]
    hi = [-(-c.ms // 1000) for c in cands]
    m.dense([1] * n_c, lo=1)
    for rule in problem.shares:
        inside, outside = 10000 - rule.basis_points, -rule.basis_points
        m.dense([inside * lo[n] if c.category in rule.categories else outside * hi[n]
                 for n, c in enumerate(cands)], lo=0)
    if problem.max_size is not None:
        m.dense([c.size for c in cands], hi=problem.max_size)
    if problem.max_ms is not None:
        m.dense(hi, hi=problem.max_ms // 1000)
    slots: dict[str, list[int]] = {}
    for n, c in enumerate(cands):
        if c.slot:
            slots.setdefault(c.slot, []).append(n)
    for members in slots.values():
        if len(members) > 1:
            m.proto.constraints.add().at_most_one.literals.extend(members)
    for later, earlier in problem.after:
        if later in slots and earlier in slots:
            terms = dict.fromkeys(slots[later], 1)
            for n in slots[earlier]:
                terms[n] = terms.get(n, 0) - 1
            m.linear(terms, hi=0)
    terms = {n: c.value for n, c in enumerate(cands) if c.value}
    for k, b in enumerate(problem.bonuses):
        members = [index[key] for key in b.keys if key in index]
        if not members or not b.weight:
            continue
        if b.cap >= len(members):
            for n in members:
                terms[n] = terms.get(n, 0) + b.weight
        else:
            got = m.var(0, b.cap, f"b{k}")
            ct = dict.fromkeys(members, -1)
            ct[got] = 1
            m.linear(ct, hi=0)
            terms[got] = b.weight
    short = lack = None
    if problem.min_ms and problem.short_weight:
        need = -(-problem.min_ms // 1000)
        short = m.var(0, need, "short")
        m.dense(lo, (short, 1), lo=need)
        terms[short] = -problem.short_weight
    if problem.own_bp and problem.own_weight:
        have = problem.own_cap_ms // 1000  # what the library has, even beyond these candidates
        lack = m.var(0, have, "own_short")
        if _own_goal_is_share(problem, cands, hi):
            m.dense([10000 * (lo[n] if c.own else 0) - problem.own_bp * hi[n] for n, c in enumerate(cands)],
                    (lack, 10000), lo=0)
        else:
            m.dense([lo[n] if c.own else 0 for n, c in enumerate(cands)], (lack, 1), lo=have)
        terms[lack] = -problem.own_weight
    _maximize(model, terms)
    if problem.hint:
        chosen = set(problem.hint)
        hint = model.proto.solution_hint
        hint.vars.extend(range(n_c))
        hint.values.extend([int(c.key in chosen) for c in cands])
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = 7
    solver.parameters.max_deterministic_time = problem.work_limit
    solver.parameters.absolute_gap_limit = float(problem.gap)
    # Presolve, probing, symmetry detection and SAT inprocessing cost more than they save
    # on these small models (measured on the fleet benchmark: about 3x less CPU).
    solver.parameters.cp_model_presolve = False
    solver.parameters.cp_model_probing_level = 0
    solver.parameters.symmetry_level = 0
    solver.parameters.use_sat_inprocessing = False
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None
    solution = solver.response_proto.solution
    chosen_keys = tuple(c.key for n, c in enumerate(cands) if solution[n])
    return Selected(chosen_keys, int(round(solver.objective_value)), status == cp_model.OPTIMAL,
                    solution[short] if short is not None else 0, solution[lack] if lack is not None else 0)


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
    x = _placements(model, items)
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
