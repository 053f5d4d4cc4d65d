"""A fitted continuation value of a learned exercise rule, and the hedge ratios it gives.

C(t_k, x) is the expected discounted reward that the rule realises after
date k from the state x. One network over all dates (the time is an input)
is fitted by least squares, on fresh paths, to the reward each path realises.
Its gradient with respect to the discounted asset prices (dividends
reinvested) is a hedge ratio: between two dates, a path on which the rule
continues changes its value by about grad C . dm, where dm is the change of
those prices, a martingale. `optimal_stopping.upper_bound` subtracts this
hedge from the reward of each inner path of the Andersen-Broadie estimator:
the hedge has mean zero at any stopping time (optional stopping), so the
inner estimates stay unbiased whatever the fit's quality, while most of the
noise of the reward, the part driven by the asset moves, cancels.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from deepbsde.pricing.optimal_stopping import (
    Adam,
    Decider,
    Grid,
    HedgeRatio,
    StoppingPolicy,
    initial_weights,
    mlp,
    sample_paths,
)

# Second word of the stateless seeds of the regression paths, after the training,
# lower- and upper-bound streams of `optimal_stopping`: the paths are fresh.
_REGRESSION = 3 << 40
#: Smooth, so that the gradient (the hedge ratio) is smooth too.
ACTIVATION = tf.nn.softplus
#: Normalising samples for the regression inputs.
_NORMALISING_SAMPLES = 2 ** 16


@dataclass(frozen=True)
class ContinuationValue:
    """A fitted continuation value C(t_k, x) of a learned rule, in discounted money.

    weights: (W1, b1, W2, b2, w3, b3) of one network whose input is the
    policy's features at date k and t_k / T, shifted and scaled by
    `input_shift` / `input_scale`; its output times `unit` is C.
    """

    weights: list[np.ndarray]
    input_shift: np.ndarray
    input_scale: np.ndarray
    unit: float


def _inputs(grid: Grid, log_growth: tf.Tensor, reward: tf.Tensor, k: tf.Tensor) -> tf.Tensor:
    """Network input [batch, F + 1] at dates k (scalar or [batch]) before normalisation:
    the policy's features and t_k / T."""
    times = grid.problem.times
    fraction = tf.broadcast_to(tf.gather(tf.constant(times / times[-1], grid.dtype), k), tf.shape(reward))
    return tf.concat([grid.features(log_growth, reward), fraction[:, None]], axis=1)


class ContinuationNetwork:
    """C_k(x) and its hedge ratio as TensorFlow functions of log(S / S0) and the date index k."""

    def __init__(self, continuation: ContinuationValue, grid: Grid):
        dtype = grid.dtype
        self.grid = grid
        self.weights = [tf.constant(w, dtype) for w in continuation.weights]
        self.shift = tf.constant(continuation.input_shift, dtype)
        self.scale = tf.constant(continuation.input_scale, dtype)
        self.unit = tf.constant(continuation.unit, dtype)

    def __call__(self, log_growth: tf.Tensor, k: tf.Tensor) -> tf.Tensor:
        """C_k(x) [batch] at log(S / S0) [batch, d]."""
        x = (_inputs(self.grid, log_growth, self.grid.reward(log_growth, k), k) - self.shift) / self.scale
        return self.unit * mlp(self.weights, x, ACTIVATION)

    def hedge_ratio(self, log_growth: tf.Tensor, k: tf.Tensor) -> tf.Tensor:
        """dC_k / dm_i [batch, d], m_i = exp(-(r - q_i) t_k) S_i / S0_i the discounted asset prices."""
        with tf.GradientTape() as tape:
            tape.watch(log_growth)
            value = self(log_growth, k)
        return tape.gradient(value, log_growth) / self.grid.martingale(log_growth, k)


def fit_continuation(policy: StoppingPolicy, *, seed: int, paths: int = 2 ** 16, steps: int = 4000,
                     batch_size: int = 8192, hidden: int | None = None, learning_rate: float = 2e-3,
                     dtype: tf.DType = tf.float32) -> ContinuationValue:
    """Fits C(t_k, x) by least squares on `paths` fresh paths: the target at
    (path, date k) is the discounted reward the policy realises after k.
    `steps` Adam steps on mini-batches of (path, date) pairs, with the learning
    rate decaying linearly to a tenth."""
    problem = policy.problem
    grid = Grid(problem, dtype)
    decider = Decider(policy, grid)
    last = problem.steps
    log_growth = sample_paths(grid, (seed, _REGRESSION), paths)
    # backwards: the reward realised after date k, then the rule's decision at k
    targets = []
    realised = tf.zeros([paths], dtype)
    for k in range(last, -1, -1):
        if k < last:
            targets.append(realised)
        reward = grid.reward(log_growth[:, k], tf.constant(k))
        realised = tf.where(decider.stops(log_growth[:, k], reward, tf.constant(k)), reward, realised)
    targets_by_date = tf.stack(targets[::-1], axis=1) / problem.unit  # [paths, last]: dates 0..last-1

    rng = np.random.default_rng(seed)

    def pairs(count: int) -> tuple[tf.Tensor, tf.Tensor]:
        """Network inputs and targets of `count` random (path, date) pairs."""
        path_index = rng.integers(0, paths, count)
        date_index = rng.integers(0, last, count)
        states = tf.gather_nd(log_growth, np.stack([path_index, date_index], axis=1))
        reward = grid.reward(states, tf.constant(date_index))
        inputs = _inputs(grid, states, reward, tf.constant(date_index))
        return inputs, tf.gather_nd(targets_by_date, np.stack([path_index, date_index], axis=1))

    sample, _ = pairs(_NORMALISING_SAMPLES)
    shift = tf.reduce_mean(sample, axis=0).numpy()
    spread = tf.math.reduce_std(sample, axis=0).numpy()
    scale = np.where(spread > 1e-6, spread, 1.0)  # an input constant over the samples stays as it is
    variables = [tf.Variable(w, dtype=dtype) for w in initial_weights(rng, shift.size, hidden or problem.dim + 40)]
    adam = Adam(variables, learning_rate)

    @tf.function(jit_compile=True)
    def train_step(inputs: tf.Tensor, target: tf.Tensor) -> None:
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(mlp(variables, (inputs - shift) / scale, ACTIVATION) - target))
        adam.apply(tape.gradient(loss, variables))

    for step in range(steps):
        adam.learning_rate.assign(learning_rate * (1 - 0.9 * step / steps))
        train_step(*pairs(batch_size))
    return ContinuationValue([v.numpy() for v in variables], shift, scale, problem.unit)


def fitted_hedge(policy: StoppingPolicy, *, seed: int, paths: int = 2 ** 16, steps: int = 4000,
                 dtype: tf.DType = tf.float32) -> HedgeRatio:
    """The hedge ratio of a continuation value fitted as `fit_continuation` does,
    ready for `optimal_stopping.upper_bound(hedge=...)`."""
    fitted = fit_continuation(policy, seed=seed, paths=paths, steps=steps, dtype=dtype)
    return ContinuationNetwork(fitted, Grid(policy.problem, dtype)).hedge_ratio
