"""Bermudan and American options: the binomial tree, Longstaff-Schwartz and the
deep optimal stopping pricer with its certified bounds."""
import numpy as np
import pytest
import tensorflow as tf

from deepbsde.errors import ParameterError
from deepbsde.finance.market import BlackScholesModel
from deepbsde.finance.payoffs import BasketCall, MaxCall, MinPut
from deepbsde.pricing.continuation import ContinuationNetwork, ContinuationValue, fitted_hedge
from deepbsde.pricing.early_exercise import American, Bermudan, price_early_exercise
from deepbsde.pricing.optimal_stopping import Grid, StoppingProblem, initial_weights, train_policy, upper_bound
from deepbsde.reference import black_scholes_closed_form_call, black_scholes_price
from deepbsde.reference.binomial import binomial_price
from deepbsde.reference.longstaff_schwartz import longstaff_schwartz

# small and fast solver settings for the tests (seconds on two CPU cores)
FAST = {"training_paths": 2 ** 14, "training_steps": 150, "batch_size": 2048, "lower_paths": 2 ** 17,
        "outer_paths": 200, "inner_paths": 200, "regression_paths": 2 ** 14, "regression_steps": 300}
MAX_CALL_DATES = Bermudan([k / 3 for k in range(10)])


def _put_by_parity(spot, strike, rate, vol, maturity, dividend):
    call = black_scholes_closed_form_call(spot, strike, rate, vol, maturity, dividend)
    return call - spot * np.exp(-dividend * maturity) + strike * np.exp(-rate * maturity)


@pytest.mark.parametrize("spot", [80.0, 100.0, 120.0])
def test_binomial_without_early_exercise_is_the_closed_form(spot):
    args = (spot, 100.0, 0.05, 0.25, 2.0)
    call = binomial_price(*args, call=True, dividend_yield=0.03, exercise="european")
    put = binomial_price(*args, call=False, dividend_yield=0.03, exercise="european")
    assert call == pytest.approx(black_scholes_closed_form_call(*args, 0.03), abs=2e-3)
    assert put == pytest.approx(_put_by_parity(*args, 0.03), abs=2e-3)


def test_binomial_exercise_styles_are_ordered():
    args = (100.0, 100.0, 0.06, 0.2, 1.0)
    european = binomial_price(*args, call=False, exercise="european")
    bermudan = binomial_price(*args, call=False, exercise=[0.25, 0.5, 0.75, 1.0])
    american = binomial_price(*args, call=False, exercise="american")
    assert european < bermudan < american
    # without dividends an American call is never exercised early
    assert binomial_price(*args, call=True, exercise="american") == pytest.approx(
        binomial_price(*args, call=True, exercise="european"), abs=1e-10)


def test_binomial_rejects_bad_input_naming_the_field():
    with pytest.raises(ParameterError, match="volatility"):
        binomial_price(100, 100, 0.05, -0.2, 1, call=True)
    with pytest.raises(ParameterError, match="exercise"):
        binomial_price(100, 100, 0.05, 0.2, 1, call=True, exercise=[2.0])
    with pytest.raises(ParameterError, match="exercise"):
        binomial_price(100, 100, 0.05, 0.2, 1, call=True, exercise="bermudan")


def test_exercise_styles_validate_naming_the_field():
    with pytest.raises(ParameterError, match="dates"):
        Bermudan([])
    with pytest.raises(ParameterError, match="dates"):
        Bermudan([0.5, 0.2])
    with pytest.raises(ParameterError, match="dates"):
        Bermudan([-1.0, 1.0])
    with pytest.raises(ParameterError, match="steps"):
        American(0)
    model = BlackScholesModel([100.0], 0.05, 0.2)
    with pytest.raises(ParameterError, match="dates"):
        price_early_exercise(MaxCall(100.0), model, 1.0, Bermudan([0.5, 2.0]))
    with pytest.raises(ParameterError, match="maturity"):
        price_early_exercise(MaxCall(100.0), model, -1.0, Bermudan([0.5]))
    with pytest.raises(ParameterError, match="exercise"):
        price_early_exercise(MaxCall(100.0), model, 1.0, [0.5, 1.0])
    with pytest.raises(ParameterError, match="weights"):
        price_early_exercise(BasketCall(weights=(0.5, 0.5), strike=100.0), model, 1.0, Bermudan([1.0]))


def test_american_is_bermudan_on_the_grid():
    assert np.allclose(American(4).exercise_dates(2.0), [0.0, 0.5, 1.0, 1.5, 2.0])


def _check_bounds(result):
    assert result.lower <= result.upper
    low, high = result.interval
    assert low <= result.lower <= result.price <= result.upper <= high
    _check_exercise_probability(result)


def _check_exercise_probability(result):
    assert np.all(result.exercise_probability >= 0) and result.exercise_probability.sum() <= 1 + 1e-12


def test_european_limit_matches_the_european_monte_carlo_price():
    model = BlackScholesModel([100.0, 100.0], 0.05, 0.2, 0.1)
    # one exercise date: no network, and the nested simulation is one step, so use more paths
    result = price_early_exercise(MaxCall(100.0), model, 3.0, Bermudan([3.0]), seed=1,
                                  **{**FAST, "outer_paths": 1000, "inner_paths": 1000})
    # with nothing to optimise both bounds estimate the European price: they agree
    # statistically (3 combined standard errors) rather than L <= U on every run
    assert abs(result.lower - result.upper) <= 3 * np.hypot(result.lower_std_error, result.upper_std_error)
    _check_exercise_probability(result)
    european = black_scholes_price(MaxCall(100.0), model, 3.0, num_paths=10 ** 6, seed=2)
    low, high = result.interval
    assert low <= european.value <= high
    assert result.price == pytest.approx(european.value, rel=5e-3)
    assert result.exercise_probability.shape == (1,)
    # pathwise deltas of the European max-call against the reference's
    assert np.all(result.deltas > 0) and np.allclose(result.deltas, result.deltas[::-1], atol=0.02)


def test_bermudan_put_matches_the_binomial_tree():
    spot, strike, rate, vol, maturity = 100.0, 100.0, 0.06, 0.2, 1.0
    dates = [0.25, 0.5, 0.75, 1.0]
    tree = binomial_price(spot, strike, rate, vol, maturity, call=False, exercise=dates, steps=4000)
    result = price_early_exercise(MinPut(strike), BlackScholesModel([spot], rate, vol), maturity,
                                  Bermudan(dates), seed=3, **FAST)
    _check_bounds(result)
    low, high = result.interval
    assert low <= tree <= high
    assert result.price == pytest.approx(tree, rel=5e-3)
    assert result.deltas[0] < 0  # a put loses value as the spot rises


def test_exercise_at_time_zero_when_deep_in_the_money():
    # a put at spot 40 with strike 100 and a high rate: exercising at once is optimal
    model = BlackScholesModel([40.0], 0.1, 0.2)
    result = price_early_exercise(MinPut(100.0), model, 1.0, Bermudan([0.0, 0.5, 1.0]), seed=4, **FAST)
    _check_bounds(result)
    assert result.exercise_probability[0] == 1.0
    assert result.lower == pytest.approx(60.0) and result.lower_std_error == 0.0
    assert result.deltas == pytest.approx([-1.0])


def test_hedge_ratio_is_the_gradient_of_the_continuation_value_in_the_discounted_prices():
    model = BlackScholesModel([100.0, 90.0], 0.05, [0.2, 0.3], 0.01)
    problem = StoppingProblem.build(MinPut(100.0), model, np.linspace(0.0, 1.0, 5), 100.0)
    grid = Grid(problem, tf.float64)
    rng = np.random.default_rng(0)
    weights = initial_weights(rng, 2 * 2 + 2, 8)
    weights[1], weights[3] = rng.normal(size=8), rng.normal(size=8)  # nonzero biases
    network = ContinuationNetwork(ContinuationValue(weights, np.zeros(6), np.ones(6), 100.0), grid)
    states, date = tf.constant(rng.normal(0.0, 0.05, (4, 2))), tf.constant(2)
    ratio = network.hedge_ratio(states, date).numpy()
    for asset in range(2):
        shift = np.zeros(2)
        shift[asset] = 1e-6
        change = network(states + shift, date) - network(states - shift, date)
        moved = grid.martingale(states + shift, date) - grid.martingale(states - shift, date)
        assert np.allclose(ratio[:, asset], change / moved[:, asset], rtol=1e-5)


@pytest.mark.slow
def test_the_hedge_tightens_the_upper_bound_of_a_put_on_a_fine_grid():
    spot, strike, rate, vol, maturity = 100.0, 100.0, 0.06, 0.2, 1.0
    dates = np.linspace(0.0, maturity, 21)
    tree = binomial_price(spot, strike, rate, vol, maturity, call=False, exercise=dates, steps=4000)
    problem = StoppingProblem.build(MinPut(strike), BlackScholesModel([spot], rate, vol), dates, strike)
    policy = train_policy(problem, seed=7, paths=2 ** 15, steps=150, batch_size=4096, hidden=16)
    hedge = fitted_hedge(policy, seed=7, paths=2 ** 15, steps=1000)
    plain, plain_error = upper_bound(policy, seed=8, outer_paths=200, inner_paths=200)
    hedged, hedged_error = upper_bound(policy, seed=8, outer_paths=200, inner_paths=200, hedge=hedge)
    assert hedged + 3 * hedged_error >= tree  # still an upper bound
    assert hedged_error < 0.5 * plain_error
    assert hedged - tree < 0.5 * (plain - tree)


def test_longstaff_schwartz_max_call_d2_published_value():
    estimate = longstaff_schwartz(MaxCall(100.0), BlackScholesModel([100.0, 100.0], 0.05, 0.2, 0.1), 3.0,
                                  MAX_CALL_DATES.dates, paths=2 ** 16, seed=5)
    # a lower-bound estimator: within its 95% half-width plus 0.5% of the published 13.90
    assert abs(estimate.value - 13.90) <= estimate.half_width + 0.005 * 13.90


@pytest.mark.slow
def test_deep_optimal_stopping_max_call_d2_published_value():
    model = BlackScholesModel([100.0, 100.0], 0.05, 0.2, 0.1)
    result = price_early_exercise(MaxCall(100.0), model, 3.0, MAX_CALL_DATES, seed=6, training_paths=2 ** 16,
                                  training_steps=400, lower_paths=2 ** 19, outer_paths=500, inner_paths=500)
    _check_bounds(result)
    low, high = result.interval
    assert low <= 13.90 <= high
    assert result.price == pytest.approx(13.90, rel=5e-3)


def test_the_shipped_bermudan_config_parses_into_a_job(repo):
    from deepbsde.pricing.early_exercise import early_exercise_job
    from deepbsde.runs.config import read_yaml
    job = early_exercise_job(read_yaml(repo / "configs" / "bermudan_max_call.yaml"))
    assert job.model.dim == 2 and job.maturity == 3.0 and job.published == 13.90
    assert job.exercise.exercise_dates(3.0) == pytest.approx([k / 3 for k in range(10)])


@pytest.mark.parametrize("change, field", [
    ({"market": {"spots": [100.0, -1.0], "rate": 0.05, "volatilities": 0.2}}, "market.spots"),
    ({"exercise": {"style": "european", "maturity": 1.0}}, "exercise.style"),
    ({"exercise": {"style": "bermudan", "maturity": -1.0, "dates": [1.0]}}, "exercise.maturity"),
    ({"payoff": {"payoff": "max_call", "strike": 0.0}}, "payoff.strike"),
    ({"extra": 1}, "extra"),
])
def test_a_bad_bermudan_config_names_the_field(repo, change, field):
    from deepbsde.errors import ConfigError
    from deepbsde.pricing.early_exercise import early_exercise_job
    from deepbsde.runs.config import read_yaml
    config = {**read_yaml(repo / "configs" / "bermudan_max_call.yaml"), **change}
    with pytest.raises(ConfigError) as error:
        early_exercise_job(config)
    assert error.value.field == field


@pytest.mark.slow
def test_deepbsde_run_prices_the_shipped_bermudan_config(capsys):
    from deepbsde.cli import main
    small = ["solver.training_paths=16384", "solver.training_steps=100", "solver.lower_paths=65536",
             "solver.outer_paths=200", "solver.inner_paths=200", "solver.regression_steps=300"]
    assert main(["run", "bermudan_max_call", "--quiet", *[f"--set={item}" for item in small]]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("price = ") and lines[1].startswith("95% interval = [")
    low, high = (float(v) for v in lines[1].split("[")[1].rstrip("]").split(","))
    assert low < 13.90 < high  # the published value, with the smaller budget's wider interval
