"""Fast subset of the robustness battery (scripts/robustness.py): held-out equations
checked against their PDE, and small solves with default options against exact values."""
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import deepbsde
import equations
from deepbsde.solver.initialization import estimate_scales, pathwise_targets

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from heldout_problems import HELDOUT


def pde_residual(eq, t: float, x: np.ndarray, h: float = 1e-3) -> np.ndarray:
    """u_t + 1/2 Tr(sigma sigma^T Hess u) + mu . grad u + f(t, x, u, sigma^T grad u) by central differences
    (sigma's rows read from the process as sigma(x)^T e_i, so any forward process, diagonal or not)."""
    u = lambda s, y: eq.exact_solution(tf.constant(s, tf.float64), tf.constant(y, tf.float64)).numpy()[:, 0]  # noqa: E731
    rows = x.shape[0]
    u0 = u(t, x)
    u_t = (u(t + h, x) - u(t - h, x)) / (2 * h)
    steps = [np.zeros_like(x) for _ in range(eq.dim)]
    for i, step in enumerate(steps):
        step[:, i] = h * np.maximum(1.0, np.abs(x[:, i]))
    widths = np.stack([step.sum(axis=1) for step in steps], axis=1)  # [rows, d]
    grad = np.stack([(u(t, x + step) - u(t, x - step)) for step in steps], axis=1) / (2 * widths)
    hessian = np.zeros((rows, eq.dim, eq.dim))
    for i, first in enumerate(steps):
        for k, second in enumerate(steps):
            corners = u(t, x + first + second) - u(t, x + first - second) - u(t, x - first + second) \
                + u(t, x - first - second)
            hessian[:, i, k] = corners / (4 * widths[:, i] * widths[:, k])
    xt = tf.constant(x, tf.float64)
    sigma_rows = np.stack([eq.process.diffusion_transpose_times(xt, tf.one_hot([i] * rows, eq.dim, dtype=tf.float64))
                           .numpy() for i in range(eq.dim)], axis=1)  # [rows, d, d]: row i of sigma(x)
    covariance = sigma_rows @ np.swapaxes(sigma_rows, 1, 2)
    drift = eq.process.drift(xt).numpy()
    z = eq.process.diffusion_transpose_times(xt, tf.constant(grad, tf.float64)).numpy()
    f = eq.f(t, xt, tf.constant(u0.reshape(rows, 1), tf.float64), tf.constant(z, tf.float64)).numpy()[:, 0]
    return u_t + 0.5 * np.einsum("rik,rik->r", covariance, hessian) + np.sum(drift * grad, axis=1) + f


@pytest.mark.parametrize("name", sorted(HELDOUT))
def test_heldout_equation_solves_its_pde(name):
    eq = HELDOUT[name](dim=4)
    _, paths = eq.sample(3, [0, 5], tf.float64)
    x = paths[eq.num_time_interval // 2].numpy()
    scale = np.abs(eq.exact_solution(tf.constant(0.5, tf.float64), tf.constant(x)).numpy()).max()
    # h = 1e-4: with 1e-3 the central difference in t of oscillating_time (omega = 6) is off by about
    # omega^3 h^2 / 6 = 4e-5 alone
    assert np.abs(pde_residual(eq, 0.5, x, h=1e-4)).max() < 1e-5 * max(scale, 1.0)
    assert np.allclose(eq.g(tf.constant(x)).numpy(),
                       eq.exact_solution(tf.constant(eq.total_time, tf.float64), tf.constant(x)).numpy())


def test_pilot_target_carries_the_source_of_f_and_sizes_z_by_it():
    """g = 0 and u = (T - t) sin(w . x + phi) all from a source in f: by the BSDE, G = g(X_N) + int f dt =
    Y_0 + int Z dW along the solution, so std G (not std g = 0) is the size of Y's fluctuations, and the
    regression of G on W_T gives the time average of E Z_t = (T - t) e^{-t/2} cos(phi) w, w = (1, ..., 1) /
    sqrt(d): cos(phi) w int_0^1 (1 - t) e^{-t/2} dt = cos(phi) w (2 - 4 (1 - e^{-1/2}))."""
    eq = HELDOUT["source_only"](dim=4)
    dw, x = eq.sample(4096, [0, 3], tf.float64)
    target, y0 = pathwise_targets(eq, x)
    assert abs(y0 - float(eq.exact_value())) < 0.02  # the Z = 0 recursion on means, here E int f dt
    scales = estimate_scales(eq, seed=1)
    assert scales.y_scale > 0.3  # std of int_0^1 f dt along a path; std g = 0
    np.testing.assert_allclose(scales.z0, np.cos(0.2) / 2.0 * (2.0 - 4.0 * (1.0 - np.exp(-0.5))), rtol=0.1)


# Measured at d = 4, N = 10, default options, float32, seed 1 (scripts/robustness.py runs them at full size).
# source_only (g = 0, all of u from a source in (t, x)) ends 0.32% off, its value still moving by 0.29% over the last
# fifth of training: flagged for it alone while the limit was 0.2%, now half the 1% tolerance
WITHIN_ONE_PERCENT = ("bachelier_basket", "correlated_log_concave", "cubic_source", "digital_geometric",
                      "gbm_log_quadratic", "gbm_mean_z", "gbm_squares", "geometric_mean_call", "kinked_ridge_heat",
                      "large_heat", "ou_squares", "short_puts", "sine_circle", "source_only")
# more than 1% off, and every check but the linearised value passed it: oscillating_time (a source oscillating in
# t, f = (y - 2)|sum z| + ...) 2.1% off, its linearised value 2.6% from Y_0 and 0.5% from u; solved again under
# the tangent measure, it fails the self-check again, and the first result stands
CAUGHT_BY_THE_LINEARIZED_VALUE = ("oscillating_time",)
# flagged by the linearised value after the first training, then solved again under the tangent measure: tanh_ridge
# (f = (y - 4)|z|) 1.8% off, its linearised value 1.4% from Y_0; the second solve 0.009% off, passing; tanh_coupled
# (f = 3 (y - 2) sum z / sqrt(d) + h) first 1.5% off, the second solve 0.24%
REFINED_UNDER_THE_TANGENT_MEASURE = ("tanh_coupled", "tanh_ridge")
# Y_0 off by the bias of the coarse time grid (N = 10), seen by the bound on sub-steps: abs_z_ridge (f = -kappa |z|
# + h, concave) ends 1.39% off (0.75% at N = 20, 0.14% at N = 40, the same solve on finer grids). Its upper bound on
# the grid itself lay 1.43% above u, Y_0 inside it, and the run passed; f's source in (t, x) now gives the bound's
# paths 4 sub-steps per step, where it lies 0.48% above u, and tightened, 0.39%: Y_0 beyond it, it is reported
CORRECTED_BY_THE_BOUND_ON_SUBSTEPS = ("abs_z_ridge",)


def default_solve(name: str):
    """The small problem solved with default options."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return deepbsde.solve(HELDOUT[name](dim=4, num_time_interval=10), dtype="float32", seed=1)


def test_every_heldout_problem_has_an_expected_outcome():
    outcomes = {*WITHIN_ONE_PERCENT, *CAUGHT_BY_THE_LINEARIZED_VALUE, *REFINED_UNDER_THE_TANGENT_MEASURE,
                *CORRECTED_BY_THE_BOUND_ON_SUBSTEPS, "digital_indifference", "long_horizon_sine", "small_oscillation"}
    assert outcomes == set(HELDOUT)


@pytest.mark.parametrize("name", WITHIN_ONE_PERCENT)
def test_default_solve_of_small_heldout_problem_is_within_one_percent_and_passes(name):
    result = default_solve(name)
    assert result.rel_error < 0.01, (result.value, result.reference)
    assert result.diagnostics.converged, result.diagnostics.reasons


@pytest.mark.parametrize("name", CAUGHT_BY_THE_LINEARIZED_VALUE)
def test_small_heldout_problem_off_by_more_than_one_percent_is_flagged_by_its_linearized_value(name):
    result = default_solve(name)
    assert result.rel_error > 0.01
    assert not result.diagnostics.converged
    assert any("linearised value" in reason for reason in result.diagnostics.reasons)
    assert any(note.startswith("solved again under the tangent measure, the networks ended at")
               for note in result.diagnostics.notes)  # tried, and not kept


@pytest.mark.parametrize("name", REFINED_UNDER_THE_TANGENT_MEASURE)
def test_small_heldout_problem_flagged_by_its_linearized_value_is_solved_again_within_one_percent(name):
    result = default_solve(name)
    check = result.diagnostics
    assert result.rel_error < 0.01 and check.converged, (result.value, check.reasons)
    assert any(note.startswith("solved again under the tangent measure: the first training's value")
               and "linearised value" in note for note in check.notes)
    # the second solve's own first-order check (passed: the verdict) and the history of both trainings
    assert check.plain_measure is not None
    history = result.history
    assert result.iterations == history[-1].step and all(a.step < b.step for a, b in zip(history, history[1:]))


@pytest.mark.parametrize("name", CORRECTED_BY_THE_BOUND_ON_SUBSTEPS)
def test_time_grid_bias_of_y0_is_seen_by_the_bound_on_substeps_and_the_bound_reported(name):
    """The bound of an f with a source in (t, x) holds up to a bias of order dt, so its paths take sub-steps (40
    in all): the grid's error of Y_0 then lies beyond it, and the bound is the value."""
    result = default_solve(name)
    check = result.diagnostics
    assert abs(result.network_value - result.reference) > 0.01 * abs(result.reference), result.network_value
    assert check.bound.substeps == 4 and result.value == check.bound.value != result.network_value
    assert result.rel_error < 0.01 and check.converged, (result.value, check.reasons)


def test_small_deep_out_of_the_money_indifference_price_is_off_and_its_noisy_bound_flags_it():
    """f = kappa |z|^2, g a digital paid with probability 0.6%: u = 0.106 against a payoff spread of 0.6, so the
    checks' scale is six times the value; the reported lower bound ends 17.6% off with an interval of +/- 11%,
    which can confirm nothing (measured). A digital under an f quadratic in z is a known limit of the defaults."""
    result = default_solve("digital_indifference")
    assert result.rel_error > 0.01 and not result.diagnostics.converged
    assert any("certified bound" in r and "cannot confirm" in r for r in result.diagnostics.reasons)


def test_small_long_horizon_sine_off_by_more_than_one_percent_is_flagged():
    """T = 5 on 10 steps, f = sin(d |z|^2 / 4 - y + T - t): 2.7% off, its value still moving (and more)."""
    result = default_solve("long_horizon_sine")
    assert result.rel_error > 0.01
    assert not result.diagnostics.converged


def test_small_oscillation_no_longer_diverges_and_its_y0_is_within_one_percent():
    """u = 0.002 with f holding 1000 (y - 0.002)^2: run forward, the untamed recursion blew up before the first
    step (e' = -1000 e^2 on any path about 1e-3 below u). Tamed: Y_0 0.10% off (measured). The reported value is
    its certified lower bound, 0.31% above u here (0.99% before the bound took sub-steps): the bound holds exactly
    only for an f of (y, z) alone, and this f's source e^{2 delta (t - T)} costs it a bias of order dt."""
    result = default_solve("small_oscillation")
    assert abs(result.network_value - result.reference) < 0.01 * abs(result.reference)
    assert result.rel_error < 0.01 and result.diagnostics.bound.substeps == 4, result.value
    assert result.diagnostics.converged, result.diagnostics.reasons


@pytest.mark.slow
def test_reaction_diffusion_with_default_options_is_within_one_percent_and_passes():
    """Its value looked settled under batch noise while the validation loss still fell 30% per 500 steps:
    at d = 100 the adaptive schedule's drop at step 800 froze it 2.1% off (flagged); waiting for the loss,
    0.58% (the battery). At d = 30, measured: 0.43% off and passing, against 1.15% off and flagged with the
    wait disabled (LOSS_FALL = 1e9), in half the time of d = 100."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", deepbsde.NotConvergedWarning)
        result = deepbsde.solve(equations.get("reaction_diffusion", dim=30), dtype="float32", seed=1)
    assert result.rel_error < 0.01 and result.diagnostics.converged, (result.value, result.diagnostics.reasons)
