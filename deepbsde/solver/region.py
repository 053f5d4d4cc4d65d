"""Deep BSDE over a region of starting points and a range of model parameters.

The start X_0 is drawn from a distribution nu (deepbsde.solver.regions.Region)
and model parameters p from ranges, independently for every path; Y_0 = U(X_0, p)
and Z_0 = sigma^T grad_x U(X_0, p) by automatic differentiation, p is an extra input of
every time step's subnetwork, and the loss is still E|g(X_N) - Y_N|^2. Its
minimiser has U(x, p) = u(0, x; p) on the support of nu, so one training gives
u(0, .) and, by automatic differentiation of U, grad_x u and the sensitivities
in p (parametric Kolmogorov equations: Berner, Dablander, Grohs, NeurIPS 2020;
deep BSDE: Han, Jentzen, E, PNAS 2018).

The start network has no batch normalisation and smooth (tanh) units, so U evaluated at any batch of
points (or a single point) is the function that was trained, and its gradient
is smooth; its inputs are standardised by the region's centre and scale instead.
The later subnetworks are the stacked ones of the point solver, with p appended
to X_n. The training step is compiled as the point solver's is.
"""
from __future__ import annotations

import abc
from typing import Any

import numpy as np
import tensorflow as tf

from deepbsde.errors import ParameterError
from deepbsde.solver.adaptive import PlateauSchedule
from deepbsde.solver.history import HistoryRecord
from deepbsde.solver.model import clipped_square_loss
from deepbsde.solver.networks import StackedSubnetworks
from deepbsde.solver.optimizer import adam, current_learning_rate
from deepbsde.solver.options import SolverOptions
from deepbsde.solver.regions import ParameterRanges, Region
from deepbsde.solver.training import VALIDATION_STREAM, TrainingLoop
from deepbsde.tracing import instance_function
from equations.base import Equation


class RegionProblem(abc.ABC):
    """A semilinear parabolic PDE whose solution is wanted on a region and a parameter range.

    Subclasses give the forward paths, f and g as functions of the per-path
    parameters p [batch, k] (columns in the order of `parameters.names`).
    value_scale: the typical size of u (a Black-Scholes price: the strike); the
    networks' outputs are in its units (Y_0 = value_scale * (y0 + start network), Z_n =
    value_scale * subnetwork / d), so Adam, moving each weight by about the learning rate per
    step, trains any scale as it trains a problem of size 1.
    """

    def __init__(self, dim: int, total_time: float, num_time_interval: int, region: Region,
                 parameters: ParameterRanges, y0_range: tuple[float, float], value_scale: float = 1.0):
        if region.dim != dim:
            raise ParameterError("x0_region", f"has dimension {region.dim} but the equation has dim {dim}")
        self.dim = dim
        self.total_time = float(total_time)
        self.num_time_interval = int(num_time_interval)
        self.delta_t = self.total_time / self.num_time_interval
        self.region = region
        self.parameters = parameters
        self.y0_range = y0_range
        self.value_scale = float(value_scale)

    def increments(self, batch_size: int, seed: Any, dtype: tf.DType) -> tf.Tensor:
        """Brownian increments dW [N, batch, d], each entry N(0, dt)."""
        shape = [self.num_time_interval, batch_size, self.dim]
        return tf.random.stateless_normal(shape, seed=tf.cast(seed, tf.int64), dtype=dtype) * np.sqrt(self.delta_t)

    @abc.abstractmethod
    def paths(self, dw: tf.Tensor, x0: tf.Tensor, p: tf.Tensor) -> tf.Tensor:
        """X [N+1, batch, d] from increments dw [N, batch, d], starts x0 [batch, d], parameters p [batch, k]."""

    @abc.abstractmethod
    def f(self, t: float, x: tf.Tensor, y: tf.Tensor, z: tf.Tensor, p: tf.Tensor) -> tf.Tensor:
        """The generator f(t, x, y, z; p), [batch, 1]."""

    @abc.abstractmethod
    def g(self, x: tf.Tensor, p: tf.Tensor) -> tf.Tensor:
        """The terminal condition g(x; p), [batch, 1]."""

    @abc.abstractmethod
    def diffusion_transpose_times(self, x: tf.Tensor, p: tf.Tensor, v: tf.Tensor) -> tf.Tensor:
        """sigma(x; p)^T v for x, v [batch, d]: maps grad u to Z = sigma^T grad u."""

    def discount_rate(self, p: tf.Tensor) -> tf.Tensor | None:
        """r(p) [batch, 1] when the generator is linear, f = -r(p) y (the control-variate estimate of
        deepbsde.checks needs it); None otherwise."""
        return None


class EquationOnRegion(RegionProblem):
    """A registered equation (no parameters as inputs) with X_0 drawn from `region`."""

    def __init__(self, equation: Equation, region: Region):
        low, high = equation.y0_range
        super().__init__(equation.dim, equation.total_time, equation.num_time_interval, region, ParameterRanges(),
                         (low, high))
        self.equation = equation

    def increments(self, batch_size, seed, dtype):
        return self.equation.process.brownian_increments(batch_size, seed, dtype)

    def paths(self, dw, x0, p):
        return self.equation.process.paths_from_increments(dw, x0)

    def f(self, t, x, y, z, p):
        return self.equation.f(t, x, y, z)

    def g(self, x, p):
        return self.equation.g(x)

    def diffusion_transpose_times(self, x, p, v):
        return self.equation.process.diffusion_transpose_times(x, v)


class RegionModel(tf.Module):
    """Start network U(x, p) -> Y_0 with Z_0 = sigma^T grad_x U, and the stacked subnetworks
    (X_n, p) -> Z_n / d.

    Z_0 is U's own gradient rather than a second network V: the Z_0 . dW_0 term
    of the loss then trains grad_x U, the deltas, directly, and u and its
    gradient come from one function.
    """

    def __init__(self, problem: RegionProblem, options: SolverOptions, dtype: tf.DType):
        super().__init__(name="region_bsde")
        self.problem = problem
        self.dtype = dtype
        dim, k, seed = problem.dim, problem.parameters.count, options.seed
        widths = options.hidden_widths if options.hidden_widths is not None else [dim + k + 10, dim + k + 10]
        low, high = np.divide(options.y0_range if options.y0_range is not None else problem.y0_range,
                              problem.value_scale)
        # Y_0 = value_scale * (y0 + network output): the constant carries the level, the network the variation
        self.y0 = tf.Variable(tf.random.stateless_uniform([], [seed, 101], low, high, dtype=dtype), name="y0")
        # tanh: grad_x U and grad_p U are the deltas and vegas; a ReLU network's gradient is piecewise
        # constant (in a d = 1 test it took 3 distinct values over 5 spots)
        self.start = StackedSubnetworks(1, dim, widths, False, dtype, seed + 7, input_dim=dim + k,
                                        output_dim=1, activation=tf.nn.tanh)
        steps = problem.num_time_interval - 1
        # batch norm unless switched off: the region solve was measured with it (docs/region.md); the
        # robust preset's choice (none) is for the single-point model
        batch_norm = True if options.batch_norm is None else options.batch_norm
        self.subnetworks = (StackedSubnetworks(steps, dim, widths, batch_norm, dtype, seed, input_dim=dim + k)
                            if steps > 0 else None)
        self.x_centre = tf.constant(problem.region.centre, dtype)
        self.x_scale = tf.constant(problem.region.scale, dtype)
        self.p_centre = tf.constant(problem.parameters.centre, dtype)
        self.p_scale = tf.constant(problem.parameters.scale, dtype)
        self.value_scale = tf.constant(problem.value_scale, dtype)

    def inputs(self, x: tf.Tensor, p: tf.Tensor) -> tf.Tensor:
        """Standardised [x, p] for x [S, batch, d] and p [batch, k]: [S, batch, d + k]."""
        p = tf.broadcast_to((p - self.p_centre) / self.p_scale, tf.concat([tf.shape(x)[:2], tf.shape(p)[1:]], 0))
        return tf.concat([(x - self.x_centre) / self.x_scale, p], axis=2)

    def u(self, x0: tf.Tensor, p: tf.Tensor) -> tf.Tensor:
        """U(x0, p), [batch, 1]."""
        return self.value_scale * (self.y0 + self.start(self.inputs(x0[tf.newaxis], p), training=False)[0])

    def y0_z0(self, x0: tf.Tensor, p: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """U(x0, p) [batch, 1] and Z_0 = sigma^T grad_x U [batch, d] (differentiable again, for training)."""
        with tf.GradientTape() as tape:
            tape.watch(x0)
            y = self.u(x0, p)
        return y, self.problem.diffusion_transpose_times(x0, p, tape.gradient(y, x0))

    def z_later(self, x: tf.Tensor, p: tf.Tensor, training: bool) -> tf.Tensor:
        """Z_n for n = 1..N-1 from X_n [N-1, batch, d], shape [N-1, batch, d]."""
        assert self.subnetworks is not None
        return self.value_scale * self.subnetworks(self.inputs(x, p), training) / self.problem.dim

    def y0_and_z(self, x: tf.Tensor, p: tf.Tensor, training: bool) -> tuple[tf.Tensor, tf.Tensor]:
        """Y_0 = U(X_0) [batch, 1] and Z_0..Z_{N-1} [N, batch, d] along the paths x [N+1, batch, d]."""
        y0, z0 = self.y0_z0(x[0], p)
        if self.subnetworks is None:
            return y0, z0[tf.newaxis]
        return y0, tf.concat([z0[tf.newaxis], self.z_later(x[1:-1], p, training)], 0)

    def recursion(self, dw: tf.Tensor, x: tf.Tensor, p: tf.Tensor,
                  training: bool) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """The scheme along the paths x: Y_0 [batch, 1], Z_0..Z_{N-1} [N, batch, d] and Y_N [batch, 1]."""
        problem = self.problem
        y0, z = self.y0_and_z(x, p, training)
        z_dot_dw = tf.reduce_sum(z * dw, axis=2, keepdims=True)
        y = y0
        for n in range(problem.num_time_interval):
            y = y - problem.delta_t * problem.f(n * problem.delta_t, x[n], y, z[n], p) + z_dot_dw[n]
        return y0, z, y

    def terminal_mismatch(self, dw: tf.Tensor, x: tf.Tensor, p: tf.Tensor, training: bool) -> tf.Tensor:
        """Y_N - g(X_N), shape [batch, 1]."""
        return self.recursion(dw, x, p, training)[2] - self.problem.g(x[-1], p)


class RegionSolution:
    """The trained u(0, x; p) of a region solve, evaluated on batches of points."""

    def __init__(self, model: RegionModel):
        self.model = model
        self.problem = model.problem
        self._evaluate = instance_function(self._value_and_gradients, reduce_retracing=True)

    def _value_and_gradients(self, x: tf.Tensor, p: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]:
        with tf.GradientTape(persistent=True) as tape:
            tape.watch([x, p])
            y = self.model.u(x, p)
        gradient = tape.gradient(y, x)
        return y[:, 0], gradient, tape.gradient(y, p), self.problem.diffusion_transpose_times(x, p, gradient)

    def inputs(self, x: Any, parameters: dict[str, Any] | None = None) -> tuple[tf.Tensor, tf.Tensor]:
        """Validated points [n, d] (or one point [d]) and their parameters [n, k] as tensors."""
        points = np.asarray(x, np.float64)
        points = points[np.newaxis] if points.ndim == 1 else points
        if points.ndim != 2 or points.shape[1] != self.problem.dim or not np.all(np.isfinite(points)):
            raise ParameterError("x", f"must be finite points of shape [n, {self.problem.dim}], got shape "
                                      f"{points.shape}")
        p = self.problem.parameters.values(len(points), parameters or {})
        dtype = self.model.dtype
        return tf.constant(points, dtype), tf.constant(p, dtype)

    def evaluate(self, x: Any, parameters: dict[str, Any] | None = None) -> dict[str, np.ndarray]:
        """u(0, x; p) [n], grad_x u [n, d], grad_p u [n, k] (autodiff of U) and Z_0 = sigma^T grad_x u [n, d].

        x: points [n, d]; parameters: {name: number or [n] values}, a missing
        name at its range's midpoint.
        """
        values, gradient, sensitivities, z0 = self._evaluate(*self.inputs(x, parameters))
        return {"u": values.numpy().astype(np.float64), "grad_x": gradient.numpy().astype(np.float64),
                "grad_p": sensitivities.numpy().astype(np.float64), "z0": z0.numpy().astype(np.float64)}

    def z(self, step: int, x: Any, parameters: dict[str, Any] | None = None) -> np.ndarray:
        """The network's Z(t_step, x; p) = sigma^T grad u at points x [n, d], shape [n, d]."""
        if not 0 <= step < self.problem.num_time_interval:
            raise ParameterError("step", f"must be in 0..{self.problem.num_time_interval - 1}, got {step}")
        points, p = self.inputs(x, parameters)
        if step == 0:
            return self.model.y0_z0(points, p)[1].numpy()
        stacked = tf.broadcast_to(points, [self.problem.num_time_interval - 1, *points.shape])
        return self.model.z_later(stacked, p, training=False)[step - 1].numpy()


class RegionTrainer(TrainingLoop):
    """Model, Adam and the compiled steps of a region solve; options as for the point solver, and the
    point solver's training loop (deepbsde.solver.training.TrainingLoop: steps_per_call, observers,
    the robust preset's adaptive rate).

    Batch k draws its increments, starts and parameters from (seed, k), so a
    run is a pure function of its seed.
    """

    def __init__(self, problem: RegionProblem, options: SolverOptions):
        self.problem = problem
        self.options = options
        self.dtype = tf.as_dtype(options.dtype)
        self.model = RegionModel(problem, options, self.dtype)
        self.variables = list(self.model.trainable_variables)
        self.optimizer = adam(options.lr_boundaries, options.learning_rates, self.variables)
        self.plateau = PlateauSchedule(options.learning_rates[0], self.dtype, 1.0) if options.adaptive_schedule \
            else None
        self.valid_batch = self._sample(options.valid_size, tf.constant([options.seed, VALIDATION_STREAM], tf.int64))
        self.sample = tf.function(self._training_batch, reduce_retracing=True)
        self.update = tf.function(self._update, jit_compile=options.jit_compile, reduce_retracing=True)
        # several steps per call, as the point solver: all batches drawn in one call, the updates in one
        # compiled loop
        self.sample_block = tf.function(self._training_block)
        self.update_block = tf.function(self._update_block, jit_compile=options.jit_compile)
        self.validation_loss = tf.function(self._validation_loss, reduce_retracing=True)
        self.solution = RegionSolution(self.model)

    def _sample(self, count: int, seed: tf.Tensor, draw_dtype: tf.DType | None = None
                ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """dw, X_0 and parameters of `count` paths, dw drawn in draw_dtype (default: dtype)."""
        fold = tf.random.experimental.stateless_fold_in  # independent streams for starts and parameters
        dw = tf.cast(self.problem.increments(count, seed, draw_dtype or self.dtype), self.dtype)
        x0 = self.problem.region.sample(count, fold(seed, 1), self.dtype)
        p = self.problem.parameters.sample(count, fold(seed, 2), self.dtype)
        return dw, x0, p

    def _training_batch(self, step: tf.Tensor | None = None) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """The batch (seed, step), by default of the current step."""
        step = tf.convert_to_tensor(self.optimizer.iterations) if step is None else step
        return self._sample(self.options.batch_size, tf.stack([tf.constant(self.options.seed, tf.int64), step]),
                            tf.as_dtype(self.options.sampling_dtype))

    def _training_block(self, count: int, first: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """The batches (seed, first), ..., (seed, first + count - 1), stacked."""
        # a loop over the batches rather than `count` copies of one in the graph, as the point solver's
        steps = first + tf.range(count, dtype=tf.int64)
        dw, x0, p = tf.map_fn(self._training_batch, steps, fn_output_signature=(self.dtype,) * 3)
        return dw, x0, p

    def _update(self, dw: tf.Tensor, x0: tf.Tensor, p: tf.Tensor) -> tf.Tensor:
        x = self.problem.paths(dw, x0, p)
        with tf.GradientTape() as tape:
            loss = clipped_square_loss(self.model.terminal_mismatch(dw, x, p, training=True), self.options.loss_clip)
        self.optimizer.apply(tape.gradient(loss, self.variables), self.variables)
        return loss

    def _update_block(self, dw: tf.Tensor, x0: tf.Tensor, p: tf.Tensor) -> tf.Tensor:
        losses = tf.TensorArray(self.dtype, size=dw.shape[0])
        for k in tf.range(dw.shape[0]):  # a loop in the graph, not unrolled
            losses = losses.write(k, self._update(dw[k], x0[k], p[k]))
        return losses.stack()

    def _validation_loss(self) -> tf.Tensor:
        dw, x0, p = self.valid_batch
        delta = self.model.terminal_mismatch(dw, self.problem.paths(dw, x0, p), p, training=False)
        return clipped_square_loss(delta, self.options.loss_clip)

    def train_step(self) -> tf.Tensor:
        """One Adam step on the batch (seed, step); returns its loss."""
        return self.update(*self.sample())

    def train_steps(self, count: int) -> tf.Tensor:
        """`count` Adam steps, batch k of them drawn from (seed, step + k) exactly as `count` calls of
        train_step would; returns their losses [count]."""
        if count == 1:
            return tf.stack([self.train_step()])
        numbers = self.options.batch_size * (self.problem.num_time_interval * self.problem.dim + self.problem.dim
                                             + self.problem.parameters.count)  # dw, X_0, parameters
        return self._train_block(count, numbers)

    def record(self, elapsed: float) -> HistoryRecord:
        """Validation loss and U at the region's centre (parameters at their midpoints)."""
        centre = self.solution.evaluate(self.problem.region.centre)["u"][0]
        return HistoryRecord(self.step, float(self.validation_loss().numpy()), float(centre),
                             current_learning_rate(self.optimizer), elapsed)

    def checkpoint_objects(self) -> dict[str, tf.Module]:
        """Weights, batch-norm statistics, Adam's state and step (and the adaptive schedule)."""
        objects: dict[str, tf.Module] = {"model": self.model, "optimizer": self.optimizer}
        if self.plateau is not None:
            objects["schedule"] = self.plateau
        return objects
