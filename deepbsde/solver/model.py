"""The deep BSDE model: trainable Y_0, Z_0 and the stacked Z subnetworks."""
from __future__ import annotations

import tensorflow as tf

from deepbsde.solver.networks import StackedSubnetworks
from deepbsde.solver.options import SolverOptions
from equations.base import Equation


class DeepBSDEModel(tf.Module):
    """Maps sampled paths (dw, x) to the terminal mismatch Y_N - g(X_N).

    Y_{n+1} = Y_n - f(t_n, X_n, Y_n, Z_n) dt + Z_n . dW_n with Z_0 trainable
    and Z_n = net_n(X_n) / d for n >= 1 (the reference's output scaling).
    """

    def __init__(self, equation: Equation, options: SolverOptions, dtype: tf.DType):
        super().__init__(name="deep_bsde")
        self.equation = equation
        self.dtype = dtype
        dim = equation.dim
        low, high = options.y0_range if options.y0_range is not None else equation.y0_range
        seed = options.seed
        self.y0 = tf.Variable(tf.random.stateless_uniform([], [seed, 101], low, high, dtype=dtype), name="y0")
        self.z0 = tf.Variable(tf.random.stateless_uniform([1, dim], [seed, 102], -0.1, 0.1, dtype=dtype), name="z0")
        widths = options.hidden_widths if options.hidden_widths is not None else [dim + 10, dim + 10]
        self.hidden_widths = list(widths)
        steps = equation.num_time_interval - 1
        self.subnetworks = (StackedSubnetworks(steps, dim, widths, options.batch_norm, dtype, seed,
                                               times=[equation.delta_t * n for n in range(1, steps + 1)],
                                               shared_weights=options.shared_network,
                                               matmul_dtype=tf.bfloat16 if options.mixed_precision else None)
                            if steps > 0 else None)

    def z_all_steps(self, x: tf.Tensor, training: bool) -> tf.Tensor:
        """Z_n for n = 0..N-1, shape [N, batch, d]."""
        batch = tf.shape(x)[1]
        z0 = tf.broadcast_to(self.z0, [batch, self.equation.dim])[tf.newaxis]
        if self.subnetworks is None:
            return z0
        z_later = self.subnetworks(x[1:-1], training) / self.equation.dim
        return tf.concat([z0, z_later], axis=0)

    def terminal_mismatch(self, dw: tf.Tensor, x: tf.Tensor, training: bool) -> tf.Tensor:
        """Y_N - g(X_N), shape [batch, 1]."""
        eq = self.equation
        z = self.z_all_steps(x, training)
        z_dot_dw = tf.reduce_sum(z * dw, axis=2, keepdims=True)  # [N, batch, 1], one fused op
        y = tf.ones_like(x[0, :, :1]) * self.y0
        for n in range(eq.num_time_interval):  # unrolled: only this scalar recursion is sequential
            y = y - eq.delta_t * eq.f(n * eq.delta_t, x[n], y, z[n]) + z_dot_dw[n]
        return y - eq.g(x[-1])


def clipped_square_loss(delta: tf.Tensor, clip: float) -> tf.Tensor:
    """Mean of delta^2, continued linearly beyond |delta| = clip (the reference's)."""
    magnitude = tf.abs(delta)
    return tf.reduce_mean(tf.where(magnitude < clip, tf.square(delta), 2.0 * clip * magnitude - clip ** 2))
