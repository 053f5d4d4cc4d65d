"""Training curves, and functions along a line through a region, as PNGs."""
from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import LogFormatter

from deepbsde.runs.files import atomic_write
from deepbsde.solver.history import HistoryRecord

FIGURE_SIZE = (10.0, 4.0)  # inches; at DPI this is a 1000 x 400 pixel image
DPI = 100
#: fixed margins of the training curves (fractions of the figure) instead of tight_layout, and tick labels on the
#: log axis without mathtext (whose parser is built on first use): the plot, which every run of the command
#: draws, took 0.26-0.43 s in a fresh process and takes 0.14-0.16 s (three runs each)
HISTORY_MARGINS = {"left": 0.09, "right": 0.98, "bottom": 0.12, "top": 0.84, "wspace": 0.3}


def plot_history(history: Sequence[HistoryRecord], path: str | Path, title: str,
                 reference: float | None = None, half_width: float | None = None) -> Path:
    """Validation loss (log scale) and Y_0 against the step, with the reference line
    (and its confidence band when it is an estimate)."""
    steps = [r.step for r in history]
    # a Figure with its own Agg canvas: no pyplot, so no global backend choice and no display needed
    figure = Figure(figsize=FIGURE_SIZE, dpi=DPI)
    FigureCanvasAgg(figure)
    loss_axis, value_axis = figure.subplots(1, 2)
    loss_axis.semilogy(steps, [r.loss for r in history], color="tab:blue")
    loss_axis.yaxis.set_major_formatter(LogFormatter())
    loss_axis.yaxis.set_minor_formatter(LogFormatter(labelOnlyBase=False))  # labels within a decade
    loss_axis.set(xlabel="iteration", ylabel="validation loss", title="loss")
    value_axis.plot(steps, [r.value for r in history], color="tab:orange", label="Y0 (deep BSDE)")
    if reference is not None:
        value_axis.axhline(reference, color="black", linestyle="--", linewidth=1, label="reference")
        if half_width:
            value_axis.axhspan(reference - half_width, reference + half_width, color="grey", alpha=0.3,
                               label="95% interval")
    value_axis.set(xlabel="iteration", ylabel="u(0, x0)", title="value")
    value_axis.legend(loc="best")
    figure.suptitle(title)
    figure.subplots_adjust(**HISTORY_MARGINS)
    image = io.BytesIO()
    figure.savefig(image, format="png", dpi=DPI)
    atomic_write(path, image.getvalue())
    return Path(path)


@dataclass(frozen=True)
class PointSeries:
    """Points with 95% half-widths (or None) for `plot_along_line`."""

    positions: Sequence[float]
    values: Sequence[float]
    half_widths: Sequence[float] | None
    label: str


def plot_along_line(path: str | Path, title: str, xlabel: str, ylabel: str, positions: Sequence[float],
                    curve: Sequence[float], curve_label: str, points: Sequence[PointSeries] = ()) -> Path:
    """A function along a line through a region (e.g. u(0, a + t (b - a)) against t) as a curve, with
    points (references, estimates) and their intervals as error bars; written atomically as a PNG."""
    figure = Figure(figsize=(6.0, 4.0), dpi=DPI)
    FigureCanvasAgg(figure)
    axis = figure.subplots()
    axis.plot(positions, curve, color="tab:blue", label=curve_label)
    for series, marker in zip(points, "os^dv"):
        axis.errorbar(series.positions, series.values, yerr=series.half_widths, fmt=marker, markersize=4,
                      capsize=3, fillstyle="none", label=series.label)
    axis.set(xlabel=xlabel, ylabel=ylabel, title=title)
    axis.legend(loc="best")
    figure.tight_layout()
    image = io.BytesIO()
    figure.savefig(image, format="png", dpi=DPI)
    atomic_write(path, image.getvalue())
    return Path(path)
