"""The deep BSDE solver: building blocks against plain references, a short
training run against an explicit solution, reproducibility, divergence."""
import threading

import numpy as np
import pytest
import tensorflow as tf

import deepbsde
import equations
from deepbsde.runs.limits import MAX_TIME_STEPS, check_limits, memory_estimate
from deepbsde.solver import training
from deepbsde.solver.model import clipped_square_loss
from deepbsde.solver.networks import BN_EPSILON, StackedSubnetworks
from deepbsde.solver.optimizer import adam, current_learning_rate
from deepbsde.solver.options import SolverOptions
from deepbsde.solver.training import VALIDATION_STREAM, Trainer

SMALL_BURGERS = {"dim": 5, "num_time_interval": 10}
SMALL_OPTIONS = {"learning_rates": [2e-2, 2e-3], "lr_boundaries": [700], "y0_range": [0.0, 1.0]}


def test_stacked_subnetworks_match_separate_per_step_networks():
    """Slice n of the stacked pass equals network n applied alone, with its own batch statistics."""
    steps, dim, batch = 4, 3, 32
    nets = StackedSubnetworks(steps, dim, [5, 6], batch_norm=True, dtype=tf.float64, seed=3)
    scales = np.arange(1, steps + 1)[:, None, None]
    x = tf.random.stateless_normal([steps, batch, dim], [1, 1], dtype=tf.float64) * scales
    stacked = nets(x, training=True).numpy()

    def norm(h, bn, n):
        mean, var = h.mean(axis=0), h.var(axis=0)
        return (h - mean) / np.sqrt(var + BN_EPSILON) * bn.gamma.numpy()[n, 0] + bn.beta.numpy()[n, 0]

    for n in range(steps):
        h = norm(x.numpy()[n], nets.norms[0], n)
        for k, kernel in enumerate(nets.kernels):
            h = norm(h @ kernel.numpy()[n], nets.norms[k + 1], n)
            if k < len(nets.kernels) - 1:
                h = np.maximum(h, 0.0)
        np.testing.assert_allclose(stacked[n], h, rtol=1e-10, atol=1e-10)


def test_batch_norm_moving_statistics_follow_the_batches():
    nets = StackedSubnetworks(2, 2, [3], batch_norm=True, dtype=tf.float64, seed=0)
    x = tf.constant(np.random.default_rng(0).normal(5.0, 2.0, (2, 256, 2)))
    nets(x, training=True)
    np.testing.assert_allclose(nets.norms[0].moving_mean.numpy()[:, 0], 0.01 * x.numpy().mean(axis=1))
    inference = nets(x, training=False)  # uses the moving statistics, updates nothing
    assert inference.shape == (2, 256, 2)
    np.testing.assert_allclose(nets.norms[0].moving_mean.numpy()[:, 0], 0.01 * x.numpy().mean(axis=1))


@pytest.mark.parametrize("preset, shared", [("paper", False), ("robust", False), ("robust", True)])
def test_one_step_network_equals_its_slice_of_the_stacked_pass(preset, shared):
    """DeepBSDEModel.z_at(n, x) (a path simulated step by step) is step n of the stacked evaluation."""
    eq = equations.get("hjb", dim=3, num_time_interval=5)
    model = Trainer(eq, SolverOptions(preset=preset, shared_network=shared, seed=2, dtype="float64")).model
    x = tf.random.stateless_normal([6, 7, 3], [4, 4], dtype=tf.float64)
    stacked = model.z_all_steps(x, training=False).numpy()
    for n in range(5):
        np.testing.assert_allclose(model.z_at(n, x[n]).numpy(), stacked[n], rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="inference"):
        model.subnetworks(x[:1], training=True, step=0)


def test_subnetworks_without_batch_norm_have_biases():
    nets = StackedSubnetworks(3, 4, [8], batch_norm=False, dtype=tf.float32, seed=0)
    assert len(nets.biases) == 2 and not nets.norms
    assert nets(tf.zeros([3, 5, 4]), training=True).shape == (3, 5, 4)
    assert nets.flops_per_sample() == 3 * 2 * (4 * 8 + 8 * 4)


def test_learning_rate_schedule_switches_after_each_boundary():
    variable = tf.Variable([1.0])
    optimizer = adam([10, 20], [1.0, 0.5, 0.25], [variable])
    rates = []
    for step in (0, 10, 11, 20, 21, 1000):
        optimizer.iterations.assign(step)
        rates.append(current_learning_rate(optimizer))
    assert rates == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
    assert current_learning_rate(adam([], [0.3], [variable])) == pytest.approx(0.3)


def test_clipped_square_loss_is_linear_beyond_the_clip():
    delta = tf.constant([[1.0], [-3.0], [10.0]], tf.float64)
    loss = float(clipped_square_loss(delta, 5.0))
    assert loss == pytest.approx((1.0 + 9.0 + (2 * 5 * 10 - 25)) / 3)


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_short_run_reaches_explicit_solution(dtype):
    """Burgers-type, d = 5: u(0, 0) = 0.5 exactly; 1000 steps get within 1%."""
    result = deepbsde.solve(equations.get("burgers", **SMALL_BURGERS), iterations=1000, seed=1, dtype=dtype,
                            log_every=250, **SMALL_OPTIONS)
    assert result.reference == 0.5 and result.reference_source == "exact solution"
    assert result.rel_error < 0.01, result.value
    assert [r.step for r in result.history] == [0, 250, 500, 750, 1000]
    assert result.history[-1].loss < result.history[0].loss
    assert result.history[-1].learning_rate == pytest.approx(2e-3)
    assert result.z0.shape == (5,) and result.iterations == 1000
    assert result.ms_per_iteration > 0 and result.seconds > result.compile_seconds > 0


def _train(equation, **options):
    """The trained Trainer and its history: training alone, without solve's self-check (whose bound
    tightening would double these tests' time and is tested in tests/test_bound.py)."""
    trainer = Trainer(equation, SolverOptions.from_mapping(options))
    history, _ = trainer.run()
    return trainer, history


@pytest.mark.slow
def test_same_seed_same_run_other_seed_other_run():
    def run(seed):
        _, history = _train(equations.get("allen_cahn", dim=3, num_time_interval=4), iterations=30, log_every=10,
                            seed=seed, dtype="float64")
        return [(r.loss, r.value) for r in history]

    first, again, other = run(5), run(5), run(6)
    assert first == again
    assert first != other


@pytest.mark.slow
def test_jit_and_plain_graph_agree():
    def value(jit):
        _, history = _train(equations.get("hjb", dim=4, num_time_interval=5), iterations=20, log_every=20, seed=2,
                            jit_compile=jit, dtype="float64")
        return history[-1].value
    assert value(True) == pytest.approx(value(False), rel=1e-9)


def test_single_time_step_has_no_subnetworks():
    result = deepbsde.solve(equations.get("hjb", dim=2, num_time_interval=1), iterations=5, log_every=5)
    assert np.isfinite(result.value)


def test_divergence_stops_with_the_step():
    with pytest.raises(deepbsde.DivergenceError, match=r"training diverged at step \d+: loss = (nan|inf)"):
        deepbsde.solve(equations.get("allen_cahn", dim=2, num_time_interval=2), iterations=10, log_every=5,
                       y0_range=[1e30, 1e30], dtype="float32")


def test_solver_option_errors_name_the_option():
    with pytest.raises(deepbsde.ConfigError, match="options.batch_size: must be a positive integer"):
        deepbsde.solve("hjb", batch_size=0)
    with pytest.raises(deepbsde.ConfigError, match="options.iteration: unknown option"):
        deepbsde.solve("hjb", iteration=10)


@pytest.mark.slow
@pytest.mark.parametrize("options", [{"shared_network": True}, {"shared_network": True, "batch_norm": False},
                                     {"mixed_precision": True, "dtype": "float32"}],
                         ids=["shared", "shared-no-bn", "mixed-precision"])
def test_network_variants_reach_the_explicit_solution(options):
    options = {"dtype": "float64", **options}
    result = deepbsde.solve(equations.get("burgers", **SMALL_BURGERS), iterations=1000, seed=1, log_every=500,
                            **SMALL_OPTIONS, **options)
    assert result.rel_error < 0.01, result.value


def test_shared_network_has_one_set_of_weights():
    per_step = StackedSubnetworks(19, 100, [110, 110], True, tf.float32, 0)
    shared = StackedSubnetworks(19, 100, [110, 110], True, tf.float32, 0, times=np.arange(1, 20) / 20,
                                shared_weights=True)
    assert [k.shape[0] for k in shared.kernels] == [1, 1, 1]
    assert shared.parameter_count() < per_step.parameter_count() / 10
    assert shared(tf.ones([19, 4, 100]), training=True).shape == (19, 4, 100)


def test_new_option_errors():
    with pytest.raises(deepbsde.ConfigError, match="options.mixed_precision: needs dtype float32"):
        deepbsde.solve("hjb", mixed_precision=True, dtype="float64")
    with pytest.raises(deepbsde.ConfigError, match="options.batch_size: must be a multiple of the 3 devices"):
        deepbsde.solve("hjb", devices=["/cpu:0", "/cpu:1", "/cpu:2"], batch_size=64)
    with pytest.raises(deepbsde.ConfigError, match="options.devices: must be a list of strings"):
        deepbsde.solve("hjb", devices="/gpu:0")


def test_several_steps_per_call_give_the_same_training():
    """steps_per_call draws batch k from (seed, k) and updates in one compiled loop: same run."""
    def run(steps_per_call):
        return _train(equations.get("hjb", dim=3, num_time_interval=4), iterations=25, log_every=10,
                      dtype="float64", steps_per_call=steps_per_call)

    (one, one_history), (blocks, blocks_history) = run(1), run(7)  # 7 divides neither 10 nor 25
    assert [r.step for r in blocks_history] == [r.step for r in one_history] == [0, 10, 20, 25]
    assert blocks_history[-1].value == pytest.approx(one_history[-1].value, rel=1e-10)
    np.testing.assert_allclose(blocks.z0(), one.z0(), rtol=1e-9)


@pytest.mark.parametrize("rolled", [False, True])  # paths built inside the update, or drawn with the increments
def test_the_block_drawn_ahead_is_the_one_its_call_would_draw(monkeypatch, rolled):
    """train_steps draws the next block beside this block's updates; the next call of that length uses it
    instead of drawing it again, and the run is the one of single steps."""
    def run(ahead):
        trainer = Trainer(equations.get("hjb", dim=3, num_time_interval=4),
                          SolverOptions(steps_per_call=5, seed=3, dtype="float64", rolled_time_loop=rolled))
        drawn = []  # the blocks drawn by the call that trains them
        sample_block = trainer.sample_block

        def counted(count, first):
            if threading.current_thread() is threading.main_thread():
                drawn.append(int(first))
            return sample_block(count, first)

        trainer.sample_block = counted
        if not ahead:
            monkeypatch.setattr(training, "AHEAD_NUMBERS", 0)
        losses = np.concatenate([trainer.train_steps(count).numpy() for count in (5, 5, 3, 5, 5)])
        monkeypatch.undo()
        return losses, trainer.z0(), drawn

    (losses, z0, drawn), (_, _, drawn_without) = run(True), run(False)
    single = Trainer(equations.get("hjb", dim=3, num_time_interval=4),
                     SolverOptions(steps_per_call=5, seed=3, dtype="float64", rolled_time_loop=rolled))
    single_losses = np.array([single.train_step().numpy() for _ in range(23)])
    assert drawn == [0, 10, 13]  # the blocks at steps 5 and 18 were drawn ahead; step 10 asked for 3, not 5
    assert drawn_without == [0, 5, 10, 13, 18]
    np.testing.assert_allclose(losses, single_losses, rtol=1e-10)
    np.testing.assert_allclose(z0, single.z0(), rtol=1e-9)


def test_divergence_inside_a_call_names_its_step():
    with pytest.raises(deepbsde.DivergenceError, match="at step"):
        deepbsde.solve(equations.get("hjb", dim=3, num_time_interval=4), iterations=40, steps_per_call=8,
                       learning_rates=[1e4], max_loss=1e3, reference=None)


@pytest.mark.parametrize("steps", [1, 6])
@pytest.mark.parametrize("preset", ["paper", "robust"])  # the Euler step and Heun's
def test_rolled_time_loop_gives_the_unrolled_loss_and_gradients(preset, steps):
    """The tf.while_loop recursion: same loss and gradients as the unrolled one, XLA-compiled, to rounding
    (also for one time step, where Heun's rolled recursion has no loop)."""
    eq = equations.get("quadratic_gradient", dim=3, num_time_interval=steps)  # f depends on t, x, y and z
    dw, x = eq.sample(16, [5, 0], tf.float64)

    def loss_and_gradients(rolled):
        trainer = Trainer(eq, SolverOptions(preset=preset, rolled_time_loop=rolled, seed=4))
        loss, gradients = tf.function(trainer._gradients, jit_compile=True)(dw)
        return loss.numpy(), [g.numpy() for g in gradients]

    (unrolled, grad_unrolled), (rolled, grad_rolled) = loss_and_gradients(False), loss_and_gradients(True)
    assert rolled == pytest.approx(unrolled, rel=1e-12) and unrolled > 0
    assert len(grad_rolled) == len(grad_unrolled)
    for a, b in zip(grad_rolled, grad_unrolled):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_rolled_time_loop_trains_as_the_unrolled_one():
    """Training blocks with the paths built outside XLA (rolled) take the unrolled run's steps."""
    def losses(rolled):
        trainer = Trainer(equations.get("hjb", dim=3, num_time_interval=5),
                          SolverOptions(rolled_time_loop=rolled, steps_per_call=4, seed=2))
        return np.concatenate([trainer.train_steps(4).numpy(), trainer.train_steps(1).numpy()])

    np.testing.assert_allclose(losses(True), losses(False), rtol=1e-9)


def test_rolled_time_loop_graph_does_not_grow_with_the_time_steps():
    """The unrolled recursion has one f (and its gradient) per step in the graph of the loss and
    its gradient; the rolled one the same graph for any N (the paths X, built outside, are not counted)."""
    def graph_size(num_time_interval, rolled):
        eq = equations.get("hjb", dim=2, num_time_interval=num_time_interval)
        model = Trainer(eq, SolverOptions(rolled_time_loop=rolled, hidden_widths=[4])).model

        def gradients(dw, x):
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.square(model.terminal_mismatch(dw, x, training=True)))
            return tape.gradient(loss, model.trainable_variables)

        paths = eq.sample(4, [1, 0], tf.float64)
        graph = tf.function(gradients).get_concrete_function(*paths).graph.as_graph_def()
        return len(graph.node) + sum(len(f.node_def) for f in graph.library.function)

    assert graph_size(40, rolled=True) == graph_size(10, rolled=True)
    assert graph_size(40, rolled=False) > graph_size(10, rolled=False) + 200


class NumpyTimeHJB(equations.equation_class("hjb")):
    """HJB with a source that computes on t with numpy, as a user might write it."""

    name = "numpy_time_hjb"

    def f(self, t, x, y, z):
        return super().f(t, x, y, z) + float(np.cos(t))


def test_robust_preset_rolls_the_time_loop_where_f_takes_the_time_as_a_tensor():
    """rolled_time_loop None: the robust preset's loop is rolled, the paper preset's unrolled, and an f that
    computes on t with numpy trains with the loop unrolled rather than failing in the trace."""
    hjb = equations.get("hjb", dim=2, num_time_interval=4)
    numpy_time = NumpyTimeHJB(dim=2, num_time_interval=4)
    assert hjb.takes_time_as_tensor() and not numpy_time.takes_time_as_tensor()
    small = {"hidden_widths": [4], "seed": 2}
    assert Trainer(hjb, SolverOptions(**small)).model.rolled
    assert not Trainer(hjb, SolverOptions(preset="paper", **small)).model.rolled
    assert Trainer(hjb, SolverOptions(rolled_time_loop=False, **small)).model.rolled is False
    trainer = Trainer(numpy_time, SolverOptions(**small))
    assert not trainer.model.rolled
    assert np.all(np.isfinite(trainer.train_steps(2).numpy()))


@pytest.mark.parametrize("linear_term, d_squared", [("diagonal", False), (False, False), ("none", False),
                                                     ("full", True), (True, True)])
def test_only_the_full_linear_term_has_d_squared_weights(linear_term, d_squared):
    eq = equations.get("hjb", dim=50, num_time_interval=3)
    trainer = Trainer(eq, SolverOptions(linear_term=linear_term, hidden_widths=[8]))
    weights = sum(int(np.prod(v.shape)) for v in trainer.variables)
    assert (weights > 50 * 50) == d_squared
    assert (trainer.model.linear_unit is None) == (linear_term in (False, "none"))
    assert np.isfinite(trainer.train_steps(2).numpy()).all()


def test_an_unknown_linear_term_names_the_field():
    with pytest.raises(deepbsde.ConfigError, match=r"solver\.linear_term.*diagonal, full, none"):
        SolverOptions.from_mapping({"linear_term": "quadratic"})


@pytest.mark.parametrize("increments_dtype, drawn", [("float32", tf.float32), (None, tf.float64),
                                                    ("float64", tf.float64)])
def test_training_increments_are_drawn_in_increments_dtype_and_cast_to_dtype(increments_dtype, drawn):
    """A float64 solve draws its training batches' normals in increments_dtype (float32 by default)
    and computes in float64; its validation paths are drawn in float64."""
    eq = equations.get("hjb", dim=3, num_time_interval=4)
    trainer = Trainer(eq, SolverOptions(hidden_widths=[5], dtype="float64", increments_dtype=increments_dtype))
    dw, _ = trainer.sample_increments()
    expected = eq.process.brownian_increments(64, tf.constant([1, 0], tf.int64), drawn)
    assert dw.dtype == drawn
    np.testing.assert_array_equal(dw.numpy(), expected.numpy())
    loss, _ = trainer.replica_gradients(dw)  # the loss is computed in float64 from the cast increments
    assert loss.dtype == tf.float64
    _, valid_x = eq.sample(256, [1, VALIDATION_STREAM], tf.float64)
    np.testing.assert_array_equal(trainer.valid_x.numpy(), valid_x.numpy())


def test_an_unknown_increments_dtype_names_the_field():
    with pytest.raises(deepbsde.ConfigError, match=r"solver\.increments_dtype.*float32, float64 or null"):
        SolverOptions.from_mapping({"increments_dtype": "float16"})


@pytest.mark.parametrize("preset, scheme", [("robust", None), ("paper", "heun")])
def test_heun_step_averages_f_at_both_ends_with_an_euler_predictor(preset, scheme):
    """Y_{n+1} = Y_n - (f_n + f(t_{n+1}, X_{n+1}, Y*, Z_{n+1})) dt / 2 + Z_n . dW_n with the Euler
    predictor Y* and Z_N = sigma^T grad g(X_N), written out here step by step."""
    eq = equations.get("quadratic_gradient", dim=3, num_time_interval=5)  # f depends on t, x, y and z
    dw, x = eq.sample(16, [5, 0], tf.float64)
    options = SolverOptions(preset=preset, time_scheme=scheme, seed=3)
    assert options.scheme == "heun"
    model = Trainer(eq, options).model
    z = model.z_all_steps(x, training=False).numpy()
    z = np.concatenate([z, model.terminal_gradient(x[-1]).numpy()[np.newaxis]])
    dt = eq.delta_t
    y = np.full([16, 1], model.initial_values()[0].numpy())
    for n in range(eq.num_time_interval):
        noise = np.sum(z[n] * dw[n].numpy(), axis=1, keepdims=True)
        start = eq.f(n * dt, x[n], y, z[n]).numpy()
        predicted = y - tamed(model, dt * start) + noise
        end = eq.f((n + 1) * dt, x[n + 1], predicted, z[n + 1]).numpy()
        y = y - tamed(model, dt * (start + end) / 2) + noise
    expected = y - eq.g(x[-1]).numpy()
    np.testing.assert_allclose(model.terminal_mismatch(dw, x, training=False).numpy(), expected, rtol=1e-10)
    euler = Trainer(eq, SolverOptions(preset=preset, time_scheme="euler", seed=3)).model
    assert not np.allclose(euler.terminal_mismatch(dw, x, training=False).numpy(), expected, rtol=1e-3)


def tamed(model, increment: np.ndarray) -> np.ndarray:
    """The robust preset's tamed drift increment a (1 + (a / c)^4)^(-1/4), c = |Y_0| + spread of g (pilot)."""
    if model.drift_cap is None:
        return increment
    return increment * (1.0 + (increment / model.drift_cap.numpy()) ** 4) ** -0.25


class CubicBlowUp(equations.Equation):
    """u = 2 + (T - t) / 10 solves u_t + Laplacian(u) / 2 + f = 0 with f = y^3 - u^3 + 1/10; run forward from
    a Y far above u, the explicit recursion of Y' = -Y^3 overshoots in alternating sign and explodes."""

    defaults = {"dim": 2, "num_time_interval": 5, "total_time": 1.0, "x0": 0.0}

    def build_process(self):
        return equations.ScaledBrownianMotion(self.x0, self.total_time, self.num_time_interval)

    def f(self, t, x, y, z):
        u = 2.0 + (self.total_time - tf.cast(t, x.dtype)) / 10.0
        return y ** 3 - u ** 3 + 0.1

    def g(self, x):
        return tf.fill([tf.shape(x)[0], 1], tf.constant(2.0, x.dtype))


@pytest.mark.parametrize("preset", ["robust", "paper"])
def test_only_the_robust_step_is_tamed_and_it_keeps_a_superlinear_f_finite(preset):
    eq = CubicBlowUp()
    dw, x = eq.sample(8, [5, 0], tf.float64)
    model = Trainer(eq, SolverOptions(preset=preset, seed=3)).model
    start = tf.fill([8, 1], tf.constant(20.0, tf.float64))  # f dt = 1600 at the first step
    mismatch = model.terminal_mismatch(dw, x, training=False, y_start=start).numpy()
    if preset == "paper":
        assert model.drift_cap is None and np.all(np.abs(mismatch) > 1e30)  # measured: about 1e231
        return
    assert Trainer(eq, SolverOptions(tamed_drift=False)).model.drift_cap is None
    cap = model.drift_cap.numpy()
    assert np.all(np.abs(mismatch) < 20.0) and 1.5 < cap < 2.5  # the pilot's |Y_0| (1.84; g is constant)
    increments = np.array([-1e9, -3.0, -0.1, 1e-3, 0.2, 5.0, 1e9])
    shrunk = model._tamed(tf.constant(increments)).numpy()
    np.testing.assert_allclose(shrunk, tamed(model, increments), rtol=1e-12)
    assert np.all(np.abs(shrunk) <= cap * (1 + 1e-12)) and np.all(np.diff(shrunk) > 0)
    np.testing.assert_allclose(shrunk[2:5], increments[2:5], rtol=(0.2 / cap) ** 4 / 4 * 1.01)


def test_the_schemes_by_preset_and_an_unknown_scheme_names_the_field():
    assert SolverOptions().scheme == "heun" and SolverOptions(preset="paper").scheme == "euler"
    assert SolverOptions(time_scheme="euler").scheme == "euler"
    with pytest.raises(deepbsde.ConfigError, match=r"solver\.time_scheme.*euler, heun or null"):
        SolverOptions.from_mapping({"time_scheme": "rk4"})


@pytest.mark.slow
def test_heun_removes_most_of_the_euler_bias_of_hjb_in_low_dimension():
    """HJB d = 4, lambda = 1 on a coarse grid (N = 10), where |grad u| is of order 1: measured
    float32, seed 1: Euler 3.33% above the Cole-Hopf value (its bias of order dt), Heun 0.52%."""
    eq = equations.get("hjb", dim=4, num_time_interval=10)
    errors = {scheme: deepbsde.solve(eq, dtype="float32", seed=1, time_scheme=scheme).rel_error
              for scheme in ("euler", "heun")}
    assert errors["heun"] < 0.01 and errors["heun"] < errors["euler"] / 3


def test_terminal_gradient_term_is_sigma_transpose_grad_g_times_its_coefficient():
    """With the network and the linear term at 0, Z_n = c_n * sigma^T grad g(X_n): for HJB
    (sigma = sqrt 2, g = ln((1 + |x|^2) / 2)) that is c_n * 2 sqrt(2) x / (1 + |x|^2)."""
    eq = equations.get("hjb", dim=3, num_time_interval=4)
    model = Trainer(eq, SolverOptions(hidden_widths=[5], dtype="float64")).model
    for variable in (*model.subnetworks.kernels, *model.subnetworks.biases, model.linear_unit):
        variable.assign(tf.zeros_like(variable))
    coefficients = np.arange(1.0, 10.0).reshape(3, 1, 3)
    model.gradient_unit.assign(coefficients)
    x = np.random.default_rng(0).standard_normal((6, 3))
    feature = 2.0 * np.sqrt(2.0) * x / (1.0 + np.sum(x ** 2, axis=1, keepdims=True))
    for n in (1, 2, 3):
        np.testing.assert_allclose(model.z_at(n, tf.constant(x)).numpy(), coefficients[n - 1] * feature, rtol=1e-12)
    stacked = model.network_z(tf.constant(np.stack([x] * 3)), training=True).numpy()
    np.testing.assert_allclose(stacked, coefficients * feature, rtol=1e-12)


def test_terminal_gradient_is_zero_where_g_has_no_finite_gradient():
    eq = equations.get("hjb", dim=2, num_time_interval=2)
    eq.g = lambda x: tf.sqrt(tf.reduce_sum(tf.square(x), axis=1, keepdims=True))  # no gradient at 0
    model = Trainer(eq, SolverOptions(hidden_widths=[4], dtype="float64")).model
    feature = model.terminal_gradient(tf.constant([[[0.0, 0.0], [3.0, 4.0]]], tf.float64)).numpy()
    np.testing.assert_allclose(feature, [[[0.0, 0.0], [np.sqrt(2) * 0.6, np.sqrt(2) * 0.8]]], rtol=1e-12)


def test_limits_know_the_rolled_loop_and_the_linear_term():
    """More than MAX_TIME_STEPS steps only with the rolled loop; the robust preset's full linear term counts
    d^2 per step, the diagonal one and the terminal gradient's coefficients d each."""
    with pytest.raises(deepbsde.ConfigError, match="rolled_time_loop: true builds one"):
        check_limits(2, MAX_TIME_STEPS + 1, SolverOptions())
    check_limits(2, MAX_TIME_STEPS + 1, SolverOptions(rolled_time_loop=True))
    options = {"hidden_widths": [8], "dtype": "float32"}
    full, _ = memory_estimate(1000, 21, SolverOptions(linear_term="full", **options))
    diagonal, _ = memory_estimate(1000, 21, SolverOptions(**options))
    without, _ = memory_estimate(1000, 21, SolverOptions(linear_term=False, terminal_gradient=False, **options))
    assert full - without == 4 * 20 * (1000 ** 2 + 1000) * 4  # weights, two moments, gradient, 4 bytes each
    assert diagonal - without == 4 * 20 * 2 * 1000 * 4
    assert memory_estimate(1000, 21, SolverOptions(preset="paper", **options))[0] == without
