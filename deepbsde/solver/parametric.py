"""Region problems of registered equations, with equation parameters as network inputs.

`region_problem(equation, region, ranges)` is the RegionProblem that
`deepbsde run` trains for a configuration with `equation.x0_region` (and
`equation.parameter_ranges`). Which equations take which parameters as inputs
is the table PARAMETER_INPUTS; any other name is a ParameterError naming it:

    black_scholes   volatility (one for all assets, in place of `volatilities`), rate (in place of `rate`)

BlackScholesRegion is also the problem of `deepbsde.price_function`.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from deepbsde.errors import ParameterError
from deepbsde.finance.market import BlackScholesModel
from deepbsde.finance.payoffs import Payoff
from deepbsde.solver.region import EquationOnRegion, RegionProblem
from deepbsde.solver.regions import ParameterRanges, Region
from equations.base import Equation
from equations.black_scholes import BlackScholesLinear
from equations.processes import geometric_diffusion_transpose_times, geometric_paths


class BlackScholesRegion(RegionProblem):
    """The linear Black-Scholes equation f = -r y with spots, volatility and rate drawn per path.

    model's volatilities and rate are used where no range is given; a
    volatility range sets one volatility for all assets. The networks' outputs
    are in units of the payoff's strike (RegionProblem.value_scale).
    """

    #: The parameters that can be network inputs, with the equation parameter each one replaces.
    PARAMETERS = {"volatility": "volatilities", "rate": "rate"}

    def __init__(self, payoff: Payoff, model: BlackScholesModel, maturity: float, time_steps: int,
                 spot_region: Region, ranges: ParameterRanges):
        unknown = sorted(set(ranges.names) - set(self.PARAMETERS))
        if unknown:
            raise ParameterError(unknown[0], f"is not a parameter that Black-Scholes takes as a network input; "
                                             f"those are: {', '.join(self.PARAMETERS)}")
        if spot_region.kind == "normal" or np.any(spot_region.low <= 0):
            reach = "a normal region draws negative spots" if spot_region.kind == "normal" else \
                f"the region reaches {spot_region.low.min():.6g}"
            raise ParameterError("x0_region", f"the spots must stay positive, but {reach}; use a box or a ball "
                                              "inside the positive orthant")
        if "volatility" in ranges.names and ranges.low[ranges.names.index("volatility")] <= 0:
            raise ParameterError("volatility", f"must be positive, got {ranges.to_mapping()['volatility']}")
        super().__init__(model.dim, maturity, time_steps, spot_region, ranges, (0.0, 0.0), payoff.unit)
        self.model = model
        self.network = payoff.network(model.dim)

    def _parameter(self, name: str, p: tf.Tensor, fixed: np.ndarray | float) -> tf.Tensor:
        """Column `name` of p as [batch, 1], or the fixed value when it has no range."""
        if name in self.parameters.names:
            index = self.parameters.names.index(name)
            return p[:, index:index + 1]
        return tf.constant(fixed, p.dtype)

    def paths(self, dw, x0, p):
        model, dtype = self.model, dw.dtype
        volatility = self._parameter("volatility", p, model.volatilities)
        rate = self._parameter("rate", p, model.rate)
        log_drift = (rate - tf.constant(model.dividend_yields, dtype) - 0.5 * volatility ** 2) * self.delta_t
        return geometric_paths(x0, dw, log_drift, volatility, model.cholesky)

    def f(self, t, x, y, z, p):
        return -self._parameter("rate", p, self.model.rate) * y

    def g(self, x, p):
        return self.network.tf_call(x)

    def discount_rate(self, p):
        return self._parameter("rate", p, self.model.rate) * tf.ones([tf.shape(p)[0], 1], p.dtype)

    def diffusion_transpose_times(self, x, p, v):
        volatility = self._parameter("volatility", p, self.model.volatilities)
        return geometric_diffusion_transpose_times(x, v, volatility, self.model.cholesky)


#: Registered equations whose parameters can be network inputs: {equation: {input name: the equation
#: parameter it replaces}}.
PARAMETER_INPUTS: dict[str, dict[str, str]] = {"black_scholes": BlackScholesRegion.PARAMETERS}


def region_problem(equation: Equation, region: Region, ranges: ParameterRanges) -> RegionProblem:
    """The region problem of a registered equation with X_0 drawn from `region` and the parameters of
    `ranges` drawn per path (PARAMETER_INPUTS says which equations take which). A ParameterError
    names `parameter_ranges` for an equation that takes none, or the parameter."""
    if isinstance(equation, BlackScholesLinear):
        return BlackScholesRegion(equation.option, equation.market, equation.total_time,
                                  equation.num_time_interval, region, ranges)
    if ranges.count:
        supported = "; ".join(f"{name} ({', '.join(inputs)})" for name, inputs in PARAMETER_INPUTS.items())
        raise ParameterError("parameter_ranges", f"equation '{equation.name}' takes no parameters as network "
                                                 f"inputs; those that do: {supported}")
    return EquationOnRegion(equation, region)


def equation_parameters(equation: Equation, values: dict[str, float]) -> dict[str, Any]:
    """The equation parameters that the network inputs `values` ({input name: value}) stand for, e.g.
    {"volatilities": [0.2]} for {"volatility": 0.2}: the equation at one point of the ranges."""
    names = PARAMETER_INPUTS.get(equation.name, {})
    return {names[name]: [value] if isinstance(equation.params[names[name]], list) else value
            for name, value in values.items()}
