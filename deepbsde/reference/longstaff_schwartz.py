"""Longstaff-Schwartz Monte Carlo (Rev. Financial Studies 14(1), 2001) for
Bermudan options on d <= 5 assets, an independent cross-check of the deep
optimal stopping solver: plain numpy, polynomial regression, no networks.

The continuation value at each exercise date is regressed, over the
in-the-money training paths, on all monomials of degree <= `degree` in the
prices (scaled by the spots) and on the payoff. The resulting exercise rule
is then applied to independent paths, so the estimate is a true lower bound
of the Bermudan price up to its Monte Carlo error.
"""
from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import tensorflow as tf

from deepbsde.errors import ParameterError
from deepbsde.finance.market import BlackScholesModel
from deepbsde.finance.payoffs import Payoff
from deepbsde.reference.estimate import Z_95, Estimate
from deepbsde.validation import positive, positive_int

#: Largest number of assets the polynomial basis is meant for.
MAX_DIM = 5


def longstaff_schwartz(payoff: Payoff, model: BlackScholesModel, maturity: float, dates: Any, *,
                       paths: int = 2 ** 17, degree: int = 3, seed: int = 0) -> Estimate:
    """Bermudan price with exercise on `dates` (increasing, in [0, maturity]):
    regression on `paths` training paths, estimate on `paths` fresh paths."""
    maturity = positive("maturity", maturity)
    degree = positive_int("degree", degree)
    paths = positive_int("paths", paths, minimum=2)
    if model.dim > MAX_DIM:
        raise ParameterError("model", f"Longstaff-Schwartz here is for at most {MAX_DIM} assets, got {model.dim}")
    dates = np.asarray(dates, np.float64).reshape(-1)
    if dates.size == 0 or np.any(np.diff(dates) <= 0) or dates[0] < 0 or dates[-1] > maturity:
        raise ParameterError("dates", f"must increase strictly within [0, maturity = {maturity}], got {dates}")
    rng = np.random.default_rng(seed)
    training = _rewards(payoff, model, dates, _sample(model, dates, paths, rng))
    coefficients = _fit(training, degree, model.spots, payoff.unit)
    samples = _stopped_rewards(_rewards(payoff, model, dates, _sample(model, dates, paths, rng)), coefficients,
                               degree, model.spots, payoff.unit)
    return Estimate(float(samples.mean()), float(Z_95 * samples.std(ddof=1) / np.sqrt(paths)), paths,
                    f"longstaff_schwartz (degree {degree})")


def _sample(model: BlackScholesModel, dates: np.ndarray, paths: int, rng: np.random.Generator) -> np.ndarray:
    """Prices at the dates, [paths, dates, d], by exact GBM sampling."""
    steps = np.diff(np.concatenate([[0.0], dates]))
    normals = rng.standard_normal((paths, dates.size, model.dim))
    cholesky = model.cholesky
    if cholesky is not None:
        normals = normals @ cholesky.T
    vol = model.volatilities
    drift = (model.rate - model.dividend_yields - 0.5 * vol ** 2) * steps[:, None]
    log_growth = np.cumsum(drift + vol * np.sqrt(steps)[:, None] * normals, axis=1)
    return model.spots * np.exp(log_growth)


def _rewards(payoff: Payoff, model: BlackScholesModel, dates: np.ndarray,
             prices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(prices, discounted payoffs [paths, dates])."""
    flat = prices.reshape(-1, model.dim)
    values = payoff(tf.constant(flat)).numpy().reshape(prices.shape[:2])
    return prices, values * np.exp(-model.rate * dates)


def _basis(prices: np.ndarray, rewards: np.ndarray, degree: int, spots: np.ndarray, unit: float) -> np.ndarray:
    """[1, monomials of prices / spots up to `degree`, reward / unit] per path."""
    x = prices / spots
    columns = [np.ones(len(x)), rewards / unit]
    for order in range(1, degree + 1):
        for combo in itertools.combinations_with_replacement(range(x.shape[1]), order):
            columns.append(np.prod(x[:, combo], axis=1))
    return np.stack(columns, axis=1)


def _fit(training: tuple[np.ndarray, np.ndarray], degree: int, spots: np.ndarray,
         unit: float) -> list[np.ndarray | None]:
    """Regression coefficients per date (None: no regression, at the last date
    and where too few paths are in the money); the date-0 entry is the
    continuation value itself (all paths start at the spots)."""
    prices, rewards = training
    last = rewards.shape[1] - 1
    realised = rewards[:, last].copy()
    coefficients: list[np.ndarray | None] = [None] * (last + 1)
    for k in range(last - 1, -1, -1):
        if k == 0 and np.all(prices[:, 0] == prices[0, 0]):
            coefficients[0] = np.array([realised.mean()])
            break
        itm = rewards[:, k] > 0
        if itm.sum() <= 2 * (degree + 2) ** 2:
            continue
        basis = _basis(prices[itm, k], rewards[itm, k], degree, spots, unit)
        coefficients[k] = np.linalg.lstsq(basis, realised[itm], rcond=None)[0]
        stop = itm.copy()
        stop[itm] = rewards[itm, k] >= basis @ coefficients[k]
        realised = np.where(stop, rewards[:, k], realised)
    return coefficients


def _stopped_rewards(fresh: tuple[np.ndarray, np.ndarray], coefficients: list[np.ndarray | None], degree: int,
                     spots: np.ndarray, unit: float) -> np.ndarray:
    """Discounted reward per fresh path of the fitted exercise rule."""
    prices, rewards = fresh
    last = rewards.shape[1] - 1
    result = rewards[:, last].copy()
    for k in range(last - 1, -1, -1):
        fitted = coefficients[k]
        if fitted is None:
            continue
        if fitted.size == 1:  # date 0 with all paths at the spots
            continuation = np.full(len(result), fitted[0])
        else:
            continuation = _basis(prices[:, k], rewards[:, k], degree, spots, unit) @ fitted
        stop = (rewards[:, k] > 0) & (rewards[:, k] >= continuation)
        result = np.where(stop, rewards[:, k], result)
    return result
