"""Linear Black-Scholes references: exact-simulation Monte Carlo prices and
pathwise deltas for any payoff, and the one-asset closed form to check them.

Under the pricing measure S_i(T) = S_i exp((r - q_i - vol_i^2/2) T + vol_i sqrt(T) (L Z)_i)
with L the Cholesky factor of the correlation matrix, so terminal prices are
sampled exactly, with no time stepping. Paths are drawn on the device in
chunks from stateless seeds (seed, chunk index): memory stays bounded at any
number of paths and a result is a pure function of (seed, chunk_size).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf
from scipy.special import ndtr

from deepbsde.errors import ParameterError
from deepbsde.finance.market import BlackScholesModel, checked_model
from deepbsde.reference.estimate import Estimate, RunningMoments, chunks
from deepbsde.validation import finite, float_dtype, integer, positive, positive_int

#: payoff(S_T) for terminal prices [batch, d]; returns [batch] or [batch, 1]. A
#: deepbsde.finance.payoffs.Payoff is one; so is any equation's g.
PayoffFunction = Callable[[tf.Tensor], tf.Tensor]


def _growth(model: BlackScholesModel, maturity: float, normals: tf.Tensor) -> tf.Tensor:
    """S_T / S_0 for standard normals [batch, d]."""
    dtype = normals.dtype
    if model.cholesky is not None:
        normals = tf.linalg.matvec(tf.constant(model.cholesky, dtype), normals)
    drift = (model.rate - model.dividend_yields - 0.5 * model.volatilities ** 2) * maturity
    scale = model.volatilities * np.sqrt(maturity)
    return tf.exp(tf.constant(drift, dtype) + tf.constant(scale, dtype) * normals)


def _checked(model: Any, maturity: Any) -> tuple[BlackScholesModel, float]:
    return checked_model(model), positive("maturity", maturity)


def _payoff_values(payoff: PayoffFunction, terminal: tf.Tensor) -> tf.Tensor:
    """payoff(terminal) as [batch, 1], with a clear error for any other shape."""
    values = tf.convert_to_tensor(payoff(terminal))
    if values.shape.rank == 1:
        values = values[:, tf.newaxis]
    if values.shape.rank != 2 or values.shape[1] != 1:
        raise ParameterError("payoff", f"must return shape [batch] or [batch, 1], got {values.shape}")
    return tf.cast(values, terminal.dtype)


def _check_payoff(payoff: PayoffFunction, model: BlackScholesModel) -> None:
    """Calls the payoff once eagerly at the spots, so a wrong output shape is
    reported as such rather than as a graph-tracing error."""
    if not callable(payoff):
        raise ParameterError("payoff", f"must be callable on a tensor [batch, d], got {payoff!r}")
    _payoff_values(payoff, tf.constant(model.spots[np.newaxis], tf.float64))


def _simulate(per_path: Callable[[tf.Tensor], tf.Tensor], dim: int, num_paths: Any, seed: Any,
              chunk_size: Any, antithetic: bool, dtype: tf.DType) -> tuple[RunningMoments, int]:
    """Streams per_path(Z) [batch, k] over num_paths standard normal draws Z [batch, d].

    With antithetic variates one sample is the average over the pair (Z, -Z);
    the statistics are over pairs, so the half-width accounts for it. Returns
    the moments and the number of paths simulated (num_paths rounded up to
    even with antithetic variates).
    """
    per_sample = 2 if antithetic else 1
    num_paths = positive_int("num_paths", num_paths, minimum=2 * per_sample)
    chunk_size = positive_int("chunk_size", chunk_size, minimum=per_sample)
    seed = integer("seed", seed)
    dtype = float_dtype("dtype", dtype)
    num_units = -(-num_paths // per_sample)
    units_per_chunk = chunk_size // per_sample

    # autograph off: user payoffs are plain TensorFlow, and lambdas confuse its parser
    @tf.function(reduce_retracing=True, autograph=False)
    def chunk_moments(seed_pair: tf.Tensor, count: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        normals = tf.random.stateless_normal(tf.stack([count, dim]), seed=seed_pair, dtype=dtype)
        values = per_path(normals)
        if antithetic:
            values = 0.5 * (values + per_path(-normals))
        mean = tf.reduce_mean(values, axis=0)
        return mean, tf.reduce_sum(tf.square(values - mean), axis=0)

    moments = RunningMoments()
    for index, count in chunks(num_units, units_per_chunk):
        mean, m2 = chunk_moments(tf.constant([seed, index], tf.int64), tf.constant(count, tf.int32))
        moments.merge(count, mean.numpy(), m2.numpy())
    return moments, num_units * per_sample


def black_scholes_price(payoff: PayoffFunction, model: BlackScholesModel, maturity: float, *,
                        num_paths: int = 10 ** 6, seed: int = 0, chunk_size: int = 2 ** 16, antithetic: bool = True,
                        dtype: tf.DType = tf.float64) -> Estimate:
    """E[exp(-rT) payoff(S_T)] in `model` by exact simulation, with its 95% half-width.

    payoff: tf tensor [batch, d] -> [batch] or [batch, 1], TensorFlow ops only
    (a deepbsde.finance.payoffs.Payoff, or any such function).
    """
    model, maturity = _checked(model, maturity)
    _check_payoff(payoff, model)
    discount = np.exp(-model.rate * maturity)

    def discounted_payoff(normals: tf.Tensor) -> tf.Tensor:
        terminal = tf.constant(model.spots, normals.dtype) * _growth(model, maturity, normals)
        return discount * _payoff_values(payoff, terminal)

    moments, paths = _simulate(discounted_payoff, model.dim, num_paths, seed, chunk_size, antithetic, dtype)
    method = "black_scholes_mc" + (" (antithetic)" if antithetic else "")
    return Estimate(float(moments.mean[0]), float(moments.half_width()[0]), paths, method)


def black_scholes_deltas(payoff: PayoffFunction, model: BlackScholesModel, maturity: float, *,
                         num_paths: int = 10 ** 6, seed: int = 0, chunk_size: int = 2 ** 16, antithetic: bool = True,
                         dtype: tf.DType = tf.float64) -> tuple[np.ndarray, np.ndarray]:
    """Pathwise deltas d price / d S_i(0): (means [d], 95% half-widths [d]).

    The pathwise estimator differentiates each path's discounted payoff with
    respect to its own copy of the spot vector (tf.GradientTape), so it needs
    a payoff that is Lipschitz (calls, puts, max/min) and acts row by row.
    Arguments as in black_scholes_price.
    """
    model, maturity = _checked(model, maturity)
    _check_payoff(payoff, model)
    discount = np.exp(-model.rate * maturity)

    def pathwise_gradient(normals: tf.Tensor) -> tf.Tensor:
        # one copy of the spots per path: the gradient of the summed payoffs
        # with respect to the copies is then the per-path gradient
        spot_copies = tf.broadcast_to(tf.constant(model.spots, normals.dtype), tf.shape(normals))
        with tf.GradientTape() as tape:
            tape.watch(spot_copies)
            values = discount * _payoff_values(payoff, spot_copies * _growth(model, maturity, normals))
        return tape.gradient(values, spot_copies, unconnected_gradients=tf.UnconnectedGradients.ZERO)

    moments, _ = _simulate(pathwise_gradient, model.dim, num_paths, seed, chunk_size, antithetic, dtype)
    return moments.mean, moments.half_width()


def black_scholes_closed_form_call(spot: float, strike: float, rate: float, volatility: float, maturity: float,
                                   dividend_yield: float = 0.0) -> float:
    """One-asset European call: S e^{-qT} N(d1) - K e^{-rT} N(d2)."""
    spot, strike = positive("spot", spot), positive("strike", strike)
    volatility, maturity = positive("volatility", volatility), positive("maturity", maturity)
    rate, dividend_yield = finite("rate", rate), finite("dividend_yield", dividend_yield)
    spread = volatility * np.sqrt(maturity)
    d1 = (np.log(spot / strike) + (rate - dividend_yield + 0.5 * volatility ** 2) * maturity) / spread
    return float(spot * np.exp(-dividend_yield * maturity) * ndtr(d1)
                 - strike * np.exp(-rate * maturity) * ndtr(d1 - spread))
