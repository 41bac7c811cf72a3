"""FAT last-access dates of an unmounted card image, read with pyfatfs (the one module
that uses it; mtools' ``mdir`` shows only modification times). FAT keeps the access
date without a time (the directory entry's ``DIR_LstAccDate``), in local time."""

from __future__ import annotations

import datetime as dt
from pathlib import Path


def image_access_dates(image: Path, folder: str) -> dict[str, str]:
    """``{name (case-folded): ISO date}`` of the files in ``folder`` of a FAT image,
    opened read-only; empty when the image or folder cannot be read this way."""
    try:
        from pyfatfs.PyFatFS import PyFatFS
        fs = PyFatFS(str(image), read_only=True)
    except Exception:  # not a FAT image pyfatfs understands (a partition it cannot open)
        return {}
    try:
        out = {}
        base = "/" + folder.strip("/")
        if not fs.isdir(base):
            return {}
        for name in fs.listdir(base):
            info = fs.getinfo(f"{base}/{name}", namespaces=["details"])
            accessed = info.raw.get("details", {}).get("accessed")
            if not info.is_dir and accessed:
                out[name.casefold()] = dt.datetime.fromtimestamp(accessed).date().isoformat()
        return out
    except Exception:
        return {}
    finally:
        fs.close()
