"""Training curves as a PNG."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")  # files only, no display needed
import matplotlib.pyplot as plt  # noqa: E402

from deepbsde.result import HistoryRecord  # noqa: E402

FIGURE_SIZE = (10.0, 4.0)  # inches; at DPI this is a 1000 x 400 pixel image
DPI = 100


def plot_history(history: Sequence[HistoryRecord], path: str | Path, title: str,
                 reference: float | None = None, half_width: float | None = None) -> Path:
    """Validation loss (log scale) and Y_0 against the step, with the reference line
    (and its confidence band when it is an estimate)."""
    steps = [r.step for r in history]
    figure, (loss_axis, value_axis) = plt.subplots(1, 2, figsize=FIGURE_SIZE, dpi=DPI)
    loss_axis.semilogy(steps, [r.loss for r in history], color="tab:blue")
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
    figure.tight_layout()
    figure.savefig(path, dpi=DPI)
    plt.close(figure)
    return Path(path)
