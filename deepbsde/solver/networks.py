"""All time-step subnetworks of the deep BSDE method as one stacked network.

The reference implementation keeps N-1 separate Keras models and calls them
one after another. Since the paths X do not depend on any weight, all of
them can be evaluated at once: the weights of layer k are stacked into one
tensor [N-1, in_k, out_k] and the layer is a single batched matmul over
[N-1, batch, in_k]. Batch normalisation keeps per-time-step statistics
(moments over the batch axis only), exactly as separate subnetworks would.

Architecture per time step (the reference's): BN -> [Dense(no bias) -> BN ->
ReLU] x len(hidden_widths) -> Dense -> BN. Without batch norm the dense
layers carry biases instead.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeAlias

import numpy as np
import tensorflow as tf

BN_MOMENTUM = 0.99
BN_EPSILON = 1e-6


StepIndex: TypeAlias = "int | tf.Tensor | None"


def at_step(stacked: tf.Tensor, step: StepIndex) -> tf.Tensor:
    """The slice [step:step + 1] of a per-step tensor [steps, ...]; the whole tensor for step None or
    a tensor shared by all steps (leading dimension 1)."""
    if step is None or stacked.shape[0] == 1:
        return stacked
    return stacked[step:step + 1]


class StackedBatchNorm(tf.Module):
    """Batch normalisation with separate parameters and statistics per time step."""

    def __init__(self, num_steps: int, width: int, dtype: tf.DType, seed: int, name: str):
        super().__init__(name=name)
        shape = [num_steps, 1, width]
        self.gamma = tf.Variable(tf.random.stateless_uniform(shape, [seed, 1], 0.1, 0.5, dtype=dtype), name="gamma")
        self.beta = tf.Variable(tf.random.stateless_normal(shape, [seed, 2], stddev=0.1, dtype=dtype), name="beta")
        # MEAN aggregation: under tf.distribute each replica proposes its own batch statistics
        statistics = {"trainable": False, "aggregation": tf.VariableAggregation.MEAN}
        self.moving_mean = tf.Variable(tf.zeros(shape, dtype), name="moving_mean", **statistics)
        self.moving_variance = tf.Variable(tf.ones(shape, dtype), name="moving_variance", **statistics)

    def __call__(self, h: tf.Tensor, training: bool, step: StepIndex = None) -> tf.Tensor:
        """h [steps, batch, width]; with `step` (inference only), h [1, batch, width] of that step alone."""
        if training:
            mean, variance = tf.nn.moments(h, axes=[1], keepdims=True)
            self.moving_mean.assign(BN_MOMENTUM * self.moving_mean + (1.0 - BN_MOMENTUM) * mean)
            self.moving_variance.assign(BN_MOMENTUM * self.moving_variance + (1.0 - BN_MOMENTUM) * variance)
        else:
            mean, variance = at_step(self.moving_mean, step), at_step(self.moving_variance, step)
        return tf.nn.batch_normalization(h, mean, variance, at_step(self.beta, step), at_step(self.gamma, step),
                                         BN_EPSILON)


class StackedSubnetworks(tf.Module):
    """num_steps feed-forward networks R^d -> R^d evaluated in one pass.

    Input and output have shape [num_steps, batch, d]; slice n of the input
    goes through network n only. input_dim / output_dim (default dim) give
    networks R^input_dim -> R^output_dim instead (extra inputs such as model
    parameters, or an output Y_0 next to Z_0). activation: of the hidden
    layers (ReLU, the reference's, by default). With shared_weights, one set of dense
    weights serves every step (memory O(d * width) instead of O(N d width)),
    the time t_n is appended to the input, and only the batch-norm
    parameters stay per step. With matmul_dtype (mixed precision), the
    matmuls run in that type while weights and batch norm stay in dtype.
    """

    def __init__(self, num_steps: int, dim: int, hidden_widths: Sequence[int], batch_norm: bool,
                 dtype: tf.DType, seed: int, times: Sequence[float] | None = None, shared_weights: bool = False,
                 matmul_dtype: tf.DType | None = None, input_dim: int | None = None,
                 output_dim: int | None = None, activation: Callable[[tf.Tensor], tf.Tensor] = tf.nn.relu):
        super().__init__(name="subnetworks")
        self.num_steps = num_steps
        self.batch_norm = batch_norm
        self.matmul_dtype = matmul_dtype
        self.activation = activation
        self.times = None
        if shared_weights:
            if times is None or len(times) != num_steps:
                raise ValueError("shared weights need the time of each of the num_steps steps")
            self.times = tf.constant(np.asarray(times, np.float64).reshape(num_steps, 1, 1), dtype)
        widths = [(input_dim or dim) + (1 if shared_weights else 0), *hidden_widths, output_dim or dim]
        copies = 1 if shared_weights else num_steps  # a leading 1 broadcasts over the steps
        self.kernels = [tf.Variable(_glorot_uniform([copies, w_in, w_out], dtype, [seed, 10 + k]),
                                    name=f"kernel_{k}")
                        for k, (w_in, w_out) in enumerate(zip(widths[:-1], widths[1:]))]
        if batch_norm:
            self.norms = [StackedBatchNorm(num_steps, w, dtype, seed + 1000 * (k + 1), name=f"bn_{k}")
                          for k, w in enumerate(widths)]
            self.biases = []
        else:
            self.norms = []
            self.biases = [tf.Variable(tf.zeros([copies, 1, w], dtype), name=f"bias_{k}")
                           for k, w in enumerate(widths[1:])]

    def __call__(self, x: tf.Tensor, training: bool, step: StepIndex = None) -> tf.Tensor:
        """x [num_steps, batch, in] through every network; with `step` (inference only), x [1, batch, in]
        through network `step` alone (a path simulated one step at a time)."""
        if training and step is not None:
            raise ValueError("one step's network alone is evaluated in inference mode only")
        if self.times is not None:
            times = at_step(self.times, step)
            x = tf.concat([x, tf.broadcast_to(times, tf.concat([tf.shape(x)[:2], [1]], 0))], axis=2)
        h = self.norms[0](x, training, step) if self.batch_norm else x
        last = len(self.kernels) - 1
        for k, kernel in enumerate(self.kernels):
            h = self._matmul(h, at_step(kernel, step))  # [S, B, in] @ [S or 1, in, out], batched over S
            h = self.norms[k + 1](h, training, step) if self.batch_norm else h + at_step(self.biases[k], step)
            if k < last:
                h = self.activation(h)
        return h

    def _matmul(self, h: tf.Tensor, kernel: tf.Variable) -> tf.Tensor:
        if self.matmul_dtype is None:
            return tf.linalg.matmul(h, kernel)
        product = tf.linalg.matmul(tf.cast(h, self.matmul_dtype), tf.cast(kernel, self.matmul_dtype))
        return tf.cast(product, h.dtype)

    def flops_per_sample(self) -> int:
        """Multiply-adds x 2 of one forward pass of one path through all steps."""
        return int(sum(2 * k.shape[1] * k.shape[2] for k in self.kernels) * self.num_steps)

    def parameter_count(self) -> int:
        """Number of trainable numbers (weights, biases, batch-norm scales and shifts)."""
        return int(sum(np.prod(v.shape) for v in self.trainable_variables))


def _glorot_uniform(shape: list[int], dtype: tf.DType, seed: list[int]) -> tf.Tensor:
    fan_in, fan_out = shape[-2], shape[-1]
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return tf.random.stateless_uniform(shape, seed, -limit, limit, dtype=dtype)
