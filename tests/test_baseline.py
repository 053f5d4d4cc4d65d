"""The per-time-step baseline computes the same mathematics as the stacked
solver (same weights and paths give the same mismatch, loss and gradients),
draws its paths correctly on the host, and trains."""
import numpy as np
import pytest
import tensorflow as tf

import equations
from deepbsde.solver.baseline import BaselineSolver, HostSampler
from deepbsde.solver.model import clipped_square_loss
from deepbsde.solver.options import SolverOptions
from deepbsde.solver.training import Trainer

BN_FIELDS = ("gamma", "beta", "moving_mean", "moving_variance")


def copy_into_baseline(model, baseline) -> list:
    """Copies the stacked model's weights into the baseline; returns pairs
    (baseline variable, function of the stacked gradients giving its gradient)."""
    pairs = [(baseline.y0, lambda grads: grads[model.y0.ref()]), (baseline.z0, lambda grads: grads[model.z0.ref()])]
    baseline.y0.assign(model.y0)
    baseline.z0.assign(model.z0)
    for n, net in enumerate(baseline.subnetworks):
        for dense, kernel in zip(net.denses, model.subnetworks.kernels, strict=True):
            dense.kernel.assign(kernel[n])
            pairs.append((dense.kernel, lambda grads, v=kernel, n=n: grads[v.ref()][n]))
        for norm, stacked in zip(net.norms, model.subnetworks.norms, strict=True):
            for field in BN_FIELDS:
                getattr(norm, field).assign(getattr(stacked, field)[n, 0])
            for field in ("gamma", "beta"):
                v = getattr(stacked, field)
                pairs.append((getattr(norm, field), lambda grads, v=v, n=n: grads[v.ref()][n, 0]))
    return pairs


@pytest.mark.parametrize("name, params", [("hjb", {"dim": 4, "num_time_interval": 5}),
                                          ("bs_default_risk", {"dim": 3, "num_time_interval": 4})])
def test_baseline_matches_stacked_model_with_copied_weights(name, params):
    eq = equations.get(name, **params)
    ours = Trainer(eq, SolverOptions(seed=3, preset="paper")).model
    baseline = BaselineSolver(eq, SolverOptions(seed=4, preset="paper")).model  # other seed: the copy must do the work
    pairs = copy_into_baseline(ours, baseline)
    assert len(pairs) == len(baseline.trainable_variables)
    dw, x = eq.sample(32, [5, 6], tf.float64)

    with tf.GradientTape(persistent=True) as tape:
        delta_ours = ours.terminal_mismatch(dw, x, training=True)
        delta_baseline = baseline.terminal_mismatch(dw, x, training=True)
        loss_ours, loss_baseline = (clipped_square_loss(d, 50.0) for d in (delta_ours, delta_baseline))
    assert float(tf.reduce_max(tf.abs(delta_ours))) > 1e-3  # a real mismatch, not zeros on both sides
    np.testing.assert_allclose(delta_baseline.numpy(), delta_ours.numpy(), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(loss_baseline.numpy(), loss_ours.numpy(), rtol=1e-10)

    grads = dict(zip([v.ref() for v in ours.trainable_variables],
                     tape.gradient(loss_ours, ours.trainable_variables)))
    baseline_grads = tape.gradient(loss_baseline, [v for v, _ in pairs])
    for (variable, ours_grad), grad in zip(pairs, baseline_grads):
        np.testing.assert_allclose(grad.numpy(), ours_grad(grads).numpy(), rtol=1e-8, atol=1e-12,
                                   err_msg=variable.path)

    # training mode moved both sets of batch-norm statistics the same way; inference agrees too
    for n, net in enumerate(baseline.subnetworks):
        np.testing.assert_allclose(net.norms[1].moving_mean.numpy(),
                                   ours.subnetworks.norms[1].moving_mean.numpy()[n, 0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(baseline.terminal_mismatch(dw, x, training=False).numpy(),
                               ours.terminal_mismatch(dw, x, training=False).numpy(), rtol=1e-10, atol=1e-10)


def test_host_sampler_draws_brownian_paths_of_the_equation():
    eq = equations.get("hjb", dim=3, num_time_interval=4, total_time=2.0)
    dw, x = HostSampler(eq, "float64", seed=1, stream=0).sample(20_000)
    assert dw.shape == (4, 20_000, 3) and x.shape == (5, 20_000, 3)
    assert isinstance(dw, np.ndarray) and isinstance(x, np.ndarray)
    np.testing.assert_allclose(dw.var(axis=1), eq.delta_t, rtol=0.05)
    np.testing.assert_allclose(x[0], np.broadcast_to(eq.x0, (20_000, 3)))
    np.testing.assert_allclose(np.diff(x, axis=0), eq.volatility * dw, atol=1e-12)
    again, _ = HostSampler(eq, "float64", seed=1, stream=0).sample(20_000)
    other, _ = HostSampler(eq, "float64", seed=1, stream=1).sample(20_000)
    np.testing.assert_array_equal(again, dw)
    assert not np.allclose(other, dw)


@pytest.mark.slow
def test_short_baseline_run_reduces_the_loss():
    eq = equations.get("hjb", dim=10, num_time_interval=5)
    options = SolverOptions(iterations=150, log_every=50, learning_rates=[2e-2, 1e-2], lr_boundaries=[100],
                            y0_range=[0.0, 0.5], seed=2, preset="paper")
    solver = BaselineSolver(eq, options)
    history, timings = solver.run()
    assert [r.step for r in history] == [0, 50, 100, 150]
    assert [r.learning_rate for r in history] == pytest.approx([2e-2, 2e-2, 2e-2, 1e-2])  # Keras: float32
    assert all(a.elapsed < b.elapsed for a, b in zip(history, history[1:]))
    assert history[-1].loss < 0.5 * history[0].loss
    assert history[-1].value > history[0].value + 1.0  # Y_0 climbs towards u(0, 0) = ~2.2
    assert timings["compile_seconds"] > 0 and timings["ms_per_iteration"] > 0


def test_baseline_refuses_options_it_does_not_implement():
    with pytest.raises(ValueError, match="batch norm"):
        BaselineSolver(equations.get("hjb", dim=2, num_time_interval=2),
                       SolverOptions(batch_norm=False, preset="paper"))
