"""The fleet registry (contract CSV): loaded, validated, personal columns dropped.

``device_id,township,village,group,dialect,profile,capacity_mb`` plus any extra columns
(holder name, phone, ...), which are never loaded. Every problem is reported at once
with its line number.
"""

from __future__ import annotations

import csv
from pathlib import Path

from .errors import ConfigError
from .models import Device
from .vocab import GROUPS, accepted_dialects, dialect_code, group_code

COLUMNS = ("device_id", "township", "village", "group", "dialect", "profile", "capacity_mb")


def load_fleet(path: Path, profiles: set[str] | frozenset[str]) -> list[Device]:
    """Read and validate the registry; devices come back sorted by ``device_id``.

    Raises:
        ConfigError: the file is missing or unreadable, a required column is missing, or
            rows have problems (duplicate ids, unknown profile/dialect/group, a capacity
            that is not a positive number); all problems are listed with line numbers.
    """
    if not path.is_file():
        raise ConfigError("fleet registry not found", path=path,
                          fix="create it with the columns " + ",".join(COLUMNS))
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames or []
            missing = [c for c in COLUMNS if c not in header]
            if missing:
                raise ConfigError(f"missing column(s) {', '.join(missing)}", path=path,
                                  fix="the header must include " + ",".join(COLUMNS))
            rows = [(reader.line_num, row) for row in reader]
    except UnicodeDecodeError as exc:
        raise ConfigError("not UTF-8 text", path=path, fix="save the registry as UTF-8 CSV") from exc
    devices, problems, seen = [], [], {}
    for line, row in rows:
        values = {c: (row.get(c) or "").strip() for c in COLUMNS}
        errs = []
        did = values["device_id"]
        if not did:
            errs.append("empty device_id")
        elif did in seen:
            errs.append(f"duplicate device_id {did} (first on line {seen[did]})")
        else:
            seen[did] = line
        if values["profile"] not in profiles:
            errs.append(f"unknown profile {values['profile']!r} (known: {', '.join(sorted(profiles))})")
        dialect = dialect_code(values["dialect"])
        if dialect is None:
            errs.append(f"unknown dialect {values['dialect']!r} (use {accepted_dialects()})")
        group = group_code(values["group"])
        if group is None:
            errs.append(f"unknown group {values['group']!r} (use {', '.join(GROUPS)})")
        try:
            capacity = float(values["capacity_mb"])
            if not capacity > 0:
                raise ValueError
        except ValueError:
            errs.append(f"capacity_mb {values['capacity_mb']!r} is not a positive number")
            capacity = 0.0
        if errs:
            problems.extend(f"line {line}: {e}" for e in errs)
            continue
        devices.append(Device(device_id=did, township=values["township"], village=values["village"],
                              group=group, dialect=dialect, profile=values["profile"],
                              capacity_mb=capacity))
    if problems:
        raise ConfigError(f"{len(problems)} problem(s) in the fleet registry:\n  " + "\n  ".join(problems),
                          path=path, fix="correct the rows and run again")
    return sorted(devices, key=lambda d: d.device_id)
