"""A last check before upload: nothing from the fleet registry's personal columns
(holder name, phone, any column beyond the contract's) goes into a published object.

The planner never reads those columns, so this guards against a future change, not a
known path. Two checks keep it exact and cheap: a device's own files (``devices/<quarter>/
<device_id>/``) must not contain any personal value of that device's row (names are
short and could be a lesson title's words, so they are looked for only where they would
belong); and no text object may contain, as a whole run of digits, a personal value made
of seven or more digits (phone or ID numbers) of any row. Error messages name the object
and the column, never the value.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from ..errors import DangkeError
from ..fleet import COLUMNS
from .store import Put

_DIGITS = re.compile(r"\d{7,}")
_TEXT = (".json", ".m3u", ".m3u8", ".xml", ".txt", ".csv", ".ics", ".html", ".js")


def personal_values(registry: Path) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """``({device_id: {value: column}}, {digits: column})`` of the registry's personal
    columns (values of at least two characters). An unreadable registry gives nothing:
    loading it is the planner's job, which reports its problems."""
    by_device: dict[str, dict[str, str]] = {}
    numbers: dict[str, str] = {}
    try:
        with open(registry, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            extra = [c for c in (reader.fieldnames or []) if c and c not in COLUMNS]
            for row in reader:
                values = {(row.get(c) or "").strip(): c for c in extra}
                values = {v: c for v, c in values.items() if len(v) >= 2}
                by_device[(row.get("device_id") or "").strip()] = values
                numbers.update({v: c for v, c in values.items() if _DIGITS.fullmatch(v)})
    except (OSError, UnicodeDecodeError, csv.Error):
        return {}, {}
    return by_device, numbers


def check_objects(objects: list[Put], registry: Path) -> None:
    """Refuse to publish a text object that carries a personal value.

    Raises:
        DangkeError: naming the object and the registry column.
    """
    texts = [o for o in objects if o.key.endswith(_TEXT)]
    if not texts:
        return
    by_device, numbers = personal_values(registry)
    if not by_device:
        return
    for obj in texts:
        text = obj.body().decode("utf-8", errors="replace")
        parts = obj.key.split("/")
        own = by_device.get(parts[2], {}) if parts[0] == "devices" and len(parts) > 3 else {}
        column = next((c for v, c in own.items() if v in text), None)
        if column is None:
            column = next((numbers[d] for d in _DIGITS.findall(text) if d in numbers), None)
        if column is not None:
            raise DangkeError(f"{obj.key} contains the fleet registry's personal column {column!r}; "
                              "nothing was published", path=obj.path or registry,
                              fix="personal columns must never reach published files: report this as a bug")
