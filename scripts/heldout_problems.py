"""Held-out test equations of the robustness battery, with explicit solutions.

Written for the battery and deliberately NOT registered in `equations`: the
solver's defaults must work on problems they were not chosen on. Each one
stresses something the registered benchmarks do not: a value far from 1,
Z components of very different sizes, GBM and Brownian forward processes,
f depending on z. Each f is derived from the explicit u so that
u_t + 1/2 Tr(sigma sigma^T Hess u) + mu . grad u + f(t, x, u, sigma^T grad u) = 0;
tests/test_robustness_fast.py checks that identity by finite differences.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf

import equations


def _sum(v: tf.Tensor) -> tf.Tensor:
    return tf.reduce_sum(v, axis=1, keepdims=True)


def _ridge(x: tf.Tensor) -> tf.Tensor:
    """w . x with the unit vector w = (1, ..., 1) / sqrt(d), d the last axis of x."""
    return _sum(x) / np.sqrt(x.shape[-1])


def _normal_cdf(v: tf.Tensor) -> tf.Tensor:
    return 0.5 * tf.math.erfc(-v / np.sqrt(2.0))


class LargeHeat(equations.Equation):
    """X = x0 + W, f = 0, u = 100 + a . x + b sum_i (x_i^2 + T - t): u(0, 0) = 100 + b d T = 110.

    Z_i = a_i + 2 b x_i with a_i from 0.1 to 10 (log-spaced): Z spans two orders of magnitude.
    """

    defaults = {"dim": 100, "num_time_interval": 20, "b": 0.1}

    def __init__(self, **params):
        super().__init__(**params)
        self.a = np.logspace(-1.0, 1.0, self.dim)

    def build_process(self):
        return equations.ScaledBrownianMotion(self.x0, self.total_time, self.num_time_interval)

    def f(self, t, x, y, z):
        return tf.zeros_like(y)

    def g(self, x):
        return self.exact_solution(self.total_time, x)

    def exact_solution(self, t, x):
        a = tf.constant(self.a, x.dtype)
        t = tf.cast(t, x.dtype)
        return 100.0 + _sum(a * x) + self.b * (_sum(tf.square(x)) + self.dim * (self.total_time - t))


class GBMMeanZ(equations.Equation):
    """GBM (drift mu, vol sigma), u = e^{beta (T - t)} mean(x): u(0, 100) = 100 e^{beta T} (about 110.5).

    On the solution sum_i z_i = sigma y, so f = (beta - mu) sum_i z_i / sigma + kappa (y^2 - (sum_i z_i / sigma)^2)
    is the PDE's f written through z, with a quadratic part that vanishes only on the solution.
    Z_i = sigma x_i e^{beta (T - t)} / d, about 1 per component.
    """

    defaults = {"dim": 20, "x0": 100.0, "num_time_interval": 20, "mu": 0.05, "sigma": 0.2, "beta": 0.1,
                "kappa": 1e-4}

    def build_process(self):
        return equations.GeometricBrownianMotion(self.x0, self.total_time, self.num_time_interval,
                                                 drift_rate=self.mu, volatility=self.sigma)

    def f(self, t, x, y, z):
        through_z = _sum(z) / self.sigma
        return (self.beta - self.mu) * through_z + self.kappa * (tf.square(y) - tf.square(through_z))

    def g(self, x):
        return tf.reduce_mean(x, axis=1, keepdims=True)

    def exact_solution(self, t, x):
        return tf.exp(self.beta * (self.total_time - tf.cast(t, x.dtype))) * tf.reduce_mean(x, axis=1, keepdims=True)


class SmallOscillation(equations.Equation):
    """X = x0 + s W, u = eps (2 + e^{delta (t - T)} sin(lam sum x)): u(0, 0) = 2 eps = 0.002.

    With gamma = s^2 lam^2 d / 2, u_t + L u = (delta - gamma)(u - 2 eps); f adds
    kappa / eps (|z|^2 / (d s^2 lam^2) + (y - 2 eps)^2 - eps^2 e^{2 delta (t - T)}),
    zero on the solution, so f depends on y and z nonlinearly. Z is of order 1e-4.
    """

    defaults = {"dim": 50, "num_time_interval": 20, "scale": 0.5, "eps": 1e-3, "delta": 1.0, "kappa": 1.0}

    def __init__(self, **params):
        super().__init__(**params)
        self.lam = 1.0 / np.sqrt(self.dim)
        self.gamma = 0.5 * self.scale ** 2 * self.lam ** 2 * self.dim

    def build_process(self):
        return equations.ScaledBrownianMotion(self.x0, self.total_time, self.num_time_interval, volatility=self.scale)

    def f(self, t, x, y, z):
        shifted = y - 2.0 * self.eps
        # TensorFlow on t: the certified bound's loop passes it as a tensor
        envelope = self.eps ** 2 * tf.exp(2.0 * self.delta * (tf.cast(t, x.dtype) - self.total_time))
        circle = _sum(tf.square(z)) / (self.dim * self.scale ** 2 * self.lam ** 2) + tf.square(shifted)
        return -(self.delta - self.gamma) * shifted + self.kappa / self.eps * (circle - envelope)

    def driver_convexity(self):
        # affine plus kappa / eps times a sum of squares of (y, z)
        return "convex" if self.kappa / self.eps >= 0 else "concave"

    def g(self, x):
        return self.exact_solution(self.total_time, x)

    def exact_solution(self, t, x):
        t = tf.cast(t, x.dtype)
        return self.eps * (2.0 + tf.exp(self.delta * (t - self.total_time)) * tf.sin(self.lam * _sum(x)))


class LinearGBM(equations.Equation):
    """Linear pricing under GBM with drift `rate` and vols `vols` (by default spread evenly from `lowest_vol`
    to 0.6), f = -r y; a subclass gives g and u."""

    lowest_vol = 0.1

    @property
    def vols(self) -> np.ndarray:
        return np.linspace(self.lowest_vol, 0.6, self.dim)

    def build_process(self):
        return equations.GeometricBrownianMotion(self.x0, self.total_time, self.num_time_interval,
                                                 drift_rate=self.rate, volatility=self.vols)

    def f(self, t, x, y, z):
        return -self.rate * y


class GBMSquares(LinearGBM):
    """Linear pricing of sum_i x_i^2 under GBM with drift r and vols from 0.05 to 0.6, f = -r y:
    u = sum_i x_i^2 e^{(r + sigma_i^2)(T - t)}, u(0, 10) about 1.1e3, Z_i = 2 sigma_i x_i^2 e^{...}."""

    defaults = {"dim": 10, "x0": 10.0, "num_time_interval": 20, "rate": 0.05}

    lowest_vol = 0.05

    def g(self, x):
        return _sum(tf.square(x))

    def exact_solution(self, t, x):
        growth = tf.exp(tf.constant(self.rate + self.vols ** 2, x.dtype) * (self.total_time - tf.cast(t, x.dtype)))
        return _sum(tf.square(x) * growth)


class TanhRidge(equations.Equation):
    """X = x0 + W, u = 3 + tanh(t + w . x) with |w| = 1 and weights from 0.2 to 1.8 (before scaling).

    u_t + Lu = sech^2 (1 - tanh) and on the solution |z| = sech^2, tanh = y - 3, so f = (y - 4) |z|:
    f depends on y and on |z|, and Z (along w) has components of different sizes.
    """

    defaults = {"dim": 100, "num_time_interval": 20, "x0": 0.05}

    @property
    def w(self) -> np.ndarray:
        weights = np.linspace(0.2, 1.8, self.dim)
        return weights / np.linalg.norm(weights)

    def build_process(self):
        return equations.ScaledBrownianMotion(self.x0, self.total_time, self.num_time_interval)

    def f(self, t, x, y, z):
        return (y - 4.0) * tf.sqrt(_sum(tf.square(z)))

    def g(self, x):
        return self.exact_solution(self.total_time, x)

    def exact_solution(self, t, x):
        return 3.0 + tf.tanh(tf.cast(t, x.dtype) + _sum(tf.constant(self.w, x.dtype) * x))


class GeometricMeanCall(LinearGBM):
    """Linear pricing (GBM, rate r, vol s, f = -r y) of a call on the geometric mean of d assets, a lognormal
    with log-variance s^2 (T - t) / d: Black and Scholes' formula gives u (u(0, x0) about 1.04 at the
    defaults)."""

    defaults = {"dim": 50, "x0": 100.0, "num_time_interval": 20, "rate": 0.03, "vol": 0.3, "strike": 100.0}

    @property
    def vols(self) -> float:
        return self.vol

    def g(self, x):
        geometric_mean = tf.exp(tf.reduce_mean(tf.math.log(x), axis=1, keepdims=True))
        return tf.maximum(geometric_mean - self.strike, 0.0)

    def exact_solution(self, t, x):
        tau = self.total_time - tf.cast(t, x.dtype)
        log_mean = tf.reduce_mean(tf.math.log(x), axis=1, keepdims=True) + (self.rate - self.vol ** 2 / 2) * tau
        spread = self.vol * tf.sqrt(tau / self.dim)
        d1 = (log_mean - np.log(self.strike) + spread ** 2) / spread
        forward = tf.exp(log_mean + spread ** 2 / 2)
        return tf.exp(-self.rate * tau) * (forward * _normal_cdf(d1) - self.strike * _normal_cdf(d1 - spread))


class CubicSource(equations.Equation):
    """X = x0 + W, u = 2 + e^{t - T} sin(w . x) with w = (1, ..., 1) / sqrt(d), f = y - y^3 + h(t, x), h
    such that u solves the equation. Near u = 2, df/dy = 1 - 3 y^2 is about -11: run forward, the Y
    recursion amplifies an error by about e^{11 t} (T = 0.3)."""

    defaults = {"dim": 100, "num_time_interval": 20, "total_time": 0.3, "x0": 0.1}

    def build_process(self):
        return equations.ScaledBrownianMotion(self.x0, self.total_time, self.num_time_interval)

    def f(self, t, x, y, z):
        t = tf.cast(t, x.dtype)
        u = self.exact_solution(t, x)
        heat = 0.5 * tf.exp(t - self.total_time) * tf.sin(_ridge(x))  # u_t + L u, |w| = 1
        return y - y ** 3 - heat - (u - u ** 3)

    def g(self, x):
        return self.exact_solution(self.total_time, x)

    def exact_solution(self, t, x):
        return 2.0 + tf.exp(tf.cast(t, x.dtype) - self.total_time) * tf.sin(_ridge(x))


class GBMLogQuadratic(equations.Equation):
    """GBM (drift mu, vols from 0.1 to 0.5), f = kappa |z|^2 (convex), g = ln(1 + mean x / 100) / (2 kappa).

    e^{2 kappa u} solves the linear equation (L e^{c u} = c e^{c u} (L u + c |sigma^T grad u|^2 / 2)), so
    u(0, x0) = ln(1 + mean(x0) e^{mu T} / 100) / (2 kappa), about 0.18 at the defaults.
    """

    defaults = {"dim": 40, "x0": 100.0, "num_time_interval": 20, "mu": 0.05, "kappa": 2.0}

    def build_process(self):
        return equations.GeometricBrownianMotion(self.x0, self.total_time, self.num_time_interval,
                                                 drift_rate=self.mu, volatility=np.linspace(0.1, 0.5, self.dim))

    def f(self, t, x, y, z):
        return self.kappa * _sum(tf.square(z))

    def driver_convexity(self):
        return "convex" if self.kappa >= 0 else "concave"

    def g(self, x):
        return tf.math.log(1.0 + tf.reduce_mean(x, axis=1, keepdims=True) / 100.0) / (2.0 * self.kappa)

    def exact_solution(self, t, x):
        growth = tf.exp(self.mu * (self.total_time - tf.cast(t, x.dtype)))
        return tf.math.log(1.0 + growth * tf.reduce_mean(x, axis=1, keepdims=True) / 100.0) / (2.0 * self.kappa)


class SineCircle(equations.Equation):
    """X = x0 + W in low dimension, u = 5 + e^{(t - T)/2} sin(sum x / sqrt(d)), f = kappa ((y - 5)^2 + |z|^2 -
    e^{t - T}), zero on the solution ((u - 5)^2 + |sigma^T grad u|^2 = e^{t - T}) and convex in (y, z)."""

    defaults = {"dim": 2, "num_time_interval": 20, "x0": 1.0, "kappa": 1.0}

    def build_process(self):
        return equations.ScaledBrownianMotion(self.x0, self.total_time, self.num_time_interval)

    def f(self, t, x, y, z):
        envelope = tf.exp(tf.cast(t, x.dtype) - self.total_time)
        return self.kappa * (tf.square(y - 5.0) + _sum(tf.square(z)) - envelope)

    def driver_convexity(self):
        return "convex" if self.kappa >= 0 else "concave"

    def g(self, x):
        return self.exact_solution(self.total_time, x)

    def exact_solution(self, t, x):
        return 5.0 + tf.exp((tf.cast(t, x.dtype) - self.total_time) / 2.0) * tf.sin(_ridge(x))


class LongHorizonSine(equations.Equation):
    """X = x0 + W over T = 5 on 20 steps, u = |x|^2 / d + T - t, f = r sin(d |z|^2 / 4 - y + T - t): zero on
    the solution (there d |z|^2 / 4 = |x|^2 / d), neither convex nor concave."""

    defaults = {"dim": 10, "num_time_interval": 20, "total_time": 5.0, "x0": 1.0, "r": 1.0}

    def build_process(self):
        return equations.ScaledBrownianMotion(self.x0, self.total_time, self.num_time_interval)

    def f(self, t, x, y, z):
        phase = self.dim * _sum(tf.square(z)) / 4.0 - y + self.total_time - tf.cast(t, x.dtype)
        return self.r * tf.sin(phase)

    def g(self, x):
        return self.exact_solution(self.total_time, x)

    def exact_solution(self, t, x):
        return _sum(tf.square(x)) / self.dim + self.total_time - tf.cast(t, x.dtype)


class ShortPuts(LinearGBM):
    """Linear pricing (GBM, rate r, vols from 0.1 to 0.6, f = -r y) of a short position in d puts,
    g = -mean_i max(K - x_i, 0): u is minus the mean of Black and Scholes' put prices (about -15.6)."""

    defaults = {"dim": 20, "x0": 100.0, "num_time_interval": 20, "rate": 0.02, "strike": 105.0}

    def g(self, x):
        return -tf.reduce_mean(tf.nn.relu(self.strike - x), axis=1, keepdims=True)

    def exact_solution(self, t, x):
        tau = self.total_time - tf.cast(t, x.dtype)
        vols = tf.constant(self.vols, x.dtype)
        spread = vols * tf.sqrt(tau)
        d1 = (tf.math.log(x / self.strike) + (self.rate + vols ** 2 / 2) * tau) / spread
        puts = self.strike * tf.exp(-self.rate * tau) * _normal_cdf(spread - d1) - x * _normal_cdf(-d1)
        return -tf.reduce_mean(puts, axis=1, keepdims=True)


class CorrelatedLogConcave(equations.Equation):
    """Correlated GBM (drift mu, correlation rho, vols from 0.1 to 0.4), f = kappa |z|^2 with kappa < 0
    (concave), g = ln(1 + mean x / 100) / (2 kappa): as for gbm_log_quadratic, e^{2 kappa u} solves the
    linear equation, u = ln(1 + e^{mu (T - t)} mean(x) / 100) / (2 kappa), u(0, x0) about -0.35."""

    defaults = {"dim": 30, "x0": 100.0, "num_time_interval": 20, "mu": 0.03, "kappa": -1.0, "rho": 0.5}

    def build_process(self):
        correlation = np.full((self.dim, self.dim), self.rho) + (1.0 - self.rho) * np.eye(self.dim)
        return equations.GeometricBrownianMotion(self.x0, self.total_time, self.num_time_interval,
                                                 drift_rate=self.mu, volatility=np.linspace(0.1, 0.4, self.dim),
                                                 correlation=correlation)

    def f(self, t, x, y, z):
        return self.kappa * _sum(tf.square(z))

    def driver_convexity(self):
        return "convex" if self.kappa >= 0 else "concave"

    def g(self, x):
        return self.exact_solution(self.total_time, x)

    def exact_solution(self, t, x):
        growth = tf.exp(self.mu * (self.total_time - tf.cast(t, x.dtype)))
        return tf.math.log(1.0 + growth * tf.reduce_mean(x, axis=1, keepdims=True) / 100.0) / (2.0 * self.kappa)


class OscillatingTime(equations.Equation):
    """X = x0 + W, u = 2 + sin(omega t) mean(x): a source oscillating in time, f = -omega cos(omega t) mean(x)
    + kappa ((y - 2) |sum z| - sin(omega t) |sin(omega t)| mean(x)), whose second part vanishes on the
    solution (there sum z = sin(omega t)); u(0, x0) = 2."""

    defaults = {"dim": 50, "num_time_interval": 20, "x0": 1.0, "omega": 6.0, "kappa": 1.0}

    def build_process(self):
        return equations.ScaledBrownianMotion(self.x0, self.total_time, self.num_time_interval)

    def f(self, t, x, y, z):
        phase = self.omega * tf.cast(t, x.dtype)
        mean = tf.reduce_mean(x, axis=1, keepdims=True)
        coupling = (y - 2.0) * tf.abs(_sum(z)) - tf.sin(phase) * tf.abs(tf.sin(phase)) * mean
        return -self.omega * tf.cos(phase) * mean + self.kappa * coupling

    def g(self, x):
        return self.exact_solution(self.total_time, x)

    def exact_solution(self, t, x):
        return 2.0 + tf.sin(self.omega * tf.cast(t, x.dtype)) * tf.reduce_mean(x, axis=1, keepdims=True)


class SourceOnly(equations.Equation):
    """X = x0 + W, g = 0: all of u comes from a source, u = (T - t) sin(w . x + phi) with w = (1, ..., 1) /
    sqrt(d), f = (1 + (T - t) / 2) sin(w . x + phi) (u_t + Laplacian(u) / 2 = -f); u(0, 0) = T sin(phi), about
    0.2, while Z = sigma^T grad u is of order 1 / sqrt(d) per component and g carries no variation at all."""

    defaults = {"dim": 30, "num_time_interval": 20, "x0": 0.0, "phi": 0.2}

    def build_process(self):
        return equations.ScaledBrownianMotion(self.x0, self.total_time, self.num_time_interval)

    def f(self, t, x, y, z):
        return (1.0 + 0.5 * (self.total_time - tf.cast(t, x.dtype))) * tf.sin(_ridge(x) + self.phi)

    def g(self, x):
        return tf.zeros_like(x[:, :1])

    def exact_solution(self, t, x):
        return (self.total_time - tf.cast(t, x.dtype)) * tf.sin(_ridge(x) + self.phi)


class CorrelatedBrownianMotion(equations.ForwardProcess):
    """X_t = x0 + sigma W_t with a constant d x d matrix sigma (the Bachelier model of a quant's normal vols),
    written here as a user would write a forward process of their own."""

    def __init__(self, x0, total_time, num_time_interval, sigma: np.ndarray):
        super().__init__(x0, total_time, num_time_interval)
        self.sigma = np.asarray(sigma, np.float64)

    def paths_from_increments(self, dw, x0=None):
        steps = tf.linalg.matvec(tf.constant(self.sigma, dw.dtype), dw)
        sums = tf.concat([tf.zeros_like(steps[:1]), tf.cumsum(steps, axis=0)], axis=0)
        x0 = tf.constant(self.x0, dw.dtype) if x0 is None else tf.cast(x0, dw.dtype)
        return x0 + sums

    def drift(self, x):
        return tf.zeros_like(x)

    def diffusion_transpose_times(self, x, v):
        return tf.linalg.matvec(tf.constant(self.sigma, v.dtype), v, transpose_a=True)

    def gradient_from_z(self, x, z):
        return np.linalg.solve(self.sigma.T, np.asarray(z))


class BachelierBasket(equations.Equation):
    """Linear pricing (f = -r y) of a call on the mean of d assets under the Bachelier model X = x0 + sigma W,
    sigma = diag(normal vols from 5 to 30) L, L the Cholesky factor of a correlation rho: the mean is normal,
    so u = e^{-r (T - t)} ((m - K) Phi(k) + s phi(k)), m the mean of x, s^2 = |sigma^T w|^2 (T - t), w = 1 / d,
    k = (m - K) / s; u(0, x0) about 3.9. A full matrix sigma and a payoff with a kink."""

    defaults = {"dim": 20, "x0": 100.0, "num_time_interval": 20, "rate": 0.03, "strike": 100.0, "rho": 0.3}

    @property
    def sigma(self) -> np.ndarray:
        correlation = np.full((self.dim, self.dim), self.rho) + (1.0 - self.rho) * np.eye(self.dim)
        return np.linspace(5.0, 30.0, self.dim)[:, None] * np.linalg.cholesky(correlation)

    def build_process(self):
        return CorrelatedBrownianMotion(self.x0, self.total_time, self.num_time_interval, self.sigma)

    def f(self, t, x, y, z):
        return -self.rate * y

    def g(self, x):
        return tf.nn.relu(tf.reduce_mean(x, axis=1, keepdims=True) - self.strike)

    def exact_solution(self, t, x):
        tau = self.total_time - tf.cast(t, x.dtype)
        spread = float(np.linalg.norm(self.sigma.T @ np.full(self.dim, 1.0 / self.dim))) * tf.sqrt(tau)
        moneyness = tf.reduce_mean(x, axis=1, keepdims=True) - self.strike
        k = moneyness / spread
        density = tf.exp(-0.5 * tf.square(k)) / np.sqrt(2.0 * np.pi)
        return tf.exp(-self.rate * tau) * (moneyness * _normal_cdf(k) + spread * density)


class AbsZRidge(equations.Equation):
    """X = x0 + W, u = 5 + sin(w . x + t), f = -kappa |z| + h(t, x): concave and not smooth in z (a drift
    uncertainty's penalty), with the source h that makes u the solution (there |z| = |cos(w . x + t)|);
    u(0, 0) = 5."""

    defaults = {"dim": 50, "num_time_interval": 20, "x0": 0.0, "kappa": 2.0}

    def build_process(self):
        return equations.ScaledBrownianMotion(self.x0, self.total_time, self.num_time_interval)

    def f(self, t, x, y, z):
        phase = _ridge(x) + tf.cast(t, x.dtype)
        source = 0.5 * tf.sin(phase) - tf.cos(phase) + self.kappa * tf.abs(tf.cos(phase))  # -(u_t + L u) + kappa |z|
        return -self.kappa * tf.norm(z, axis=1, keepdims=True) + source

    def driver_convexity(self):
        return "concave"

    def g(self, x):
        return self.exact_solution(self.total_time, x)

    def exact_solution(self, t, x):
        return 5.0 + tf.sin(_ridge(x) + tf.cast(t, x.dtype))


class OrnsteinUhlenbeck(equations.ForwardProcess):
    """dX = -theta X dt + sigma dW, each step simulated exactly (a mean-reverting forward process written
    in the script as a user would)."""

    def __init__(self, x0, total_time, num_time_interval, theta: float, sigma: float):
        super().__init__(x0, total_time, num_time_interval)
        self.theta, self.sigma = float(theta), float(sigma)

    def paths_from_increments(self, dw, x0=None):
        decay = np.exp(-self.theta * self.delta_t)
        # the exact step's noise, sigma sqrt((1 - decay^2) / (2 theta)) N(0, 1), from dw ~ N(0, dt)
        scale = self.sigma * np.sqrt((1.0 - decay ** 2) / (2.0 * self.theta * self.delta_t))
        x = tf.constant(self.x0, dw.dtype) + tf.zeros_like(dw[0]) if x0 is None else tf.cast(x0, dw.dtype)
        xs = [x]
        for n in range(dw.shape[0]):
            x = decay * x + scale * dw[n]
            xs.append(x)
        return tf.stack(xs)

    def drift(self, x):
        return -self.theta * x

    def diffusion_transpose_times(self, x, v):
        return self.sigma * v

    def gradient_from_z(self, x, z):
        return np.asarray(z) / self.sigma


class OUSquares(equations.Equation):
    """Linear pricing (f = -r y) of g = |x|^2 / d under the Ornstein-Uhlenbeck process above:
    u = e^{-r tau} (|x|^2 e^{-2 theta tau} / d + sigma^2 (1 - e^{-2 theta tau}) / (2 theta)), tau = T - t;
    u(0, x0) about 0.128 at T = 2, where the mean reversion has forgotten most of x0."""

    defaults = {"dim": 20, "num_time_interval": 20, "x0": 1.0, "total_time": 2.0, "theta": 1.0, "sigma": 0.5,
                "rate": 0.05}

    def build_process(self):
        return OrnsteinUhlenbeck(self.x0, self.total_time, self.num_time_interval, self.theta, self.sigma)

    def f(self, t, x, y, z):
        return -self.rate * y

    def g(self, x):
        return _sum(tf.square(x)) / self.dim

    def exact_solution(self, t, x):
        tau = self.total_time - tf.cast(t, x.dtype)
        memory = tf.exp(-2.0 * self.theta * tau)
        stationary = self.sigma ** 2 * (1.0 - memory) / (2.0 * self.theta)
        return tf.exp(-self.rate * tau) * (_sum(tf.square(x)) / self.dim * memory + stationary)


class KinkedRidgeHeat(equations.Equation):
    """X = x0 + W at d = 200, f = 0, g = max(w . x, 0): a kink along a hyperplane, Z jumping across it near
    T; u = s Phi(s / sqrt(tau)) + sqrt(tau) phi(s / sqrt(tau)) with s = w . x, tau = T - t; u(0, 0) =
    1 / sqrt(2 pi), about 0.399."""

    defaults = {"dim": 200, "num_time_interval": 20, "x0": 0.0}

    def build_process(self):
        return equations.ScaledBrownianMotion(self.x0, self.total_time, self.num_time_interval)

    def f(self, t, x, y, z):
        return tf.zeros_like(y)

    def g(self, x):
        return tf.nn.relu(_ridge(x))

    def exact_solution(self, t, x):
        tau = self.total_time - tf.cast(t, x.dtype)
        ridge = _ridge(x)
        spread = tf.sqrt(tf.maximum(tau, 1e-30))  # at tau = 0 the formula's limit, g itself
        k = ridge / spread
        smoothed = ridge * _normal_cdf(k) + spread * tf.exp(-0.5 * tf.square(k)) / np.sqrt(2.0 * np.pi)
        return tf.where(tau > 0.0, smoothed, tf.nn.relu(ridge))


class TanhCoupled(equations.Equation):
    """X = x0 + W, u = 2 + e^{t - T} tanh(w . x), f = kappa (y - 2) sum z / sqrt(d) + h(t, x): y and z
    coupled (Burgers-like), with the source h that makes u the solution; u(0, x0) about 2.29."""

    defaults = {"dim": 30, "num_time_interval": 20, "x0": 0.2, "kappa": 3.0}

    def build_process(self):
        return equations.ScaledBrownianMotion(self.x0, self.total_time, self.num_time_interval)

    def f(self, t, x, y, z):
        envelope = tf.exp(tf.cast(t, x.dtype) - self.total_time)
        ridge = tf.tanh(_ridge(x))
        slope = envelope * (1.0 - tf.square(ridge))  # d u / d s, and here also sum z / sqrt(d)
        source = slope * ridge - envelope * ridge - self.kappa * envelope * ridge * slope  # -(u_t + L u) - coupling
        return self.kappa * (y - 2.0) * _sum(z) / np.sqrt(self.dim) + source

    def g(self, x):
        return self.exact_solution(self.total_time, x)

    def exact_solution(self, t, x):
        return 2.0 + tf.exp(tf.cast(t, x.dtype) - self.total_time) * tf.tanh(_ridge(x))


class DigitalGeometric(LinearGBM):
    """Linear pricing (GBM, rate r, vols from 0.1 to 0.6, f = -r y) of a digital paying `cash` where the
    geometric mean of d assets ends above the strike: g is discontinuous, so Z grows like (T - t)^(-1/2) near
    the jump's hyperplane at maturity. The geometric mean is lognormal: u = cash e^{-r tau} N(d_2). Deep out
    of the money at the defaults: u(0, x0) about 0.0187, while the payoff's standard deviation is about 0.43."""

    defaults = {"dim": 20, "x0": 100.0, "num_time_interval": 20, "rate": 0.05, "strike": 125.0, "cash": 10.0}

    def g(self, x):
        log_mean = tf.reduce_mean(tf.math.log(x), axis=1, keepdims=True)
        return self.cash * tf.cast(log_mean > np.log(self.strike), x.dtype)

    def exact_solution(self, t, x):
        tau = self.total_time - tf.cast(t, x.dtype)
        vols = self.vols
        log_mean = (tf.reduce_mean(tf.math.log(x), axis=1, keepdims=True)
                    + (self.rate - float(np.mean(vols ** 2)) / 2) * tau)
        spread = float(np.sqrt(np.sum(vols ** 2))) / self.dim * tf.sqrt(tau)
        return self.cash * tf.exp(-self.rate * tau) * _normal_cdf((log_mean - np.log(self.strike)) / spread)


class DigitalIndifference(equations.Equation):
    """X = x0 + W, f = kappa |z|^2 (convex), g = cash 1{w . x > strike}: the exponential-utility indifference
    price of a digital, nonlinear. By Cole-Hopf exp(2 kappa u) solves the heat equation, so u = ln(1 + (e^{2 kappa
    cash} - 1) N((w . x - strike) / sqrt(T - t))) / (2 kappa). Deep out of the money at the defaults: u(0, x0)
    about 0.106, while the payoff's standard deviation is about 0.79."""

    defaults = {"dim": 20, "num_time_interval": 20, "x0": 0.0, "kappa": 0.05, "cash": 10.0, "strike": 2.5}

    def build_process(self):
        return equations.ScaledBrownianMotion(self.x0, self.total_time, self.num_time_interval)

    def f(self, t, x, y, z):
        return self.kappa * _sum(tf.square(z))

    def driver_convexity(self):
        return "convex" if self.kappa >= 0 else "concave"

    def g(self, x):
        return self.cash * tf.cast(_ridge(x) > self.strike, x.dtype)

    def exact_solution(self, t, x):
        tau = self.total_time - tf.cast(t, x.dtype)
        probability = _normal_cdf((_ridge(x) - self.strike) / tf.sqrt(tau))
        return tf.math.log1p(np.expm1(2.0 * self.kappa * self.cash) * probability) / (2.0 * self.kappa)


HELDOUT = {"large_heat": LargeHeat, "gbm_mean_z": GBMMeanZ, "small_oscillation": SmallOscillation,
           "gbm_squares": GBMSquares, "tanh_ridge": TanhRidge, "geometric_mean_call": GeometricMeanCall,
           "cubic_source": CubicSource, "gbm_log_quadratic": GBMLogQuadratic, "sine_circle": SineCircle,
           "long_horizon_sine": LongHorizonSine, "short_puts": ShortPuts,
           "correlated_log_concave": CorrelatedLogConcave, "oscillating_time": OscillatingTime,
           "source_only": SourceOnly, "bachelier_basket": BachelierBasket, "abs_z_ridge": AbsZRidge,
           "ou_squares": OUSquares, "kinked_ridge_heat": KinkedRidgeHeat, "tanh_coupled": TanhCoupled,
           "digital_geometric": DigitalGeometric, "digital_indifference": DigitalIndifference}
