"""Training under the tangent measure: its paths and drift, its scheme, the check under the original measure,
and the refinement that uses them (deepbsde.solver.model.DeepBSDEModel.tangent_paths, deepbsde.checks.plain_measure,
deepbsde.runs.refinement)."""
from dataclasses import replace

import numpy as np
import pytest
import tensorflow as tf

import equations
from deepbsde.checks import BoundEstimate, LinearizedEstimate, diagnose
from deepbsde.checks.plain_measure import PlainMeasureEstimate, plain_measure_value
from deepbsde.runs import refinement
from deepbsde.solver.history import HistoryRecord
from deepbsde.solver.model import TANGENT_SHIFT
from deepbsde.solver.options import SolverOptions
from deepbsde.solver.training import Trainer


def hjb_trainer(rolled: bool = False, lam: float = 5.0, **options) -> Trainer:
    eq = equations.get("hjb", dim=3, lam=lam, num_time_interval=5)
    return Trainer(eq, SolverOptions(dtype="float64", rolled_time_loop=rolled, seed=4, **options), tangent=True)


def test_tangent_paths_are_driven_by_the_drift_of_the_networks_own_z():
    """HJB: f = -lam |z|^2 / 2, so b_n = df/dz = -lam Z_n at the path's own X_n, and X = x0 + sqrt(2) W moves by
    sqrt(2) (dW_n + b_n dt) (the cap far away at lam = 5)."""
    trainer = hjb_trainer()
    model, eq = trainer.model, trainer.equation
    dw = tf.random.stateless_normal([5, 16, 3], [2, 7], dtype=tf.float64) * np.sqrt(eq.delta_t)
    x, b = model.tangent_paths(dw)
    assert x.shape == (6, 16, 3) and b.shape == (5, 16, 3)
    np.testing.assert_allclose(x[0].numpy(), np.broadcast_to(eq.x0, (16, 3)))
    for n in range(5):
        z = model.z_at(n, x[n]).numpy()
        np.testing.assert_allclose(b[n].numpy(), -eq.lam * z, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(x[n + 1].numpy(), x[n].numpy() + np.sqrt(2.0) * (dw[n] + b[n] * eq.delta_t).numpy(),
                                   rtol=1e-10, atol=1e-12)
    assert np.abs(b.numpy()).max() > 0.01


def test_rolled_and_unrolled_tangent_paths_and_losses_agree():
    dw = tf.random.stateless_normal([5, 16, 3], [2, 8], dtype=tf.float64) * 0.4
    results = []
    for rolled in (False, True):
        trainer = hjb_trainer(rolled)
        x, b = trainer.model.tangent_paths(dw)
        mismatch = trainer.model.terminal_mismatch(dw, x, training=False, drift=b)
        results.append((x.numpy(), b.numpy(), mismatch.numpy()))
    for unrolled, rolled in zip(*results):
        np.testing.assert_allclose(unrolled, rolled, rtol=1e-12, atol=1e-12)


def test_euler_step_with_the_drift_is_the_plain_step_on_the_shifted_increments():
    """Y - (f - b . z) dt + z . dW = Y - f dt + z . (dW + b dt): the tangent measure's scheme is the scheme itself
    on the paths' own increments (untamed, where the taming of the two differs)."""
    trainer = hjb_trainer(time_scheme="euler", tamed_drift=False)
    model, eq = trainer.model, trainer.equation
    dw = tf.random.stateless_normal([5, 16, 3], [3, 1], dtype=tf.float64) * np.sqrt(eq.delta_t)
    x, b = model.tangent_paths(dw)
    tangent = model.terminal_mismatch(dw, x, training=False, drift=b).numpy()
    plain = model.terminal_mismatch(dw + b * eq.delta_t, x, training=False).numpy()
    np.testing.assert_allclose(tangent, plain, rtol=1e-12, atol=1e-12)


def test_the_drift_stops_once_it_has_shifted_a_path_by_its_budget():
    """At lam = 500 the drift -lam Z would carry the paths far; each path's shifts |b_n| dt add up to at most
    TANGENT_SHIFT sqrt(d T), and the paths that reach it get no drift after."""
    trainer = hjb_trainer(lam=500.0)
    eq = trainer.equation
    dw = tf.random.stateless_normal([5, 64, 3], [4, 4], dtype=tf.float64) * np.sqrt(eq.delta_t)
    _, b = trainer.model.tangent_paths(dw)
    shifts = np.linalg.norm(b.numpy(), axis=2) * eq.delta_t  # [N, paths]
    budget = TANGENT_SHIFT * np.sqrt(eq.dim * eq.total_time)
    total = shifts.sum(axis=0)
    assert np.all(total <= budget * (1 + 1e-12)) and np.any(total > 0.999 * budget)
    spent = np.cumsum(shifts, axis=0) >= budget * (1 - 1e-12)
    assert np.all(shifts[1:][spent[:-1]] == 0.0)


def test_value_under_the_original_measure_of_zero_networks_is_the_mean_of_g():
    """With Z = 0 and f(z) = -lam |z|^2 / 2 Euler's scheme keeps Y constant (Heun's last step would read Z_N =
    sigma^T grad g), so the Y_0 that zeroes its mean mismatch on paths of X is E g(X_N), with its interval."""
    trainer = hjb_trainer(terminal_gradient=False, linear_term="none", time_scheme="euler")
    model, eq = trainer.model, trainer.equation
    for variable in (model.z0_unit, model.subnetworks.kernels[-1], model.subnetworks.biases[-1]):
        variable.assign(tf.zeros_like(variable))
    estimate = plain_measure_value(eq, model, paths=4096, seed=3)
    _, x = eq.sample(2 ** 17, [9, 9], tf.float64)
    terminal = eq.g(x[-1]).numpy()
    assert abs(estimate.value - terminal.mean()) < estimate.half_width + 3 * terminal.std() / np.sqrt(2 ** 17)
    np.testing.assert_allclose(estimate.half_width, 1.96 * terminal.std() / np.sqrt(4096), rtol=0.05)


@pytest.mark.parametrize("name, wanted", [("allen_cahn", False), ("bs_default_risk", False), ("hjb", True)])
def test_refinement_is_wanted_only_where_f_depends_on_z(name, wanted):
    """A settled training whose value and bound (or linearised value) disagree asks for a second solve, unless f does
    not depend on z: its tangent measure is then the original one."""
    eq = equations.get(name, dim=3, num_time_interval=4)
    trainer = Trainer(eq, SolverOptions(dtype="float64", seed=1))
    trainer.plateau.finished = True
    check = diagnose(1.0, records(1.0), 1.0, linearized=LinearizedEstimate(1.5, 0.01, 0.5, 1000))
    assert check.second_order_gap
    assert refinement.wanted(trainer, check) is wanted
    assert not refinement.wanted(trainer, replace(check, second_order_gap=False))
    trainer.plateau.finished = False  # stopped by the iteration cap: a second solve would be too
    assert not refinement.wanted(trainer, check)

def records(value: float) -> list[HistoryRecord]:
    return [HistoryRecord(100 * i, 0.1, value, 1e-2, float(i)) for i in range(6)]


@pytest.mark.parametrize("value, reason", [(3.0, False), (3.02, False), (3.05, True), (2.95, True)])
def test_value_away_from_its_value_under_the_original_measure_is_flagged(value, reason):
    """Beyond the tolerance (1% of the value) plus the estimate's half-width: flagged, as for the linearised value."""
    check = diagnose(value, records(value), 1.0, plain_measure=PlainMeasureEstimate(3.0, 0.005, 1000))
    assert check.converged is not reason
    assert any("under the original measure" in r for r in check.reasons) is reason
    assert check.to_dict()["plain_measure"] == {"value": 3.0, "half_width": 0.005, "paths": 1000}
    assert not check.second_order_gap  # a first-order check: no reason to solve under the tangent measure


def test_a_value_under_the_original_measure_that_is_not_finite_fails():
    check = diagnose(3.0, records(3.0), 1.0, plain_measure=PlainMeasureEstimate(float("nan"), float("nan"), 1000))
    assert not check.converged


@pytest.mark.parametrize("estimate, gap", [
    ({"bound": BoundEstimate(4.0, 0.01, "upper", 0.5, 1000)}, False),  # the value on the bound
    ({"bound": BoundEstimate(3.9, 0.01, "upper", 0.5, 1000)}, True),   # beyond it by 2.5%
    ({"bound": BoundEstimate(4.1, 0.01, "upper", 0.5, 1000)}, True),   # 2.5% away on its side: a poor control
    ({"linearized": LinearizedEstimate(4.02, 0.01, 0.5, 1000)}, False),
    ({"linearized": LinearizedEstimate(4.2, 0.01, 0.5, 1000)}, True)])
def test_second_order_gap_is_a_value_away_from_the_bound_or_the_linearised_value(estimate, gap):
    check = diagnose(4.0, records(4.0), 1.0, **estimate)
    assert check.second_order_gap is gap and check.converged is not gap
