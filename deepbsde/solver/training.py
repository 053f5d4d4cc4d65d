"""Training loop of the deep BSDE solver.

One training step = sample a fresh batch of paths on the device, evaluate
all subnetworks in one stacked pass, run the Y recursion, take the gradient
and apply Adam; the whole step is one XLA-compiled function. The batch of
step k is drawn from the stateless seed (seed, k), so a run is a pure
function of its seed.
"""
from __future__ import annotations

import abc
import concurrent.futures
import time
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np
import tensorflow as tf

from deepbsde.errors import ConfigError, DivergenceError, TrainingInterrupted
from deepbsde.solver.adaptive import PlateauSchedule
from deepbsde.solver.history import HistoryRecord
from deepbsde.solver.model import DeepBSDEModel, clipped_square_loss
from deepbsde.solver.optimizer import adam, current_learning_rate
from deepbsde.solver.options import SolverOptions
from deepbsde.validation import shown
from equations.base import Equation

VALIDATION_STREAM = -1  # second seed word of the validation batch; training uses steps >= 0
#: the next block is drawn ahead only while a block holds at most this many numbers (64 MiB in float32): at
#: d = 10,000 a block of 10 steps holds 10^9 bytes, which a second one would double
AHEAD_NUMBERS = 2 ** 24
#: the thread that draws the next training block while the current one trains (one for every trainer: a
#: block takes milliseconds, and its TensorFlow kernels use the intra-op threads anyway)
_SAMPLER = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="deepbsde-sampler")


class TrainingObserver(Protocol):
    """Something told of the progress of a training run."""

    def on_record(self, record: HistoryRecord, total_iterations: int) -> None:
        """A new history record (every log_every steps, and at the first and last)."""

    def on_checkpoint(self, step: int) -> None:
        """The state after `step` steps is good and should be saved if checkpointing."""


def _notify(observers: Sequence[TrainingObserver], hook: str, step: int) -> None:
    """Calls the optional hook `on_started` (the first step of this call succeeded) or
    `on_finished` (the loop ended) of the observers that have it."""
    for observer in observers:
        method = getattr(observer, hook, None)
        if method is not None:
            method(step)


def check_devices(devices: Sequence[str] | None) -> None:
    """ConfigError unless every device name is one TensorFlow has (tf.config.list_logical_devices)."""
    if devices is None:
        return
    known = tf.config.list_logical_devices()
    specs = [tf.DeviceSpec.from_string(d.name) for d in known]
    for name in devices:
        try:
            wanted = tf.DeviceSpec.from_string(name)
        except (ValueError, TypeError):
            wanted = None
        if wanted is None or not wanted.device_type or not any(
                spec.device_type == wanted.device_type.upper() and spec.device_index == (wanted.device_index or 0)
                for spec in specs):
            raise ConfigError("solver.devices", f"no device {shown(name)} here; available: "
                                                f"{', '.join(d.name for d in known)}")


def device_description() -> str:
    """The device TensorFlow places the solver on by default."""
    gpus = tf.config.list_logical_devices("GPU")
    if not gpus:
        return "CPU"
    details = tf.config.experimental.get_device_details(tf.config.list_physical_devices("GPU")[0])
    return f"{gpus[0].name} ({details.get('device_name', 'GPU')})"


class TrainingLoop(abc.ABC):
    """The training loop shared by Trainer and the region solve's RegionTrainer: steps in blocks of
    steps_per_call ending at log points and checkpoints, history records, the robust preset's adaptive
    learning rate, observers, divergence and stop requests. A subclass sets options, optimizer and
    plateau (a PlateauSchedule or None) and gives train_steps and record."""

    options: SolverOptions
    optimizer: tf.keras.optimizers.Optimizer
    plateau: PlateauSchedule | None
    #: the blocks of steps_per_call batches, sample_block(count, first step), and their compiled updates
    sample_block: Callable[..., tuple]
    update_block: Callable[..., tf.Tensor]
    #: the block drawn ahead, by (first step, count); see `_train_block`
    _ahead: tuple[tuple[int, int], concurrent.futures.Future] | None = None

    @abc.abstractmethod
    def train_steps(self, count: int) -> tf.Tensor:
        """`count` Adam steps on the batches (seed, step + k); returns their losses [count]."""

    @abc.abstractmethod
    def record(self, elapsed: float) -> HistoryRecord:
        """The history record of the current step."""

    def _train_block(self, count: int, numbers_per_step: int) -> tf.Tensor:
        """`count` steps in one call of update_block on sample_block(count, first step), the block after it
        drawn on the sampler thread meanwhile: the compiled updates take one core, the sampling the other (HJB
        d = 100 steps about 6% shorter on 2 cores, docs/benchmarks.md). A block is a function of (seed, first
        step, count) alone, so the one drawn ahead is used whenever the next call asks for that block, and
        dropped otherwise. numbers_per_step: the numbers a step's batch holds (no block above AHEAD_NUMBERS is drawn
        ahead)."""
        first = self.step
        ahead, self._ahead = self._ahead, None
        block = (ahead[1].result() if ahead is not None and ahead[0] == (first, count)
                 else self.sample_block(count, tf.constant(first, tf.int64)))
        if count * numbers_per_step <= AHEAD_NUMBERS:
            upcoming = _SAMPLER.submit(self.sample_block, count, tf.constant(first + count, tf.int64))
            self._ahead = ((first + count, count), upcoming)
        return self.update_block(*block)

    @property
    def step(self) -> int:
        """Number of training steps taken so far."""
        return int(self.optimizer.iterations.numpy())

    def run(self, observers: Sequence[TrainingObserver] = (), history: Sequence[HistoryRecord] = (),
            should_stop: Callable[[], bool] = lambda: False) -> tuple[list[HistoryRecord], dict[str, float]]:
        """Trains from the current step up to options.iterations (or until the
        adaptive learning rate of the robust preset stops it, at a log point).

        history: the records of an earlier part of this run (when resuming).
        observers: told of every record and of every checkpoint-worthy step.
        should_stop: polled after every step; when it turns true the
        observers checkpoint and TrainingInterrupted is raised.
        Raises DivergenceError when a loss is not finite or exceeds max_loss;
        the observers are then not asked to checkpoint the diverged state.
        """
        options = self.options
        history = list(history)
        offset = history[-1].elapsed if history else 0.0  # elapsed time of the earlier part
        start = time.perf_counter()
        compile_seconds = step_seconds = 0.0
        timed_steps = 0
        self._set_adaptive_rate()

        def log() -> None:
            record = self.record(offset + time.perf_counter() - start)
            history.append(record)
            for observer in observers:
                observer.on_record(record, options.iterations)

        # a record at the start: of a fresh run, or where the resumed history lacks one of a log point
        at_log_point = self.step % options.log_every == 0 or self.step == options.iterations
        if not history or (at_log_point and history[-1].step != self.step):
            log()
        started = False
        while self.step < options.iterations:
            count = self._steps_until_event()
            tick = time.perf_counter()
            losses = self.train_steps(count).numpy()  # also synchronises, so the timing is the steps'
            seconds = time.perf_counter() - tick
            if compile_seconds == 0.0:
                compile_seconds = seconds  # first call traces and compiles
            else:
                step_seconds += seconds
                timed_steps += count
            bad = np.flatnonzero(~np.isfinite(losses) | (losses > (options.max_loss or np.inf)))
            if bad.size:
                raise DivergenceError(self.step - count + int(bad[0]) + 1, float(losses[bad[0]]), options.max_loss)
            if not started:
                started = True
                _notify(observers, "on_started", self.step)
            if self.step % options.log_every == 0 or self.step == options.iterations:
                log()
                if self.plateau is not None:
                    done = self.plateau.observe(history)
                    self._set_adaptive_rate()
                    if done:
                        break
            if options.checkpoint_every and self.step % options.checkpoint_every == 0:
                for observer in observers:
                    observer.on_checkpoint(self.step)
            if should_stop():
                for observer in observers:
                    observer.on_checkpoint(self.step)
                raise TrainingInterrupted(self.step)
        _notify(observers, "on_finished", self.step)
        timings = {"seconds": offset + time.perf_counter() - start, "compile_seconds": compile_seconds,
                   "ms_per_iteration": 1000.0 * step_seconds / max(timed_steps, 1)}
        return history, timings

    def _steps_until_event(self) -> int:
        """Steps of the next call: at most steps_per_call, ending at the next log
        point, checkpoint or the last iteration, so those happen after a whole call."""
        options, step = self.options, self.step
        events = [options.iterations, step + options.log_every - step % options.log_every]
        if options.checkpoint_every:
            events.append(step + options.checkpoint_every - step % options.checkpoint_every)
        return max(1, min(options.steps_per_call, min(events) - step))

    def _set_adaptive_rate(self) -> None:
        """Gives Adam the adaptive schedule's current rate (also after a restore)."""
        if self.plateau is not None:
            self.optimizer.learning_rate = self.plateau.current_rate


class Trainer(TrainingLoop):
    """Holds the model, the optimizer and the compiled steps of one solve.

    With options.devices the batch is split across those devices
    (tf.distribute.MirroredStrategy), or across the replicas of `strategy`
    when one is given (e.g. MultiWorkerMirroredStrategy on several hosts):
    each replica computes the gradient of its share, the gradients are
    averaged, and one Adam update is applied to the mirrored variables.
    Batch k is still drawn from (seed, k) as a whole, on every replica alike,
    so only the batch-norm statistics (per replica) differ from one device.

    With `tangent` the batches are paths of the tangent measure of the current
    networks (DeepBSDEModel.tangent_paths), the validation loss too.
    """

    def __init__(self, equation: Equation, options: SolverOptions,
                 strategy: tf.distribute.Strategy | None = None, *, tangent: bool = False):
        self.equation = equation
        self.options = options
        self.dtype = tf.as_dtype(options.dtype)
        self.tangent = tangent
        check_devices(options.devices)
        equation.check_functions(self.dtype)  # a user's f or g that breaks the contract: named here, not deep inside
        distributed = strategy is not None or options.devices is not None
        if strategy is None:
            strategy = (tf.distribute.MirroredStrategy(options.devices) if options.devices
                        else tf.distribute.get_strategy())
        if options.batch_size % strategy.num_replicas_in_sync:
            raise ConfigError("solver.batch_size", f"must be a multiple of the {strategy.num_replicas_in_sync} "
                                                   f"replicas, got {options.batch_size}")
        self.strategy = strategy
        with self.strategy.scope():
            self.model = DeepBSDEModel(equation, options, self.dtype)
            self.variables = list(self.model.trainable_variables)
            self.optimizer = adam(options.lr_boundaries, options.learning_rates, self.variables)
            # the robust preset's adaptive rate (deepbsde.solver.adaptive) is assigned to
            # Adam's learning-rate variable from Python at the log points
            ramp = options.continuation * options.iterations
            self.plateau = (PlateauSchedule(options.learning_rates[0], self.dtype, self.model.loss_scale,
                                            hold_until=int(np.ceil(ramp))) if options.adaptive_schedule else None)
            self.continuation_steps = tf.constant(max(ramp, 1.0), self.dtype) if ramp > 0 else None
        self.valid_dw, self.valid_x = equation.sample(options.valid_size, [options.seed, VALIDATION_STREAM],
                                                      self.dtype)
        # No Python control flow on tensors in these functions (the loops are tf.while_loop),
        # so AutoGraph's source transformation, part of every run's tracing time, is skipped.
        plain = {"reduce_retracing": True, "autograph": False}
        jit = {"jit_compile": options.jit_compile, **plain}
        # Only the Brownian increments are drawn outside the XLA cluster: XLA's
        # stateless RNG on CPU is several times slower than TensorFlow's kernel
        # (4 ms vs 1.2 ms for 20 x 64 x 100 normals, measured here), while the
        # paths are built from them inside it, where the cumulative sums fuse.
        # Both stay on the device. With the rolled time loop the paths are
        # built outside XLA too: XLA's fused running sum grows faster than N, a plain
        # graph's with N (compile times against N: docs/benchmarks.md).
        self.sample_increments = tf.function(self._batch, **plain)
        self.update = tf.function(self._update, **jit)
        # several steps per call (steps_per_call): the increments of all of them
        # drawn in one call, the updates in one compiled loop, one host round trip
        # (one trace per block length: a run has at most three)
        self.sample_block = tf.function(self._increments_block, autograph=False)
        self.update_block = tf.function(self._update_block, jit_compile=options.jit_compile, autograph=False)
        # Replicas update the mirrored batch-norm statistics through a cross-replica
        # merge, which XLA cannot compile: their gradient runs as a plain graph.
        self.replica_gradients = tf.function(self._gradients, **plain)
        self.distributed_step = tf.function(self._distributed_step, **plain) if distributed else None
        # The validation loss runs every log_every steps only: as a plain graph it is
        # ready in 0.4 s where XLA needs 1.9 s to compile it (measured here), time
        # that every run would spend before its first step.
        self.validation_loss = tf.function(self._validation_loss, **plain)

    def train_step(self) -> tf.Tensor:
        """One Adam step on the batch (seed, step); returns its loss."""
        if self.distributed_step is not None:
            return self.distributed_step()
        # two calls from Python: measured faster than one graph nesting the XLA call
        return self.update(*self.sample_increments())

    def train_steps(self, count: int) -> tf.Tensor:
        """`count` Adam steps, batch k of them drawn from (seed, step + k) exactly as
        `count` calls of train_step would; returns their losses [count]."""
        if count == 1 or self.distributed_step is not None:
            return tf.stack([self.train_step() for _ in range(count)])
        eq = self.equation
        per_path = eq.num_time_interval + (eq.num_time_interval + 1 if self._samples_paths() else 0)  # dw, X
        numbers = self.options.batch_size * per_path * eq.dim
        return self._train_block(count, numbers)

    def _increments(self, step: tf.Tensor | None = None) -> tf.Tensor:
        """The increments of batch (seed, step), by default of the current step, in increments_dtype: the
        compiled update casts them to dtype, so that a block of them crosses into it at the smaller size."""
        step = tf.convert_to_tensor(self.optimizer.iterations) if step is None else step
        seed = tf.stack([tf.constant(self.options.seed, tf.int64), step])
        return self.equation.process.brownian_increments(self.options.batch_size, seed,
                                                         tf.as_dtype(self.options.sampling_dtype))

    def _batch(self) -> tuple[tf.Tensor, tf.Tensor | None]:
        """The increments of batch (seed, current step) and, with rolled_time_loop, its paths
        (else None: the compiled update builds them)."""
        dw = self._increments()
        return dw, (self._paths_of(dw) if self._samples_paths() else None)

    def _samples_paths(self) -> bool:
        """Whether the paths are built with their increments, outside the compiled update: with
        rolled_time_loop, except under the tangent measure (those paths follow the networks)."""
        return self.model.rolled and not self.tangent

    def _paths_of(self, dw: tf.Tensor) -> tf.Tensor:
        return self.equation.process.paths_from_increments(tf.cast(dw, self.dtype))

    def _increments_block(self, count: int, first: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor | None]:
        """The increments of batches (seed, first), ..., (seed, first + count - 1) and, with
        rolled_time_loop, their paths."""
        # a loop over the batches rather than `count` copies of one: a third of the trace time
        steps = first + tf.range(count, dtype=tf.int64)
        increments = tf.map_fn(self._increments, steps, fn_output_signature=tf.as_dtype(self.options.sampling_dtype))
        if not self._samples_paths():
            return increments, None
        return increments, tf.map_fn(self._paths_of, increments, fn_output_signature=self.dtype)

    def _update_block(self, increments: tf.Tensor, paths: tf.Tensor | None) -> tf.Tensor:
        count = increments.shape[0]

        def body(k: tf.Tensor, losses: tf.TensorArray) -> tuple[tf.Tensor, tf.TensorArray]:
            return k + 1, losses.write(k, self._update(increments[k], None if paths is None else paths[k]))

        _, losses = tf.while_loop(lambda k, _: k < count, body,
                                  (tf.constant(0), tf.TensorArray(self.dtype, size=count)), maximum_iterations=count)
        return losses.stack()

    def _gradients(self, dw: tf.Tensor, x: tf.Tensor | None = None) -> tuple[tf.Tensor, list[tf.Tensor]]:
        """Loss and gradients on the increments dw (cast to dtype here); x: their paths (None: built here)."""
        dw = tf.cast(dw, self.dtype)
        x, drift = self._paths(dw, x)
        with tf.GradientTape() as tape:
            delta = self.model.terminal_mismatch(dw, x, training=True, drift=drift)
            loss = clipped_square_loss(delta, self.options.loss_clip * self.model.loss_scale)
        return loss, tape.gradient(loss, self.variables)

    def _paths(self, dw: tf.Tensor, x: tf.Tensor | None = None) -> tuple[tf.Tensor, tf.Tensor | None]:
        """The paths of the increments dw and the tangent measure's drift (None without `tangent`); x: paths
        built before (plain measure only)."""
        if self.tangent:
            return self.model.tangent_paths(dw)
        return (self.equation.process.paths_from_increments(dw) if x is None else x), None

    def _continue(self) -> None:
        """Sets the weight of Z inside f for this step (continuation); part of every compiled step."""
        if self.continuation_steps is not None:
            progress = tf.cast(self.optimizer.iterations, self.dtype) / self.continuation_steps
            self.model.z_coupling.assign(tf.minimum(progress, 1.0))

    def _update(self, dw: tf.Tensor, x: tf.Tensor | None = None) -> tf.Tensor:
        self._continue()
        loss, gradients = self._gradients(dw, x)
        self.optimizer.apply(gradients, self.variables)
        self.model.refresh()
        return loss

    def _distributed_step(self) -> tf.Tensor:
        self._continue()
        dw = self._increments()
        share = self.options.batch_size // self.strategy.num_replicas_in_sync  # validated to divide

        def replica_increments(context: tf.distribute.ValueContext) -> tf.Tensor:
            start = context.replica_id_in_sync_group * share
            return dw[:, start:start + share]

        increments = self.strategy.experimental_distribute_values_from_function(replica_increments)
        losses, gradients = self.strategy.run(self.replica_gradients, args=(increments,))
        mean = tf.distribute.ReduceOp.MEAN
        loss = self.strategy.reduce(mean, losses, axis=None)
        gradients = [self.strategy.reduce(mean, g, axis=None) for g in gradients]
        self.optimizer.apply(gradients, self.variables)
        self.model.refresh()
        return loss

    def _validation_loss(self) -> tf.Tensor:
        x, drift = self._paths(self.valid_dw, None if self.tangent else self.valid_x)
        delta = self.model.terminal_mismatch(self.valid_dw, x, training=False, drift=drift)
        return clipped_square_loss(delta, self.options.loss_clip * self.model.loss_scale)

    def record(self, elapsed: float) -> HistoryRecord:
        """Validation loss and current Y_0 at the current step."""
        loss = float(self.validation_loss().numpy())
        rate = current_learning_rate(self.optimizer)
        return HistoryRecord(self.step, loss, float(self.model.y0.numpy()), rate, elapsed)

    def checkpoint_objects(self) -> dict[str, tf.Module]:
        """Everything a resumed run needs: weights, BN statistics, Adam state and step."""
        objects: dict[str, tf.Module] = {"model": self.model, "optimizer": self.optimizer}
        if self.plateau is not None:
            objects["schedule"] = self.plateau
        return objects

    def z0(self) -> np.ndarray:
        """The trained Z_0 = sigma^T grad u(0, x0), shape [d]."""
        return self.model.z0.numpy().reshape(-1)
