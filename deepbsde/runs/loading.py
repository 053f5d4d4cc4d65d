"""Loading a saved solve back: inspect Z at new points, re-evaluate, no retraining."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from deepbsde.errors import ParameterError, RunFolderError, error_summary
from deepbsde.runs.config import config_from_mapping, with_earlier_options
from deepbsde.runs.region_run import REGION_KIND
from deepbsde.runs.result import MODEL_FOLDER, read_history
from deepbsde.solver.history import HistoryRecord
from deepbsde.solver.model import DeepBSDEModel, clipped_square_loss
from deepbsde.validation import shown
from equations.base import Equation


class TrainedSolver:
    """A trained deep BSDE model with its equation, as saved by `Result.save` or `deepbsde run`."""

    def __init__(self, summary: dict[str, Any], equation: Equation, model: DeepBSDEModel, loss_clip: float):
        self.summary = summary
        self.equation = equation
        self.model = model
        self.loss_clip = loss_clip
        self.history: list[HistoryRecord] = []

    @property
    def value(self) -> float:
        """The trained Y_0 (result.json's value is the certified bound instead where Y_0 lies beyond it)."""
        return float(self.model.y0.numpy())

    def z(self, step: int, x: np.ndarray) -> np.ndarray:
        """The network's Z at time t_step = step * T / N for points x [batch, d]:
        the estimate of sigma^T grad u(t_step, x). Step 0 is the trained Z_0 (at x0 only)."""
        eq = self.equation
        if not 0 <= step < eq.num_time_interval:
            raise ValueError(f"step must lie in 0..{eq.num_time_interval - 1}, got {step}")
        x = np.atleast_2d(np.asarray(x, dtype=self.model.dtype.as_numpy_dtype))
        if x.shape[1] != eq.dim:
            raise ValueError(f"points must have {eq.dim} coordinates, got shape {x.shape}")
        return self.model.z_at(step, tf.constant(x)).numpy()

    def evaluate(self, batch_size: int = 4096, seed: int = 0) -> dict[str, float]:
        """Loss and mean of Y_N - g(X_N) on fresh paths (batch norm in inference mode)."""
        dw, x = self.equation.sample(batch_size, [seed, 2 ** 40], self.model.dtype)
        delta = self.model.terminal_mismatch(dw, x, training=False)
        return {"loss": float(clipped_square_loss(delta, self.loss_clip * self.model.loss_scale)),
                "mean_mismatch": float(tf.reduce_mean(delta)),
                "batch_size": batch_size}


def load(directory: str | Path) -> TrainedSolver:
    """Reads a folder written by `Result.save` (or by `deepbsde run`).

    A damaged or crafted folder is a RunFolderError naming the file: result.json that is
    not JSON or not a result, a configuration that is invalid or too large for this
    machine (checked before TensorFlow allocates anything), a model that does not restore."""
    directory = Path(directory)
    summary_path = directory / "result.json"
    model_path = directory / MODEL_FOLDER
    if not summary_path.exists() or not model_path.exists():
        raise RunFolderError("load", f"{directory} holds no saved solve (needs result.json and {MODEL_FOLDER}/)")
    try:
        summary = json.loads(summary_path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise RunFolderError(str(summary_path), f"not a readable result ({shown(str(error))})") from None
    if not isinstance(summary, dict) or "config" not in summary:
        raise RunFolderError(str(summary_path), "not a result (no config)")
    if summary.get("kind") == REGION_KIND:
        raise RunFolderError(str(summary_path), "holds a region run: read it with deepbsde.load_region_run, or "
                                                "`deepbsde evaluate DIR --points points.csv`")
    stored = with_earlier_options(summary["config"])
    try:
        config = config_from_mapping(stored)  # also the memory limits
        equation = config.build_equation()
    except ParameterError as error:
        raise RunFolderError(str(summary_path), f"config: {error}") from None
    model = DeepBSDEModel(equation, config.solver, tf.as_dtype(config.solver.dtype))
    try:
        tf.train.Checkpoint(model=model).read(str(model_path / "model")).assert_existing_objects_matched()
    except Exception as error:  # a damaged checkpoint fails in many ways (NotFound, DataLoss, Index, Value...)
        raise RunFolderError(str(model_path), f"the model cannot be restored ({shown(error_summary(error))})"
                             ) from None
    model.match_restored_values()
    solver = TrainedSolver(summary, equation, model, config.solver.loss_clip)
    if (directory / "history.csv").exists():
        solver.history = read_history(directory / "history.csv")
    return solver
