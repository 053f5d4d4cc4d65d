"""Generators f and terminal conditions g against hand-computed values, and the
explicit solutions against their PDEs (autodiff residual at random points)."""
import numpy as np
import pytest
import tensorflow as tf

import deepbsde
import equations


def evaluate(eq, t, x, y, z):
    x, y, z = (tf.constant(np.atleast_2d(v), tf.float64) for v in (x, y, z))
    return float(eq.f(t, x, y, z).numpy()[0, 0]), float(eq.g(x).numpy()[0, 0])


def test_hjb():
    eq = equations.get("hjb", dim=3, lam=2.0)
    f, g = evaluate(eq, 0.1, [1.0, 2.0, -1.0], [[0.7]], [0.5, -1.0, 2.0])
    assert f == pytest.approx(-2.0 * (0.25 + 1.0 + 4.0) / 2)  # -lam |z|^2 / 2
    assert g == pytest.approx(np.log((1 + 6.0) / 2))


def test_allen_cahn():
    eq = equations.get("allen_cahn", dim=2)
    f, g = evaluate(eq, 0.0, [1.0, -3.0], [[0.5]], [9.0, 9.0])
    assert f == pytest.approx(0.5 - 0.125)
    assert g == pytest.approx(1.0 / (2.0 + 0.4 * 10.0))


@pytest.mark.parametrize("y, intensity", [(40.0, 0.2), (50.0, 0.2), (60.0, 0.11), (70.0, 0.02), (90.0, 0.02)])
def test_default_risk(y, intensity):
    eq = equations.get("bs_default_risk", dim=3)
    f, g = evaluate(eq, 0.0, [120.0, 80.0, 95.0], [[y]], [1.0, 2.0, 3.0])
    assert f == pytest.approx(-(1 - 2 / 3) * intensity * y - 0.02 * y)
    assert g == 80.0


@pytest.mark.parametrize("y, borrowing", [(10.0, True), (40.0, False)])
def test_different_rates(y, borrowing):
    eq = equations.get("bs_diff_rates", dim=2)
    z = [2.0, 4.0]  # sum z / sigma_bar = 30
    f, _ = evaluate(eq, 0.0, [100.0, 100.0], [[y]], z)
    expected = -0.04 * y - (0.06 - 0.04) / 0.2 * 6.0 + (0.06 - 0.04) * max(0.0, 30.0 - y)
    assert f == pytest.approx(expected)
    assert (expected > -0.04 * y - 0.6) == borrowing


@pytest.mark.parametrize("best, payoff", [(110.0, 0.0), (130.0, 10.0), (150.0, 30.0), (170.0, 10.0)])
def test_different_rates_call_spread(best, payoff):
    eq = equations.get("bs_diff_rates", dim=3)
    _, g = evaluate(eq, 0.0, [100.0, best, 90.0], [[0.0]], [0.0, 0.0, 0.0])
    assert g == pytest.approx(payoff)


def test_burgers():
    eq = equations.get("burgers", dim=4)
    f, g = evaluate(eq, 0.1, [0.4, -0.2, 0.6, 0.0], [[0.9]], [0.1, 0.2, 0.3, 0.4])
    assert f == pytest.approx((0.9 - 6.0 / 8.0) * 1.0)
    assert g == pytest.approx(1.0 / (1.0 + np.exp(-(0.2 + 0.8 / 4))))


def test_quadratic_gradient_value_and_g():
    eq = equations.get("quadratic_gradient", dim=2, alpha=0.5)
    x = np.array([1.0, 1.0])
    _, g = evaluate(eq, 0.0, x, [[0.0]], [0.0, 0.0])
    assert g == pytest.approx(np.sin((2.0 / 2) ** 0.5))
    # at x = 0 the correction h vanishes and f = |z|^2
    f, _ = evaluate(eq, 0.3, [0.0, 0.0], [[0.2]], [1.0, 2.0])
    assert f == pytest.approx(5.0)


def test_reaction_diffusion():
    eq = equations.get("reaction_diffusion", dim=4)
    lam = 0.5  # 1/sqrt(4)
    x = np.array([0.5, 1.0, 0.0, 1.5])
    exact = 1.6 + np.sin(lam * 3.0) * np.exp(lam ** 2 * 4 * (0.25 - 1.0) / 2)
    f, g = evaluate(eq, 0.25, x, [[exact + 0.3]], np.zeros(4))
    assert f == pytest.approx(0.09)
    f_far, _ = evaluate(eq, 0.25, x, [[exact + 3.0]], np.zeros(4))
    assert f_far == pytest.approx(1.0)
    assert g == pytest.approx(1.6 + np.sin(1.5))


def pde_residual(eq, t, x):
    """u_t + 1/2 sigma^2 Laplace(u) + mu . grad u + f(t, x, u, sigma grad u) for scalar sigma."""
    t = tf.constant(t, tf.float64)
    x = tf.constant(x, tf.float64)
    with tf.GradientTape() as outer:
        outer.watch(x)
        with tf.GradientTape() as inner:
            inner.watch(x)
            u = eq.exact_solution(t, x)
        grad = inner.gradient(u, x)
    laplacian = tf.linalg.trace(outer.batch_jacobian(grad, x))[:, tf.newaxis]
    h = 1e-5  # per-point u_t by a central difference: u is smooth in t
    u_t = (eq.exact_solution(t + h, x) - eq.exact_solution(t - h, x)) / (2 * h)
    process = eq.process
    z = process.diffusion_transpose_times(x, grad)
    drift = tf.reduce_sum(process.drift(x) * grad, axis=1, keepdims=True)
    return u_t + 0.5 * process.volatility ** 2 * laplacian + drift + eq.f(t, x, u, z), u


@pytest.mark.parametrize("name, dim", [("burgers", 50), ("burgers", 5), ("quadratic_gradient", 100),
                                       ("quadratic_gradient", 3), ("reaction_diffusion", 100),
                                       ("reaction_diffusion", 2)])
def test_explicit_solutions_satisfy_their_pde(name, dim):
    eq = equations.get(name, dim=dim)
    rng = np.random.default_rng(7)
    for t in (0.0, 0.37 * eq.total_time, 0.9 * eq.total_time):
        # points where the paths go: x0 + sigma W_t
        x = eq.x0 + eq.process.volatility * np.sqrt(max(t, 0.1)) * rng.standard_normal((16, dim))
        residual, u = pde_residual(eq, t, x)
        scale = float(tf.reduce_max(tf.abs(u)))
        assert float(tf.reduce_max(tf.abs(residual))) < 1e-6 * max(scale, 1.0), (name, dim, t)
    # and the terminal condition is the solution at T
    x = tf.constant(rng.standard_normal((8, dim)), tf.float64)
    np.testing.assert_allclose(eq.g(x), eq.exact_solution(eq.total_time, x), rtol=1e-12)


def test_residual_check_detects_a_wrong_generator():
    """The PDE check above is not vacuous: a sign error in f is caught."""
    eq = equations.get("quadratic_gradient", dim=3)
    original = eq.f
    eq.f = lambda t, x, y, z: original(t, x, y, -2.0 * z)
    x = np.random.default_rng(1).standard_normal((8, 3))
    residual, _ = pde_residual(eq, 0.5, x)
    assert float(tf.reduce_max(tf.abs(residual))) > 1e-3


@pytest.mark.parametrize("name", equations.available())
@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
def test_every_equation_keeps_the_dtype(name, dtype):
    """f and g of every registered equation run in float32 and float64 alike."""
    eq = equations.get(name, dim=3, num_time_interval=2)
    dw, x = eq.sample(4, [0, 0], dtype)
    y = tf.ones([4, 1], dtype)
    for t_index in range(eq.num_time_interval):
        assert eq.f(t_index * eq.delta_t, x[t_index], y, dw[t_index]).dtype == dtype
    assert eq.g(x[-1]).dtype == dtype and eq.g(x[-1]).shape == (4, 1)


class _Heat(equations.Equation):
    """A well-formed equation (u_t + Laplace(u) / 2 = 0, g = |x|^2); the broken ones below change one thing."""

    defaults = {"dim": 3, "num_time_interval": 4}

    def build_process(self):
        return equations.ScaledBrownianMotion(self.x0, self.total_time, self.num_time_interval)

    def f(self, t, x, y, z):
        return tf.zeros_like(y)

    def g(self, x):
        return tf.reduce_sum(tf.square(x), axis=1, keepdims=True)


class _GWithoutKeepdims(_Heat):
    def g(self, x):
        return tf.reduce_sum(tf.square(x), axis=1)


class _FOfShapeZ(_Heat):
    def f(self, t, x, y, z):
        return z  # [batch, d]: broadcast against Y, it used to train without an error


class _FWithNumpy(_Heat):
    def f(self, t, x, y, z):
        return np.sin(y)


class _GNotFiniteOnThePaths(_Heat):
    def g(self, x):
        return tf.math.log(x[:, :1])  # x_1 < 0 on about half the paths


class _FInFloat64(_Heat):
    def f(self, t, x, y, z):
        return tf.zeros(tf.shape(y), tf.float64)


@pytest.mark.parametrize("broken, field, reason", [
    (_GWithoutKeepdims, "g", "must have shape [64, 1] (one value per path), got [64]"),
    (_FOfShapeZ, "f", "must have shape [64, 1] (one value per path), got [64, 3]"),
    (_FWithNumpy, "f", "raised NotImplementedError: Cannot convert a symbolic tf.Tensor"),
    (_GNotFiniteOnThePaths, "g", "is not finite on"),
    (_FInFloat64, "f", "must keep the inputs' dtype float32, got float64"),
])
def test_an_equation_that_breaks_the_contract_is_named_before_training(broken, field, reason):
    """A user's f or g of the wrong shape, dtype or kind failed inside the solver with TensorFlow's message,
    or (f of shape [batch, d]) trained without any error."""
    with pytest.raises(deepbsde.ParameterError) as caught:
        deepbsde.solve(broken(), dtype="float32", iterations=1)
    assert caught.value.field == field and reason in caught.value.reason


@pytest.mark.parametrize("name", equations.available())
@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
def test_every_registered_equation_keeps_the_contract(name, dtype):
    equations.get(name, dim=4).check_functions(dtype)
    _Heat().check_functions(dtype)
