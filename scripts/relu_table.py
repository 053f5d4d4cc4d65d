"""Size of the exact ReLU max-call network against the dimension, with an exactness check.

    .venv/bin/python scripts/relu_table.py [--dims 2 10 100 1000 10000] [--rows 256]

For each d: depth (hidden ReLU layers; ceil(log2 d) + 1 for the max-call),
the widest hidden layer, nonzero parameters, the parameters a dense network
of the same widths would have, and the largest error of the numpy and the
TensorFlow evaluators against numpy's max(max_i x_i - K, 0) on random inputs
(float64, relative to the largest |x_i|).
"""
from __future__ import annotations

import argparse

import numpy as np
import tensorflow as tf

from deepbsde.finance.relu_networks import max_call, max_depth

STRIKE = 100.0


def random_inputs(dim: int, rows: int, rng: np.random.Generator) -> np.ndarray:
    """Prices around the strike, a quarter of the rows with tied maxima, and a quarter of large magnitude."""
    x = 100.0 + 30.0 * rng.standard_normal((rows, dim))
    quarter = rows // 4
    x[:quarter] = np.round(x[:quarter] / 10.0) * 10.0
    x[-quarter:] *= 10.0 ** rng.integers(0, 12, (quarter, 1))
    return x


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dims", type=int, nargs="+", default=[2, 10, 100, 1000, 10000])
    parser.add_argument("--rows", type=int, default=256, help="random inputs per dimension")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"{'d':>6} {'depth':>5} {'ceil(log2 d)+1':>14} {'max width':>9} {'nonzeros':>9} {'per d':>6} "
          f"{'dense params':>13} {'numpy err':>10} {'tf err':>10}")
    for dim in args.dims:
        network = max_call(dim, STRIKE)
        x = random_inputs(dim, args.rows, rng)
        expected = np.maximum(x.max(axis=1) - STRIKE, 0.0)
        scale = np.maximum(np.abs(x).max(axis=1), STRIKE)
        errors = [np.max(np.abs(values.reshape(-1) - expected) / scale)
                  for values in (network(x), network.tf_call(tf.constant(x)).numpy())]
        exact = all(error <= 1e-12 for error in errors) and network.depth == max_depth(dim) + 1
        print(f"{dim:>6} {network.depth:>5} {max_depth(dim) + 1:>14} {max(network.widths[1:-1]):>9} "
              f"{network.num_nonzero_parameters:>9} {network.num_nonzero_parameters / dim:>6.2f} "
              f"{network.num_dense_parameters:>13.3e} {errors[0]:>10.1e} {errors[1]:>10.1e}"
              + ("" if exact else "  FAILED"))
        if not exact:
            raise SystemExit(f"d = {dim}: not exact to 1e-12 or wrong depth")


if __name__ == "__main__":
    main()
