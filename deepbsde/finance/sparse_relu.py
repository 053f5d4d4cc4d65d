"""Feed-forward ReLU networks given by explicit sparse weights.

A network is a list of affine maps A_k(h) = h @ W_k + b_k with a ReLU
between consecutive maps (none after the last). The weights are kept in one
representation, scipy sparse matrices W_k of shape [in, out] and numpy
biases b_k, from which every evaluator is made:

* `ReluNetwork.__call__`: numpy, exact sparse products;
* `ReluNetwork.tf_call`: TensorFlow ops XLA can compile (a gather per layer),
  in the dtype of its input, for use inside the compiled solver;
* `ReluNetwork.to_keras`: a plain Keras model (Dense layers; a gather layer
  where a dense kernel would be too large, e.g. the first layers at d = 10000).

Sparse storage matters: the max of d = 10000 inputs has a first kernel of
10000 x 15000 entries (1.2 GB dense in float64) but only 2 * 10^4 nonzeros.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import tensorflow as tf
from scipy import sparse

#: Largest dense kernel (entries) `to_keras` builds as a Dense layer by default.
DENSE_LIMIT = 2 ** 22


@dataclass(frozen=True)
class GatheredAffine:
    """An affine map h -> h @ W + b stored column-wise for gathering.

    Output j is sum_k values[j, k] * h[:, indices[j, k]] + bias[j]; columns
    with fewer nonzeros than the widest are padded with weight 0.
    """

    indices: np.ndarray  # [out, K] int32
    values: np.ndarray   # [out, K]
    bias: np.ndarray     # [out]

    @classmethod
    def from_sparse(cls, kernel: sparse.sparray, bias: np.ndarray) -> GatheredAffine:
        columns = sparse.csc_array(kernel)
        columns.sort_indices()
        counts = np.diff(columns.indptr)
        width = max(int(counts.max(initial=0)), 1)
        owner = np.repeat(np.arange(columns.shape[1]), counts)
        slot = np.arange(columns.nnz) - np.repeat(columns.indptr[:-1], counts)
        indices = np.zeros((columns.shape[1], width), np.int32)
        values = np.zeros((columns.shape[1], width))
        indices[owner, slot] = columns.indices
        values[owner, slot] = columns.data
        return cls(indices, values, np.asarray(bias, np.float64))

    def __call__(self, h: tf.Tensor) -> tf.Tensor:
        gathered = tf.gather(h, tf.constant(self.indices), axis=1)  # [batch, out, K]
        return (tf.reduce_sum(gathered * tf.constant(self.values, h.dtype), axis=2)
                + tf.constant(self.bias, h.dtype))


@dataclass(frozen=True, eq=False)
class ReluNetwork:
    """x -> A_L(relu(A_{L-1}(... relu(A_0(x))))), A_k(h) = h @ W_k + b_k.

    `layers` holds the pairs (W_k, b_k): W_k a scipy sparse matrix of shape
    [in, out], b_k a float64 vector of length out. Inputs are [batch, in].
    """

    layers: tuple[tuple[sparse.csr_array, np.ndarray], ...]
    name: str = "relu_network"

    def __post_init__(self):
        widths = [w.shape for w, _ in self.layers]
        for (_, out), (nxt, _) in zip(widths[:-1], widths[1:]):
            if out != nxt:
                raise ValueError(f"layer widths do not chain: {widths}")

    @classmethod
    def from_layers(cls, layers: Sequence[tuple[sparse.sparray, np.ndarray]], name: str) -> ReluNetwork:
        """A network from (W, b) pairs; W is stored as CSR without explicit zeros."""
        stored = []
        for kernel, bias in layers:
            kernel = sparse.csr_array(kernel, dtype=np.float64)
            kernel.eliminate_zeros()
            stored.append((kernel, np.asarray(bias, np.float64).reshape(kernel.shape[1])))
        return cls(tuple(stored), name)

    # ------------------------------------------------------------ structure
    @property
    def depth(self) -> int:
        """Number of hidden ReLU layers."""
        return len(self.layers) - 1

    @property
    def widths(self) -> list[int]:
        """[input width, hidden widths..., output width]."""
        return [self.layers[0][0].shape[0]] + [w.shape[1] for w, _ in self.layers]

    @property
    def num_nonzero_parameters(self) -> int:
        """Nonzero weights and biases."""
        return sum(w.nnz + int(np.count_nonzero(b)) for w, b in self.layers)

    @property
    def num_dense_parameters(self) -> int:
        """Weights and biases a dense network of the same widths would store."""
        return sum(w.shape[0] * w.shape[1] + w.shape[1] for w, _ in self.layers)

    # ----------------------------------------------------------- evaluators
    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Numpy evaluation: x [batch, in] -> [batch, out] in float64."""
        h = np.asarray(x, np.float64)
        for k, (kernel, bias) in enumerate(self.layers):
            h = h @ kernel + bias
            if k < self.depth:
                h = np.maximum(h, 0.0)
        return h

    @cached_property
    def _gathered(self) -> tuple[GatheredAffine, ...]:
        return tuple(GatheredAffine.from_sparse(w, b) for w, b in self.layers)

    def tf_call(self, x: tf.Tensor) -> tf.Tensor:
        """TensorFlow evaluation in the dtype of x; XLA-compilable (gathers, no sparse ops)."""
        h = x
        for k, affine in enumerate(self._gathered):
            h = affine(h)
            if k < self.depth:
                h = tf.nn.relu(h)
        return h

    def to_keras(self, dtype: str = "float64", dense_limit: int = DENSE_LIMIT) -> tf.keras.Model:
        """A Keras model of the same weights: Dense layers, except a `GatherDense`
        layer wherever the dense kernel would have more than `dense_limit` entries."""
        inputs = tf.keras.Input(shape=(self.widths[0],), dtype=dtype)
        h = inputs
        for k, ((kernel, bias), affine) in enumerate(zip(self.layers, self._gathered)):
            activation = "relu" if k < self.depth else None
            if kernel.shape[0] * kernel.shape[1] <= dense_limit:
                layer = tf.keras.layers.Dense(kernel.shape[1], activation=activation, dtype=dtype,
                                              name=f"affine_{k}")
                layer.build((None, kernel.shape[0]))
                layer.set_weights([kernel.toarray(), bias])
            else:
                layer = GatherDense(affine, activation, dtype=dtype, name=f"affine_{k}")
            h = layer(h)
        return tf.keras.Model(inputs, h, name=self.name)

    def __repr__(self) -> str:
        return (f"ReluNetwork({self.name!r}, depth={self.depth}, widths={self.widths}, "
                f"nonzero_parameters={self.num_nonzero_parameters})")


class GatherDense(tf.keras.layers.Layer):
    """A fixed (non-trainable) sparse affine layer evaluated by gathering."""

    def __init__(self, affine: GatheredAffine, activation: str | None, **kwargs):
        super().__init__(trainable=False, **kwargs)
        self.affine = affine
        self.activation = tf.keras.activations.get(activation)

    def call(self, inputs: tf.Tensor) -> tf.Tensor:
        return self.activation(self.affine(inputs))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.affine.bias.shape[0])
