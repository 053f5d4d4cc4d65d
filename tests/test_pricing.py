"""The pricing API: a 10-asset max-call against Monte Carlo, and input validation."""
import numpy as np
import pytest

import deepbsde
import equations
from deepbsde.finance.market import BlackScholesModel
from deepbsde.finance.payoffs import BasketCall, BestOfCall, CallSpreadOnMax, MaxCall, MinPut, WorstOfPut
from deepbsde.pricing.european import pricing_equation
from equations import ParameterError

TEN_ASSETS = BlackScholesModel(spots=[100.0] * 10, rate=0.05, volatilities=0.2)


@pytest.mark.slow
def test_ten_asset_max_call_matches_monte_carlo_price_and_deltas():
    # default pricing options; seed-to-seed spread measured by scripts/price_seeds.py (README)
    result = deepbsde.price(MaxCall(100.0), TEN_ASSETS, maturity=1.0, seed=1, reference_paths=4 * 10 ** 6)
    assert result.reference.half_width < 0.001 * result.reference.value
    assert result.rel_error < 0.01, (result.price, result.reference)
    assert result.reference_delta_half_widths.max() < 0.01 * result.reference_deltas.min()
    assert result.deltas.shape == (10,)
    assert result.delta_rel_errors.max() < 0.05, (result.deltas, result.reference_deltas)


@pytest.mark.parametrize("kwargs, field", [
    ({"spots": [100.0, 0.0]}, "spots"),
    ({"spots": [100.0, -5.0]}, "spots"),
    ({"volatilities": [0.2, 0.0]}, "volatilities"),
    ({"volatilities": -0.1}, "volatilities"),
    ({"volatilities": [0.2, 0.2, 0.2]}, "volatilities"),
    ({"dividend_yields": [0.0, 0.01, 0.02]}, "dividend_yields"),
    ({"correlation": [[1.0, 0.5], [0.4, 1.0]]}, "correlation"),   # not symmetric
    ({"correlation": [[1.0, 1.5], [1.5, 1.0]]}, "correlation"),   # not positive semi-definite
    ({"correlation": [[2.0, 0.5], [0.5, 2.0]]}, "correlation"),   # not unit diagonal
    ({"correlation": np.eye(3)}, "correlation"),                  # wrong dimension
    ({"rate": float("nan")}, "rate"),
])
def test_invalid_market_names_the_field(kwargs, field):
    market = {"spots": [100.0, 90.0], "rate": 0.05, "volatilities": 0.2, **kwargs}
    with pytest.raises(ParameterError, match=f"^{field}: ") as error:
        BlackScholesModel(**market)
    assert error.value.field == field


@pytest.mark.parametrize("make, field", [
    (lambda: MaxCall(0.0), "strike"),
    (lambda: MinPut(-1.0), "strike"),
    (lambda: CallSpreadOnMax(150.0, 120.0), "strike_high"),
    (lambda: BestOfCall([], 1.0), "weights"),
    (lambda: BasketCall([0.5, float("inf")], 100.0), "weights"),
])
def test_invalid_payoff_names_the_field(make, field):
    with pytest.raises(ParameterError, match=f"^{field}: "):
        make()


@pytest.fixture
def no_tensorflow_work(monkeypatch):
    """Fails the test if `price` gets as far as training or simulating."""
    def forbidden(*args, **kwargs):
        raise AssertionError("validation should have failed before any TensorFlow work")
    for name in ("solve", "black_scholes_price", "black_scholes_deltas"):
        monkeypatch.setattr(f"deepbsde.pricing.european.{name}", forbidden)


@pytest.mark.parametrize("payoff, model, maturity, options, message", [
    (MaxCall(100.0), TEN_ASSETS, 0.0, {}, "^maturity: must be positive"),
    (MaxCall(100.0), TEN_ASSETS, -1.0, {}, "^maturity: must be positive"),
    (BasketCall([0.5, 0.5], 100.0), TEN_ASSETS, 1.0, {}, "^weights: has 2 entries but the model has 10 assets"),
    (WorstOfPut([0.01] * 9, 1.0), TEN_ASSETS, 1.0, {}, "^weights: has 9 entries"),
    (MaxCall(100.0), TEN_ASSETS, 1.0, {"time_steps": 0}, "^time_steps: "),
    (MaxCall(100.0), TEN_ASSETS, 1.0, {"batch_size": -1}, "^options.batch_size: "),
    (MaxCall(100.0), TEN_ASSETS, 1.0, {"learning_rate": 0.1}, "^options.learning_rate: unknown option"),
    (lambda x: x, TEN_ASSETS, 1.0, {}, "^payoff: must be a deepbsde.payoffs.Payoff"),
    (MaxCall(100.0), {"spots": [100.0]}, 1.0, {}, "^model: must be a deepbsde.market.BlackScholesModel"),
])
def test_price_validates_before_tensorflow_work(no_tensorflow_work, payoff, model, maturity, options, message):
    with pytest.raises(ParameterError, match=message):
        deepbsde.price(payoff, model, maturity, **options)


@pytest.mark.parametrize("params, field", [
    ({"x0": [100.0, 100.0]}, "x0"),
    ({"x0": -100.0}, "x0"),
    ({"correlation": [1.0, 0.0, 0.0, 1.0]}, "correlation"),
    ({"payoff": "digital"}, "payoff"),
    ({"payoff": "best_of_call"}, "weights"),
])
def test_black_scholes_equation_validates_its_parameters(params, field):
    with pytest.raises(ParameterError, match=f"^{field}: "):
        equations.get("black_scholes", dim=3, **params)


def test_one_weight_of_a_weighted_payoff_stands_for_every_asset():
    one = equations.get("black_scholes", dim=3, payoff="basket_call", weights=[0.5], x0=[90.0, 100.0, 120.0])
    each = equations.get("black_scholes", dim=3, payoff="basket_call", weights=[0.5] * 3, x0=[90.0, 100.0, 120.0])
    assert one.option == each.option and one.option.weights == (0.5, 0.5, 0.5)
    x = np.array([[90.0, 100.0, 120.0]])
    np.testing.assert_allclose(one.g(x).numpy().ravel(), [0.5 * 310.0 - 100.0])
    with pytest.raises(ParameterError, match="^weights: the payoff basket_call weighs the assets: give one weight"):
        equations.get("black_scholes", dim=3, payoff="basket_call")
    with pytest.raises(ParameterError, match="^weights: has 2 entries but the model has 3 assets"):
        equations.get("black_scholes", dim=3, payoff="basket_call", weights=[0.5, 0.5])


def test_pricing_equation_carries_the_market_and_the_payoff_network():
    model = BlackScholesModel([90.0, 110.0], rate=0.03, volatilities=[0.2, 0.3], dividend_yields=[0.01, 0.0],
                              correlation=[[1.0, 0.6], [0.6, 1.0]])
    equation = pricing_equation(CallSpreadOnMax(100.0, 130.0), model, maturity=0.5, time_steps=5)
    assert equation.name == "black_scholes" and equation.dim == 2
    np.testing.assert_allclose(equation.process.drift_rate, [0.02, 0.03])
    np.testing.assert_allclose(equation.process.volatility, [0.2, 0.3])
    np.testing.assert_allclose(equation.process.cholesky @ equation.process.cholesky.T, model.correlation)
    assert equation.payoff_network.depth == 2  # ceil(log2 2) + 1
    x = np.array([[95.0, 120.0], [140.0, 100.0]])
    np.testing.assert_allclose(equation.g(x).numpy().ravel(), [20.0, 40.0 - 2.0 * 10.0])
