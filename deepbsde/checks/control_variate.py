"""Monte Carlo estimates on fresh paths with the trained networks as control variates.

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

The deltas grad u(0, x0) come from the pathwise derivatives of the same
samples in x0: d/dx0 of e^{-rT} g(X_T) has mean grad u (g Lipschitz), and
d/dx0 of the Z sum has mean zero, so it serves as the control, with a
coefficient fitted per component. The regression on dW_0 is far noisier
there: its noise grows with d (the worst of 100 max-call deltas 45% off against
3.9% for the pathwise estimate, from 2^19 paths each).

For a region solve (deepbsde.solver.region) the same price samples are
functions of the start x and the parameters p, with mean u(0, x; p) for every
(x, p), so their pathwise derivatives (automatic differentiation through the
paths, the payoff and the networks, Z_0 = sigma^T grad_x U included) have
mean grad_x u and grad_p u: the pathwise Monte Carlo sensitivities with the
derivatives of the control variate, which remove their noise as the networks
improve (`RegionControlVariate`, vectorised over many points). There each
output is the target (the discounted payoff, or its derivative) minus a
multiple c of its control (the Z sum, or its derivative), c fitted per point
and output (`ControlledMoments`): where a network's derivative is poor (the
deltas of an asset far below the others) c shrinks and the interval stays
that of plain pathwise Monte Carlo instead of growing. For a nonlinear region
problem the target is g(X_N) + sum_n f dt along the trained scheme: an estimate,
off by the networks' error inside f (`RegionControlVariate`).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf

from deepbsde.errors import ParameterError
from deepbsde.reference.estimate import Z_95, RunningMoments
from deepbsde.solver.model import DeepBSDEModel
from deepbsde.solver.region import RegionModel
from deepbsde.tracing import instance_function
from deepbsde.validation import positive_int
from equations.base import Equation

CV_STREAM = -3  # second seed word of the control-variate paths
CV_PATHS = 2 ** 17
CHUNK_ELEMENTS = 4_000_000  # numbers of X per chunk (paths x (N + 1) x d)


def discount_weights(rate: Any, delta_t: float, steps: int) -> Any:
    """The scheme's discount factors D_n = (1 + r dt)^-(n+1), n = 0..N-1: shape [N, 1] for a number r,
    [N, batch] for rates [batch]."""
    exponents = np.arange(1.0, steps + 1.0).reshape(steps, 1)
    return (1.0 + rate * delta_t) ** -exponents


def weighted_z_sum(z: tf.Tensor, dw: tf.Tensor, weights: Any) -> tf.Tensor:
    """The control sum_n D_n Z_n . dW_n per path, [batch]: z, dw [N, batch, d], weights [N, batch], [N, 1] or 1."""
    return tf.reduce_sum(weights * tf.reduce_sum(z * dw, axis=2), axis=0)


class Moments:
    """Mean and 95% half-width per group of a stream of samples (`RunningMoments`, merged per call).

    add(samples) takes samples [groups, m, ...] (m samples of each group).
    """

    def __init__(self) -> None:
        self.running = RunningMoments()

    def add(self, samples: Any) -> None:
        """Adds m samples of every group, samples [groups, m, ...]."""
        values = np.asarray(samples, np.float64)
        mean = values.mean(axis=1)
        self.running.merge(values.shape[1], mean, np.square(values - mean[:, np.newaxis]).sum(axis=1))

    @property
    def count(self) -> int:
        """Samples per group so far."""
        return self.running.count

    @property
    def mean(self) -> np.ndarray:
        """Sample mean per group, [groups, ...]."""
        return self.running.mean

    @property
    def variance(self) -> np.ndarray:
        """Unbiased sample variance per group."""
        return self.running.m2 / (self.count - 1)

    @property
    def half_width(self) -> np.ndarray:
        """95% half-width of the mean per group (normal approximation)."""
        return self.running.half_width()


class ControlledMoments:
    """Running sums of a target A and a mean-zero control B per group: the estimate mean(A) - c mean(B)
    with the coefficient c = Cov(A, B) / Var(B) fitted per group and component.

    The fitted c makes the estimate's variance Var(A) (1 - corr(A, B)^2), never above plain Monte
    Carlo's; its bias is of order 1 / samples, far inside the half-width.
    add(targets, controls) takes samples [groups, m, ...].
    """

    def __init__(self) -> None:
        self.target, self.control, self.product = Moments(), Moments(), Moments()

    def add(self, targets: Any, controls: Any) -> None:
        """Adds m samples of every group."""
        targets, controls = np.asarray(targets, np.float64), np.asarray(controls, np.float64)
        self.target.add(targets)
        self.control.add(controls)
        self.product.add(targets * controls)

    @property
    def covariance(self) -> np.ndarray:
        """Sample covariance of A and B per group."""
        count = self.target.count
        return (self.product.mean - self.target.mean * self.control.mean) * count / (count - 1)

    @property
    def coefficient(self) -> np.ndarray:
        """c = Cov(A, B) / Var(B), 0 where B is constant."""
        variance = self.control.variance
        return np.where(variance > 0, self.covariance / np.where(variance > 0, variance, 1.0), 0.0)

    @property
    def mean(self) -> np.ndarray:
        """mean(A) - c mean(B) per group."""
        return self.target.mean - self.coefficient * self.control.mean

    @property
    def variance(self) -> np.ndarray:
        """Variance of A - c B per sample: Var(A) - c Cov(A, B)."""
        return np.maximum(self.target.variance - self.coefficient * self.covariance, 0.0)

    @property
    def half_width(self) -> np.ndarray:
        """95% half-width of the estimate per group."""
        return Z_95 * np.sqrt(self.variance / self.target.count)


@dataclass(frozen=True)
class ControlVariateEstimate:
    """Price and Z_0 from fresh paths, with 95% half-widths.

    variance_ratio: Var of the control-variate price samples over Var of
    e^{-rT} g(X_T), i.e. how much of the payoff's noise the trained Z removes.
    gradient, gradient_half_widths: grad u(0, x0) (deltas) and their
    half-widths, by the pathwise estimate, when asked for;
    gradient_variance_ratios: per component, the variance of that estimate
    over plain pathwise Monte Carlo's (what the networks' derivatives remove).
    """

    value: float
    half_width: float
    z0: np.ndarray
    z0_half_widths: np.ndarray
    variance_ratio: float
    paths: int
    gradient: np.ndarray | None = None
    gradient_half_widths: np.ndarray | None = None
    gradient_variance_ratios: np.ndarray | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        def listed(values: np.ndarray | None) -> list[float] | None:
            return None if values is None else [float(v) for v in values]

        return {"value": self.value, "half_width": self.half_width, "z0": listed(self.z0),
                "z0_half_widths": listed(self.z0_half_widths), "variance_ratio": self.variance_ratio,
                "paths": self.paths, "gradient": listed(self.gradient),
                "gradient_half_widths": listed(self.gradient_half_widths),
                "gradient_variance_ratios": listed(self.gradient_variance_ratios)}


def _variance_ratio(variance: np.ndarray, payoff_variance: np.ndarray) -> np.ndarray:
    """Var of the control-variate price over Var of the discounted payoff, per group (0 for a constant payoff)."""
    return np.where(payoff_variance > 0, variance / np.where(payoff_variance > 0, payoff_variance, 1.0), 0.0)


class _PathSamples:
    """Per-path samples of a trained single-point model on fresh paths, one compiled call per chunk.

    Returns the discounted payoff A = e^{-rT} g(X_T), the control B = sum_n D_n Z_n . dW_n,
    B's first term D_0 Z_0 . dW_0 (all [batch]) and dW_0 [batch, d], and, with `gradient`, the pathwise
    derivatives dA / dx0 and dB / dx0 [batch, d]: every path starts at its own copy of x0, so the
    derivative of the sum over the batch in that copy is the path's own. B has mean zero for every
    start (Z_0 is a constant, Z_n an adapted function of X_n), so dB / dx0 has mean zero too and is a
    control variate of the pathwise delta dA / dx0; it removes the noise the networks' second
    derivatives (the gamma along the path) can explain.
    """

    def __init__(self, equation: Equation, model: DeepBSDEModel, rate: float, gradient: bool):
        self.equation, self.model, self.gradient = equation, model, gradient
        self.discount = float(np.exp(-rate * equation.total_time))
        self.weights = tf.constant(discount_weights(rate, equation.delta_t, equation.num_time_interval), tf.float64)
        self.call = instance_function(self._samples, reduce_retracing=True, autograph=False)

    def _samples(self, seed: tf.Tensor, size: tf.Tensor) -> dict[str, tf.Tensor]:
        eq, model = self.equation, self.model
        dw = eq.process.brownian_increments(size, seed, model.dtype)
        x0 = tf.broadcast_to(tf.constant(eq.x0, model.dtype), tf.shape(dw)[1:])
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x0)
            x = eq.process.paths_from_increments(dw, x0)
            z = tf.cast(model.z_all_steps(x, training=False), tf.float64)
            target = self.discount * tf.cast(eq.g(x[-1])[:, 0], tf.float64)
            dw64 = tf.cast(dw, tf.float64)
            control = weighted_z_sum(z, dw64, self.weights)
            totals = [tf.reduce_sum(target), tf.reduce_sum(control)]
        samples = {"target": target, "control": control, "dw0": dw64[0],
                   "first_term": self.weights[0, 0] * tf.reduce_sum(z[0] * dw64[0], axis=1)}
        if self.gradient:
            samples["target_x0"], samples["control_x0"] = (
                tf.cast(tape.gradient(total, x0, unconnected_gradients=tf.UnconnectedGradients.ZERO), tf.float64)
                for total in totals)
        return samples


def path_chunks(equation: Equation, paths: int, seed: int, stream: int) -> Iterator[tuple[tf.Tensor, tf.Tensor]]:
    """(seed pair, size) of each chunk of `paths` fresh paths of a single-point equation: chunks of at most
    CHUNK_ELEMENTS numbers of X (at least 256 paths), chunk k drawn from the pair (seed 2^20 + k, stream)."""
    chunk = int(np.clip(CHUNK_ELEMENTS // ((equation.num_time_interval + 1) * equation.dim), 256, paths))
    done = index = 0
    while done < paths:
        size = min(chunk, paths - done)
        yield tf.constant([seed * 2 ** 20 + index, stream], tf.int64), tf.constant(size, tf.int32)
        done += size
        index += 1


def control_variate_estimate(equation: Equation, model: DeepBSDEModel, rate: float, *, paths: int = CV_PATHS,
                             seed: int = 0, gradient: bool = False) -> ControlVariateEstimate:
    """The control-variate price and Z_0 regression of `model` (a trained DeepBSDEModel).

    rate: r of f = -r y (deepbsde.reference.resolve.linear_rate). gradient: also grad u(0, x0) (the
    deltas) by the pathwise estimate dA / dx0 - c dB / dx0 (`_PathSamples`) with c fitted per
    component (`ControlledMoments`); it needs g Lipschitz (every payoff of deepbsde.finance is).
    """
    eq = equation
    sampler = _PathSamples(eq, model, rate, gradient)
    y0 = float(model.y0.numpy())
    z0 = model.z0.numpy().reshape(-1).astype(np.float64)
    moments = {key: Moments() for key in ("price", "g", "z")}
    gradient_moments = ControlledMoments()
    for seed_pair, size in path_chunks(eq, paths, seed, CV_STREAM):
        samples = {key: value.numpy() for key, value in sampler.call(seed_pair, size).items()}
        price = samples["target"] - samples["control"]
        dw0 = samples["dw0"]
        # R - Y_0 - Z_0 . dW_0 with R the price without its n = 0 term
        residual = price + samples["first_term"] - y0 - dw0 @ z0
        moments["price"].add(price[np.newaxis])
        moments["g"].add(samples["target"][np.newaxis])
        moments["z"].add((z0 + residual[:, None] * dw0 / eq.delta_t)[np.newaxis])
        if gradient:
            gradient_moments.add(samples["target_x0"][np.newaxis], samples["control_x0"][np.newaxis])
    price_ratio = float(_variance_ratio(moments["price"].variance, moments["g"].variance)[0])
    estimate = ControlVariateEstimate(float(moments["price"].mean[0]), float(moments["price"].half_width[0]),
                                      moments["z"].mean[0], moments["z"].half_width[0], price_ratio, paths)
    if not gradient:
        return estimate
    return dataclasses.replace(
        estimate, gradient=gradient_moments.mean[0], gradient_half_widths=gradient_moments.half_width[0],
        gradient_variance_ratios=_variance_ratio(gradient_moments.variance, gradient_moments.target.variance)[0])


@dataclass(frozen=True)
class PointwiseEstimate:
    """`RegionControlVariate.estimate` at n points: means and 95% half-widths.

    value [n]: u(0, x; p); gradient [n, d]: grad_x u; sensitivities [n, k]:
    grad_p u (columns in the order of the problem's parameter names);
    variance_ratio [n]: the value's variance over that of its target alone
    (the noise the networks leave); paths: per point. unbiased: True for a
    linear equation (the intervals cover the truth whatever the networks); for
    a nonlinear one the generator's terms use the networks' Y and Z, so the
    mean carries their error there and the intervals cover only the Monte Carlo noise.
    """

    value: np.ndarray
    value_half_widths: np.ndarray
    gradient: np.ndarray
    gradient_half_widths: np.ndarray
    sensitivities: np.ndarray
    sensitivity_half_widths: np.ndarray
    variance_ratio: np.ndarray
    paths: int
    unbiased: bool = True


class RegionControlVariate:
    """Value, gradient and parameter sensitivities of a region problem at many points, by Monte Carlo
    from each point with a trained RegionModel's Z as control variate: a target A whose mean is u(0, x; p),
    the control B = sum_n D_n Z_n . dW_n (mean zero), and for the sensitivities their pathwise
    derivatives in x and p (B's again of mean zero), each combined as ControlledMoments does.

    Linear problems (f = -r(p) y, `discount_rate` not None): A = e^{-rT} g(X_T) with the scheme's
    discount factors D_n, unbiased. Otherwise A = g(X_N) + sum_n f(t_n, X_n, Y_n, Z_n) dt with Y_n, Z_n
    of the trained scheme along the path, D_n = 1 (A - B = Y_0 + g(X_N) - Y_N): u(0, x) = E[g(X_T) +
    int f ds] holds for the true Y, Z, so the mean is off by the networks' error inside f only, and
    the gradient is the pathwise derivative of g(X_T), exact Monte Carlo, plus that of the f terms.
    """

    def __init__(self, model: RegionModel):
        self.model = model
        self.problem = model.problem
        self._chunk = instance_function(self._samples, reduce_retracing=True)

    def _samples(self, x0: tf.Tensor, p: tf.Tensor, seed: tf.Tensor) -> tuple[tf.Tensor, ...]:
        """A and B [batch], their derivatives in x0 [batch, d] and in p [batch, k], per path."""
        problem, model = self.problem, self.model
        dw = problem.increments(tf.shape(x0)[0], seed, x0.dtype)
        with tf.GradientTape(persistent=True) as tape:
            tape.watch([x0, p])
            x = problem.paths(dw, x0, p)
            rate = problem.discount_rate(p)
            if rate is None:
                y0, z, y_end = model.recursion(dw, x, p, training=False)
                control = weighted_z_sum(z, dw, 1.0)
                target = (problem.g(x[-1], p) + y0 - y_end)[:, 0] + control
            else:
                _, z = model.y0_and_z(x, p, training=False)
                weights = discount_weights(rate[:, 0], problem.delta_t, problem.num_time_interval)
                target = tf.exp(-rate[:, 0] * problem.total_time) * problem.g(x[-1], p)[:, 0]
                control = weighted_z_sum(z, dw, weights)
            sums = [tf.reduce_sum(target), tf.reduce_sum(control)]
        zero = tf.UnconnectedGradients.ZERO
        by_x = [tape.gradient(total, x0, unconnected_gradients=zero) for total in sums]
        by_p = [tape.gradient(total, p, unconnected_gradients=zero) for total in sums]
        return target, control, by_x[0], by_x[1], by_p[0], by_p[1]

    def estimate(self, x0: np.ndarray, p: np.ndarray, *, paths: int = CV_PATHS, seed: int = 0) -> PointwiseEstimate:
        """u, grad_x u and grad_p u at points x0 [n, d] with parameters p [n, k], from `paths` fresh paths
        per point (seeded by seed), with 95% half-widths."""
        moments = {key: ControlledMoments() for key in ("value", "x", "p")}
        for grouped in pointwise_samples(self._chunk, self.model, x0, p, paths, seed):
            for position, key in enumerate(("value", "x", "p")):
                moments[key].add(grouped[2 * position], grouped[2 * position + 1])
        value = moments["value"]
        linear = self.problem.discount_rate(tf.zeros([1, self.problem.parameters.count], self.model.dtype)) is not None
        return PointwiseEstimate(value.mean, value.half_width, moments["x"].mean, moments["x"].half_width,
                                 moments["p"].mean, moments["p"].half_width,
                                 _variance_ratio(value.variance, value.target.variance), paths, linear)


def pointwise_samples(chunk: Callable[..., Any], model: RegionModel, x0: np.ndarray, p: np.ndarray, paths: int,
                      seed: int) -> Iterator[list[np.ndarray]]:
    """The per-path samples of chunk(x0 [n m, d], p [n m, k], seed pair) for `paths` paths per point, a chunk
    at a time, each output reshaped to [n, m, ...] (point-major; m paths of each point per chunk)."""
    problem = model.problem
    paths = positive_int("paths", paths)
    if paths < 2:
        raise ParameterError("paths", f"must be at least 2, got {paths}")
    points = len(x0)
    per_chunk = int(np.clip(CHUNK_ELEMENTS // ((problem.num_time_interval + 1) * problem.dim * points), 16, paths))
    x0_tensor = tf.constant(np.repeat(x0, per_chunk, axis=0), model.dtype)  # point-major: [n * m, d]
    p_tensor = tf.constant(np.repeat(p, per_chunk, axis=0), model.dtype)
    done = index = 0
    while done < paths:
        size = min(per_chunk, paths - done)
        if size < per_chunk:  # the last chunk: keep the first `size` paths of each point
            keep = np.tile(np.arange(size), points) + np.repeat(np.arange(points) * per_chunk, size)
            x0_tensor, p_tensor = tf.gather(x0_tensor, keep), tf.gather(p_tensor, keep)
        samples = chunk(x0_tensor, p_tensor, tf.constant([seed * 2 ** 20 + index, CV_STREAM], tf.int64))
        yield [values.numpy().reshape((points, size) + tuple(values.shape[1:])) for values in samples]
        done += size
        index += 1
