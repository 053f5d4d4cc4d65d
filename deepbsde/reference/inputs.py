"""Validation of reference-solver inputs; every error is a ParameterError naming the field."""
from __future__ import annotations

import numbers
from typing import Any

import numpy as np
import tensorflow as tf

from equations import ParameterError


def finite(field: str, value: Any) -> float:
    """`value` as a finite float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise ParameterError(field, f"must be a finite number, got {value!r}")
    return float(value)


def positive(field: str, value: Any) -> float:
    """`value` as a finite, strictly positive float."""
    number = finite(field, value)
    if number <= 0:
        raise ParameterError(field, f"must be positive, got {value!r}")
    return number


def integer(field: str, value: Any) -> int:
    """`value` as an int (bools are not integers here)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ParameterError(field, f"must be an integer, got {value!r}")
    return int(value)


def positive_int(field: str, value: Any, minimum: int = 1) -> int:
    """`value` as an integer >= minimum."""
    if integer(field, value) < minimum:
        raise ParameterError(field, f"must be an integer >= {minimum}, got {value!r}")
    return int(value)


def float_dtype(field: str, dtype: Any) -> tf.DType:
    """tf.float32 or tf.float64 (also given by name)."""
    try:
        dtype = tf.as_dtype(dtype)
    except TypeError:
        dtype = None
    if dtype not in (tf.float32, tf.float64):
        raise ParameterError(field, f"must be tf.float32 or tf.float64, got {dtype!r}")
    return dtype


def vector(field: str, value: Any, dim: int | None = None, *, positive_entries: bool = False) -> np.ndarray:
    """A scalar or a 1-D sequence as a float vector; a scalar is broadcast to `dim` entries.

    dim None: the vector defines the dimension (a scalar gives one entry).
    """
    array = np.asarray(value, dtype=np.float64) if _is_numeric(value) else None
    if array is None or array.ndim > 1 or array.size == 0:
        raise ParameterError(field, f"must be a number or a non-empty list of numbers, got {value!r}")
    if not np.all(np.isfinite(array)):
        raise ParameterError(field, f"must be finite, got {value!r}")
    if positive_entries and np.any(array <= 0):
        raise ParameterError(field, f"must be positive, got {value!r}")
    if dim is None:
        return array.reshape(-1)
    if array.ndim == 1 and array.size != dim:
        raise ParameterError(field, f"has {array.size} entries but the dimension is {dim}; "
                                    "give one number or one per asset")
    return np.broadcast_to(array, (dim,)).copy()


def correlation_cholesky(field: str, correlation: Any, dim: int) -> np.ndarray | None:
    """The Cholesky factor of a correlation matrix ([dim, dim], symmetric, unit
    diagonal, positive definite); None stays None (independent assets)."""
    if correlation is None:
        return None
    matrix = np.asarray(correlation, dtype=np.float64) if _is_numeric(correlation) else None
    if matrix is None or matrix.shape != (dim, dim):
        shape = "not numeric" if matrix is None else f"shape {matrix.shape}"
        raise ParameterError(field, f"must be a {dim} x {dim} matrix, got {shape}")
    if not (np.all(np.isfinite(matrix)) and np.allclose(matrix, matrix.T, atol=1e-12)
            and np.allclose(np.diag(matrix), 1.0, atol=1e-12)):
        raise ParameterError(field, "must be finite, symmetric and have ones on the diagonal")
    try:
        return np.linalg.cholesky(matrix)
    except np.linalg.LinAlgError:
        raise ParameterError(field, "must be positive definite") from None


def _is_numeric(value: Any) -> bool:
    try:
        np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return False
    return not isinstance(value, (str, bytes, bool))
