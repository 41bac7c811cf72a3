"""Where the shipped example configuration lives (``config/`` of the source tree, or
``share/dangke/config`` of an installed wheel)."""

from __future__ import annotations

import sys
from pathlib import Path

from .errors import DangkeError


def shipped_config_dir() -> Path:
    """The folder with the example ``dangke.toml``, ``fleet.csv`` and ``assets/``.

    Raises:
        DangkeError: no copy of it is installed.
    """
    candidates = [Path(__file__).resolve().parent.parent / "config",
                  Path(sys.prefix) / "share" / "dangke" / "config"]
    for c in candidates:
        if (c / "dangke.toml").is_file():
            return c
    raise DangkeError("the example configuration is not installed",
                      path=candidates[0], fix="reinstall dangke (pip install .)")
