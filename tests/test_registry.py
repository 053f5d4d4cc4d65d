"""Equation registry: lookup, errors, user-defined equations, parameter validation."""
import numpy as np
import pytest
import tensorflow as tf

import equations
from equations import Equation, ParameterError, ScaledBrownianMotion

PUBLISHED_EQUATIONS = ["allen_cahn", "bs_default_risk", "bs_diff_rates", "burgers", "hjb",
                  "quadratic_gradient", "reaction_diffusion"]


def test_spec_equations_are_registered():
    assert set(PUBLISHED_EQUATIONS) <= set(equations.available())


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(equations.UnknownEquationError, match="unknown equation 'hbj'; known equations: .*hjb"):
        equations.get("hbj")


@pytest.mark.parametrize("params, field, reason", [
    ({"dimm": 3}, "dimm", "unknown parameter for equation 'hjb'; known parameters: .*dim"),
    ({"dim": 0}, "dim", "positive integer"),
    ({"dim": 2.5}, "dim", "must be an integer"),
    ({"dim": True}, "dim", "must be an integer"),
    ({"total_time": -1.0}, "total_time", "must be positive"),
    ({"total_time": "one"}, "total_time", "must be a number"),
    ({"num_time_interval": 0}, "num_time_interval", "positive integer"),
    ({"lam": -1.0}, "lam", "must be positive"),
    ({"dim": 3, "x0": [1.0, 2.0]}, "x0", "has 2 entries but dim is 3"),
    ({"total_time": float("nan")}, "total_time", "must be a finite number"),
])
def test_bad_parameters_name_the_field(params, field, reason):
    with pytest.raises(ParameterError, match=reason) as info:
        equations.get("hjb", **params)
    assert info.value.field == field


def test_black_scholes_parameters_are_checked():
    with pytest.raises(ParameterError, match="x0: must be positive"):
        equations.get("bs_default_risk", dim=2, x0=-1.0)
    with pytest.raises(ParameterError, match="v_h: must be below v_l"):
        equations.get("bs_default_risk", dim=2, v_h=80.0)


def test_x0_per_dimension():
    eq = equations.get("hjb", dim=3, x0=[1.0, 2, 3.5])
    np.testing.assert_array_equal(eq.x0, [1.0, 2.0, 3.5])


def test_published_reference_only_for_published_parameters():
    value, source = equations.get("hjb").reference()
    assert value == 4.5901 and source.startswith("published")
    assert equations.get("hjb", dim=10).reference() is None
    assert equations.get("allen_cahn", dim=100, total_time=0.3).reference()[0] == 0.052802


def test_exact_reference_at_any_parameters():
    value, source = equations.get("quadratic_gradient", dim=7, total_time=0.5).reference()
    assert value == pytest.approx(np.sin(0.5 ** 0.4)) and source == "exact solution"


def test_user_defined_equation_in_a_few_lines():
    @equations.register("test_heat_quadratic")
    class HeatQuadratic(Equation):
        """u = |x|^2 + d (T - t) solves u_t + Laplace(u)/2 = 0."""
        defaults = {"dim": 3}

        def build_process(self):
            return ScaledBrownianMotion(self.x0, self.total_time, self.num_time_interval)

        def f(self, t, x, y, z):
            return tf.zeros_like(y)

        def g(self, x):
            return tf.reduce_sum(tf.square(x), axis=1, keepdims=True)

    eq = equations.get("test_heat_quadratic", total_time=2.0)
    assert "test_heat_quadratic" in equations.available() and eq.dim == 3
    dw, x = eq.sample(8, [0, 0])
    assert x.shape == (eq.num_time_interval + 1, 8, 3)


def test_register_rejects_non_equations_and_name_clashes():
    with pytest.raises(TypeError, match="subclass of equations.Equation"):
        equations.register("not_an_equation")(dict)
    with pytest.raises(ValueError, match="already registered"):
        equations.register("hjb")(equations.equation_class("allen_cahn"))
