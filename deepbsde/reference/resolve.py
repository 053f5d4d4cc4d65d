"""Which reference an equation gets, in order of trust: its exact solution, a
reference computed by the method its class names (`reference_method`), or
its published value (only for the published parameters)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf

from deepbsde.errors import ParameterError
from deepbsde.finance.market import BlackScholesModel
from deepbsde.reference.black_scholes_mc import black_scholes_price
from deepbsde.reference.cole_hopf import cole_hopf_monte_carlo, cole_hopf_quadrature, is_radial
from deepbsde.reference.estimate import Estimate
from deepbsde.reference.mlp import multilevel_picard
from equations.base import Equation
from equations.processes import GeometricBrownianMotion, ScaledBrownianMotion

#: Monte Carlo budgets: "cheap" runs in seconds on a laptop CPU, "full" is the validation grade.
CHEAP_NORMALS = 2 ** 27           # paths * d for a cheap Black-Scholes estimate (~1.3e6 paths at d = 100)
CHEAP_PATHS = (2 ** 14, 2 ** 22)  # ... within these bounds
FULL_PATHS = 10 ** 7
MLP_LEVELS, MLP_SAMPLES, MLP_REPETITIONS = 5, 5, 10


@dataclass(frozen=True)
class ReferenceValue:
    """A reference u(0, x0): its value, how it is known, and a 95% half-width if it is an estimate."""

    value: float
    source: str
    half_width: float | None = None


def resolve_reference(equation: Equation, reference: Any) -> ReferenceValue | None:
    """The reference a configuration asks for: "auto", a number, or None.

    "auto" is the first of: the exact solution; a computed reference where it
    is cheap (seconds); the published value for the published parameters.
    """
    if reference is None:
        return None
    if reference == "auto":
        return best_reference(equation, cheap=True)
    return ReferenceValue(float(reference), "given in the configuration")


def best_reference(equation: Equation, *, cheap: bool, seed: int = 0) -> ReferenceValue | None:
    """Exact solution, else computed reference (only cheap ones if `cheap`), else published value."""
    exact = equation.exact_value()
    if exact is not None:
        return ReferenceValue(exact, "exact solution")
    estimate = computed_reference(equation, cheap=cheap, seed=seed)
    if estimate is not None:
        return ReferenceValue(estimate.value, f"{estimate.method}, num_samples={estimate.num_samples}",
                              estimate.half_width)
    published = equation.reference()  # without an exact solution, only the published value is left
    return ReferenceValue(*published) if published is not None else None


def computed_reference(equation: Equation, *, cheap: bool = False, seed: int = 0) -> Estimate | None:
    """u(0, x0) by the equation's `reference_method`; None when it has none, or
    when `cheap` and the method would take more than seconds."""
    method = equation.reference_method
    if method is None:
        return None
    if method == "cole_hopf":
        return _cole_hopf(equation, cheap, seed)
    if method == "black_scholes_mc":
        return _black_scholes(equation, cheap, seed)
    if method == "mlp":
        return None if cheap else multilevel_picard(equation, levels=MLP_LEVELS, samples=MLP_SAMPLES,
                                                    repetitions=MLP_REPETITIONS, seed=seed)
    raise ValueError(f"{type(equation).__name__}.reference_method: unknown method {method!r}")


def _cole_hopf(equation: Equation, cheap: bool, seed: int) -> Estimate | None:
    """Cole-Hopf needs u_t + Laplace(u) - lam |grad u|^2 = 0: X = x + sqrt(2) W, f = -lam |z|^2 / 2."""
    process = equation.process
    if not (isinstance(process, ScaledBrownianMotion) and np.isclose(process.volatility, np.sqrt(2.0))
            and process.drift_rate == 0.0):
        raise ParameterError("equation", f"'{equation.name}': Cole-Hopf needs X = x0 + sqrt(2) W")
    if "lam" not in equation.params:
        raise ParameterError("equation", f"'{equation.name}': Cole-Hopf needs the parameter lam of f = -lam |z|^2 / 2")
    arguments = (equation.g, equation.dim, equation.params["lam"], equation.total_time)
    if is_radial(equation.g, equation.dim):
        return cole_hopf_quadrature(*arguments, x=equation.x0)
    if cheap:
        return None
    return cole_hopf_monte_carlo(*arguments, x=equation.x0, num_paths=FULL_PATHS, seed=seed)


def _black_scholes(equation: Equation, cheap: bool, seed: int) -> Estimate:
    """Linear Black-Scholes, f = -r y: the market is read off the equation's
    process (drift r - q, volatilities, correlation) and r off its f."""
    process = equation.process
    if not isinstance(process, GeometricBrownianMotion):
        raise ParameterError("equation", f"'{equation.name}': Black-Scholes Monte Carlo needs a GBM")
    rate = _discount_rate(equation)
    correlation = None if process.cholesky is None else process.cholesky @ process.cholesky.T
    model = BlackScholesModel(equation.x0, rate, process.volatility, rate - process.drift_rate, correlation)
    num_paths = int(np.clip(CHEAP_NORMALS // equation.dim, *CHEAP_PATHS)) if cheap else FULL_PATHS
    return black_scholes_price(equation.g, model, equation.total_time, num_paths=num_paths, seed=seed)


#: Second seed word of the points at which `linear_rate` probes f.
LINEAR_PROBE_STREAM = -4


def linear_rate(equation: Equation, probes: int = 64) -> float | None:
    """r when f(t, x, y, z) = -r y with a constant r (checked at random points), else None."""
    dtype = tf.float64
    _, x = equation.sample(probes, [0, LINEAR_PROBE_STREAM], dtype)
    rng = np.random.default_rng(0)
    # y over the whole range of g, so a piecewise f (such as a default intensity) shows its kinks
    size = float(tf.reduce_max(tf.abs(equation.g(x[-1])))) + 1.0
    y = tf.constant(rng.uniform(-2.0, 2.0, size=(probes, 1)) * size, dtype)
    z = tf.constant(rng.normal(size=(probes, equation.dim)), dtype)
    rates = []
    for n in (0, equation.num_time_interval // 2, equation.num_time_interval - 1):
        t = n * equation.delta_t
        one = equation.f(t, x[n], tf.ones_like(y), tf.zeros_like(z)).numpy()
        if not np.allclose(equation.f(t, x[n], y, z).numpy(), one * y.numpy(), rtol=1e-9, atol=1e-12):
            return None
        rates.append(-one)
    stacked = np.concatenate(rates)
    return float(stacked[0, 0]) if np.allclose(stacked, stacked[0, 0], rtol=1e-9, atol=1e-12) else None


def _discount_rate(equation: Equation) -> float:
    """r of f = -r y (linear_rate), or a ParameterError."""
    rate = linear_rate(equation)
    if rate is None:
        raise ParameterError("equation", f"'{equation.name}': Black-Scholes Monte Carlo needs f = -r y")
    return rate
