"""The plan's published reports, serialised (pure: values in, bytes out).

Extensions of the contract's layout: ``reports/<quarter>/fleet-summary.csv`` and
``problems.csv`` (a device's ``diff.json`` is :func:`pipeline.layout.diff`). Only the
registry's contract columns appear (device id, township, village, group, dialect);
personal columns are never loaded, so they cannot leak here.
"""

from __future__ import annotations

import csv
import io

from playlists.report import TownshipSummary

from .models import Device, PlanProblem
from .vocab import CATEGORIES


def _csv(header: list[str], rows: list[list]) -> bytes:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return out.getvalue().encode("utf-8")


SUMMARY_HEADER = ["township", "devices", "planned", "not_planned", "with_shortfalls", "hours",
                  *(f"hours_{c}" for c in CATEGORIES), "bytes_to_write", "files_to_add", "files_to_remove"]


def summary_csv(rows: list[TownshipSummary]) -> bytes:
    """``reports/<quarter>/fleet-summary.csv``: one row per township, then ``(all)``."""
    return _csv(SUMMARY_HEADER, [
        [r.township, r.devices, r.planned, r.not_planned, r.with_shortfalls, f"{r.hours:.2f}",
         *(f"{dict(r.seconds).get(c, 0.0) / 3600:.2f}" for c in CATEGORIES),
         r.bytes_to_write, r.files_to_add, r.files_to_remove] for r in rows])


PROBLEMS_HEADER = ["device_id", "township", "village", "group", "dialect", "kind", "message"]


def problems_csv(problems: list[PlanProblem], devices: dict[str, Device], notes: list[str]) -> bytes:
    """``reports/<quarter>/problems.csv``: devices not planned (``not-planned``), wishes not
    met (their kind), then fleet-wide notes (``note``, no device)."""
    rows = []
    for p in problems:
        d = devices.get(p.device_id)
        rows.append([p.device_id, d.township if d else "", d.village if d else "", d.group if d else "",
                     d.dialect if d else "", p.kind, p.message])
    rows += [["", "", "", "", "", "note", n] for n in notes]
    return _csv(PROBLEMS_HEADER, rows)
