"""Loudness curves kept in the catalog, so the report draws pictures without decoding audio.

One row per measured signal in the table ``loudness_curves``, keyed by the sha256 of the
audio bytes that were measured: a source at ingest (:class:`~pipeline.media.meter.CurveMeter`
over the decoded channels), a rendition at encode verification (:func:`pipeline.media.meter.curve`
of the verifying meter's frames). A curve is four series (momentary and short-term loudness
in LUFS, peak in dBFS/dBTP, K-weighted RMS in dB) every ``step_s`` seconds, stored as
zlib-compressed little-endian int16 tenths of a dB (at most 2,400 points: under 20 kB).
``digest`` (sha256 of the stored bytes) names a curve's pictures, so they are drawn once.
"""

from __future__ import annotations

import hashlib
import sqlite3
import zlib
from dataclasses import dataclass

import numpy as np

from .catalog import Catalog, now_iso
from .media.meter import Curve

SCHEMA = """
CREATE TABLE IF NOT EXISTS loudness_curves (
  sha256 TEXT PRIMARY KEY, kind TEXT NOT NULL, step_s REAL NOT NULL, points INTEGER NOT NULL,
  data BLOB NOT NULL, digest TEXT NOT NULL, at TEXT NOT NULL);
"""
SERIES = ("momentary", "short_term", "peak", "rms")
_SILENT = -32768
"""The stored value of -inf (silence)."""


@dataclass(frozen=True)
class StoredCurve:
    """A curve read back from the catalog, with ``kind`` (``source`` or ``rendition``) and
    ``digest`` (sha256 hex of its stored bytes)."""

    sha256: str
    kind: str
    digest: str
    curve: Curve


def pack(c: Curve) -> bytes:
    """The stored form of a curve: 4 x points int16 tenths of a dB, zlib-compressed."""
    rows = np.stack([np.asarray(getattr(c, s), dtype=np.float64) for s in SERIES])
    out = np.where(np.isfinite(rows), np.clip(np.round(rows * 10), -32767, 32767), _SILENT)
    return zlib.compress(out.astype("<i2").tobytes(), 9)


def unpack(data: bytes, step_s: float, points: int) -> Curve:
    """The inverse of :func:`pack`.

    Raises:
        ValueError: the bytes are not a packed curve of ``points`` points.
    """
    raw = np.frombuffer(zlib.decompress(data), dtype="<i2")
    if raw.size != len(SERIES) * points:
        raise ValueError(f"a stored curve has {raw.size} values, not {len(SERIES) * points}")
    rows = np.where(raw == _SILENT, -np.inf, raw / 10.0).reshape(len(SERIES), points)
    return Curve(step_s, *rows)


def _ensure(catalog: Catalog) -> None:
    catalog.db.execute(SCHEMA)


def store(catalog: Catalog, sha256: str, kind: str, c: Curve | None) -> None:
    """Keep the curve of the audio whose bytes have ``sha256`` (``kind``: ``source`` or
    ``rendition``); None is ignored (nothing was measured)."""
    if c is None:
        return
    _ensure(catalog)
    data = pack(c)
    catalog.db.execute("INSERT OR REPLACE INTO loudness_curves (sha256, kind, step_s, points, data, digest, at)"
                       " VALUES (?,?,?,?,?,?,?)", (sha256, kind, c.step_s, int(c.momentary.size), data,
                                                    hashlib.sha256(data).hexdigest(), now_iso()))


def store_rendition(catalog: Catalog, r) -> None:
    """Keep the curve a :class:`~pipeline.models.Rendition` carries from its verification."""
    store(catalog, r.sha256, "rendition", getattr(r, "curve", None))


def load(catalog: Catalog, sha256s: list[str]) -> dict[str, StoredCurve]:
    """``{sha256: StoredCurve}`` of the curves kept for the given audio (missing ones left out)."""
    _ensure(catalog)
    out: dict[str, StoredCurve] = {}
    wanted = list(dict.fromkeys(sha256s))
    for i in range(0, len(wanted), 500):
        part = wanted[i:i + 500]
        rows = catalog.db.execute(
            f"SELECT * FROM loudness_curves WHERE sha256 IN ({','.join('?' * len(part))})", part).fetchall()
        for row in rows:
            out[row["sha256"]] = _row(row)
    return out


def _row(row: sqlite3.Row) -> StoredCurve:
    return StoredCurve(row["sha256"], row["kind"], row["digest"],
                       unpack(row["data"], row["step_s"], row["points"]))
