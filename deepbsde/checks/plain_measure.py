"""The first-order check of networks trained under the tangent measure: their value under the original one.

Trained under the tangent measure (deepbsde.solver.model.DeepBSDEModel.tangent_paths), an error e of the
networks' Z moves Y_0 only by O(e^2), as it moves the bound and the linearised value of the same networks
(deepbsde.checks.bound): the three then share their error, and for a convex or concave f its side too, so
their agreement confirms nothing. The original measure restores a first-order estimate: on fresh paths of
the forward process itself, the Y_0 at which the scheme's mean mismatch E[Y_N - g(X_N)] with the trained
networks vanishes is off by O(e) (the first-order term that the tangent measure takes out of the loss). A
gap between it and the trained Y_0 beyond the tolerance says that the networks have not found Z, as the
gap between Y_0 and the linearised value says it for networks trained under the original measure.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf

from deepbsde.checks.control_variate import path_chunks
from deepbsde.reference.estimate import Z_95
from deepbsde.solver.model import DeepBSDEModel
from deepbsde.tracing import instance_function
from deepbsde.validation import positive_int
from equations.base import Equation

PLAIN_STREAM = -6  # second seed word of the check's paths
PLAIN_PATHS = 2 ** 14


@dataclass(frozen=True)
class PlainMeasureEstimate:
    """The Y_0 that zeroes the trained scheme's mean mismatch on paths of the original measure: value, its 95%
    half-width (delta method) and paths. An estimate of u(0, x0) with an error of first order in the networks'."""

    value: float
    half_width: float
    paths: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"value": self.value, "half_width": self.half_width, "paths": self.paths}


def plain_measure_value(equation: Equation, model: DeepBSDEModel, *, paths: int = PLAIN_PATHS,
                        seed: int = 0) -> PlainMeasureEstimate:
    """The value of `model`'s networks under the original measure on `paths` fresh paths (module docstring):
    Y_0 - mean(m) / mean(s), m the mismatch Y_N - g(X_N) of each path from the trained Y_0 and s its
    derivative in Y_0 (1 where f does not depend on y), one Newton step on the mean mismatch."""
    paths = positive_int("paths", paths)

    def samples(seed_pair: tf.Tensor, size: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        mismatch, slope = model.mismatch_and_slope(*equation.sample(size, seed_pair, model.dtype))
        return tf.cast(mismatch[:, 0], tf.float64), tf.cast(slope[:, 0], tf.float64)

    call = instance_function(samples, reduce_retracing=True, autograph=False)
    chunks = [call(seed_pair, size) for seed_pair, size in path_chunks(equation, paths, seed, PLAIN_STREAM)]
    mismatch = np.concatenate([m.numpy() for m, _ in chunks])
    slope = np.concatenate([s.numpy() for _, s in chunks])
    mean_slope = float(np.mean(slope))
    shift = float(np.mean(mismatch)) / mean_slope
    # the ratio's noise: mismatch - shift * slope has mean zero, and its spread over the slope is the ratio's
    spread = float(np.std(mismatch - shift * slope, ddof=1)) / abs(mean_slope)
    return PlainMeasureEstimate(float(model.initial_values()[0].numpy()) - shift, Z_95 * spread / np.sqrt(paths), paths)
