"""Option pricing for quants: deep BSDE price and deltas with a Monte Carlo check.

    from deepbsde import price
    from deepbsde.finance.market import BlackScholesModel
    from deepbsde.finance.payoffs import MaxCall

    model = BlackScholesModel(spots=[100.0] * 10, rate=0.05, volatilities=0.2)
    result = price(MaxCall(100.0), model, maturity=1.0)
    result.price, result.deltas, result.reference.interval

The PDE is solved in units of the payoff's strike (spots S / K, strike 1):
every payoff here is homogeneous of degree one in (prices, strikes), so the
price scales back by K and the deltas are unchanged, while Y_0, Z and the
learning rates keep the same order of magnitude for any price level.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from deepbsde.checks.control_variate import control_variate_estimate
from deepbsde.finance.market import BlackScholesModel
from deepbsde.finance.payoffs import Payoff, checked_option
from deepbsde.pricing.early_exercise import American, Bermudan, EarlyExercisePrice, price_early_exercise
from deepbsde.reference.black_scholes_mc import black_scholes_deltas, black_scholes_price
from deepbsde.reference.estimate import Estimate
from deepbsde.runs.result import Result
from deepbsde.runs.solve import solve
from deepbsde.solver.options import SolverOptions
from deepbsde.validation import positive, positive_int
from equations.base import Equation
from equations.registry import get

#: Solver options of `price` unless overridden. One learning rate: the robust preset's adaptive
#: schedule, which keeps it high while the Z networks still learn (they are the deltas' control
#: variates: at d = 20 a fixed early decay left 37% of the payoff variance, a later one 25%).
PRICING_OPTIONS: dict[str, Any] = {"iterations": 2500, "batch_size": 512, "learning_rates": [1e-2],
                                   "dtype": "float32", "log_every": 100}
#: Time steps of the forward process unless overridden. For f = -r y the Z_0 the scheme converges
#: to is sigma^T grad u times e^{rT} / (1 + r dt)^(N-1) (0.5% at r = 5%, T = 1, N = 10).
PRICING_TIME_STEPS = 10
#: Fresh paths of the delta estimate unless overridden.
DELTA_PATHS = 2 ** 19


@dataclass(frozen=True)
class PriceResult:
    """Price and deltas d price / d S_i at the spots, with the Monte Carlo reference.

    deltas are the pathwise estimate on fresh paths with the trained networks as
    control variates (deepbsde.checks.control_variate), delta_half_widths their 95%
    half-widths, delta_variance_ratios the variance each keeps of plain pathwise
    Monte Carlo's (1: the networks did not help). reference (price, 95%
    half-width) and the reference deltas with their 95% half-widths are None
    when `price` ran without a reference. solver is the deep BSDE Result of the
    strike-normalised problem (value in units of the strike).
    """

    price: float
    deltas: np.ndarray
    delta_half_widths: np.ndarray
    reference: Estimate | None
    reference_deltas: np.ndarray | None
    reference_delta_half_widths: np.ndarray | None
    solver: Result
    delta_variance_ratios: np.ndarray | None = None

    @property
    def rel_error(self) -> float | None:
        """|price - reference| / reference, None without a reference."""
        return None if self.reference is None else abs(self.price - self.reference.value) / abs(self.reference.value)

    @property
    def delta_rel_errors(self) -> np.ndarray | None:
        """|delta_i - reference delta_i| / |reference delta_i|, None without a reference."""
        if self.reference_deltas is None:
            return None
        return np.abs(self.deltas - self.reference_deltas) / np.abs(self.reference_deltas)


def price(payoff: Payoff, model: BlackScholesModel, maturity: float, *, exercise: Bermudan | American | None = None,
          time_steps: int = PRICING_TIME_STEPS, reference: bool = True, reference_paths: int = 10 ** 6,
          reference_seed: int = 0, delta_paths: int = DELTA_PATHS,
          **solver_options: Any) -> PriceResult | EarlyExercisePrice:
    """Prices `payoff` at maturity `maturity` (years) in `model` by the deep BSDE method.

    time_steps: steps of the forward process. delta_paths: fresh paths of the
    deltas' estimate. solver_options: SolverOptions
    fields overriding PRICING_OPTIONS (iterations, batch_size, seed, dtype, ...).
    reference: also estimate price and pathwise deltas by exact-simulation
    Monte Carlo with reference_paths paths (antithetic) from reference_seed.
    All inputs are validated before any TensorFlow work; errors are
    ParameterErrors naming the field.

    exercise: Bermudan(dates) or American(steps) prices the early-exercise
    option instead, with certified bounds (deepbsde.pricing.early_exercise;
    the keyword options are then those of price_early_exercise, e.g. seed).
    """
    if exercise is not None:
        return price_early_exercise(payoff, model, maturity, exercise, **solver_options)
    payoff, model = checked_option(payoff, model)
    maturity = positive("maturity", maturity)
    time_steps = positive_int("time_steps", time_steps)
    reference_paths = positive_int("reference_paths", reference_paths, minimum=4)
    delta_paths = positive_int("delta_paths", delta_paths, minimum=4)
    options = SolverOptions.from_mapping({**PRICING_OPTIONS, **solver_options}, section="options")

    unit = payoff.unit
    equation = pricing_equation(payoff.scaled(1.0 / unit), model.scaled(1.0 / unit), maturity, time_steps)
    result = solve(equation, reference=None, **options.to_dict())
    estimate = control_variate_estimate(equation, result.model, model.rate, paths=delta_paths, seed=options.seed,
                                        gradient=True)
    assert estimate.gradient is not None and estimate.gradient_half_widths is not None  # gradient asked for
    reference_price = reference_deltas = delta_half_widths = None
    if reference:
        reference_price = black_scholes_price(payoff, model, maturity, num_paths=reference_paths, seed=reference_seed)
        reference_deltas, delta_half_widths = black_scholes_deltas(payoff, model, maturity, num_paths=reference_paths,
                                                                   seed=reference_seed)
    return PriceResult(unit * result.value, estimate.gradient, estimate.gradient_half_widths, reference_price,
                       reference_deltas, delta_half_widths, result, estimate.gradient_variance_ratios)


def pricing_equation(payoff: Payoff, model: BlackScholesModel, maturity: float,
                     time_steps: int) -> Equation:
    """The registered `black_scholes` equation of a payoff in a model."""
    correlation = [] if model.correlation is None else model.correlation.ravel().tolist()
    return get("black_scholes", dim=model.dim, x0=model.spots.tolist(), total_time=maturity,
                         num_time_interval=time_steps, rate=model.rate, volatilities=model.volatilities.tolist(),
                         dividend_yields=model.dividend_yields.tolist(), correlation=correlation,
                         **payoff.to_params())
