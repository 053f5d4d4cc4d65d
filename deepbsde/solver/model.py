"""The deep BSDE model: trainable Y_0, Z_0 and the stacked Z subnetworks."""
from __future__ import annotations

import numpy as np
import tensorflow as tf

from deepbsde.solver.initialization import estimate_scales
from deepbsde.solver.networks import StackedSubnetworks, StepIndex, at_step
from deepbsde.solver.options import SolverOptions
from equations.base import Equation

#: The tangent measure's drift stops, path by path, once it has shifted the Brownian motion by this many of its
#: spreads sqrt(d T) in all (`tangent_paths`)
TANGENT_SHIFT = 2.0


class DeepBSDEModel(tf.Module):
    """Maps sampled paths (dw, x) to the terminal mismatch Y_N - g(X_N).

    Y_{n+1} = Y_n - f(t_n, X_n, Y_n, Z_n) dt + Z_n . dW_n with Z_0 trainable
    (Euler; Heun's step averages f at both ends of the step, options.time_scheme).
    Preset "paper": Z_n = net_n(X_n) / d for n >= 1 (the reference's output
    scaling), Y_0 uniform in y0_range. Preset "robust":
    Z_n = s * (net_n(F_n) + F_n L_n) + c_n * sigma(X_n)^T grad g(X_n)
    with F_n = (X_n - m_n) / v_n, m_n, v_n the moments of X_n, s the size of Z,
    L_n a linear term (diagonal by default, options.linear_term) and c_n a
    trained coefficient of the terminal condition's gradient
    (options.terminal_gradient), and Y_0, Z_0 started at estimates, all from
    pilot paths (deepbsde.solver.initialization); each step's drift increment
    f dt is tamed (options.tamed_drift: bounded by the pilot's size of Y, see `_tamed`).
    z_coupling (continuation) multiplies Z inside f only.

    The networks of all steps are one stacked pass whatever N; only the scalar
    Y recursion is sequential. Unrolled, it has one copy of f per step in the
    graph, which grows linearly in N (N = 20000 takes minutes to trace and
    compile); rolled (options.rolled_time_loop; the robust preset's choice where
    f takes the time as a tensor) it is a tf.while_loop over n reading X_n, Z_n
    and Z_n . dW_n by index, a graph of one f whatever N (the same values up to
    rounding: t_n = n dt is then computed in dtype).

    Step scales (robust preset): Y_0, Z_0 and L are trained in units of the
    size of Y, of each Z component and d^(-1/4) (1 for a diagonal L, whose
    outputs sum one weight each, not d): the trainable variables are
    y0_unit, z0_unit and linear_unit with Y_0 = y_scale * y0_unit etc., which
    makes Adam's steps on Y_0 and Z_0 of the size of the problem. `y0` and `z0`
    are then non-trainable copies that `refresh` keeps equal to the products
    (read by the history, the checkpoints and `load`); in preset "paper" they
    are the trainable variables themselves.
    """

    def __init__(self, equation: Equation, options: SolverOptions, dtype: tf.DType):
        super().__init__(name="deep_bsde")
        self.equation = equation
        self.dtype = dtype
        dim = equation.dim
        seed = options.seed
        steps = equation.num_time_interval - 1
        self.robust = options.preset == "robust"
        self.rolled = (options.rolled_time_loop if options.rolled_time_loop is not None
                       else self.robust and equation.takes_time_as_tensor(dtype))
        self.heun = options.scheme == "heun"
        if self.robust:
            scales = estimate_scales(equation, seed)
            y0 = tf.constant(scales.y0, dtype)
            z0 = tf.constant(scales.z0.reshape(1, dim), dtype)
            statistics = {"trainable": False, "dtype": dtype}
            self.x_mean = tf.Variable(scales.x_mean, name="x_mean", **statistics)
            self.x_std = tf.Variable(scales.x_std, name="x_std", **statistics)
            self.z_scale = tf.Variable(scales.z_scale.reshape(1, 1, dim), name="z_scale", **statistics)
            self.loss_scale = scales.y_scale
            # the size of Y, which bounds each step's drift increment (see _tamed)
            self.drift_cap = tf.constant(abs(scales.y0) + scales.y_scale, dtype) if options.tamed_drift else None
        else:
            y0 = tf.random.stateless_uniform([], [seed, 101], *equation.y0_range, dtype=dtype)
            z0 = tf.random.stateless_uniform([1, dim], [seed, 102], -0.1, 0.1, dtype=dtype)
            self.loss_scale = 1.0
            self.drift_cap = None
        if options.y0_range is not None:
            y0 = tf.random.stateless_uniform([], [seed, 101], *options.y0_range, dtype=dtype)
        if self.robust:
            self.y0_step = tf.constant(scales.y_scale, dtype)
            self.z0_step = tf.constant(scales.z_scale.reshape(1, dim), dtype)
            self.y0_unit = tf.Variable(y0 / self.y0_step, name="y0_unit")
            self.z0_unit = tf.Variable(z0 / self.z0_step, name="z0_unit")
            self.y0 = tf.Variable(y0, trainable=False, name="y0")
            self.z0 = tf.Variable(z0, trainable=False, name="z0")
            # a linear term beside each network: many Z are near-linear in X, which a ReLU network
            # from a random start learns slowly. Diagonal by default: the N d^2 weights of a full
            # matrix per step are mostly without signal, and Adam turns their batch noise into a
            # random walk that each output sums d times (docs/method.md, section 2)
            shape = options.linear_term_shape
            self.linear_step = tf.constant(1.0 if shape == "diagonal" else dim ** -0.25, dtype)
            self.linear_unit = (tf.Variable(tf.zeros([steps, 1, dim] if shape == "diagonal" else [steps, dim, dim],
                                                     dtype), name="linear_unit")
                                if steps and shape is not None else None)
            # sigma^T grad g(X_n) beside each network, with a trained coefficient per step and
            # component starting at 0: near T it is Z itself, and earlier it often points the
            # same way (the argmax asset of a max payoff, x / (1 + |x|^2) for HJB), which the
            # networks would otherwise have to discover from the loss
            self.gradient_unit = (tf.Variable(tf.zeros([steps, 1, dim], dtype), name="gradient_unit")
                                  if steps and options.terminal_gradient else None)
        else:
            self.y0 = tf.Variable(y0, name="y0")
            self.z0 = tf.Variable(z0, name="z0")
        self.z_coupling = tf.Variable(tf.ones([], dtype), trainable=False, name="z_coupling")
        widths = options.hidden_widths if options.hidden_widths is not None else [dim + 10, dim + 10]
        self.hidden_widths = list(widths)
        self.subnetworks = (StackedSubnetworks(steps, dim, widths, options.uses_batch_norm, dtype, seed,
                                               times=[equation.delta_t * n for n in range(1, steps + 1)],
                                               shared_weights=options.shared_network,
                                               matmul_dtype=tf.bfloat16 if options.mixed_precision else None)
                            if steps > 0 else None)
        if self.robust and self.subnetworks is not None and not options.uses_batch_norm:
            # every Z_n starts at the estimate of Z_0 (the time average of E Z by Ito's isometry)
            # rather than at 0: where Z has a large mean the networks need not learn it first
            self.subnetworks.biases[-1].assign(tf.broadcast_to(
                tf.constant(scales.z0 / scales.z_scale, dtype), self.subnetworks.biases[-1].shape))

    def initial_values(self) -> tuple[tf.Tensor, tf.Tensor]:
        """Y_0 [] and Z_0 [1, d] as functions of the trainable variables."""
        if self.robust:
            return self.y0_unit * self.y0_step, self.z0_unit * self.z0_step
        return self.y0, self.z0

    def refresh(self) -> None:
        """Copies the trained Y_0, Z_0 into `y0`, `z0` (robust preset; after every update)."""
        if self.robust:
            y0, z0 = self.initial_values()
            self.y0.assign(y0)
            self.z0.assign(z0)

    def match_restored_values(self) -> None:
        """After a checkpoint restore (robust preset): where the trained Y_0, Z_0 the checkpoint saved
        (`y0`, `z0`) are not the restored units times this build's steps, the units are set from them.
        A folder saved before the pilot sized Y by each path's target G, not by g alone, holds units in
        the steps of its time, which differ where f has a source in x."""
        if not self.robust:
            return
        y0, z0 = self.initial_values()
        if not (np.allclose(y0.numpy(), self.y0.numpy()) and np.allclose(z0.numpy(), self.z0.numpy())):
            self.y0_unit.assign(self.y0 / self.y0_step)
            self.z0_unit.assign(self.z0 / self.z0_step)

    def z_all_steps(self, x: tf.Tensor, training: bool) -> tf.Tensor:
        """Z_n for n = 0..N-1, shape [N, batch, d]."""
        z0 = self.z_at(0, x[0])[tf.newaxis]
        if self.subnetworks is None:
            return z0
        return tf.concat([z0, self.network_z(x[1:-1], training)], axis=0)

    def network_z(self, x: tf.Tensor, training: bool, step: StepIndex = None) -> tf.Tensor:
        """Z_n of the subnetworks at X_n for n = 1..N-1: x and result [N-1, batch, d]; with `step`
        (inference only), x and result [1, batch, d] of Z_{step + 1} alone."""
        assert self.subnetworks is not None  # there are steps 1..N-1
        if self.robust:
            features = (x - at_step(self.x_mean, step)) / at_step(self.x_std, step)
            z = self.subnetworks(features, training, step)
            if self.linear_unit is not None:
                linear = at_step(self.linear_unit, step) * self.linear_step
                z = z + (features * linear if linear.shape[-2] == 1 else tf.linalg.matmul(features, linear))
            z = z * self.z_scale
            if self.gradient_unit is not None:
                z = z + at_step(self.gradient_unit, step) * self.terminal_gradient(x)
            return z
        return self.subnetworks(x, training, step) / self.equation.dim

    def terminal_gradient(self, x: tf.Tensor) -> tf.Tensor:
        """sigma(X)^T grad g(X) at every point of x [..., d] (a feature: no gradient flows back into x).

        At a kink TensorFlow's gradient is a finite one-sided one; where it is not finite
        (sqrt at 0, say) the feature is 0, and it is 0 everywhere for a g that ignores x."""
        eq = self.equation
        points = tf.reshape(x, [-1, eq.dim])
        with tf.GradientTape() as tape:
            tape.watch(points)
            total = tf.reduce_sum(eq.g(points))
        gradient = tape.gradient(total, points, unconnected_gradients=tf.UnconnectedGradients.ZERO)
        gradient = tf.where(tf.math.is_finite(gradient), gradient, tf.zeros_like(gradient))
        return tf.stop_gradient(tf.reshape(eq.process.diffusion_transpose_times(points, gradient), tf.shape(x)))

    def z_at(self, n: int | tf.Tensor, x: tf.Tensor) -> tf.Tensor:
        """Z_n at X_n = x [batch, d] (inference), for a path simulated one step at a time; a tensor n
        (inside a loop) must be at least 1."""
        if isinstance(n, int) and n == 0:
            return tf.broadcast_to(self.initial_values()[1], tf.shape(x))
        return self.network_z(x[tf.newaxis], training=False, step=n - 1)[0]

    def tangent_paths(self, dw: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """The paths x [N + 1, batch, d] of the tangent measure driven by the increments dw [N, batch, d], and
        its drift b [N, batch, d] (docs/method.md, section 10; no gradient flows through either).

        X_{n+1} follows from X_n with the increment dw_n + b_n dt, b_n = df/dz at (t_n, X_n, Y_n, Z_n) of the
        current networks, Y_n from the Euler recursion on those increments: under this measure the Y recursion
        with f - b_n . z in place of f (`terminal_mismatch` with drift=b) is a scheme for the same u, in which
        an error of the networks' Z moves Y_0 only to second order. Any adapted b keeps u, so b is cut off
        where it would carry a path far from where the process itself goes: once its shifts |b_n| dt add up to
        TANGENT_SHIFT sqrt(d T) (two spreads of the Brownian motion at T), b is 0 on that path."""
        eq = self.equation
        budget = TANGENT_SHIFT * np.sqrt(eq.dim * eq.total_time)
        steps = eq.num_time_interval
        start = tf.broadcast_to(tf.constant(eq.x0, self.dtype), tf.shape(dw[0]))
        y = tf.ones_like(start[:, :1]) * self.initial_values()[0]
        shifted = tf.zeros_like(y)  # the drift's shift so far, |b_0| dt + ... per path
        x, y, shifted, first = self._tangent_step(0, dw[0], start, y, shifted, budget)  # Z_0: no network
        if self.rolled:
            def body(n: tf.Tensor, x: tf.Tensor, y: tf.Tensor, shifted: tf.Tensor, paths: tf.TensorArray,
                     drifts: tf.TensorArray) -> tuple:
                x, y, shifted, drift = self._tangent_step(n, dw[n], x, y, shifted, budget)
                return n + 1, x, y, shifted, paths.write(n, x), drifts.write(n, drift)

            state = (tf.constant(1), x, y, shifted, tf.TensorArray(self.dtype, size=steps).write(0, x),
                     tf.TensorArray(self.dtype, size=steps).write(0, first))
            *_, paths, drifts = tf.while_loop(lambda n, *_: n < steps, body, state,
                                              maximum_iterations=max(steps - 1, 1))
            xs, b = paths.stack(), drifts.stack()
        else:
            xs_list, drift_list = [x], [first]
            for n in range(1, steps):
                x, y, shifted, drift = self._tangent_step(n, dw[n], x, y, shifted, budget)
                xs_list.append(x)
                drift_list.append(drift)
            xs, b = tf.stack(xs_list), tf.stack(drift_list)
        return tf.stop_gradient(tf.concat([start[tf.newaxis], xs], axis=0)), tf.stop_gradient(b)

    def _tangent_step(self, n: int | tf.Tensor, dw: tf.Tensor, x: tf.Tensor, y: tf.Tensor, shifted: tf.Tensor,
                      budget: float) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]:
        """Step n of `tangent_paths`: (X_{n+1}, Y_{n+1}, the shift so far, b_n)."""
        eq = self.equation
        dt = eq.delta_t
        t = tf.cast(n, self.dtype) * dt
        z = self.z_at(n, x)
        _, _, slope = generator_gradients(eq, t, x, y, self.z_coupling * z)
        b = self.z_coupling * slope  # d/dz of f(t, x, y, coupling z), as the recursion uses it
        shift = tf.norm(b, axis=1, keepdims=True) * dt
        allowed = tf.maximum(budget - shifted, 0.0)
        b = b * tf.where(shift > allowed, allowed / tf.maximum(shift, 1e-30), tf.ones_like(shift))
        increment = dw + b * dt
        y = self._y_step(t, x, y, z, tf.reduce_sum(z * increment, axis=1, keepdims=True), None)  # Euler's
        x = eq.process.paths_from_increments(increment[tf.newaxis], x)[-1]
        return x, y, shifted + tf.minimum(shift, allowed), b

    def mismatch_and_slope(self, dw: tf.Tensor, x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """Y_N - g(X_N) per path [batch, 1] from the trained Y_0, the networks in inference mode, and its
        derivative in that path's own Y_0 [batch, 1], the networks' Z held fixed."""
        start = tf.ones_like(x[0, :, :1]) * self.initial_values()[0]  # one Y_0 per path
        with tf.GradientTape() as tape:
            tape.watch(start)
            mismatch = self.terminal_mismatch(dw, x, training=False, y_start=start)
            total = tf.reduce_sum(mismatch)
        return mismatch, tape.gradient(total, start)  # paths are independent: each its own

    def terminal_mismatch(self, dw: tf.Tensor, x: tf.Tensor, training: bool,
                          y_start: tf.Tensor | None = None, drift: tf.Tensor | None = None) -> tf.Tensor:
        """Y_N - g(X_N), shape [batch, 1]. y_start: Y_0 per path [batch, 1] instead of the trained one.
        drift: the tangent measure's b [N, batch, d] of the paths x (`tangent_paths`), dw then its increments:
        f - b_n . z replaces f in step n."""
        eq = self.equation
        z = self.z_all_steps(x, training)
        z_dot_dw = tf.reduce_sum(z * dw, axis=2, keepdims=True)  # [N, batch, 1], one fused op
        # Heun's corrector needs Z_{n+1} at X_{n+1}: the next network's, and at T the terminal condition's.
        # Read from z itself rather than from a shifted copy, whose [N, batch, d] copy and gradient made Heun's
        # step 10-12% dearer than Euler's (d = 100, N = 20, float64, batch 256; now 0% unrolled, 5% rolled)
        z_end = self.terminal_gradient(x[-1]) if self.heun else None
        y = tf.ones_like(x[0, :, :1]) * self.initial_values()[0] if y_start is None else y_start
        if self.rolled:
            def body(n: tf.Tensor, y: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
                return n + 1, self._y_step(tf.cast(n, self.dtype) * eq.delta_t, x[n], y, z[n], z_dot_dw[n],
                                           (x[n + 1], z[n + 1]) if self.heun else None,
                                           None if drift is None else drift[n])

            # Heun's last step, whose Z_N is not in z, follows the loop
            steps = eq.num_time_interval - 1 if self.heun else eq.num_time_interval
            if steps:  # maximum_iterations: a static bound, which XLA's gradient needs (and not 0)
                _, y = tf.while_loop(lambda n, _: n < steps, body, (tf.constant(0), y), maximum_iterations=steps)
            if self.heun:
                y = self._y_step(steps * eq.delta_t, x[-2], y, z[-1], z_dot_dw[-1], (x[-1], z_end),
                                 None if drift is None else drift[-1])
        else:
            # unrolled: only this scalar recursion is sequential. Unstacked rather than sliced: the gradient
            # of each slice x[n] is a zero tensor of the whole [N, batch, d] shape, summed N times (measured
            # at d = 100, N = 20, float64, batch 64: the step 18.9 -> 16.6 ms, gradients equal to rounding)
            xs, zs = tf.unstack(x), tf.unstack(z)
            ends = list(zip(xs[1:], [*zs[1:], z_end])) if self.heun else [None] * len(zs)
            drifts = [None] * len(zs) if drift is None else tf.unstack(drift)
            for n, (x_n, z_n, z_dot_dw_n, end, b) in enumerate(zip(xs[:-1], zs, tf.unstack(z_dot_dw), ends, drifts)):
                y = self._y_step(n * eq.delta_t, x_n, y, z_n, z_dot_dw_n, end, b)
        return y - eq.g(x[-1])

    def _y_step(self, t: float | tf.Tensor, x: tf.Tensor, y: tf.Tensor, z: tf.Tensor, z_dot_dw: tf.Tensor,
                end: tuple[tf.Tensor, tf.Tensor] | None, b: tf.Tensor | None = None) -> tf.Tensor:
        """Y_{n+1} from Y_n at t = t_n: an Euler step (end None), or Heun's with end = (X_{n+1}, Z_{n+1}),
        which averages f at (t_n, X_n, Y_n, Z_n) and at (t_{n+1}, X_{n+1}, the Euler step's Y_{n+1}, Z_{n+1}).
        b: the tangent measure's drift over the step (`tangent_paths`), which takes b . z off f at both ends."""
        eq = self.equation

        def rate(t: float | tf.Tensor, x: tf.Tensor, y: tf.Tensor, z: tf.Tensor) -> tf.Tensor:
            value = eq.f(t, x, y, self.z_coupling * z)
            return value if b is None else value - tf.reduce_sum(b * z, axis=1, keepdims=True)

        drift = rate(t, x, y, z)
        if end is not None:
            x_next, z_next = end
            predicted = y - self._tamed(eq.delta_t * drift) + z_dot_dw
            drift = 0.5 * (drift + rate(t + eq.delta_t, x_next, predicted, z_next))
        return y - self._tamed(eq.delta_t * drift) + z_dot_dw

    def _tamed(self, increment: tf.Tensor) -> tf.Tensor:
        """A step's drift increment a = f dt, tamed (robust preset, options.tamed_drift): a (1 + (a / c)^4)^(-1/4)
        with c the pilot's size of Y, |Y_0| + the spread of g(X_T).

        For an f growing faster than linearly in y (y^3, a Riccati y^2) the explicit recursion, run forward
        from an untrained start, overshoots to infinity within a few steps (Hutzenthaler, Jentzen and Kloeden,
        Ann. Appl. Probab. 2012, tamed the Euler step for this). Tamed, an increment never exceeds c, and it
        is monotone in a; where |a| is far below c, as along a solution whose drift per step is a fraction of
        the size of Y, it differs from a by a (a / c)^4 / 4, far below the scheme's own error."""
        if self.drift_cap is None:
            return increment
        return increment * (1.0 + tf.square(tf.square(increment / self.drift_cap))) ** -0.25


def generator_gradients(equation: Equation, t: float | tf.Tensor, x: tf.Tensor, y: tf.Tensor,
                        z: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """f(t, x, y, z) [batch, 1] and its derivatives per path, df/dy [batch, 1] and df/dz [batch, d]."""
    with tf.GradientTape() as tape:
        tape.watch([y, z])
        f = equation.f(t, x, y, z)
        total = tf.reduce_sum(f)  # rows independent: its gradient is each path's own
    dy, dz = tape.gradient(total, [y, z], unconnected_gradients=tf.UnconnectedGradients.ZERO)
    return f, dy, dz


def clipped_square_loss(delta: tf.Tensor, clip: float) -> tf.Tensor:
    """Mean of delta^2, continued linearly beyond |delta| = clip (the reference's)."""
    magnitude = tf.abs(delta)
    return tf.reduce_mean(tf.where(magnitude < clip, tf.square(delta), 2.0 * clip * magnitude - clip ** 2))
