"""Multilevel Picard (MLP) references for semilinear PDEs with gradient-free f.

For u_t + L u + f(t, x, u) = 0, u(T, x) = g(x), with L the generator of the
equation's forward process X (Hutzenthaler, Jentzen, Kruse et al.,
arXiv 1607.03295; docs/method.md):

    U_0 = 0,
    U_n(t, x) = M^-n sum_{i <= M^n} g(X^i_T)
              + sum_{l=0}^{n-1} M^-(n-l) sum_{i <= M^(n-l)} (T - t)
                [f(R_i, X^i_{R_i}, U_l(R_i, X^i_{R_i})) - 1_{l>0} f(R_i, X^i_{R_i}, U_{l-1}(R_i, X^i_{R_i}))],

with X^i started at x at time t, R_i uniform on (t, T), and fresh independent
samples in every recursive call (U_l and U_{l-1} included). X is sampled
exactly: x + mu (s - t) + sigma W for a scaled Brownian motion, the
log-normal transition for a geometric one.

The recursion is evaluated for a whole batch of points at once: a call of
U_l on B points draws B * M^(l-k) points for level k and passes them to
U_k and U_(k-1) in one batched call each, so the work is a few dozen large
tensor operations instead of (3M)^n scalar calls. Batches above a memory
bound are split.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf
from scipy.special import stdtrit

from deepbsde.errors import ParameterError
from deepbsde.reference.estimate import Estimate
from deepbsde.validation import finite, float_dtype, integer, positive_int, vector
from equations.base import Equation
from equations.processes import GeometricBrownianMotion, ScaledBrownianMotion

MAX_ELEMENTS = 2 ** 22  # bound on points * d per batched call (32 MiB in float64)


def _transition(process: Any, x: tf.Tensor, dt: tf.Tensor, normals: tf.Tensor) -> tf.Tensor:
    """X_{t+dt} given X_t = x [B, d], for dt [B, 1] and standard normals [B, d]."""
    if isinstance(process, ScaledBrownianMotion):
        return x + process.drift_rate * dt + process.volatility * tf.sqrt(dt) * normals
    if isinstance(process, GeometricBrownianMotion):
        mu, vol = tf.constant(process.drift_rate, x.dtype), tf.constant(process.volatility, x.dtype)
        return x * tf.exp((mu - 0.5 * vol ** 2) * dt + vol * tf.sqrt(dt) * process.correlate(normals))
    raise ParameterError("equation", f"MLP has no exact sampler for the process {type(process).__name__}")


def _check_gradient_free(equation: Equation, dtype: tf.DType) -> None:
    """MLP here drops Z: refuse generators that depend on it."""
    x = tf.constant(equation.x0[np.newaxis], dtype)
    y = tf.ones([1, 1], dtype)
    z = tf.random.stateless_normal([1, equation.dim], seed=[0, 0], dtype=dtype)
    if not np.allclose(equation.f(0.0, x, y, tf.zeros_like(z)).numpy(), equation.f(0.0, x, y, z).numpy()):
        raise ParameterError("equation", f"'{equation.name}' has a generator f that depends on z; "
                                         "this MLP handles gradient-free f only")


class _Picard:
    """U_n of one equation, drawing its randomness from one generator."""

    def __init__(self, equation: Equation, samples: int, generator: tf.random.Generator, dtype: tf.DType):
        self.equation, self.samples, self.generator, self.dtype = equation, samples, generator, dtype
        self.total_time = tf.constant(equation.total_time, dtype)

    def __call__(self, level: int, t: tf.Tensor, x: tf.Tensor) -> tf.Tensor:
        """U_level at the points (t [B, 1], x [B, d]), as [B, 1]."""
        if level == 0:
            return tf.zeros_like(t)
        rows = max(1, MAX_ELEMENTS // (self.samples ** level * self.equation.dim))
        if t.shape[0] > rows:  # split so no call below this one exceeds the memory bound
            return tf.concat([self(level, t[i:i + rows], x[i:i + rows]) for i in range(0, t.shape[0], rows)], 0)
        tau = self.total_time - t
        x_terminal = self._step(x, tau, self.samples ** level)
        value = self._mean(self.equation.g(x_terminal), self.samples ** level)
        for lower in range(level):
            copies = self.samples ** (level - lower)
            start, x_start, tau_start = (tf.repeat(v, copies, axis=0) for v in (t, x, tau))
            offset = tau_start * self.generator.uniform(tf.shape(tau_start), dtype=self.dtype)
            r, x_r = start + offset, self._step(x_start, offset, 1)
            z = tf.zeros_like(x_r)  # f is gradient-free
            increment = self.equation.f(r, x_r, self(lower, r, x_r), z)
            if lower > 0:
                increment -= self.equation.f(r, x_r, self(lower - 1, r, x_r), z)
            value += tau * self._mean(increment, copies)
        return value

    def _step(self, x: tf.Tensor, dt: tf.Tensor, copies: int) -> tf.Tensor:
        """`copies` independent samples of X_{t+dt} per row of x, as [B * copies, d]."""
        x, dt = tf.repeat(x, copies, axis=0), tf.repeat(dt, copies, axis=0)
        return _transition(self.equation.process, x, dt, self.generator.normal(tf.shape(x), dtype=self.dtype))

    @staticmethod
    def _mean(values: tf.Tensor, copies: int) -> tf.Tensor:
        """Mean over consecutive groups of `copies` rows: [B * copies, 1] -> [B, 1]."""
        return tf.reduce_mean(tf.reshape(values, [-1, copies]), axis=1, keepdims=True)


def multilevel_picard(equation: Equation, *, levels: int = 5, samples: int = 5, repetitions: int = 10,
                      seed: int = 0, t: float = 0.0, x: Any = None, dtype: tf.DType = tf.float64) -> Estimate:
    """u(t, x) (default u(0, x0)) by `repetitions` independent MLP approximations U_n.

    levels is n and samples is M in U_{n, M}; the cost grows like (3M)^n and
    the error falls like M^(-n/2). The value is the mean of the repetitions
    and the half-width the Student-t 95% half-width of that mean. The same
    seed gives the same numbers; repetition k is the same for any
    repetitions > k.
    """
    levels, samples = positive_int("levels", levels), positive_int("samples", samples)
    repetitions = positive_int("repetitions", repetitions, minimum=2)
    seed, dtype = integer("seed", seed), float_dtype("dtype", dtype)
    t = finite("t", t)
    if not t < equation.total_time:
        raise ParameterError("t", f"must be before total_time = {equation.total_time}, got {t}")
    point = equation.x0 if x is None else vector("x", x, equation.dim)
    _check_gradient_free(equation, dtype)

    picard = _Picard(equation, samples, tf.random.Generator.from_seed(seed), dtype)
    t_batch, x_batch = tf.fill([1, 1], tf.constant(t, dtype)), tf.constant(point[np.newaxis], dtype)
    values = np.array([float(picard(levels, t_batch, x_batch)[0, 0]) for _ in range(repetitions)])
    half_width = stdtrit(repetitions - 1, 0.975) * values.std(ddof=1) / np.sqrt(repetitions)
    return Estimate(float(values.mean()), float(half_width), repetitions, f"mlp (M={samples}, n={levels})")
