"""Multilevel Picard references against published values and a linear case."""
import numpy as np
import pytest
import tensorflow as tf

import equations
from deepbsde.finance.market import BlackScholesModel
from deepbsde.reference import black_scholes_price, multilevel_picard
from equations import ParameterError


@pytest.mark.slow
def test_allen_cahn_matches_the_published_value():
    estimate = multilevel_picard(equations.get("allen_cahn"), levels=5, samples=5, repetitions=10, seed=0)
    assert estimate.num_samples == 10
    assert estimate.half_width < 0.005 * estimate.value
    assert estimate.contains(0.052802)


@pytest.mark.slow
def test_default_risk_matches_the_published_value():
    estimate = multilevel_picard(equations.get("bs_default_risk"), levels=5, samples=5, repetitions=6, seed=0)
    assert estimate.half_width < 0.005 * estimate.value
    assert estimate.value == pytest.approx(57.300, rel=0.01)


@pytest.mark.slow
def test_linear_generator_matches_black_scholes_monte_carlo():
    # with zero default intensity f = -R y: u = e^{-RT} E[min_i X_T], a Black-Scholes
    # price whose risk-neutral drift mu_bar = R - q; checks the exact GBM transition
    equation = equations.get("bs_default_risk", dim=5, gamma_h=0.0, gamma_l=0.0, rate=0.05, total_time=0.5)
    picard = multilevel_picard(equation, levels=4, samples=6, repetitions=10, seed=1)
    market = BlackScholesModel([100.0] * 5, 0.05, 0.2, dividend_yields=0.05 - 0.02)
    monte_carlo = black_scholes_price(lambda x: tf.reduce_min(x, axis=1), market, 0.5, num_paths=10 ** 6, seed=1)
    assert abs(picard.value - monte_carlo.value) <= np.hypot(picard.half_width, monte_carlo.half_width)
    assert picard.half_width < 0.005 * picard.value


def test_same_seed_gives_identical_numbers():
    equation = equations.get("allen_cahn", dim=10)

    def estimate(seed, repetitions=3):
        return multilevel_picard(equation, levels=3, samples=3, repetitions=repetitions, seed=seed)

    assert estimate(7) == estimate(7)
    assert estimate(7).value != estimate(8).value


@pytest.mark.parametrize("overrides, field", [
    ({"levels": 0}, "levels"), ({"samples": 0}, "samples"), ({"repetitions": 1}, "repetitions"),
    ({"x": [0.0, 1.0]}, "x"), ({"t": 0.3}, "t"), ({"seed": 1.5}, "seed"),
])
def test_bad_input_names_the_field(overrides, field):
    with pytest.raises(ParameterError) as error:
        multilevel_picard(equations.get("allen_cahn", dim=3), **overrides)
    assert error.value.field == field


def test_refuses_a_generator_that_depends_on_z():
    with pytest.raises(ParameterError, match="depends on z") as error:
        multilevel_picard(equations.get("bs_diff_rates", dim=3))
    assert error.value.field == "equation"
