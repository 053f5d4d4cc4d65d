"""Adam with a piecewise-constant learning rate, as plain tf.Variables.

Written out (a dozen lines) rather than taken from Keras so that the whole
update compiles inside the XLA training step in float32 or float64, and so
that its state is ordinary variables a tf.train.Checkpoint can hold.
"""
from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf


class PiecewiseConstant:
    """rates[i] for boundaries[i-1] < step <= boundaries[i] (Keras' convention)."""

    def __init__(self, boundaries: Sequence[int], rates: Sequence[float], dtype: tf.DType):
        self.boundaries = tf.constant(list(boundaries) or [0], tf.int64)
        self.rates = tf.constant(list(rates) if boundaries else [rates[0], rates[0]], dtype)

    def __call__(self, step: tf.Tensor) -> tf.Tensor:
        index = tf.searchsorted(self.boundaries, tf.reshape(tf.cast(step, tf.int64), [1]), side="left")
        return tf.gather(self.rates, index[0])


class Adam(tf.Module):
    """Adam (Kingma and Ba) with bias correction folded into the step size."""

    def __init__(self, variables: Sequence[tf.Variable], learning_rate: PiecewiseConstant,
                 beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-8):
        super().__init__(name="adam")
        self.learning_rate = learning_rate
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        self.iterations = tf.Variable(0, dtype=tf.int64, trainable=False, name="iterations")
        self.first_moments = [tf.Variable(tf.zeros_like(v), trainable=False, name="m") for v in variables]
        self.second_moments = [tf.Variable(tf.zeros_like(v), trainable=False, name="v") for v in variables]

    def apply(self, gradients: Sequence[tf.Tensor], variables: Sequence[tf.Variable]) -> tf.Tensor:
        """One update; returns the learning rate used."""
        rate = self.learning_rate(self.iterations)
        t = tf.cast(self.iterations + 1, rate.dtype)
        step_size = rate * tf.sqrt(1.0 - self.beta_2 ** t) / (1.0 - self.beta_1 ** t)
        for g, v, m, s in zip(gradients, variables, self.first_moments, self.second_moments):
            m.assign(self.beta_1 * m + (1.0 - self.beta_1) * g)
            s.assign(self.beta_2 * s + (1.0 - self.beta_2) * tf.square(g))
            v.assign_sub(step_size * m / (tf.sqrt(s) + self.epsilon))
        self.iterations.assign_add(1)
        return rate
