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


def test_parameters_are_declared_with_their_types():
    types = equations.equation_class("hjb").parameter_types()
    assert types["lam"] is float and types["dim"] is int and types["num_time_interval"] is int
    assert equations.equation_class("black_scholes").parameter_types()["volatilities"] == list[float]
    eq = equations.get("hjb", lam=2)  # an integer where a number is declared is converted
    assert eq.lam == 2.0 and isinstance(eq.lam, float)
    assert equations.equation_class("bs_default_risk").parameter_defaults()["x0"] == 100.0
    assert equations.equation_class("bs_diff_rates").parameter_defaults()["mu_bar"] == 0.06
    with pytest.raises(ParameterError, match="volatilities: must be a list of numbers"):
        equations.get("black_scholes", volatilities="high")


def test_parameters_of_a_user_equation_come_from_annotations_or_defaults():
    class Annotated(Equation):
        defaults = {"dim": 3, "speed": 2}  # a parameter of its own, typed by its default
        width: float = 0.5
        label: str = "a"
        constant = 7.0  # not annotated: a class constant, not a parameter

        def build_process(self):
            return ScaledBrownianMotion(self.x0, self.total_time, self.num_time_interval)

        def f(self, t, x, y, z):
            return tf.zeros_like(y)

        def g(self, x):
            return tf.zeros_like(x[:, :1])

    assert set(Annotated.parameter_defaults()) == {"dim", "total_time", "num_time_interval", "x0", "width",
                                                    "label", "speed"}
    eq = Annotated(width=1, speed=5)
    assert (eq.dim, eq.width, eq.speed, eq.label) == (3, 1.0, 5, "a")
    with pytest.raises(ParameterError, match="speed: must be an integer"):
        Annotated(speed=1.5)
    with pytest.raises(ParameterError, match="constant: unknown parameter"):
        Annotated(constant=1.0)


def test_modules_kept_at_their_old_paths_still_work():
    from deepbsde.finance import market, payoffs
    from deepbsde.market import BlackScholesModel
    from deepbsde.payoffs import MaxCall
    from deepbsde.relu_networks import max_call
    from deepbsde.training import Trainer, solve
    assert BlackScholesModel is market.BlackScholesModel and MaxCall is payoffs.MaxCall
    assert max_call(4, 1.0).tf_call is not None and Trainer and solve


def test_errors_share_one_root():
    from deepbsde.errors import ConfigError, DeepBSDEError, RunFolderError, UnknownEquationError
    assert issubclass(ConfigError, ParameterError) and issubclass(ParameterError, DeepBSDEError)
    assert issubclass(RunFolderError, DeepBSDEError) and not issubclass(RunFolderError, ParameterError)
    assert issubclass(UnknownEquationError, KeyError) and issubclass(UnknownEquationError, ParameterError)
