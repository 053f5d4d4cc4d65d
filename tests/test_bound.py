"""The certified bound from the tangents of a convex or concave generator, and the linearised value of any
other generator (deepbsde.checks.bound)."""
import logging
import sys
import warnings
from math import factorial
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import deepbsde
import equations
from deepbsde.checks import BoundEstimate, LinearizedEstimate, linearized_value, tangent_bound, tightened_bound
from deepbsde.checks.bound import REFINE_STEPS, TIGHTEN_SUBSTEPS, _step_integrals, bound_substeps, driver_side
from deepbsde.checks.diagnostics import diagnose, reported_value, worth_tightening
from deepbsde.reference import black_scholes_closed_form_call, cole_hopf_quadrature
from deepbsde.solver.history import HistoryRecord
from deepbsde.solver.model import DeepBSDEModel
from deepbsde.solver.options import SolverOptions
from equations.base import Equation
from equations.processes import GeometricBrownianMotion

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from heldout_problems import HELDOUT


class DeclaredConvexCall(Equation):
    """A call on one asset, f = -r y, declared convex: its tangent is f itself, so the bound is the price."""

    defaults = {"dim": 1, "x0": 100.0, "num_time_interval": 10}
    rate: float = 0.04
    vol: float = 0.3
    strike: float = 110.0

    def build_process(self):
        return GeometricBrownianMotion(self.x0, self.total_time, self.num_time_interval,
                                       drift_rate=self.rate, volatility=self.vol)

    def f(self, t, x, y, z):
        return -self.rate * y

    def g(self, x):
        return tf.nn.relu(x - self.strike)

    def driver_convexity(self):
        return "convex"


def test_declared_shapes():
    assert driver_side(equations.get("hjb")) == "upper"
    assert driver_side(equations.get("quadratic_gradient")) == "lower"
    assert driver_side(equations.get("bs_diff_rates")) == "lower"
    assert driver_side(equations.get("bs_diff_rates", rate_borrow=0.03)) == "upper"
    assert driver_side(equations.get("allen_cahn")) is None


@pytest.mark.parametrize("equation, substeps", [
    (equations.get("hjb", dim=4), 1), (equations.get("bs_diff_rates", dim=4), 1),  # f of (y, z) alone
    (equations.get("quadratic_gradient", dim=4), 2),  # a source in (t, x), N = 20: 40 sub-steps in all
    (HELDOUT["abs_z_ridge"](dim=4, num_time_interval=10), 4), (HELDOUT["abs_z_ridge"](dim=4, num_time_interval=7), 6),
    (HELDOUT["abs_z_ridge"](dim=4, num_time_interval=50), 1)])
def test_bound_takes_substeps_where_f_has_a_source_in_t_or_x(equation, substeps):
    """The tangent held over a step bounds f only where f does not change along the step's path at a fixed (y, z)."""
    assert bound_substeps(equation, DeepBSDEModel(equation, SolverOptions(hidden_widths=[8]), tf.float32)) == substeps


def test_untrained_networks_still_give_an_upper_bound_for_hjb():
    """Any Z is a control: the bound holds for networks at their initial values, only looser."""
    eq = equations.get("hjb", dim=4, lam=2.0, num_time_interval=10)
    truth = cole_hopf_quadrature(eq.g, eq.dim, 2.0, eq.total_time).value
    model = DeepBSDEModel(eq, SolverOptions(seed=3), tf.float64)
    bound = tangent_bound(eq, model, paths=2 ** 14, seed=1)
    assert bound.side == "upper" and bound.value + bound.half_width >= truth
    assert bound.value > truth + 0.01  # untrained: a loose bound


def test_linear_generator_bound_is_the_price():
    eq = DeclaredConvexCall()
    model = DeepBSDEModel(eq, SolverOptions(seed=1), tf.float64)
    bound = tangent_bound(eq, model, paths=2 ** 16, seed=2)
    exact = black_scholes_closed_form_call(100.0, 110.0, 0.04, 0.3, 1.0)
    assert bound.side == "lower" and abs(bound.value - exact) <= bound.half_width < 0.02 * exact


@pytest.mark.slow
def test_trained_hjb_bound_holds_and_is_reported():
    """Default options at d = 20 (measured: value 0.54% and bound 0.26% above the truth)."""
    eq = equations.get("hjb", dim=20)
    truth = cole_hopf_quadrature(eq.g, eq.dim, eq.lam, eq.total_time).value
    result = deepbsde.solve(eq, seed=1)
    bound = result.diagnostics.bound
    assert bound is not None and bound.side == "upper"
    assert truth - bound.half_width <= bound.value < truth * 1.01
    assert bound.variance_ratio < 0.5  # the networks' Z removes most of the noise
    assert result.diagnostics.to_dict()["bound"]["value"] == bound.value


@pytest.mark.slow
def test_value_above_the_upper_bound_is_flagged_in_a_real_run():
    """HJB d = 10, lambda = 20 with default options ends far above the truth (measured: 0.985 against
    0.365), beyond the bound the networks' own Z certifies (0.89; 0.48 tightened): the self-check says so."""
    eq = equations.get("hjb", dim=10, lam=20.0)
    truth = cole_hopf_quadrature(eq.g, eq.dim, eq.lam, eq.total_time).value
    with pytest.warns(deepbsde.NotConvergedWarning):
        result = deepbsde.solve(eq, seed=1)
    bound = result.diagnostics.bound
    assert result.network_value > bound.value + bound.half_width >= truth
    assert result.value == bound.value  # the closer estimate is the one reported
    assert any("beyond the certified upper bound" in reason for reason in result.diagnostics.reasons)
    assert any("bound was tightened" in note for note in result.diagnostics.notes)
    assert bound.tightened_from is not None and bound.value < bound.tightened_from
    assert result.diagnostics.to_dict()["bound"]["tightened_from"] == bound.tightened_from
    # unsettled (measured at 0d49ed8: its value still moved 0.55% over the last fifth): tightened, not refined
    assert any("cap of" in reason or "still moved" in reason for reason in result.diagnostics.reasons)
    assert bound.substeps == TIGHTEN_SUBSTEPS
    assert not any(f"then {REFINE_STEPS} more" in note for note in result.diagnostics.notes)


@pytest.mark.slow
def test_a_bound_far_above_a_value_below_the_truth_is_tightened_and_flags_it_in_a_real_run():
    """HJB d = 4, lambda = 5 with default options in float32 ends below the truth (measured: 0.3890 against
    0.4012), its bound far above (0.586); tightened, the bound still lies 6.5% above: the run is flagged.
    (The second solve under the tangent measure fails here too, measured; it is left out, as tested elsewhere.)"""
    eq = equations.get("hjb", dim=4, lam=5.0)
    truth = cole_hopf_quadrature(eq.g, eq.dim, eq.lam, eq.total_time).value
    with pytest.warns(deepbsde.NotConvergedWarning):
        result = deepbsde.solve(eq, dtype="float32", seed=1, tangent_refinement=False)
    bound = result.diagnostics.bound
    assert result.value == result.network_value < truth <= bound.value + bound.half_width
    assert bound.tightened_from is not None and bound.value < bound.tightened_from
    assert any("poor control even trained for the bound" in reason for reason in result.diagnostics.reasons)


def test_tightening_moves_the_upper_bound_down_toward_u_and_leaves_the_model_as_it_was():
    """Untrained networks of the robust preset (HJB d = 4, lambda = 10) define a poor control; training them
    for the bound lowers it, and it stays an upper bound of the Cole-Hopf value."""
    eq = equations.get("hjb", dim=4, lam=10.0, num_time_interval=10)
    truth = cole_hopf_quadrature(eq.g, eq.dim, eq.lam, eq.total_time).value
    model = DeepBSDEModel(eq, SolverOptions(hidden_widths=[8]), tf.float64)
    before = [variable.numpy() for variable in model.variables]
    plain = tangent_bound(eq, model, paths=4096, seed=2)
    tight = tightened_bound(eq, model, steps=60, paths=4096, seed=2)
    assert tight.side == "upper" and tight.substeps == 4  # the control follows the path within each step
    assert truth - tight.half_width <= tight.value < plain.value - plain.half_width - tight.half_width
    # sub-steps of the same untrained networks' control: still an upper bound (not a closer one: 2.74
    # against 2.61 without, measured; for trained networks at HJB d = 100, lambda = 50, 4.018 against 4.046)
    stepped = tangent_bound(eq, model, paths=4096, seed=2, substeps=4)
    assert stepped.substeps == 4 and truth - stepped.half_width <= stepped.value
    for variable, value in zip(model.variables, before):
        np.testing.assert_array_equal(variable.numpy(), value)


def records(value):
    return [HistoryRecord(100 * i, 0.1, value, 1e-2, float(i)) for i in range(6)]


@pytest.mark.parametrize("side, value, reason", [("upper", 4.0, False), ("upper", 4.1, True),
                                                  ("lower", 4.02, False), ("lower", 3.9, True)])
def test_value_beyond_the_bound_is_flagged(side, value, reason):
    bound = BoundEstimate(4.0, 0.01, side, 0.5, 1000)
    check = diagnose(value, records(value), 1.0, bound=bound)
    assert check.converged is not reason
    assert any("beyond the certified" in r for r in check.reasons) is reason
    assert check.bound is bound


@pytest.mark.parametrize("side, value, reported", [("upper", 3.9, 3.9), ("upper", 4.005, 4.0), ("upper", 4.1, 4.0),
                                                    ("lower", 4.1, 4.1), ("lower", 3.995, 4.0)])
def test_the_reported_value_is_the_bound_where_y0_lies_beyond_it(side, value, reported):
    """Beyond the bound's estimate even within its half-width: u(0, x0) lies on the bound's side, so the
    bound is the closer estimate; a note says so below the tolerance, a reason above it."""
    check = diagnose(value, records(value), 1.0, bound=BoundEstimate(4.0, 0.01, side, 0.5, 1000))
    assert reported_value(value, check) == reported
    assert any("which is reported as the value" in m for m in check.reasons + check.notes) is (reported != value)


def test_beyond_is_signed_by_the_side():
    assert BoundEstimate(4.0, 0.01, "upper", 0.5, 1000).beyond(4.1) == pytest.approx(0.1)
    assert BoundEstimate(4.0, 0.01, "lower", 0.5, 1000).beyond(4.1) == pytest.approx(-0.1)


@pytest.mark.parametrize("bound, tightened_from, converged", [(4.3, None, False), (4.3, 4.6, False),
                                                             (4.035, 4.6, True), (3.7, None, False)])
def test_bound_far_on_its_own_side_fails_the_check(bound, tightened_from, converged):
    """A bound more than the tolerance (and its half-width) from the value on its own side: the networks' Z is
    a poor control, even trained for the bound where it was tightened (HJB d = 4, lambda = 5, 3.04% below
    the truth, its tightened bound 6.5% above), so their Y_0 is unconfirmed; within it the check passes."""
    side = "upper" if bound > 4.0 else "lower"
    estimate = BoundEstimate(bound, 0.01, side, 0.5, 1000, tightened_from=tightened_from)
    check = diagnose(4.0, records(4.0), 1.0, bound=estimate)
    assert check.converged is converged
    poor = [r for r in check.reasons if "poor control" in r]
    assert bool(poor) is not converged
    assert all(("even trained for the bound" in r) is (tightened_from is not None) for r in poor)


def test_a_far_bound_is_tightened_a_near_one_is_not():
    upper = BoundEstimate(4.0, 0.01, "upper", 0.5, 1000)
    assert worth_tightening(upper, 3.9, 4.0)  # far below it
    assert worth_tightening(upper, 4.02, 4.0)  # certainly beyond it
    assert not worth_tightening(upper, 3.97, 4.0) and not worth_tightening(upper, 4.005, 4.0)
    # an unsettled run is flagged anyway: only a bound that becomes its reported value is worth the cost
    assert worth_tightening(upper, 4.02, 4.0, unsettled=True)
    assert not worth_tightening(upper, 3.9, 4.0, unsettled=True)


def test_an_f_that_cannot_take_a_tensor_time_gives_a_note_not_a_lost_result():
    """The bound's loop passes t as a tensor; an f computing on t with numpy fails there, after training."""
    hjb = type(equations.get("hjb"))

    class NumpyTimeHJB(hjb):
        def f(self, t, x, y, z):
            return super().f(t, x, y, z) * float(np.exp(0.0 * t))

    result = deepbsde.solve(NumpyTimeHJB(dim=2, num_time_interval=4), iterations=20, hidden_widths=[4], seed=1)
    assert result.diagnostics.bound is None and np.isfinite(result.value)
    assert any("no certified bound: f could not be evaluated with the time t as a tensor" in note
               for note in result.diagnostics.notes)


def test_a_tightening_that_fails_gives_a_note_and_keeps_the_bound(monkeypatch):
    """A value certainly beyond its bound has the bound tightened; should that fail (a device or strategy
    it cannot train under, say), the untightened bound stands and a note says why."""
    from deepbsde.checks import diagnostics

    low = BoundEstimate(-100.0, 0.01, "upper", 0.5, 1000)  # every value lies beyond it

    def fail(*args, **kwargs):
        raise RuntimeError("cannot train here\nsecond line")

    monkeypatch.setattr(diagnostics, "tangent_bound", lambda *args, **kwargs: low)
    monkeypatch.setattr(diagnostics, "tightened_bound", fail)
    with pytest.warns(deepbsde.NotConvergedWarning):
        result = deepbsde.solve(equations.get("hjb", dim=2, num_time_interval=4), iterations=20,
                                hidden_widths=[4], seed=1)
    assert result.diagnostics.bound is low and np.isfinite(result.value)
    assert "the bound could not be tightened (RuntimeError: cannot train here)" in result.diagnostics.notes
    # Y_0 lies beyond the bound, so the bound is the value; Y_0 is kept beside it
    assert result.value == -100.0 and result.network_value == result.history[-1].value > -100.0
    assert result.summary()["network_value"] == result.network_value


@pytest.mark.parametrize("value, reason", [(3.0, False), (3.02, False), (3.05, True), (2.95, True)])
def test_value_away_from_the_linearized_value_is_flagged(value, reason):
    """Beyond the tolerance (1% of the value) plus the estimate's half-width: flagged."""
    linearized = LinearizedEstimate(3.0, 0.005, 0.5, 1000)
    check = diagnose(value, records(value), 1.0, linearized=linearized)
    assert check.converged is not reason
    assert any("linearised value" in r for r in check.reasons) is reason
    assert check.to_dict()["linearized"]["value"] == 3.0


@pytest.mark.parametrize("estimate", [{"linearized": LinearizedEstimate(float("nan"), float("nan"), 0.5, 1000)},
                                      {"bound": BoundEstimate(float("inf"), 0.01, "upper", 0.5, 1000)}])
def test_a_check_that_is_not_finite_confirms_nothing(estimate):
    check = diagnose(3.0, records(3.0), 1.0, **estimate)
    assert not check.converged
    assert any("is not finite" in r for r in check.reasons)


def test_linearized_value_of_a_linear_f_is_exact_whatever_the_networks():
    """f linear in z but not f = -r y (so no control-variate price): its tangent is f itself, and the linearised
    value is the unbiased Monte Carlo value of the equation for networks trained only 20 steps."""
    eq = HELDOUT["gbm_mean_z"](dim=4, kappa=0.0, num_time_interval=10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = deepbsde.solve(eq, iterations=20, dtype="float64", seed=2)
    assert abs(result.network_value - eq.exact_value()) > 0.05  # the networks are far from the solution
    estimate = linearized_value(eq, result.model, paths=2 ** 14, seed=3)
    assert estimate.half_width < 1e-3 * eq.exact_value()
    assert abs(estimate.value - eq.exact_value()) < 3 * estimate.half_width / 1.96 + 1e-9
    assert result.diagnostics.linearized is not None  # every nonlinear-or-unbounded f gets the check



def test_linearized_value_integrates_a_source_in_t_and_x_by_the_trapezoidal_rule():
    """g = 0, u = (T - t) sin(w . x + phi) all from a source (f depends on neither y nor z): the linearised value
    is E int_0^T f dt whatever the networks, up to the quadrature. Holding the source at each step's start
    (the bound's rule) put it 4.6% above u(0, x0) at N = 10; the trapezoidal rule is O(dt^2)."""
    eq = HELDOUT["source_only"](dim=4, num_time_interval=10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = deepbsde.solve(eq, iterations=20, dtype="float64", seed=2)
    estimate = linearized_value(eq, result.model, paths=2 ** 16, seed=3)
    assert estimate.half_width < 0.01 * eq.exact_value()  # the start's rule: 4.6% off, 5 half-widths
    assert abs(estimate.value - eq.exact_value()) < 1.5 * estimate.half_width


def test_checks_built_anew_for_each_solve_do_not_read_as_retracing():
    """Each solve builds its own samplers, each traced once: TensorFlow, which counts traces by code object,
    warned of "retracing" after a few solves in one process (seen in a loop of the battery's solves)."""
    eq = equations.get("hjb", dim=2, num_time_interval=3)
    model = DeepBSDEModel(eq, SolverOptions(hidden_widths=[4]), tf.float64)
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    tf.get_logger().addHandler(handler)
    try:
        for seed in range(8):
            linearized_value(eq, model, paths=256, seed=seed)
    finally:
        tf.get_logger().removeHandler(handler)
    assert not [record.getMessage() for record in records if "retracing" in record.getMessage()]


@pytest.mark.parametrize("dtype, tolerance", [(tf.float32, 1e-6), (tf.float64, 1e-14)])
def test_the_step_integrals_hold_their_precision_for_small_rates(dtype, tolerance):
    """int_0^1 e^{alpha s} ds and int_0^1 s e^{alpha s} ds, which every step of the bound and the linearised
    value integrates with: in float32 the closed form of the second was 4.7% off at alpha = 1e-3 (100% at
    2e-4), and the bound's first 19% off at 1e-7; against their series summed in float64."""
    alphas = [0.0, 1e-9, 1e-7, 2e-4, -1e-3, 5e-3, 2e-2, 0.1, -0.33, 0.49, 0.51, -0.7, 1.5, -3.0]
    e1, e2 = (v.numpy() for v in _step_integrals(tf.constant(alphas, dtype)))
    exact1 = [sum(a ** k / factorial(k + 1) for k in range(40)) for a in alphas]
    exact2 = [sum(a ** k / (factorial(k) * (k + 2)) for k in range(40)) for a in alphas]
    np.testing.assert_allclose(e1, exact1, rtol=tolerance)
    np.testing.assert_allclose(e2, exact2, rtol=tolerance)
