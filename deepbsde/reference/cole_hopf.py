"""HJB references by the Cole-Hopf transformation.

For u_t + Laplace(u) - lam |grad u|^2 = 0, u(T, x) = g(x), the substitution
w = exp(-lam u) gives the heat equation, so

    u(t, x) = -(1/lam) ln E[exp(-lam g(x + sqrt(2) W_{T-t}))].

Two estimators of it:
- Monte Carlo, with a delta-method interval for the logarithm. It is biased
  for large lam (the mean is dominated by rare paths), so use it with care there.
- Quadrature, for radial g (a function of |x| only): |x + sqrt(2) W_tau| / sqrt(2 tau)
  follows a (noncentral) chi distribution with d degrees of freedom, so the
  expectation is a one-dimensional integral, done by composite Gauss-Legendre.

Both work in log space throughout: exp(-lam g) under- or overflows for large
lam or large g long before its logarithm does.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf
from scipy.special import gammaln, logsumexp, xlogy

from deepbsde.errors import ParameterError
from deepbsde.reference.estimate import Z_95, Estimate, chunks
from deepbsde.validation import finite, float_dtype, integer, positive, positive_int, vector

#: Terminal condition g: tf tensor [batch, d] -> [batch] or [batch, 1].
TerminalCondition = Callable[[tf.Tensor], tf.Tensor]

NODES_PER_PANEL = 16
NEGLIGIBLE_LOG = 60.0       # integrand below exp(-60) of its peak is dropped
SCAN_POINTS = 20_001        # grid locating where the integrand lives
ROWS_PER_CALL = 2 ** 22     # bound on batch * d elements per call of g


def _time_to_maturity(total_time: Any, t: Any) -> float:
    total_time, t = positive("total_time", total_time), finite("t", t)
    if not t < total_time:
        raise ParameterError("t", f"must be before total_time = {total_time}, got {t}")
    return total_time - t


def _g_values(g: TerminalCondition, points: tf.Tensor) -> tf.Tensor:
    """g at points [batch, d] as [batch], with a clear error for any other output shape."""
    values = tf.convert_to_tensor(g(points))
    if values.shape.rank == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.shape.rank != 1:
        raise ParameterError("g", f"must return shape [batch] or [batch, 1], got {values.shape}")
    return tf.cast(values, points.dtype)


def cole_hopf_monte_carlo(g: TerminalCondition, dim: int, lam: float, total_time: float, *, x: Any = 0.0,
                          t: float = 0.0, num_paths: int = 10 ** 6, seed: int = 0, chunk_size: int = 2 ** 16,
                          dtype: tf.DType = tf.float64) -> Estimate:
    """u(t, x) by Monte Carlo over num_paths Brownian endpoints, in chunks from
    stateless seeds (seed, chunk index); the 95% half-width is from the delta
    method for -(1/lam) ln(mean). x: a number or one per dimension."""
    dim = positive_int("dim", dim)
    point, lam = vector("x", x, dim), positive("lam", lam)
    tau = _time_to_maturity(total_time, t)
    num_paths, chunk_size = positive_int("num_paths", num_paths, minimum=2), positive_int("chunk_size", chunk_size)
    seed, dtype = integer("seed", seed), float_dtype("dtype", dtype)
    _g_values(g, tf.constant(point[np.newaxis], dtype))  # shape errors surface here, not in a trace

    @tf.function(reduce_retracing=True, autograph=False)
    def chunk_sums(seed_pair: tf.Tensor, count: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        normals = tf.random.stateless_normal(tf.stack([count, dim]), seed=seed_pair, dtype=dtype)
        exponent = -lam * _g_values(g, tf.constant(point, dtype) + np.sqrt(2.0 * tau) * normals)
        shift = tf.reduce_max(exponent)
        return shift, tf.reduce_sum(tf.exp(exponent - shift)), tf.reduce_sum(tf.exp(2.0 * (exponent - shift)))

    # running sums of exp(a - shift) and exp(2 (a - shift)) for a = -lam g, shift = max a so far
    shift, sum1, sum2 = -np.inf, 0.0, 0.0
    for index, count in chunks(num_paths, chunk_size):
        chunk_shift, chunk1, chunk2 = (v.numpy() for v in chunk_sums(tf.constant([seed, index], tf.int64),
                                                                        tf.constant(count, tf.int32)))
        new_shift = max(shift, float(chunk_shift))
        old, new = np.exp(shift - new_shift), np.exp(chunk_shift - new_shift)
        sum1, sum2 = sum1 * old + chunk1 * new, sum2 * old ** 2 + chunk2 * new ** 2
        shift = new_shift
    if not np.isfinite(shift):
        raise ParameterError("g", "exp(-lam g) is zero on every path (g is +inf or nan)")
    mean = sum1 / num_paths  # of exp(a - shift)
    variance = max(sum2 - sum1 ** 2 / num_paths, 0.0) / (num_paths - 1)
    value = -(shift + np.log(mean)) / lam
    half_width = Z_95 * np.sqrt(variance / num_paths) / (lam * mean)
    return Estimate(float(value), float(half_width), num_paths, "cole_hopf_monte_carlo")


def _radial_profile(g: TerminalCondition, dim: int, radii: np.ndarray) -> np.ndarray:
    """g(r e_1) for each radius r, evaluated in bounded chunks."""
    rows = max(1, ROWS_PER_CALL // dim)
    values = []
    for start in range(0, radii.size, rows):
        block = radii[start:start + rows]
        points = np.zeros((block.size, dim))
        points[:, 0] = block
        values.append(_g_values(g, tf.constant(points, tf.float64)).numpy())
    return np.concatenate(values)


def chi_log_density(v: np.ndarray, dim: int, noncentrality: float = 0.0) -> np.ndarray:
    """log of the density of |N(m, I_dim)| at v >= 0 with |m|^2 = noncentrality: the chi density
    (written out as scipy.stats.chi's: importing scipy.stats takes about 0.6 s, the largest part of
    the command's start-up after TensorFlow's own, and u(t, 0) needs only this closed form), or
    2 v times the noncentral chi-squared density of v^2 (scipy.stats', whose Bessel function stays
    accurate at large dim; imported only here)."""
    if noncentrality == 0.0:
        return xlogy(dim - 1, v) - 0.5 * v ** 2 - (0.5 * dim - 1.0) * np.log(2.0) - gammaln(0.5 * dim)
    from scipy import stats
    return np.log(2.0 * v) + stats.ncx2.logpdf(v ** 2, dim, noncentrality)


def is_radial(g: TerminalCondition, dim: int, scale: float = 1.0) -> bool:
    """True when g agrees along e_1 and along minus the diagonal at radii up to
    3 * scale (necessary for depending on |x| only, and cheap to check)."""
    radii = scale * np.array([0.0, 0.3, 1.0, 3.0])
    diagonal = np.repeat((-radii / np.sqrt(dim))[:, np.newaxis], dim, axis=1)
    along_axis = _radial_profile(g, dim, radii)
    along_diagonal = _g_values(g, tf.constant(diagonal, tf.float64)).numpy()
    return bool(np.allclose(along_axis, along_diagonal, rtol=1e-9, atol=1e-12))


def cole_hopf_quadrature(g: TerminalCondition, dim: int, lam: float, total_time: float, *, x: Any = 0.0,
                         t: float = 0.0, panels: int = 64) -> Estimate:
    """u(t, x) for radial g by quadrature over the distribution of |x + sqrt(2) W_{T-t}|.

    With s = sqrt(2 (T - t)), V = |x + sqrt(2) W| / s has the chi distribution
    with dim degrees of freedom at x = 0 (noncentral, parameter |x|^2 / s^2,
    otherwise), and u = -(1/lam) ln integral exp(log p_V(v) - lam g(s v e_1)) dv.
    The integral runs over where the integrand exceeds exp(-60) of its peak,
    with `panels` and 2 * `panels` Gauss-Legendre panels of 16 nodes; the
    finer one is the value and their difference the reported half-width (an
    error estimate, not a confidence interval).
    """
    dim = positive_int("dim", dim)
    point, lam = vector("x", x, dim), positive("lam", lam)
    scale = np.sqrt(2.0 * _time_to_maturity(total_time, t))
    panels = positive_int("panels", panels)
    noncentrality = float(point @ point) / scale ** 2
    if not is_radial(g, dim, scale * np.sqrt(dim + noncentrality)):
        raise ParameterError("g", "must be radial (depend on |x| only) for the quadrature; "
                                  "use cole_hopf_monte_carlo instead")

    def log_integrand(v: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore"):
            log_density = chi_log_density(v, dim, noncentrality)
        return log_density - lam * _radial_profile(g, dim, scale * v)

    # locate the support on a fine grid; the bulk of V lies near sqrt(dim + noncentrality)
    grid = np.linspace(0.0, np.sqrt(dim + noncentrality) + 40.0, SCAN_POINTS)
    scan = log_integrand(grid)
    alive = np.flatnonzero(scan > np.nanmax(scan) - NEGLIGIBLE_LOG)
    if alive[-1] == grid.size - 1:
        raise ParameterError("g", "exp(-lam g) grows too fast at large |x| for the integral to converge")
    low, high = grid[max(alive[0] - 1, 0)], grid[alive[-1] + 1]

    nodes, weights = np.polynomial.legendre.leggauss(NODES_PER_PANEL)

    def value(count: int) -> float:
        edges = np.linspace(low, high, count + 1)
        half = 0.5 * np.diff(edges)[:, np.newaxis]
        points = (0.5 * (edges[:-1] + edges[1:]))[:, np.newaxis] + half * nodes
        log_integral = logsumexp(log_integrand(points.ravel()) + np.log(half * weights).ravel())
        return -log_integral / lam

    coarse, fine = value(panels), value(2 * panels)
    return Estimate(float(fine), float(abs(fine - coarse)), 2 * panels * NODES_PER_PANEL, "cole_hopf_quadrature")
