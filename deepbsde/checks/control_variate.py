"""Monte Carlo price and Z_0 of a linear equation with the trained Z as control variate.

For f = -r y and any adapted Z, e^{-rT} g(X_T) - sum_n D_n Z_n . dW_n has
mean u(0, x0): each Z_n . dW_n has mean zero. With the trained networks as
Z this is an unbiased Monte Carlo price whose variance shrinks as the
networks improve, with a 95% interval that does not depend on them being
right (Sabate Vidales, Siska, Szpruch, arXiv 1810.05094). D_n =
(1 + r dt)^-(n+1) are the scheme's discount factors, the weights with which
the trained Z_n enter its Y_0, so the same Z that makes the scheme's Y_N
match g cancels the noise of the price best.

The same paths give Z_0 = sigma^T grad u(0, x0) by regression on dW_0:
E[R dW_0] / dt = Z_0 for R = e^{-rT} g(X_T) - sum_{n >= 1} D_n Z_n . dW_n
(the n >= 1 terms are uncorrelated with dW_0). Subtracting the trained
Y_0 + Z_0 . dW_0 from R (whose product with dW_0 has the known mean Z_0 dt)
leaves only the networks' error as noise, per component.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf

from deepbsde.solver.model import DeepBSDEModel
from equations.base import Equation

CV_STREAM = -3  # second seed word of the control-variate paths
CV_PATHS = 2 ** 17
CHUNK_ELEMENTS = 4_000_000  # numbers of X per chunk (paths x (N + 1) x d)


@dataclass(frozen=True)
class ControlVariateEstimate:
    """Price and Z_0 from fresh paths, with 95% half-widths.

    variance_ratio: Var of the control-variate price samples over Var of
    e^{-rT} g(X_T), i.e. how much of the payoff's noise the trained Z removes.
    gradient, gradient_half_widths: grad u(0, x0) (deltas) and their
    half-widths when a linear map from Z_0 to the gradient was given.
    """

    value: float
    half_width: float
    z0: np.ndarray
    z0_half_widths: np.ndarray
    variance_ratio: float
    paths: int
    gradient: np.ndarray | None = None
    gradient_half_widths: np.ndarray | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        def listed(values: np.ndarray | None) -> list[float] | None:
            return None if values is None else [float(v) for v in values]

        return {"value": self.value, "half_width": self.half_width, "z0": listed(self.z0),
                "z0_half_widths": listed(self.z0_half_widths), "variance_ratio": self.variance_ratio,
                "paths": self.paths, "gradient": listed(self.gradient),
                "gradient_half_widths": listed(self.gradient_half_widths)}


def control_variate_estimate(equation: Equation, model: DeepBSDEModel, rate: float, *, paths: int = CV_PATHS,
                             seed: int = 0, gradient_map: np.ndarray | None = None) -> ControlVariateEstimate:
    """The control-variate price and Z_0 regression of `model` (a trained DeepBSDEModel).

    rate: r of f = -r y (deepbsde.reference.resolve.linear_rate). gradient_map: the matrix A with
    grad u(0, x0) = A Z_0 (the process's gradient_from_z), to report deltas too.
    """
    eq = equation
    chunk = int(np.clip(CHUNK_ELEMENTS // ((eq.num_time_interval + 1) * eq.dim), 256, paths))
    steps = eq.num_time_interval
    weights = tf.constant((1.0 + rate * eq.delta_t) ** -np.arange(1, steps + 1), tf.float64)[:, None]
    y0 = float(model.y0.numpy())
    z0 = model.z0.numpy().reshape(-1).astype(np.float64)
    sums: dict[str, Any] = {"price": 0.0, "price2": 0.0, "g": 0.0, "g2": 0.0,
            "z": np.zeros(eq.dim), "z2": np.zeros(eq.dim)}
    if gradient_map is not None:
        sums.update(grad=np.zeros(eq.dim), grad2=np.zeros(eq.dim))
    done = index = 0
    while done < paths:
        size = min(chunk, paths - done)
        dw, x = eq.sample(size, [seed * 2 ** 20 + index, CV_STREAM], model.dtype)
        z = model.z_all_steps(x, training=False)
        increments = tf.cast(tf.reduce_sum(z * dw, axis=2), tf.float64)  # [N, batch]
        discounted = np.exp(-rate * eq.total_time) * tf.cast(eq.g(x[-1])[:, 0], tf.float64)
        later = tf.reduce_sum(weights[1:] * increments[1:], axis=0)
        price = (discounted - later - weights[0] * increments[0]).numpy()
        dw0 = tf.cast(dw[0], tf.float64).numpy()
        residual = (discounted - later).numpy() - y0 - dw0 @ z0
        z_samples = z0 + residual[:, None] * dw0 / eq.delta_t
        for key, values in (("price", price), ("g", discounted.numpy()), ("z", z_samples)):
            sums[key] = sums[key] + values.sum(axis=0)
            sums[key + "2"] = sums[key + "2"] + np.square(values).sum(axis=0)
        if gradient_map is not None:
            gradients = z_samples @ gradient_map.T
            sums["grad"] += gradients.sum(axis=0)
            sums["grad2"] += np.square(gradients).sum(axis=0)
        done += size
        index += 1

    def mean_and_half_width(key: str) -> tuple[Any, Any, Any]:
        mean = sums[key] / paths
        variance = np.maximum(sums[key + "2"] / paths - np.square(mean), 0.0) * paths / (paths - 1)
        return mean, 1.96 * np.sqrt(variance / paths), variance

    value, half_width, price_variance = mean_and_half_width("price")
    _, _, payoff_variance = mean_and_half_width("g")
    z_mean, z_half, _ = mean_and_half_width("z")
    gradient = gradient_half = None
    if gradient_map is not None:
        gradient, gradient_half, _ = mean_and_half_width("grad")
    ratio = float(price_variance / payoff_variance) if payoff_variance > 0 else 0.0
    return ControlVariateEstimate(float(value), float(half_width), z_mean, z_half, ratio, paths,
                                  gradient, gradient_half)
