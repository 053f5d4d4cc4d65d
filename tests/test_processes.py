"""Forward SDE samplers against closed-form moments."""
import numpy as np
import pytest
import tensorflow as tf

from equations import GeometricBrownianMotion, ScaledBrownianMotion

BATCH = 200_000


def test_brownian_increments_and_paths():
    process = ScaledBrownianMotion(np.array([1.0, -2.0]), total_time=0.8, num_time_interval=4, volatility=1.5,
                                   drift_rate=0.25)
    dw, x = process.sample(BATCH, [3, 4])
    assert dw.shape == (4, BATCH, 2) and x.shape == (5, BATCH, 2)
    dw, x = dw.numpy(), x.numpy()
    np.testing.assert_allclose(x[0], np.broadcast_to([1.0, -2.0], (BATCH, 2)))
    np.testing.assert_allclose(x[1:] - x[:-1], 1.5 * dw + 0.25 * 0.2, atol=1e-12)
    # dW ~ N(0, dt): mean and variance within ~5 standard errors
    assert abs(dw.mean()) < 5 * np.sqrt(0.2 / dw.size)
    assert dw.var() == pytest.approx(0.2, rel=5 * np.sqrt(2 / dw.size))
    # X_T ~ N(x0 + mu T, sigma^2 T)
    np.testing.assert_allclose(x[-1].mean(axis=0), [1.2, -1.8], atol=5 * 1.5 * np.sqrt(0.8 / BATCH))
    np.testing.assert_allclose(x[-1].var(axis=0), 1.5 ** 2 * 0.8, rtol=5 * np.sqrt(2 / BATCH))
    # independent increments across time steps
    assert abs(np.corrcoef(dw[0, :, 0], dw[1, :, 0])[0, 1]) < 5 / np.sqrt(BATCH)


def test_gbm_moments_and_correlation():
    rho = 0.6
    correlation = np.array([[1.0, rho], [rho, 1.0]])
    mu, vol, total_time = np.array([0.05, -0.02]), np.array([0.2, 0.3]), 1.0
    process = GeometricBrownianMotion(np.array([100.0, 50.0]), total_time, 5, drift_rate=mu, volatility=vol,
                                      correlation=correlation)
    _, x = process.sample(BATCH, [5, 6])
    x_t = x.numpy()[-1]
    x0 = np.array([100.0, 50.0])
    mean = x0 * np.exp(mu * total_time)
    second = x0 ** 2 * np.exp((2 * mu + vol ** 2) * total_time)
    std = np.sqrt(second - mean ** 2)
    assert np.all(np.abs(x_t.mean(axis=0) - mean) < 5 * std / np.sqrt(BATCH))
    np.testing.assert_allclose((x_t ** 2).mean(axis=0), second, rtol=0.02)
    # log-returns are Gaussian with correlation rho
    log_returns = np.log(x_t / x0)
    assert np.corrcoef(log_returns.T)[0, 1] == pytest.approx(rho, abs=5 / np.sqrt(BATCH))
    assert np.all(np.abs(log_returns.mean(axis=0) - (mu - vol ** 2 / 2) * total_time) < 5 * vol / np.sqrt(BATCH))


def test_gbm_z_and_gradient_are_inverse():
    correlation = np.array([[1.0, 0.3, 0.1], [0.3, 1.0, -0.2], [0.1, -0.2, 1.0]])
    process = GeometricBrownianMotion(np.array([90.0, 100.0, 110.0]), 1.0, 2, drift_rate=0.01,
                                      volatility=[0.1, 0.2, 0.3], correlation=correlation)
    x = np.array([[95.0, 101.0, 120.0]])
    grad = np.array([[0.3, -0.5, 0.7]])
    z = process.diffusion_transpose_times(tf.constant(x), tf.constant(grad)).numpy()
    sigma = np.diag([0.1 * 95, 0.2 * 101, 0.3 * 120]) @ np.linalg.cholesky(correlation)
    np.testing.assert_allclose(z[0], sigma.T @ grad[0])
    np.testing.assert_allclose(process.gradient_from_z(x[0], z[0]), grad[0])


def test_samples_repeat_with_the_seed_and_differ_across_seeds():
    process = ScaledBrownianMotion(np.zeros(3), 1.0, 5)
    a, b, c = (process.sample(16, seed)[1].numpy() for seed in ([1, 2], [1, 2], [1, 3]))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_float32_sampling():
    _, x = ScaledBrownianMotion(np.zeros(2), 1.0, 3).sample(4, [0, 1], tf.float32)
    assert x.dtype == tf.float32
