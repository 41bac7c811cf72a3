"""Device file names: short, FAT32-safe, numbered in play order (``001_標題.mp3``).

Characters illegal in FAT long names (``" * / : < > ? \\ |`` and controls 0x00-0x1F,
standards.md §3.6) become ``_`` and square brackets round ones (card tools read them as
wildcards); trailing dots and spaces go; DOS device names (CON,
PRN, AUX, NUL, COM1-9, LPT1-9) get a suffix; Chinese is kept where a cheap player can
show it (characters in GBK, the code page of their fonts, within the Basic Multilingual
Plane); invisible format characters (zero-width space, byte-order mark, direction marks)
are dropped; the title part is capped so the whole name stays short. The full title
stays in the tags (corpus case BR-24).
"""

from __future__ import annotations

import functools
import re
import unicodedata

_ILLEGAL = re.compile(r'[\x00-\x1f\x7f"*/:<>?\\|]')
_SPACES, _UNDERSCORES, _NOT_ALNUM = re.compile(r"\s+"), re.compile(r"_+"), re.compile(r"[^A-Za-z0-9]")
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)), *(f"LPT{i}" for i in range(1, 10))}
#: Unicode categories dropped: format (Cf), surrogates (Cs), private use (Co), unassigned (Cn)
_INVISIBLE = {"Cf", "Cs", "Co", "Cn"}


def _shown(ch: str) -> str:
    """``ch`` if a GBK-font player can show it, ``_`` if not, '' if it is invisible."""
    if unicodedata.category(ch) in _INVISIBLE:
        return ""
    if ord(ch) > 0xFFFF:
        return "_"
    try:
        ch.encode("gbk")
    except UnicodeEncodeError:
        return "_"
    return ch


@functools.lru_cache(maxsize=65536)
def safe_stem(title: str, max_chars: int = 24) -> str:
    """A FAT-safe form of ``title`` of at most ``max_chars`` characters (NFKC: full-width
    letters, digits and punctuation become ASCII first, so ``：`` is treated as ``:``)."""
    text = unicodedata.normalize("NFKC", title)
    text = "".join(_shown(c) for c in text)
    text = _ILLEGAL.sub("_", text).replace("[", "(").replace("]", ")")  # mtools reads [] as wildcards
    text = _SPACES.sub(" ", text).strip()
    text = text[:max_chars].rstrip(" .")
    text = _UNDERSCORES.sub("_", text).strip("_ ")
    if text.upper().split(".")[0] in _RESERVED:
        text = f"{text}_"
    return text or "lesson"


def number_width(count: int) -> int:
    """Digits of the play-order prefix for ``count`` files: at least 3, so that name
    order equals play order (``001`` ... ``999``, then ``0001`` ...)."""
    return max(3, len(str(count)))


def card_path(position: int, title: str, extension: str, width: int = 3) -> str:
    """``NNN_<safe title>.<ext>``: numbered so name order equals play order."""
    ext = _NOT_ALNUM.sub("", extension).lower() or "bin"
    return f"{position:0{width}d}_{safe_stem(title)}.{ext}"
