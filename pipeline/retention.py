"""Which library files a station still needs: the pure half of ``dangke gc``.

No I/O here: :mod:`pipeline.gc` gathers the facts (the catalog's renditions, the keys
of the retained published generations and of the next publish, the current lessons
and assets) and deletes what :func:`select` gives up.

A rendition (lesson, jingle, filler, whole-slot file) is **kept** when

- a retained published generation (the newest ``[publish] keep_generations`` of each
  store) has its key: a reader holding that generation's ``index.json`` finds it, and
  ``dangke publish --verify`` can send it again;
- the next publish would refer to it: the staged device plans and broadcast schedules
  of the kept quarters (``[publish] keep_quarters``), pending ones included, and the
  feeds (lessons, and airings of the last ``[feeds] broadcast_days`` days and every
  coming one);
- it is the current encode of a current lesson or station asset for a configured
  profile (so the next ``dangke encode`` does not make it again).

Everything else is **removed**: renditions of superseded lessons and of old profile
settings, per-length fillers and whole-slot files of days no longer published. Originals
(``library/originals``) and their decodable copies are never candidates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from .models import Rendition


@dataclass(frozen=True)
class Needs:
    """What the station still needs: ``published`` object keys
    (``audio/<profile>/<sha256>.<ext>``) of retained generations and of the next
    publish, and ``current`` ``(source key, profile, profile hash)`` triples of the
    current encodes of current lessons and assets."""

    published: frozenset[str]
    current: frozenset[tuple[str, str, str]]


@dataclass(frozen=True)
class Selection:
    """``keep`` and ``remove``, each sorted by path; ``reclaimed_bytes`` is what removing
    would free."""

    keep: tuple[Rendition, ...]
    remove: tuple[Rendition, ...]

    @property
    def reclaimed_bytes(self) -> int:
        return sum(r.bytes for r in self.remove)

    @property
    def kept_bytes(self) -> int:
        return sum(r.bytes for r in self.keep)


def needed(r: Rendition, needs: Needs) -> bool:
    """True when ``r`` must stay (see the module docstring)."""
    return r.key in needs.published or (r.source_sha256, r.profile, r.profile_hash) in needs.current


def select(renditions: Iterable[Rendition], needs: Needs) -> Selection:
    """Split the catalog's renditions into those to keep and those to remove. A file two
    rows share (the same path) is kept when either row is needed."""
    rows = list(renditions)
    kept_paths = {r.path for r in rows if needed(r, needs)}
    keep = sorted((r for r in rows if r.path in kept_paths), key=lambda r: r.path)
    remove = sorted((r for r in rows if r.path not in kept_paths), key=lambda r: r.path)
    return Selection(tuple(keep), tuple(remove))


def orphans(files: Iterable[str], known: Iterable[str]) -> list[str]:
    """Library-relative paths of rendition files no catalog row refers to (left by a gc
    or an encode that was stopped between its catalog change and its file change);
    hidden names (temporary files of a running encode) are never orphans."""
    known_set = set(known)
    return sorted(f for f in files if f not in known_set and not f.rsplit("/", 1)[-1].startswith("."))


def kind(r: Rendition) -> str:
    """``slot`` (whole-slot file), ``filler``, ``asset`` (jingle) or ``lesson``."""
    if r.source_sha256.startswith("slot+"):
        return "slot"
    if "+filler-" in r.source_sha256:
        return "filler"
    if r.source_sha256.endswith("+asset"):
        return "asset"
    return "lesson"
