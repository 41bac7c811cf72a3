"""The report's pictures, drawn with matplotlib and written by Pillow (the only module
that imports either).

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


def _save(canvas, path: Path) -> None:
    """The canvas's pixels as they are (no new draw) to an RGB PNG at ``path`` (the
    figure is opaque: no alpha channel to store), atomically. Pillow is matplotlib's own
    PNG writer."""
    from PIL import Image
    tmp = path.with_name(f".{path.name}.tmp")
    width, height = canvas.get_width_height(physical=True)
    rgba = Image.frombuffer("RGBA", (width, height), canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
    rgba.convert("RGB").save(tmp, format="png", compress_level=3, dpi=(100, 100))
    os.replace(tmp, path)


def _step_series(curve: Curve, div: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The source's waveform as drawn: block start times (x units) and the peak envelope
    and K-weighted RMS in linear amplitude (full scale 1.0), the last value repeated to
    close the final step."""
    t = np.arange(curve.momentary.size + 1) * curve.step_s / div
    peak = 10 ** (_finite(curve.peak, -120.0) / 20)
    rms = np.minimum(10 ** (_finite(curve.rms, -120.0) / 20), peak)
    return t, np.append(peak, peak[-1:]), np.append(rms, rms[-1:])


def _times(curve: Curve, div: float) -> np.ndarray:
    return np.arange(1, curve.momentary.size + 1) * curve.step_s / div


class _Painter:
    """One figure kept per process and layout (with or without the waveform).

    The waveform shows the source's peak envelope (light) and K-weighted RMS (dark), both
    sides of zero; the loudness plot the source's momentary (thin) and short-term (thick)
    loudness and each rendition's short-term loudness against its target (dashed), LUFS.
    Drawn once and kept: the frame (titles, axis labels, loudness ticks, grid) as a
    background image per time unit (seconds, minutes), the legends as an overlay, the
    data's artists (new data set into them). Each picture restores the background and
    draws on it only what changes (the data, the time axis's ticks, the frame's edges),
    then the legends: the order of a full draw, so the pixels are those of one (within
    1/255 where the legends are laid over), at about a third of the cost."""

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
        self.fig.subplots_adjust(left=0.09, right=0.98, top=0.94 if rows == 2 else 0.9,
                                 bottom=0.1 if rows == 2 else 0.16, hspace=0.25)
        self._labels: tuple | None = None
        self._data: dict = {}
        self._legends: list[tuple[int, int, np.ndarray]] = []
        self._backgrounds: dict[str, object] = {}
        self._time_label = self._still_time_label()
        for ax in self.axes:
            ax.xaxis.set_animated(True)  # its ticks follow the lesson's length
            for spine in ax.spines.values():
                spine.set_animated(True)  # drawn over the data, as in a full draw

    def _still_time_label(self):
        """The time axis's label as a text of the frame: placed once by a first draw (it
        sits under tick labels that are all of one height), then the axes' own labels are
        kept where they are and left empty, so nothing of them is laid out per picture."""
        low = self.axes[-1]
        low.set_xlabel("時間")
        self.fig.canvas.draw()
        label = low.xaxis.label
        still = low.text(*label.get_position(), "")
        still.update_from(label)
        still.set_transform(label.get_transform())
        still.set_clip_on(False)
        for ax in self.axes:
            ax.xaxis.set_label_coords(*ax.xaxis.label.get_position(), transform=ax.xaxis.label.get_transform())
        low.set_xlabel("")
        return still

    def _make_artists(self, labels: tuple[str, ...]) -> None:
        """The data's artists and the legends for renditions labelled ``labels`` (empty
        data, set per picture)."""
        for ax in self.axes:
            for artist in [*ax.collections, *ax.lines]:
                artist.remove()
            if ax.legend_ is not None:
                ax.legend_.remove()
        zero, low = np.zeros(2), self.axes[-1]
        data: dict = {}
        if len(self.axes) == 2:
            wave = self.axes[0]
            data["peak"] = wave.fill_between(zero, zero, zero, step="post", color="#85c1e9", linewidth=0,
                                             label="峰值 peak")
            data["rms"] = wave.fill_between(zero, zero, zero, step="post", color="#1f618d", linewidth=0,
                                            label="均方根 RMS (K)")
            wave.axhline(0, color="#555", linewidth=0.4)
            data["momentary"] = low.plot([], [], color="#aab7b8", linewidth=0.6, label="原始 瞬時 source M")[0]
            data["short_term"] = low.plot([], [], color="#273746", linewidth=1.4, label="原始 短期 source S")[0]
            wave.legend(loc="upper right", fontsize=7, frameon=False, ncol=2)
        data["renditions"] = []
        for i, label in enumerate(labels):
            colour = COLOURS[i % len(COLOURS)]
            line = low.plot([], [], color=colour, linewidth=1.0, label=f"{label} 短期 S")[0]
            data["renditions"].append((line, low.axhline(0, color=colour, linewidth=0.8, linestyle="--")))
        low.legend(loc="lower center", fontsize=7, frameon=False, ncol=3)
        for ax in self.axes:
            for artist in [*ax.collections, *ax.lines, ax.legend_]:
                artist.set_animated(True)
        self._data, self._labels = data, labels
        self._legends = self._legend_layer()

    def paint(self, source: Curve | None, renditions: list[Series], duration: float, path: Path) -> None:
        labels = tuple(s.label for s in renditions)
        if labels != self._labels:
            self._make_artists(labels)
        div, xlabel = _scale(duration)
        data = self._data
        if source is not None:
            t, peak, rms = _step_series(source, div)
            data["peak"].set_data(t, -peak, peak)
            data["rms"].set_data(t, -rms, rms)
            data["momentary"].set_data(_times(source, div), _finite(source.momentary, -60.0))
            data["short_term"].set_data(_times(source, div), _finite(source.short_term, -60.0))
        for (line, target), s in zip(data["renditions"], renditions):
            line.set_data(_times(s.curve, div), _finite(s.curve.short_term, -60.0))
            target.set_ydata([s.target_lufs, s.target_lufs])
        self.axes[-1].set_xlim(0, duration / div)
        canvas = self.fig.canvas
        self._time_label.set_text(xlabel)
        if xlabel not in self._backgrounds:  # one frame per time unit
            canvas.draw()  # all that is not animated: the frame
            self._backgrounds[xlabel] = canvas.copy_from_bbox(self.fig.bbox)
        else:
            canvas.restore_region(self._backgrounds[xlabel])
        for ax in self.axes:
            for artist in sorted((a for a in ax.get_children() if a.get_animated()), key=lambda a: a.zorder):
                if artist is not ax.legend_:
                    ax.draw_artist(artist)
        renderer = canvas.get_renderer()
        for x, y, pixels in self._legends:  # last: their z-order puts them over everything else
            renderer.draw_image(renderer.new_gc(), x, y, pixels)
        _save(canvas, path)

    def _legend_layer(self) -> list[tuple[int, int, np.ndarray]]:
        """The legends alone, drawn on a cleared (transparent) canvas: ``(x, y, RGBA
        pixels)`` per legend, x and y of its bottom left corner in pixels from the canvas's
        bottom left (the canvas is then to be restored from a kept frame or drawn again)."""
        canvas = self.fig.canvas
        renderer = canvas.get_renderer()
        renderer.clear()
        width, height = renderer.width, renderer.height
        layers = []
        for ax in self.axes:
            ax.draw_artist(ax.legend_)
            box = ax.legend_.get_window_extent(renderer)
            x0, y0 = max(int(box.x0) - 2, 0), max(int(box.y0) - 2, 0)
            x1, y1 = min(int(box.x1) + 3, width), min(int(box.y1) + 3, height)
            layers.append((x0, y0, np.asarray(canvas.buffer_rgba())[height - y1:height - y0, x0:x1][::-1].copy()))
        return layers


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


class Drawing:
    """Picture jobs (see :func:`draw_one`) being drawn while the caller goes on: from
    :data:`PARALLEL_FROM` jobs on, in ``workers`` forked processes started at once (a
    worker costs little more than its drawing: matplotlib and the font are loaded before
    the fork); fewer, or one worker, in this process when :meth:`wait` is called. Use it
    as a context manager: leaving it stops the workers (unstarted jobs are dropped)."""

    def __init__(self, jobs: list[tuple], workers: int) -> None:
        self.jobs = jobs
        self._pool = None
        self._results = None
        if len(jobs) >= PARALLEL_FROM and workers > 1:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor
            _pyplot()
            methods = multiprocessing.get_all_start_methods()
            context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
            self._pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
            self._results = self._pool.map(draw_one, jobs, chunksize=8)

    def wait(self) -> int:
        """Draw or wait for every job; returns how many were drawn.

        Raises:
            DangkeError: no CJK font; whatever a worker's drawing raised.
        """
        if self._results is None:
            for job in self.jobs:
                draw_one(job)
        else:
            try:
                for _ in self._results:
                    pass
            finally:
                self.close()
        self._results = iter(())  # drawn: a second wait draws nothing again
        return len(self.jobs)

    def close(self) -> None:
        """Stop the workers (jobs not yet started are dropped)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> "Drawing":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
