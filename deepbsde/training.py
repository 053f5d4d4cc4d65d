"""Training loop of the deep BSDE solver.

One training step = sample a fresh batch of paths on the device, evaluate
all subnetworks in one stacked pass, run the Y recursion, take the gradient
and apply Adam; the whole step is one XLA-compiled function. The batch of
step k is drawn from the stateless seed (seed, k), so a run is a pure
function of its seed.
"""
from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np
import tensorflow as tf

import equations
from deepbsde.config import SolverOptions
from deepbsde.model import DeepBSDEModel, clipped_square_loss
from deepbsde.optimizer import Adam, PiecewiseConstant
from deepbsde.reference import resolve_reference
from deepbsde.result import HistoryRecord, Result
from equations import Equation

VALIDATION_STREAM = -1  # second seed word of the validation batch; training uses steps >= 0

ProgressCallback = Callable[[HistoryRecord, int], None]


class DivergenceError(RuntimeError):
    """The training loss became NaN or infinite."""

    def __init__(self, step: int, loss: float):
        self.step, self.loss = step, loss
        super().__init__(f"training diverged at step {step}: loss = {loss}")


def device_description() -> str:
    """The device TensorFlow places the solver on by default."""
    gpus = tf.config.list_logical_devices("GPU")
    if not gpus:
        return "CPU"
    details = tf.config.experimental.get_device_details(tf.config.list_physical_devices("GPU")[0])
    return f"{gpus[0].name} ({details.get('device_name', 'GPU')})"


class Trainer:
    """Holds the model, the optimizer and the compiled steps of one solve."""

    def __init__(self, equation: Equation, options: SolverOptions):
        self.equation = equation
        self.options = options
        self.dtype = tf.as_dtype(options.dtype)
        self.model = DeepBSDEModel(equation, options, self.dtype)
        self.variables = list(self.model.trainable_variables)
        schedule = PiecewiseConstant(options.lr_boundaries, options.learning_rates, self.dtype)
        self.optimizer = Adam(self.variables, schedule)
        self.valid_dw, self.valid_x = equation.sample(options.valid_size, [options.seed, VALIDATION_STREAM],
                                                      self.dtype)
        jit = {"jit_compile": options.jit_compile, "reduce_retracing": True}
        # Sampling stays outside the XLA cluster: XLA's stateless RNG on CPU is
        # several times slower than TensorFlow's kernel (measured: 4 ms vs 0.2 ms
        # for 20 x 64 x 100 normals), and the paths stay on the device either way.
        self.update = tf.function(self._update, **jit)
        self.train_step = tf.function(self._train_step, reduce_retracing=True)
        self.validation_loss = tf.function(self._validation_loss, **jit)

    @property
    def step(self) -> int:
        """Number of training steps taken so far."""
        return int(self.optimizer.iterations.numpy())

    def _train_step(self) -> tuple[tf.Tensor, tf.Tensor]:
        seed = tf.stack([tf.constant(self.options.seed, tf.int64), self.optimizer.iterations])
        dw, x = self.equation.sample(self.options.batch_size, seed, self.dtype)
        return self.update(dw, x)

    def _update(self, dw: tf.Tensor, x: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        with tf.GradientTape() as tape:
            delta = self.model.terminal_mismatch(dw, x, training=True)
            loss = clipped_square_loss(delta, self.options.loss_clip)
        gradients = tape.gradient(loss, self.variables)
        rate = self.optimizer.apply(gradients, self.variables)
        return loss, rate

    def _validation_loss(self) -> tf.Tensor:
        delta = self.model.terminal_mismatch(self.valid_dw, self.valid_x, training=False)
        return clipped_square_loss(delta, self.options.loss_clip)

    def record(self, elapsed: float) -> HistoryRecord:
        """Validation loss and current Y_0 at the current step."""
        loss = float(self.validation_loss().numpy())
        rate = float(self.optimizer.learning_rate(self.optimizer.iterations).numpy())
        return HistoryRecord(self.step, loss, float(self.model.y0.numpy()), rate, elapsed)

    def run(self, progress: ProgressCallback | None = None) -> tuple[list[HistoryRecord], dict[str, float]]:
        """Trains up to options.iterations; returns the history and timings.

        Raises DivergenceError as soon as a training loss is not finite.
        """
        options = self.options
        history: list[HistoryRecord] = []
        start = time.perf_counter()
        compile_seconds = 0.0
        step_seconds = 0.0
        timed_steps = 0

        def log() -> None:
            record = self.record(time.perf_counter() - start)
            history.append(record)
            if progress is not None:
                progress(record, options.iterations)

        log()
        while self.step < options.iterations:
            tick = time.perf_counter()
            loss, _ = self.train_step()
            loss = float(loss.numpy())  # also synchronises, so the timing is the step's
            seconds = time.perf_counter() - tick
            if compile_seconds == 0.0:
                compile_seconds = seconds  # first call traces and compiles
            else:
                step_seconds += seconds
                timed_steps += 1
            if not np.isfinite(loss):
                raise DivergenceError(self.step, loss)
            if self.step % options.log_every == 0 or self.step == options.iterations:
                log()
        timings = {"seconds": time.perf_counter() - start, "compile_seconds": compile_seconds,
                   "ms_per_iteration": 1000.0 * step_seconds / max(timed_steps, 1)}
        return history, timings

    def z0(self) -> np.ndarray:
        """The trained Z_0 = sigma^T grad u(0, x0), shape [d]."""
        return self.model.z0.numpy().reshape(-1)


def solve(equation: Equation | str, *, reference: Any = "auto", progress: ProgressCallback | None = None,
          config: dict[str, Any] | None = None, **options: Any) -> Result:
    """Solves the PDE of `equation` for u(0, x0) with the deep BSDE method.

    equation: an Equation instance, or a registered name (default parameters).
    options: SolverOptions fields (iterations, batch_size, learning_rates, ...).
    reference: "auto" (the equation's exact or published value), a number, or None.
    progress: called as progress(record, total_iterations) at every log point.
    """
    if isinstance(equation, str):
        equation = equations.get(equation)
    solver_options = SolverOptions.from_mapping(options, section="options")
    trainer = Trainer(equation, solver_options)
    history, timings = trainer.run(progress)
    known = resolve_reference(equation, reference)
    resolved = config if config is not None else {
        "equation": {"name": equation.name, **equation.params},
        "solver": solver_options.to_dict(), "reference": reference}
    return Result(equation=equation.name, dim=equation.dim, value=history[-1].value, z0=trainer.z0(),
                  reference=known.value if known else None, reference_source=known.source if known else None,
                  reference_half_width=known.half_width if known else None, iterations=trainer.step,
                  seed=solver_options.seed, device=device_description(), history=history, config=resolved,
                  **timings)
