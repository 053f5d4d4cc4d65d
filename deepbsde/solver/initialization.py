"""Problem-adapted starting point of the robust preset, from a cheap pilot simulation.

The paper's set-up starts Y_0 in a hand-set per-equation range, feeds X to
the networks through batch normalisation and divides their output by d.
None of this knows the size of the answer: a user equation with u(0, x0)
of order 10^2 or Z of order 1 starts orders of magnitude away and Adam,
which moves every weight by about the learning rate per step, needs
thousands of steps to get there. Here a few thousand forward paths (no
training, no network) give the scales instead:

- Y_0 from the Z = 0 backward recursion on path means,
  y_N = E g(X_N), y_n = y_{n+1} + dt E f(t_n, X_n, y_{n+1}, 0),
  exact for f = -r y and any g (the discounted Monte Carlo price);
- the size of Y's fluctuations, the standard deviation of the path's
  target G = g(X_N) + sum_n f(t_n, X_n, y_n, 0) dt: along the solution
  G = Y_0 + int_0^T Z dW, so G, not g alone, carries the variation that Z
  must produce (a source in (t, x) with g = 0 puts all of it in f);
- the size of Z per component, from the regression of G on W_T
  (by Ito's isometry E[G W_T] = E int_0^T Z dt) and, where that
  averages out by symmetry, from Var G = E int_0^T |Z|^2 dt spread
  evenly over components and time;
- the mean and standard deviation of every X_n, to normalise the inputs.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from equations.base import Equation

PILOT_STREAM = -2  # second seed word of the pilot paths (training uses steps >= 0, validation -1)
#: The pilot holds at most this many numbers of X (paths x (N + 1) x d), 40 MB in float32.
PILOT_ELEMENTS = 10_000_000
PILOT_PATHS = (256, 4096)  # fewest and most pilot paths


@dataclass(frozen=True)
class PilotScales:
    """Scales of a problem estimated from pilot paths, all float64 numpy.

    y0: starting Y_0; y_scale: typical size of Y fluctuations, the spread of G (> 0);
    z0: starting Z_0 [d]; z_scale: typical size of each Z component [d] (> 0);
    x_mean, x_std: per-step, per-component moments of X_1..X_{N-1} [N-1, 1, d].
    """

    y0: float
    y_scale: float
    z0: np.ndarray
    z_scale: np.ndarray
    x_mean: np.ndarray
    x_std: np.ndarray


def pilot_paths(equation: Equation) -> int:
    """Number of pilot paths: as many as PILOT_ELEMENTS allows, within PILOT_PATHS."""
    per_path = (equation.num_time_interval + 1) * equation.dim
    return int(np.clip(PILOT_ELEMENTS // per_path, *PILOT_PATHS))


def pathwise_targets(equation: Equation, x: tf.Tensor) -> tuple[tf.Tensor, float]:
    """G = g(X_N) + sum_n f(t_n, X_n, y_n, 0) dt on each path of x [N + 1, M, d] (shape [M, 1]), and y_0,
    from the Z = 0 recursion on path means y_N = E g(X_N), y_n = y_{n+1} + dt E f(t_n, X_n, y_{n+1}, 0).

    Var G is the loss of Z = 0 (exactly where f does not depend on y; Var g(X_N) where f(t, x, y, 0) does
    not depend on x either), the yardstick of the networks' fit."""
    terminal = equation.g(x[-1])  # [M, 1]
    y = tf.reduce_mean(terminal)
    target = terminal
    zero_z = tf.zeros_like(x[0])
    for n in reversed(range(equation.num_time_interval)):
        y_paths = tf.fill(tf.shape(terminal), y)
        drift = equation.delta_t * equation.f(n * equation.delta_t, x[n], y_paths, zero_z)
        target = target + drift
        y = y + tf.reduce_mean(drift)
    return target, float(y)


def estimate_scales(equation: Equation, seed: int) -> PilotScales:
    """The scales of `equation` from pilot paths drawn from (seed, PILOT_STREAM), in float64."""
    dw, x = equation.sample(pilot_paths(equation), [seed, PILOT_STREAM], tf.float64)
    target, y0 = pathwise_targets(equation, x)
    spread = float(tf.math.reduce_std(target))
    # Floors keep every scale positive when G is constant across paths (u(0, x0) then comes from f).
    y_scale = max(spread, 1e-3 * abs(y0), 1e-8)
    brownian_end = tf.reduce_sum(dw, axis=0)  # W_T, [M, d]
    centred = target - tf.reduce_mean(target)
    slope = (tf.reduce_mean(centred * brownian_end, axis=0) / equation.total_time).numpy()
    spread_per_component = y_scale / np.sqrt(equation.total_time * equation.dim)
    z_scale = np.sqrt(slope ** 2 + spread_per_component ** 2)
    inner = x[1:-1].numpy()
    x_mean = inner.mean(axis=1, keepdims=True)
    # a component that does not move still needs a finite scale
    x_std = np.maximum(inner.std(axis=1, keepdims=True), 1e-6 * (1.0 + np.abs(x_mean)))
    return PilotScales(y0, y_scale, slope, z_scale, x_mean, x_std)
