"""The report's pictures, drawn with matplotlib (the only module that imports it).

Each picture is a PNG named by a hash of what it shows (the stored curves' digests, the
targets, the labels and :data:`VERSION`), so a picture that exists already is reused and
a re-run only draws what changed. Text in pictures uses a Noto CJK font found on the
machine at run time (Debian's ``fonts-noto-cjk``); without one the report stops with a
clear error instead of drawing boxes for Chinese characters.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DangkeError
from ..media.meter import Curve

VERSION = "1"
"""Bump when the drawing changes: every picture is drawn again."""
FONT_DIRS = ("/usr/share/fonts", "/usr/local/share/fonts", os.path.expanduser("~/.local/share/fonts"))
FONT_NAMES = ("NotoSansCJK-Regular.ttc", "NotoSansCJKtc-Regular.otf", "NotoSansCJKsc-Regular.otf",
              "NotoSansCJK-Regular.otf", "NotoSerifCJK-Regular.ttc")
COLOURS = ("#c0392b", "#2471a3", "#1e8449", "#7d3c98", "#b9770e", "#17202a")
_font_cache: dict[str, object] = {}
PARALLEL_FROM = 24
"""Pictures drawn in worker processes from this many on (fewer: in this process)."""


def cjk_font() -> Path:
    """The path of a Noto CJK font file (``$DANGKE_CJK_FONT`` first).

    Raises:
        DangkeError: no such font is installed.
    """
    env = os.environ.get("DANGKE_CJK_FONT")
    if env and Path(env).is_file():
        return Path(env)
    for name in FONT_NAMES:
        for root in FONT_DIRS:
            if not os.path.isdir(root):
                continue
            for dirpath, _dirs, names in os.walk(root):
                if name in names:
                    return Path(dirpath, name)
    raise DangkeError("no Chinese (CJK) font found for the report's pictures", path=Path(FONT_DIRS[0]),
                      fix="install Debian's fonts-noto-cjk (apt-get install fonts-noto-cjk, or sh scripts/setup.sh)"
                          " or set DANGKE_CJK_FONT to a .ttc/.otf file")


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import font_manager, pyplot
    path = str(cjk_font())
    if "name" not in _font_cache:
        font_manager.fontManager.addfont(path)
        _font_cache["name"] = font_manager.FontProperties(fname=path).get_name()
    pyplot.rcParams.update({"font.family": [_font_cache["name"], "DejaVu Sans"], "axes.unicode_minus": False,
                            "svg.hashsalt": "dangke", "font.size": 9})
    return pyplot


@dataclass(frozen=True)
class Series:
    """One rendition's curve on the loudness plot: its label, curve and target (LUFS)."""

    label: str
    curve: Curve
    target_lufs: float
    digest: str


def picture_name(kind: str, *parts: object) -> str:
    """``<kind>-<hash>.png`` for what a picture shows."""
    h = hashlib.sha256("\x1f".join(map(str, (VERSION, kind, *parts))).encode("utf-8")).hexdigest()[:20]
    return f"{kind}-{h}.png"


def _scale(duration_s: float) -> tuple[float, str]:
    """Seconds per x unit and the axis label: seconds under two minutes, else minutes."""
    return (1.0, "時間 time (秒 s)") if duration_s < 120 else (60.0, "時間 time (分鐘 min)")


DRAW_POINTS = 800
"""Points drawn per series at most (the picture is 800 px wide): a longer curve is
reduced to the maximum of each run of points (peaks and loudness alike)."""


def _reduced(curve: Curve) -> Curve:
    n = curve.momentary.size
    k = -(-n // DRAW_POINTS)
    if k <= 1:
        return curve
    cut = n // k * k

    def red(x: np.ndarray) -> np.ndarray:
        head = x[:cut].reshape(-1, k).max(axis=1)
        return np.append(head, x[cut:].max()) if cut < n else head
    return Curve(curve.step_s * k, red(curve.momentary), red(curve.short_term), red(curve.peak), red(curve.rms))


def _finite(x: np.ndarray, floor: float) -> np.ndarray:
    return np.where(np.isfinite(x), np.maximum(x, floor), floor)


def _save(fig, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fig.savefig(tmp, format="png", dpi=100, metadata={"Software": None}, pil_kwargs={"compress_level": 3})
    os.replace(tmp, path)


def _waveform(ax, curve: Curve, div: float) -> None:
    """The source's waveform: peak envelope (light) and K-weighted RMS (dark), both sides
    of zero, linear amplitude (full scale 1.0)."""
    t = np.arange(curve.momentary.size + 1) * curve.step_s / div
    peak = 10 ** (_finite(curve.peak, -120.0) / 20)
    rms = np.minimum(10 ** (_finite(curve.rms, -120.0) / 20), peak)
    peak, rms = np.append(peak, peak[-1:]), np.append(rms, rms[-1:])
    ax.fill_between(t, -peak, peak, step="post", color="#85c1e9", linewidth=0, label="峰值 peak")
    ax.fill_between(t, -rms, rms, step="post", color="#1f618d", linewidth=0, label="均方根 RMS (K)")
    ax.axhline(0, color="#555", linewidth=0.4)


def _loudness(ax, source: Curve | None, renditions: list[Series], div: float) -> None:
    """Momentary (thin) and short-term (thick) loudness of the source and short-term
    loudness of each rendition, each against its target (dashed), in LUFS."""
    if source is not None:
        t = np.arange(1, source.momentary.size + 1) * source.step_s / div
        ax.plot(t, _finite(source.momentary, -60.0), color="#aab7b8", linewidth=0.6, label="原始 瞬時 source M")
        ax.plot(t, _finite(source.short_term, -60.0), color="#273746", linewidth=1.4, label="原始 短期 source S")
    for i, s in enumerate(renditions):
        colour = COLOURS[i % len(COLOURS)]
        t = np.arange(1, s.curve.momentary.size + 1) * s.curve.step_s / div
        ax.plot(t, _finite(s.curve.short_term, -60.0), color=colour, linewidth=1.0, label=f"{s.label} 短期 S")
        ax.axhline(s.target_lufs, color=colour, linewidth=0.8, linestyle="--")


class _Painter:
    """One figure kept per process and layout (with or without the waveform): its frame,
    titles and labels are made once; each picture replaces only the data (about half the
    cost of a new figure)."""

    def __init__(self, rows: int) -> None:
        plt = _pyplot()
        self.fig, axes = plt.subplots(rows, 1, figsize=(8.0, 1.6 + 2.2 * rows), sharex=True, squeeze=False,
                                      gridspec_kw={"height_ratios": [1, 1.5][-rows:]})
        self.axes = [a[0] for a in axes]
        for ax in self.axes:
            ax.tick_params(labelfontfamily="DejaVu Sans", labelsize=8)
        if rows == 2:
            self.axes[0].set_ylim(-1.05, 1.05)
            self.axes[0].set_ylabel("振幅 amplitude")
            self.axes[0].set_title("波形（原始錄音） waveform (source)")
        low = self.axes[-1]
        low.set_ylim(-60, 0)
        low.set_ylabel("響度 loudness (LUFS)")
        low.grid(True, color="#eee", linewidth=0.5)
        low.set_title("響度隨時間（虛線為目標） loudness over time (dashed: targets)")
        self._labels: tuple | None = None
        self.fig.subplots_adjust(left=0.09, right=0.98, top=0.94 if rows == 2 else 0.9,
                                 bottom=0.1 if rows == 2 else 0.16, hspace=0.25)

    def paint(self, source: Curve | None, renditions: list[Series], duration: float, path: Path) -> None:
        for ax in self.axes:
            for artist in [*ax.collections, *ax.lines]:
                artist.remove()
        div, xlabel = _scale(duration)
        if source is not None:
            _waveform(self.axes[0], source, div)
        _loudness(self.axes[-1], source, renditions, div)
        labels = tuple(s.label for s in renditions)
        if labels != self._labels:  # legends keep their own handles: made again only when the labels change
            for ax in self.axes:
                if ax.legend_ is not None:
                    ax.legend_.remove()
            if source is not None:
                self.axes[0].legend(loc="upper right", fontsize=7, frameon=False, ncol=2)
            self.axes[-1].legend(loc="lower center", fontsize=7, frameon=False, ncol=3)
            self._labels = labels
        self.axes[-1].set_xlim(0, duration / div)
        self.axes[-1].set_xlabel(xlabel)
        _save(self.fig, path)


_painters: dict[int, _Painter] = {}


def lesson_picture(source: Curve | None, renditions: list[Series], path: Path) -> None:
    """One lesson's picture: the source's waveform above (when its curve is known), the
    loudness of source and renditions below, on one time axis."""
    duration = max([c.duration_s for c in [source] + [s.curve for s in renditions] if c is not None] + [1e-3])
    source = _reduced(source) if source is not None else None
    renditions = [Series(s.label, _reduced(s.curve), s.target_lufs, s.digest) for s in renditions]
    rows = 2 if source is not None else 1
    if rows not in _painters:
        _painters[rows] = _Painter(rows)
    _painters[rows].paint(source, renditions, duration, path)


def draw_one(job: tuple) -> str:
    """Draw one picture job ``(path, source curve, [Series])`` (in a worker process);
    returns the path."""
    path, source, series = job
    lesson_picture(source, series, Path(path))
    return path


def draw_all(jobs: list[tuple], workers: int) -> int:
    """Draw picture jobs (see :func:`draw_one`), in ``workers`` forked processes when
    there are many (a worker costs little more than its drawing: matplotlib and the
    font are loaded before the fork); returns how many were drawn."""
    if len(jobs) < PARALLEL_FROM or workers <= 1:
        for job in jobs:
            draw_one(job)
        return len(jobs)
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    _pyplot()
    context = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        return sum(1 for _ in pool.map(draw_one, jobs, chunksize=8))
