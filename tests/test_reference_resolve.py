"""Which reference an equation gets: exact, computed (cheap or full), published."""
import numpy as np
import pytest
import tensorflow as tf

import equations
from deepbsde.reference import best_reference, black_scholes_closed_form_call, resolve_reference
from deepbsde.reference import resolve as resolve_module
from equations import Equation, GeometricBrownianMotion


class OneAssetCall(Equation):
    """Linear Black-Scholes for a call on one asset (f = -r y), declared for Monte Carlo."""

    name = "test_call"
    defaults = {"dim": 1, "x0": 100.0, "rate": 0.04, "vol": 0.3, "dividend": 0.01, "strike": 110.0}
    reference_method = "black_scholes_mc"

    def build_process(self):
        return GeometricBrownianMotion(self.x0, self.total_time, self.num_time_interval,
                                       drift_rate=self.rate - self.dividend, volatility=self.vol)

    def f(self, t, x, y, z):
        return -self.rate * y

    def g(self, x):
        return tf.nn.relu(x - self.strike)


def test_exact_solution_comes_first():
    reference = resolve_reference(equations.get("burgers"), "auto")
    assert reference.source == "exact solution" and reference.value == pytest.approx(0.5)


def test_hjb_auto_is_the_cole_hopf_quadrature_at_any_parameters():
    published = resolve_reference(equations.get("hjb"), "auto")
    assert "cole_hopf_quadrature" in published.source
    assert published.value == pytest.approx(4.5901, abs=1e-4) and published.half_width < 1e-8
    other = resolve_reference(equations.get("hjb", dim=10, lam=2.0, x0=0.3), "auto")
    assert "cole_hopf_quadrature" in other.source and other.value != published.value


def test_black_scholes_equation_gets_cheap_monte_carlo_matching_the_closed_form():
    equation = OneAssetCall()
    reference = resolve_reference(equation, "auto")
    assert reference.source.startswith("black_scholes_mc")
    exact = black_scholes_closed_form_call(100.0, 110.0, 0.04, 0.3, 1.0, dividend_yield=0.01)
    assert abs(reference.value - exact) <= reference.half_width < 0.002 * exact


def test_expensive_method_falls_back_to_the_published_value():
    reference = resolve_reference(equations.get("allen_cahn"), "auto")
    assert reference.value == 0.052802 and reference.source.startswith("published")
    assert resolve_reference(equations.get("allen_cahn", dim=10), "auto") is None


def test_full_reference_runs_the_expensive_method(monkeypatch):
    monkeypatch.setattr(resolve_module, "MLP_LEVELS", 2)
    monkeypatch.setattr(resolve_module, "MLP_SAMPLES", 2)
    reference = best_reference(equations.get("allen_cahn", dim=10), cheap=False)
    assert reference.source.startswith("mlp (M=2, n=2)")
    assert np.isfinite(reference.value) and reference.half_width > 0


def test_numbers_and_none_pass_through():
    assert resolve_reference(equations.get("allen_cahn"), None) is None
    reference = resolve_reference(equations.get("allen_cahn"), 0.05)
    assert reference.value == 0.05 and reference.half_width is None


def test_unknown_reference_method_is_an_error():
    class Misdeclared(OneAssetCall):
        reference_method = "branching"

    with pytest.raises(ValueError, match="branching"):
        resolve_reference(Misdeclared(), "auto")


def test_every_registered_method_is_known():
    known = {None, "cole_hopf", "mlp", "black_scholes_mc"}
    assert {equations.equation_class(name).reference_method for name in equations.available()} <= known
