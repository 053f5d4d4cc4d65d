"""The linear Black-Scholes equation: pricing a European payoff on d assets.

    du/dt + 1/2 Tr(sigma sigma^T Hess u) + (r - q) x . grad u - r u = 0,  u(T, x) = payoff(x),

so f = -r y; the assets are correlated geometric Brownian motions with drift
r - q_i under the pricing measure. The terminal condition is the exact ReLU
network of the payoff (deepbsde.finance.relu_networks), evaluated in TensorFlow ops
inside the compiled solver. `deepbsde.price` is the quant-facing front end.
"""
from __future__ import annotations

from functools import cached_property
from typing import Any

import numpy as np

from deepbsde.errors import ParameterError
from deepbsde.finance.market import BlackScholesModel
from deepbsde.finance.payoffs import Payoff, payoff_fields, payoff_from_params
from deepbsde.finance.sparse_relu import ReluNetwork
from equations.base import Equation
from equations.processes import GeometricBrownianMotion
from equations.registry import register


@register("black_scholes")
class BlackScholesLinear(Equation):
    """Linear Black-Scholes pricing of a payoff on d correlated assets.

    volatilities, dividend_yields: one entry for all assets or one per asset;
    correlation: the d x d matrix flattened row by row, [] for independent
    assets. payoff: one of deepbsde.payoffs.PAYOFFS, using those of strike,
    strike_low, strike_high, ratio and weights that it has as fields;
    weights (of the weighted payoffs): one for all assets or one per asset.
    """

    summary = "Linear Black-Scholes, f = -r y, g = an exact ReLU payoff network (max-call by default)"
    source = "Monte Carlo reference (exact GBM sampling)"
    reference_method = "black_scholes_mc"
    defaults = {"dim": 10, "x0": 100.0}

    rate: float = 0.05
    volatilities: list[float] = [0.2]      # one for all assets or one per asset
    dividend_yields: list[float] = [0.0]   # one for all assets or one per asset
    correlation: list[float] = []          # d x d row by row; [] for independent assets
    payoff: str = "max_call"               # a kind of deepbsde.finance.payoffs.PAYOFFS
    strike: float = 100.0
    strike_low: float = 120.0
    strike_high: float = 150.0
    ratio: float = 2.0
    weights: list[float] = []             # one for all assets or one per asset; the weighted payoffs need them

    @classmethod
    def check_params(cls, params):
        market_of(params)
        option_of(params)

    @cached_property
    def market(self) -> BlackScholesModel:
        """The BlackScholesModel of the parameters."""
        return market_of(self.params)

    @cached_property
    def option(self) -> Payoff:
        """The Payoff of the parameters (`payoff` is its name)."""
        return option_of(self.params)

    @cached_property
    def payoff_network(self) -> ReluNetwork:
        """The exact ReLU network of the payoff, g of the equation."""
        return self.option.network(self.dim)

    def build_process(self):
        return GeometricBrownianMotion(self.x0, self.total_time, self.num_time_interval,
                                       drift_rate=self.rate - np.asarray(self.market.dividend_yields),
                                       volatility=self.market.volatilities, correlation=self.market.correlation)

    def f(self, t, x, y, z):
        return -self.rate * y

    def g(self, x):
        return self.payoff_network.tf_call(x)


def market_of(params: dict[str, Any]) -> BlackScholesModel:
    """The validated BlackScholesModel of equation parameters; errors name the equation parameter."""
    dim = params["dim"]
    spots = params["x0"] if isinstance(params["x0"], list) else [params["x0"]] * dim
    if len(spots) != dim:
        raise ParameterError("x0", f"has {len(spots)} entries but dim is {dim}; give one number or one per asset")
    correlation = params["correlation"] or None
    if correlation is not None:
        if len(correlation) != dim * dim:
            raise ParameterError("correlation", f"must have dim * dim = {dim * dim} entries (the matrix row "
                                                f"by row), got {len(correlation)}")
        correlation = np.reshape(correlation, (dim, dim))
    try:
        return BlackScholesModel(spots, params["rate"], _one_or_all(params["volatilities"]),
                                 _one_or_all(params["dividend_yields"]), correlation)
    except ParameterError as error:
        if error.field != "spots":
            raise
        raise ParameterError("x0", error.reason) from None


def option_of(params: dict[str, Any]) -> Payoff:
    """The validated Payoff of equation parameters; one weight stands for the same weight on every asset."""
    weights = params["weights"]
    kind = params["payoff"]
    if not weights and "weights" in payoff_fields(kind):
        raise ParameterError("weights", f"the payoff {kind} weighs the assets: give one weight for all of them "
                                        "or one per asset")
    if len(weights) == 1:
        params = {**params, "weights": weights * params["dim"]}
    option = payoff_from_params(params)
    option.check_dimension(params["dim"])
    return option


def _one_or_all(values: list[float]) -> float | list[float]:
    """A one-entry list stands for the same value for every asset."""
    return values[0] if len(values) == 1 else values
