"""Exact-simulation Monte Carlo for linear Black-Scholes against closed forms."""
import numpy as np
import pytest
import tensorflow as tf

from deepbsde.errors import ParameterError
from deepbsde.finance.market import BlackScholesModel
from deepbsde.reference import Estimate, black_scholes_closed_form_call, black_scholes_deltas, black_scholes_price

MARKET = {"rate": 0.03, "volatility": 0.25, "maturity": 1.5, "dividend_yield": 0.01}


def model(spots=100.0, volatilities=0.25, dividend_yields=0.01, correlation=None, rate=0.03):
    return BlackScholesModel(spots, rate, volatilities, dividend_yields, correlation)


def call_on(asset: int, strike: float):
    return lambda s: tf.nn.relu(s[:, asset] - strike)


def closed_form(spot=100.0, strike=105.0, **overrides):
    return black_scholes_closed_form_call(spot, strike, **{**MARKET, **overrides})


def test_closed_form_known_value():
    # Hull's textbook example: S = 42, K = 40, r = 10%, vol = 20%, T = 0.5 gives 4.76
    assert black_scholes_closed_form_call(42, 40, 0.1, 0.2, 0.5) == pytest.approx(4.7594, abs=1e-4)


@pytest.mark.parametrize("antithetic", [True, False])
def test_one_asset_call_matches_closed_form(antithetic):
    estimate = black_scholes_price(call_on(0, 105.0), model(), 1.5, num_paths=10 ** 6, seed=3,
                                   antithetic=antithetic)
    assert isinstance(estimate, Estimate) and estimate.num_samples == 10 ** 6
    assert estimate.half_width < 0.005 * estimate.value
    assert estimate.contains(closed_form())


def test_antithetic_variates_reduce_the_half_width():
    plain, paired = (black_scholes_price(call_on(0, 105.0), model(), 1.5, num_paths=2 * 10 ** 5, seed=1,
                                         antithetic=a) for a in (False, True))
    assert paired.num_samples == plain.num_samples
    assert paired.half_width < 0.9 * plain.half_width


def geometric_basket_call(spots, vols, dividends, rho, strike, rate, maturity):
    """sqrt(S1 S2) is itself a geometric Brownian motion: price its call by the closed form."""
    var = (vols[0] ** 2 + vols[1] ** 2 + 2 * rho * vols[0] * vols[1]) / 4
    dividend = np.mean(dividends) + (vols[0] ** 2 + vols[1] ** 2) / 4 - var / 2
    return black_scholes_closed_form_call(np.sqrt(spots[0] * spots[1]), strike, rate, np.sqrt(var), maturity,
                                          dividend)


def test_correlated_geometric_basket_matches_closed_form():
    spots, vols, dividends, strike, rate, maturity = [100.0, 90.0], [0.2, 0.35], [0.01, 0.0], 95.0, 0.03, 1.0
    rho = 0.7
    market = BlackScholesModel(spots, rate, vols, dividends, [[1.0, rho], [rho, 1.0]])
    estimate = black_scholes_price(lambda s: tf.nn.relu(tf.sqrt(s[:, 0] * s[:, 1]) - strike), market, maturity,
                                   num_paths=10 ** 6, seed=5)
    exact = geometric_basket_call(spots, vols, dividends, rho, strike, rate, maturity)
    assert estimate.contains(exact)
    # the test can tell correlations apart: independent assets give a price far outside the interval
    assert abs(geometric_basket_call(spots, vols, dividends, 0.0, strike, rate, maturity) - exact) \
        > 20 * estimate.half_width


def test_correlated_market_prices_each_asset_with_its_own_volatility():
    correlation = [[1.0, 0.5, 0.2], [0.5, 1.0, -0.3], [0.2, -0.3, 1.0]]
    vols, spots = [0.1, 0.3, 0.2], [80.0, 100.0, 120.0]
    market = BlackScholesModel(spots, 0.03, vols, [0.0, 0.01, 0.02], correlation)
    estimate = black_scholes_price(call_on(1, 105.0), market, 1.5, num_paths=10 ** 6, seed=7)
    assert estimate.contains(closed_form(volatility=0.3))


def test_pathwise_delta_matches_closed_form_derivative():
    h = 1e-4
    exact = (closed_form(100.0 + h) - closed_form(100.0 - h)) / (2 * h)
    market = model([100.0, 100.0], correlation=[[1, 0.6], [0.6, 1]])
    deltas, half_widths = black_scholes_deltas(call_on(0, 105.0), market, 1.5, num_paths=10 ** 6, seed=2)
    assert deltas.shape == half_widths.shape == (2,)
    assert abs(deltas[0] - exact) <= half_widths[0] < 2e-3
    assert deltas[1] == 0.0 and half_widths[1] == 0.0  # the payoff ignores the second asset


def test_same_seed_gives_identical_numbers():
    def price(seed):
        return black_scholes_price(lambda s: tf.reduce_max(s, axis=1), model([100.0] * 5, 0.2, 0.0, rate=0.05), 1.0,
                                   num_paths=30_001, chunk_size=4096, seed=seed)

    first, again, other = price(11), price(11), price(12)
    assert first == again
    assert first.num_samples == 30_002  # rounded up to whole antithetic pairs
    assert other.value != first.value
    deltas = [black_scholes_deltas(call_on(0, 100.0), model(100.0, 0.2, 0.0, rate=0.05), 1.0, num_paths=5000, seed=4)
              for _ in range(2)]
    np.testing.assert_array_equal(deltas[0][0], deltas[1][0])


@pytest.mark.parametrize("market, field", [
    ({"spots": [100.0, -1.0]}, "spots"),
    ({"spots": 0.0}, "spots"),
    ({"volatilities": 0.0}, "volatilities"),
    ({"volatilities": [0.2, 0.3, 0.4]}, "volatilities"),
    ({"dividend_yields": [0.0]}, "dividend_yields"),
    ({"correlation": [[1.0, 0.5, 0.0]] * 3}, "correlation"),
    ({"correlation": [[1.0, 1.5], [1.5, 1.0]]}, "correlation"),
])
def test_bad_market_names_the_field(market, field):
    with pytest.raises(ParameterError) as error:
        BlackScholesModel(**{"spots": [100.0, 100.0], "rate": 0.05, "volatilities": 0.2, **market})
    assert error.value.field == field


@pytest.mark.parametrize("overrides, field", [
    ({"model": {"spots": [100.0]}}, "model"),
    ({"maturity": 0.0}, "maturity"),
    ({"maturity": -1.0}, "maturity"),
    ({"num_paths": 0}, "num_paths"),
    ({"chunk_size": 0}, "chunk_size"),
    ({"payoff": lambda s: s}, "payoff"),
    ({"payoff": 3.0}, "payoff"),
])
def test_bad_input_names_the_field(overrides, field):
    arguments = {"payoff": call_on(0, 100.0), "model": model([100.0, 100.0], 0.2, 0.0, rate=0.05),
                 "maturity": 1.0, "num_paths": 100, **overrides}
    with pytest.raises(ParameterError) as error:
        black_scholes_price(**arguments)
    assert error.value.field == field
    with pytest.raises(ParameterError, match="strike"):
        black_scholes_closed_form_call(100.0, 0.0, 0.05, 0.2, 1.0)
