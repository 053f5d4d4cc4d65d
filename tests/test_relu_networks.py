"""Exact ReLU payoff networks (docs/method.md) against numpy payoffs written out here.

The networks are exact in real arithmetic; in floating point each affine
layer rounds relative to the magnitude of what it adds, so the comparison
is relative to the scale of the inputs (the largest |w_i x_i| and strike).
"""
import numpy as np
import pytest
import tensorflow as tf

import equations
from deepbsde.finance import relu_networks
from deepbsde.finance.payoffs import BasketCall, BestOfCall, CallSpreadOnMax, MaxCall, MinPut, WorstOfPut

DIMS = [1, 2, 3, 5, 8, 100, 1000]
TOLERANCE = 1e-12


def inputs(dim: int, seed: int) -> np.ndarray:
    """Rows of random prices: ordinary, with ties, all equal, and of large and mixed magnitudes."""
    rng = np.random.default_rng(seed)
    normal = 100.0 + 30.0 * rng.standard_normal((8, dim))
    ties = np.round(rng.uniform(90.0, 110.0, (8, dim)) / 5.0) * 5.0  # few distinct values, often tied maxima
    equal = np.full((2, dim), 97.5)
    large = 1e12 * rng.standard_normal((4, dim))
    mixed = rng.standard_normal((4, dim)) * 10.0 ** rng.integers(-3, 15, (4, dim))
    return np.concatenate([normal, ties, equal, large, mixed, -normal])


def weights_for(dim: int) -> np.ndarray:
    return np.random.default_rng(dim).uniform(0.5, 2.0, dim) / 100.0


def scale(x: np.ndarray, *strikes: float, weights=None) -> np.ndarray:
    """Per row: the largest |w_i x_i| or strike, the magnitude rounding is relative to."""
    weighted = np.abs(x) if weights is None else np.abs(x * weights)
    return np.maximum(weighted.max(axis=1), max(strikes, default=0.0))


def cases(dim: int):
    """name -> (network, numpy payoff of x, scale of x) for every construction."""
    w = weights_for(dim)
    return {
        "max": (relu_networks.max_network(dim), lambda x: x.max(axis=1), scale),
        "weighted max": (relu_networks.max_network(dim, w), lambda x: (w * x).max(axis=1),
                         lambda x: scale(x, weights=w)),
        "max call": (relu_networks.max_call(dim, 100.0), lambda x: np.maximum(x.max(axis=1) - 100.0, 0.0),
                     lambda x: scale(x, 100.0)),
        "min put": (relu_networks.min_put(dim, 100.0), lambda x: np.maximum(100.0 - x.min(axis=1), 0.0),
                    lambda x: scale(x, 100.0)),
        "best-of call": (relu_networks.max_call(dim, 1.0, w), lambda x: np.maximum((w * x).max(axis=1) - 1.0, 0.0),
                         lambda x: scale(x, 1.0, weights=w)),
        "worst-of put": (relu_networks.min_put(dim, 1.0, w), lambda x: np.maximum(1.0 - (w * x).min(axis=1), 0.0),
                         lambda x: scale(x, 1.0, weights=w)),
        "call spread on max": (relu_networks.call_spread_on_max(dim, 100.0, 105.0),
                               lambda x: (np.maximum(x.max(axis=1) - 100.0, 0.0)
                                          - 2.0 * np.maximum(x.max(axis=1) - 105.0, 0.0)),
                               lambda x: scale(x, 105.0)),
        "basket call": (relu_networks.basket_call(w, 1.0), lambda x: np.maximum(x @ w - 1.0, 0.0),
                        lambda x: np.maximum(np.abs(x) @ w, 1.0)),
    }


def assert_exact(values, expected, scales, tolerance=TOLERANCE):
    error = np.abs(np.asarray(values).reshape(-1) - expected) / scales
    assert error.max() <= tolerance, f"largest error relative to the input scale: {error.max():.3g}"


@pytest.mark.parametrize("dim", DIMS)
def test_numpy_keras_and_tf_evaluators_match_numpy_payoffs(dim):
    x = inputs(dim, seed=dim)
    for network, payoff, scale_of in cases(dim).values():
        expected, scales = payoff(x), scale_of(x)
        assert_exact(network(x), expected, scales)
        assert_exact(network.tf_call(tf.constant(x)).numpy(), expected, scales)
        assert_exact(network.to_keras()(x).numpy(), expected, scales)


@pytest.mark.parametrize("dim", DIMS)
def test_depth_is_ceil_log2_plus_one_for_the_payoff(dim):
    depth = int(np.ceil(np.log2(dim)))
    assert relu_networks.max_depth(dim) == depth
    assert relu_networks.max_network(dim).depth == depth
    for network in (relu_networks.max_call(dim, 1.0), relu_networks.min_put(dim, 1.0),
                    relu_networks.call_spread_on_max(dim, 1.0, 2.0)):
        assert network.depth == depth + 1
        assert network.widths[0] == dim and network.widths[-1] == 1
    assert relu_networks.basket_call(np.ones(dim), 1.0).depth == 1


def test_nonzero_parameters_grow_linearly():
    # about 2 per input in the first layer and 6 in the rest; odd values carried through levels add a little
    for dim in range(1, 260):
        assert relu_networks.max_network(dim).num_nonzero_parameters <= 9 * dim
    dims = [10, 100, 1000, 10000]
    counts = np.array([relu_networks.max_network(d).num_nonzero_parameters for d in dims])
    np.testing.assert_allclose(counts / np.array(dims), 8.0, rtol=0.01)  # constant per input: linear growth
    dense = relu_networks.max_network(10000).num_dense_parameters
    assert dense > 10 ** 8 and counts[-1] < 10 ** 5  # why the weights are stored sparsely
    widths = relu_networks.max_network(10000).widths
    assert max(widths) == 15000 and len(widths) == 14 + 2


def test_d10000_is_exact_with_sparse_keras_layers():
    dim = 10000
    network = relu_networks.max_call(dim, 100.0)
    x = inputs(dim, seed=7)[:12]
    expected = np.maximum(x.max(axis=1) - 100.0, 0.0)
    model = network.to_keras()  # the wide first layers become gather layers, the rest Dense
    assert {type(layer).__name__ for layer in model.layers[1:]} == {"GatherDense", "Dense"}
    for values in (network(x), network.tf_call(tf.constant(x)).numpy(), model(x).numpy()):
        assert_exact(values, expected, scale(x, 100.0))


def test_keras_model_with_only_gather_layers_matches():
    network = relu_networks.min_put(37, 100.0)
    x = inputs(37, seed=3)
    model = network.to_keras(dense_limit=0)
    assert all(type(layer).__name__ == "GatherDense" for layer in model.layers[1:])
    assert_exact(model(x).numpy(), np.maximum(100.0 - x.min(axis=1), 0.0), scale(x, 100.0))


@pytest.mark.parametrize("dtype, tolerance", [(tf.float64, TOLERANCE), (tf.float32, 1e-6)])
def test_tf_evaluator_compiles_with_xla(dtype, tolerance):
    network = relu_networks.call_spread_on_max(100, 120.0, 150.0)
    compiled = tf.function(network.tf_call, jit_compile=True)
    x = np.random.default_rng(0).uniform(80.0, 180.0, (64, 100))
    values = compiled(tf.constant(x, dtype))
    assert values.dtype == dtype and values.shape == (64, 1)
    best = x.max(axis=1)
    expected = np.maximum(best - 120.0, 0.0) - 2.0 * np.maximum(best - 150.0, 0.0)
    assert_exact(values.numpy(), expected, scale(x, 150.0), tolerance)


def test_different_rates_equation_uses_the_network():
    eq = equations.get("bs_diff_rates", dim=100)
    x = np.random.default_rng(1).uniform(100.0, 170.0, (32, 100))
    best = x.max(axis=1)
    expected = np.maximum(best - 120.0, 0.0) - 2.0 * np.maximum(best - 150.0, 0.0)
    assert_exact(eq.g(tf.constant(x)).numpy(), expected, scale(x, 150.0))


@pytest.mark.parametrize("payoff", [MaxCall(100.0), MinPut(95.0), BestOfCall([0.01, 0.02, 0.005, 0.01, 0.01], 1.1),
                                    WorstOfPut([0.01, 0.02, 0.005, 0.01, 0.01], 0.9), CallSpreadOnMax(100.0, 130.0),
                                    BasketCall([0.3, 0.2, 0.1, 0.2, 0.2], 100.0)])
def test_payoff_network_equals_its_formula(payoff):
    x = inputs(5, seed=11)[:18]  # ordinary prices and ties
    formula = payoff(tf.constant(x)).numpy()
    assert formula.shape == (18, 1)
    np.testing.assert_allclose(payoff.network(5)(x), formula, rtol=0, atol=1e-12 * np.abs(x).max())
