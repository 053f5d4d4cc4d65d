"""Exact ReLU networks for the max of d numbers and payoffs built on it (docs/method.md).

max(a, b) = a + relu(b - a), and a = relu(a) - relu(-a), so the pairwise
maxima of a list of values are one hidden layer with 3 units per pair (2 for
an odd value carried to the next level). A binary tree of such levels gives
the max of d values in exactly ceil(log2 d) hidden layers with O(d) nonzero
weights; an option payoff adds one hidden layer. The networks are exact in
real arithmetic; in floating point they match numpy to rounding, i.e. to a
few ulps of the largest input magnitude.

A level acts on the *values* v = h @ R (R the read-out of the layer before),
so its kernel is the product R @ P: levels compose without a hidden layer
spent on copying.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import sparse

from deepbsde.finance.sparse_relu import ReluNetwork

__all__ = ["ReluNetwork", "basket_call", "call_spread_on_max", "max_call", "max_depth", "max_network", "min_put"]


def max_depth(dim: int) -> int:
    """ceil(log2 dim): the hidden layers of the max of `dim` values."""
    return (int(dim) - 1).bit_length()


def _pairwise_max_level(count: int) -> tuple[sparse.csr_array, sparse.csr_array]:
    """(P, Q) with relu(v @ P) @ Q = the pairwise maxima of v (length `count`).

    Pair i = (a, b) = (v[2i], v[2i+1]) gets the hidden units 3i..3i+2 =
    relu(a), relu(-a), relu(b - a), read out as relu(a) - relu(-a) + relu(b - a).
    An odd last value a gets relu(a), relu(-a), read out as their difference.
    """
    pairs, odd = divmod(count, 2)
    i = np.arange(pairs)
    a, b, unit = 2 * i, 2 * i + 1, 3 * i
    last, last_unit = count - 1, 3 * pairs
    # entries of P as (value index, hidden unit, weight)
    rows = [a, a, b, a] + [np.array([last, last])] * odd
    cols = [unit, unit + 1, unit + 2, unit + 2] + [np.array([last_unit, last_unit + 1])] * odd
    vals = [np.full(pairs, w) for w in (1.0, -1.0, 1.0, -1.0)] + [np.array([1.0, -1.0])] * odd
    width = 3 * pairs + 2 * odd
    P = sparse.csr_array((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                         shape=(count, width))
    # entries of Q as (hidden unit, output value, weight)
    q_rows = [unit, unit + 1, unit + 2] + [np.array([last_unit, last_unit + 1])] * odd
    q_cols = [i, i, i] + [np.array([pairs, pairs])] * odd
    q_vals = [np.full(pairs, w) for w in (1.0, -1.0, 1.0)] + [np.array([1.0, -1.0])] * odd
    Q = sparse.csr_array((np.concatenate(q_vals), (np.concatenate(q_rows), np.concatenate(q_cols))),
                         shape=(width, pairs + odd))
    return P, Q


def _max_tree(readout: sparse.sparray) -> tuple[list, sparse.csr_array]:
    """Hidden layers taking the max of the m values x @ readout (readout [d, m]).

    Returns (layers, R): the (W, b) pairs of the ceil(log2 m) hidden layers
    and the read-out R with max = h @ R, h the last hidden layer (x itself
    when m = 1).
    """
    layers = []
    readout = sparse.csr_array(readout)
    while readout.shape[1] > 1:
        P, Q = _pairwise_max_level(readout.shape[1])
        layers.append((readout @ P, np.zeros(P.shape[1])))
        readout = Q
    return layers, readout


def _with_head(tree: tuple[list, sparse.csr_array], offsets: Sequence[float], output: Sequence[float],
               name: str) -> ReluNetwork:
    """The payoff sum_j output[j] * relu(M + offsets[j]) on top of the tree's value M."""
    layers, readout = tree
    spread = sparse.csr_array(np.ones((1, len(offsets))))
    head = [(readout @ spread, np.asarray(offsets, np.float64)),
            (sparse.csr_array(np.asarray(output, np.float64).reshape(-1, 1)), np.zeros(1))]
    return ReluNetwork.from_layers(layers + head, name)


def _scaled_inputs(dim: int, weights: Sequence[float] | None, sign: float = 1.0) -> sparse.csr_array:
    """diag(sign * w) (w = 1 without weights): the values the tree maximises are sign * w_i x_i."""
    scale = np.ones(dim) if weights is None else np.asarray(weights, np.float64)
    if scale.shape != (dim,):
        raise ValueError(f"weights must have {dim} entries, got shape {scale.shape}")
    return sparse.diags_array(sign * scale, format="csr")


def max_network(dim: int, weights: Sequence[float] | None = None) -> ReluNetwork:
    """max_i w_i x_i (w = 1 by default): ceil(log2 dim) hidden layers."""
    layers, readout = _max_tree(_scaled_inputs(dim, weights))
    return ReluNetwork.from_layers(layers + [(readout, np.zeros(1))], f"max_{dim}")


def max_call(dim: int, strike: float, weights: Sequence[float] | None = None) -> ReluNetwork:
    """max(max_i w_i x_i - K, 0): ceil(log2 dim) + 1 hidden layers."""
    return _with_head(_max_tree(_scaled_inputs(dim, weights)), [-strike], [1.0], f"max_call_{dim}")


def min_put(dim: int, strike: float, weights: Sequence[float] | None = None) -> ReluNetwork:
    """max(K - min_i w_i x_i, 0) = relu(K + max_i(-w_i x_i)): ceil(log2 dim) + 1 hidden layers."""
    return _with_head(_max_tree(_scaled_inputs(dim, weights, sign=-1.0)), [strike], [1.0], f"min_put_{dim}")


def call_spread_on_max(dim: int, strike_low: float, strike_high: float, ratio: float = 2.0) -> ReluNetwork:
    """max(M - K1, 0) - ratio * max(M - K2, 0), M = max_i x_i (ratio 2 is the
    different-rates payoff): ceil(log2 dim) + 1 hidden layers."""
    return _with_head(_max_tree(_scaled_inputs(dim, None)), [-strike_low, -strike_high], [1.0, -ratio],
                      f"call_spread_on_max_{dim}")


def basket_call(weights: Sequence[float], strike: float) -> ReluNetwork:
    """max(sum_i w_i x_i - K, 0): one hidden layer of width 1."""
    column = sparse.csr_array(np.asarray(weights, np.float64).reshape(-1, 1))
    return _with_head(([], column), [-strike], [1.0], f"basket_call_{column.shape[0]}")
