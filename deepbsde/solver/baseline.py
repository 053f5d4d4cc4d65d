"""The reference implementation's design, written in this project as a speed baseline.

Structured as the reference implementation of Han, Jentzen and E is (docs/method.md):
N-1 separate Keras subnetworks called one after another in a Python loop
inside a `tf.function` (no XLA), Brownian increments drawn with numpy on the
host at every step and fed in, Keras Adam with a Keras piecewise-constant
learning rate. The mathematics is that of `deepbsde.model.DeepBSDEModel`:
same subnetwork architecture, output scaling, Y recursion (the equation's
own f and g), clipped loss and initial ranges; only the execution differs.
It exists so that benchmarks can compare the fast solver with it on
time per iteration and time to accuracy.

    solver = BaselineSolver(equations.get("hjb"), SolverOptions(iterations=2000, preset="paper"))
    history, timings = solver.run()
"""
from __future__ import annotations

import itertools
import time
from collections.abc import Sequence

import keras
import numpy as np
import tensorflow as tf

from deepbsde.solver.history import HistoryRecord
from deepbsde.solver.model import clipped_square_loss
from deepbsde.solver.networks import BN_EPSILON, BN_MOMENTUM
from deepbsde.solver.optimizer import adam, current_learning_rate
from deepbsde.solver.options import SolverOptions
from equations.base import Equation

VALIDATION_STREAM = 1  # numpy seed stream of the validation batch; training uses stream 0


class SubNetwork(keras.Model):
    """BN -> [Dense(no bias) -> BN -> ReLU] x len(hidden_widths) -> Dense -> BN, R^d -> R^d.

    The last dense layer has no bias either: the batch norm after it
    subtracts the batch mean, which cancels any bias.
    """

    def __init__(self, dim: int, hidden_widths: Sequence[int], dtype: str, seeds: itertools.count):
        super().__init__(dtype=dtype)
        widths = [*hidden_widths, dim]
        self.norms = [keras.layers.BatchNormalization(
            momentum=BN_MOMENTUM, epsilon=BN_EPSILON, dtype=dtype,
            beta_initializer=keras.initializers.RandomNormal(0.0, 0.1, seed=next(seeds)),
            gamma_initializer=keras.initializers.RandomUniform(0.1, 0.5, seed=next(seeds)))
            for _ in range(len(widths) + 1)]
        self.denses = [keras.layers.Dense(w, use_bias=False, dtype=dtype,
                                          kernel_initializer=keras.initializers.GlorotUniform(seed=next(seeds)))
                       for w in widths]
        self.build((None, dim))

    def build(self, input_shape: tuple) -> None:
        shape = input_shape
        self.norms[0].build(shape)
        for dense, norm in zip(self.denses, self.norms[1:]):
            dense.build(shape)
            shape = (None, dense.units)
            norm.build(shape)
        self.built = True

    def call(self, x: tf.Tensor, training: bool) -> tf.Tensor:
        h = self.norms[0](x, training=training)
        for k, (dense, norm) in enumerate(zip(self.denses, self.norms[1:])):
            h = norm(dense(h), training=training)
            if k < len(self.denses) - 1:
                h = tf.nn.relu(h)
        return h


class BaselineModel(keras.Model):
    """Y_0, Z_0 and one SubNetwork per time step n = 1..N-1, evaluated step by step."""

    def __init__(self, equation: Equation, options: SolverOptions):
        super().__init__(dtype=options.dtype)
        self.equation = equation
        dim, seed = equation.dim, options.seed
        low, high = options.y0_range if options.y0_range is not None else equation.y0_range
        widths = options.hidden_widths if options.hidden_widths is not None else [dim + 10, dim + 10]
        seeds = itertools.count(seed * 100_003)  # distinct initializer seeds, a function of the run's seed
        self.y0 = self.add_weight(shape=(), dtype=options.dtype, name="y0",
                                  initializer=keras.initializers.RandomUniform(low, high, seed=next(seeds)))
        self.z0 = self.add_weight(shape=(1, dim), dtype=options.dtype, name="z0",
                                  initializer=keras.initializers.RandomUniform(-0.1, 0.1, seed=next(seeds)))
        self.subnetworks = [SubNetwork(dim, widths, options.dtype, seeds)
                            for _ in range(equation.num_time_interval - 1)]

    def terminal_mismatch(self, dw: tf.Tensor, x: tf.Tensor, training: bool) -> tf.Tensor:
        """Y_N - g(X_N), shape [batch, 1], for dw [N, batch, d] and x [N+1, batch, d]."""
        eq = self.equation
        y = tf.ones_like(x[0, :, :1]) * self.y0
        z = tf.ones_like(x[0, :, :1]) * self.z0
        for n in range(eq.num_time_interval):
            y = y - eq.delta_t * eq.f(n * eq.delta_t, x[n], y, z) + tf.reduce_sum(z * dw[n], axis=1, keepdims=True)
            if n < eq.num_time_interval - 1:
                z = self.subnetworks[n](x[n + 1], training=training) / eq.dim
        return y - eq.g(x[-1])


class HostSampler:
    """Draws batches of paths on the host: dw with numpy, x from the equation's own forward map."""

    def __init__(self, equation: Equation, dtype: str, seed: int, stream: int):
        self.process = equation.process
        self.dtype = np.dtype(dtype)
        self.rng = np.random.default_rng([seed, stream])

    def sample(self, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
        """(dw [N, batch, d], x [N+1, batch, d]) as numpy arrays."""
        process = self.process
        shape = (process.num_time_interval, batch_size, process.dim)
        dw = self.rng.standard_normal(shape, dtype=self.dtype) * self.dtype.type(np.sqrt(process.delta_t))
        with tf.device("/CPU:0"):  # host-side, as in the reference, whatever the accelerator
            x = self.process.paths_from_increments(tf.constant(dw)).numpy()
        return dw, x


class BaselineSolver:
    """Trains a BaselineModel the way the reference does.

    Uses these SolverOptions: iterations, batch_size, valid_size,
    learning_rates, lr_boundaries, hidden_widths, y0_range, loss_clip, dtype,
    seed, log_every. There is no XLA, checkpointing or divergence guard.
    """

    def __init__(self, equation: Equation, options: SolverOptions):
        if options.preset != "paper" or not options.uses_batch_norm:
            raise ValueError("the baseline is the reference design: it needs preset paper, with batch norm")
        self.equation = equation
        self.options = options
        self.model = BaselineModel(equation, options)
        self.optimizer = adam(options.lr_boundaries, options.learning_rates, self.model.trainable_variables)
        self.sampler = HostSampler(equation, options.dtype, options.seed, stream=0)
        self.valid_dw, self.valid_x = HostSampler(equation, options.dtype, options.seed,
                                                  VALIDATION_STREAM).sample(options.valid_size)
        self._update = tf.function(self._update_from)
        self._validation = tf.function(self._loss)

    @property
    def step(self) -> int:
        """Number of training steps taken so far."""
        return int(self.optimizer.iterations.numpy())

    def train_step(self) -> tf.Tensor:
        """Draws a batch on the host and takes one Adam step; returns its loss."""
        dw, x = self.sampler.sample(self.options.batch_size)
        return self._update(dw, x)

    def _loss(self, dw: tf.Tensor, x: tf.Tensor, training: bool) -> tf.Tensor:
        delta = self.model.terminal_mismatch(dw, x, training=training)
        return clipped_square_loss(delta, self.options.loss_clip)

    def _update_from(self, dw: tf.Tensor, x: tf.Tensor) -> tf.Tensor:
        variables = self.model.trainable_variables
        with tf.GradientTape() as tape:
            loss = self._loss(dw, x, training=True)
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    def validation_loss(self) -> tf.Tensor:
        """Loss on the fixed validation batch, batch norm in inference mode."""
        return self._validation(self.valid_dw, self.valid_x, training=False)

    def record(self, elapsed: float) -> HistoryRecord:
        """Validation loss and current Y_0 at the current step."""
        return HistoryRecord(self.step, float(self.validation_loss().numpy()), float(self.model.y0.numpy()),
                             current_learning_rate(self.optimizer), elapsed)

    def run(self) -> tuple[list[HistoryRecord], dict[str, float]]:
        """Trains up to options.iterations, logging at step 0, every log_every steps and at the end.

        Returns the history and timings like `Trainer.run`: seconds (total),
        compile_seconds (the first step, which traces) and ms_per_iteration
        (mean over the other steps).
        """
        options = self.options
        start = time.perf_counter()
        history = [self.record(time.perf_counter() - start)]  # includes tracing the validation
        compile_seconds = step_seconds = 0.0
        timed_steps = 0
        while self.step < options.iterations:
            tick = time.perf_counter()
            self.train_step().numpy()
            seconds = time.perf_counter() - tick
            if compile_seconds == 0.0:
                compile_seconds = seconds
            else:
                step_seconds += seconds
                timed_steps += 1
            if self.step % options.log_every == 0 or self.step == options.iterations:
                history.append(self.record(time.perf_counter() - start))
        timings = {"seconds": time.perf_counter() - start, "compile_seconds": compile_seconds,
                   "ms_per_iteration": 1000.0 * step_seconds / max(timed_steps, 1)}
        return history, timings
