"""Device file names: short, FAT32-safe, numbered in play order (``001_標題.mp3``).

Characters illegal in FAT long names (``" * / : < > ? \\ |`` and controls 0x00-0x1F,
standards.md §3.6) become ``_``; trailing dots and spaces go; DOS device names (CON,
PRN, AUX, NUL, COM1-9, LPT1-9) get a suffix; Chinese is kept; the title part is capped
so the whole name stays short. The full title stays in the tags.
"""

from __future__ import annotations

import re
import unicodedata

_ILLEGAL = re.compile(r'[\x00-\x1f\x7f"*/:<>?\\|]')
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}


def safe_stem(title: str, max_chars: int = 24) -> str:
    """A FAT-safe form of ``title`` of at most ``max_chars`` characters (NFC)."""
    text = unicodedata.normalize("NFKC", title)
    text = _ILLEGAL.sub("_", text)
    text = re.sub(r"\s+", " ", text).strip()
    text = text[:max_chars].rstrip(" .")
    text = re.sub(r"_+", "_", text).strip("_ ")
    if text.upper().split(".")[0] in _RESERVED:
        text = f"{text}_"
    return text or "lesson"


def card_path(position: int, title: str, extension: str, width: int = 3) -> str:
    """``NNN_<safe title>.<ext>``: numbered so name order equals play order."""
    return f"{position:0{width}d}_{safe_stem(title)}.{extension}"
