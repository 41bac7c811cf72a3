"""The plan's extra published files, serialised (pure: values in, bytes out).

Extensions of the contract's layout:
``devices/<quarter>/<device_id>/diff.json`` (keep, add, remove, bytes to write) and
``reports/<quarter>/fleet-summary.csv`` and ``problems.csv``. Only the registry's
contract columns appear (device id, township, village, group, dialect); personal
columns are never loaded, so they cannot leak here.
"""

from __future__ import annotations

import csv
import io
import json

from playlists.report import DeviceDiff, TownshipSummary

from .models import Device, PlanProblem
from .vocab import CATEGORIES


def _json(obj: object) -> bytes:
    return (json.dumps(obj, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def diff_json(d: DeviceDiff) -> bytes:
    """``devices/<quarter>/<device_id>/diff.json``."""
    def item(i) -> dict:
        return {"position": i.position, "lesson_id": i.lesson_id, "sha256": i.sha256, "bytes": i.bytes,
                "card_path": i.card_path}
    return _json({
        "device_id": d.device_id, "quarter": d.quarter, "previous_quarter": d.previous_quarter,
        "keep": [item(i) for i in d.keep], "add": [item(i) for i in d.add],
        "remove": [{"lesson_id": f.lesson_id, "sha256": f.sha256, "bytes": f.bytes, "card_path": f.card_path}
                   for f in d.remove],
        "bytes_to_write": d.bytes_to_write, "bytes_to_free": d.bytes_to_free,
    })


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
