"""The fleet registry (contract CSV) and the village orders (點單): loaded, validated,
personal columns dropped.

``device_id,township,village,group,dialect,profile,capacity_mb`` plus any extra columns
(holder name, phone, ...), which are never loaded. Every problem is reported at once
with its line number.
"""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path
from typing import Iterator

from .errors import ConfigError
from .models import Device, VillageOrder
from .vocab import GROUPS, accepted_dialects, dialect_code, group_code

COLUMNS = ("device_id", "township", "village", "group", "dialect", "profile", "capacity_mb")
ORDER_COLUMNS = ("village", "lesson_or_topic", "priority")
ORDER_OPTIONAL = ("township", "quarter")

#: device ids become folder names in the store and on cards: letters, digits, . _ -
_DEVICE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
#: the largest FAT32 volume with 512-byte sectors (2 TiB), in MB
MAX_CAPACITY_MB = 2 * 1024 ** 4 / 1e6


def _rows(path: Path, required: tuple[str, ...], aliases: dict[str, str] | None = None,
          what: str = "registry") -> Iterator[tuple[int, dict[str, str]]]:
    """``(line, row)`` of a UTF-8 CSV with a header; header names are trimmed and
    lower-cased, ``aliases`` rename them.

    Raises:
        ConfigError: the file is missing, not UTF-8, or lacks a required column.
    """
    if not path.is_file():
        raise ConfigError(f"{what} not found", path=path, fix="create it with the columns " + ",".join(required))
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            header = [(aliases or {}).get(h.strip().lower(), h.strip().lower()) for h in next(reader, [])]
            missing = [c for c in required if c not in header]
            if missing:
                raise ConfigError(f"missing column(s) {', '.join(missing)}", path=path,
                                  fix="the header must include " + ",".join(required))
            for values in reader:
                if any(v.strip() for v in values):
                    yield reader.line_num, dict(zip(header, (v.strip() for v in values)))
    except UnicodeDecodeError as exc:
        raise ConfigError("not UTF-8 text", path=path, fix=f"save the {what} as UTF-8 CSV") from exc
    except csv.Error as exc:
        raise ConfigError(f"not a readable CSV: {exc}", path=path, fix="check the quoting") from exc


def load_fleet(path: Path, profiles: set[str] | frozenset[str]) -> list[Device]:
    """Read and validate the registry; devices come back sorted by ``device_id``.

    Raises:
        ConfigError: the file is missing or unreadable, a required column is missing, or
            rows have problems (duplicate ids, ids unfit for folder names, empty township
            or village, unknown profile/dialect/group, a capacity that is not a positive
            number up to 2 TiB); all problems are listed with line numbers.
    """
    devices, problems, seen = [], [], {}
    for line, row in _rows(path, COLUMNS):
        values = {c: row.get(c, "") for c in COLUMNS}
        errs = []
        did = values["device_id"]
        if not did:
            errs.append("empty device_id")
        elif did in seen:
            errs.append(f"duplicate device_id {did} (first on line {seen[did]})")
        elif not _DEVICE_ID.fullmatch(did):
            errs.append(f"device_id {did!r} may hold only letters, digits, '.', '_' and '-' (it names folders)")
        else:
            seen[did] = line
        for col in ("township", "village"):
            if not values[col]:
                errs.append(f"empty {col}")
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
            if not (math.isfinite(capacity) and 0 < capacity <= MAX_CAPACITY_MB):
                raise ValueError
        except ValueError:
            errs.append(f"capacity_mb {values['capacity_mb']!r} is not a number of megabytes above 0 and "
                        f"at most {MAX_CAPACITY_MB:.0f}")
            capacity = 0.0
        if errs:
            problems.extend(f"line {line}: {e}" for e in errs)
            continue
        devices.append(Device(device_id=did, township=values["township"], village=values["village"],
                              group=group, dialect=dialect, profile=values["profile"],
                              capacity_mb=capacity))
    if not devices and not problems:
        problems.append("no devices")
    if problems:
        raise ConfigError(f"{len(problems)} problem(s) in the fleet registry:\n  " + "\n  ".join(problems),
                          path=path, fix="correct the rows and run again")
    return sorted(devices, key=lambda d: d.device_id)


def load_orders(path: Path) -> list[VillageOrder]:
    """Read and validate the village orders (點單):
    ``village,lesson_or_topic,priority`` plus optional ``township`` and ``quarter``
    columns (``lesson`` or ``topic`` may stand for ``lesson_or_topic``).

    Raises:
        ConfigError: the file is unreadable, a column is missing, or rows have problems
            (empty village or target, priority not a whole number 1-9, quarter not
            ``YYYYQn``); all problems are listed with line numbers.
    """
    aliases = {"lesson": "lesson_or_topic", "topic": "lesson_or_topic", "lesson or topic": "lesson_or_topic"}
    orders, problems = [], []
    for line, row in _rows(path, ORDER_COLUMNS, aliases, what="orders file"):
        errs = []
        if not row.get("village"):
            errs.append("empty village")
        if not row.get("lesson_or_topic"):
            errs.append("empty lesson_or_topic")
        text = row.get("priority", "")
        priority = int(text) if text.isdigit() else 0
        if not 1 <= priority <= 9:
            errs.append(f"priority {text!r} is not a whole number from 1 (most wanted) to 9")
        quarter = row.get("quarter", "").upper()
        if quarter and not re.fullmatch(r"\d{4}Q[1-4]", quarter):
            errs.append(f"quarter {row.get('quarter')!r} is not YYYYQn (e.g. 2027Q1)")
        if errs:
            problems.extend(f"line {line}: {e}" for e in errs)
            continue
        orders.append(VillageOrder(village=row["village"], target=row["lesson_or_topic"], priority=priority,
                                   township=row.get("township", ""), quarter=quarter, line=line))
    if problems:
        raise ConfigError(f"{len(problems)} problem(s) in the village orders:\n  " + "\n  ".join(problems),
                          path=path, fix="correct the rows and run again")
    return orders
