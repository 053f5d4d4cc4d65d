"""Input validation shared by every layer: each check returns the value converted
or raises ParameterError naming the field, with the offending value cut short."""
from __future__ import annotations

import numbers
import reprlib
import types
import typing
from typing import Any

import numpy as np
import tensorflow as tf

from deepbsde.errors import ParameterError

# Bounded repr for error messages: nested or huge inputs (a YAML alias bomb
# expands to millions of items) are cut at a few levels and items.
_SHORT_REPR = reprlib.Repr()
_SHORT_REPR.maxlevel, _SHORT_REPR.maxlist, _SHORT_REPR.maxtuple, _SHORT_REPR.maxdict = 3, 8, 8, 8
_SHORT_REPR.maxstring, _SHORT_REPR.maxother = 80, 80


def shown(value: Any) -> str:
    """A repr of `value` of at most a few lines, however large or nested the value is."""
    return _SHORT_REPR.repr(value)


def finite(field: str, value: Any) -> float:
    """`value` as a finite float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not np.isfinite(float(value)):
        raise ParameterError(field, f"must be a finite number, got {shown(value)}")
    return float(value)


def positive(field: str, value: Any) -> float:
    """`value` as a finite, strictly positive float."""
    number = finite(field, value)
    if number <= 0:
        raise ParameterError(field, f"must be positive, got {shown(value)}")
    return number


def integer(field: str, value: Any) -> int:
    """`value` as an int (bools are not integers here)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ParameterError(field, f"must be an integer, got {shown(value)}")
    return int(value)


def positive_int(field: str, value: Any, minimum: int = 1) -> int:
    """`value` as an integer >= minimum."""
    if integer(field, value) < minimum:
        raise ParameterError(field, f"must be an integer >= {minimum}, got {shown(value)}")
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
        raise ParameterError(field, f"must be a number or a non-empty list of numbers, got {shown(value)}")
    if not np.all(np.isfinite(array)):
        raise ParameterError(field, f"must be finite, got {shown(value)}")
    if positive_entries and np.any(array <= 0):
        raise ParameterError(field, f"must be positive, got {shown(value)}")
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


def coerce(field: str, value: Any, kind: Any) -> Any:
    """`value` checked against the type annotation `kind` and converted.

    Supported: bool, int, float (finite), str, list[...] of those, unions such
    as `float | list[float]` (the first that fits) and `X | None`.
    """
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        choices = [a for a in args if a is not type(None)]
        for choice in choices[:-1]:
            try:
                return coerce(field, value, choice)
            except ParameterError:
                pass
        return coerce(field, value, choices[-1])
    if origin is list:
        (item,) = args
        if not isinstance(value, (list, tuple)):
            raise ParameterError(field, f"must be {_describe(kind)}, got {shown(value)}")
        try:
            return [coerce(field, v, item) for v in value]
        except ParameterError:
            raise ParameterError(field, f"must be {_describe(kind)}, got {shown(value)}") from None
    if kind is bool:
        if not isinstance(value, bool):
            raise ParameterError(field, f"must be true or false, got {shown(value)}")
        return value
    if kind is int:
        return integer(field, value)
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ParameterError(field, f"must be a number, got {shown(value)}")
        return finite(field, value)
    if kind is str:
        if not isinstance(value, str):
            raise ParameterError(field, f"must be a string, got {shown(value)}")
        return value
    if kind is Any:
        return value
    raise TypeError(f"{field}: parameters of type {kind!r} are not supported")


def type_of_default(default: Any) -> Any:
    """The parameter type a default value stands for (bool, int, float, str or a list of one)."""
    if isinstance(default, list):
        lists = {bool: list[bool], int: list[int], float: list[float], str: list[str]}
        kinds = {type_of_default(v) for v in default}
        return lists[kinds.pop()] if len(kinds) == 1 else list[float]
    if isinstance(default, (bool, int, float, str)):
        return type(default)
    raise TypeError(f"a parameter default must be a bool, number, string or list, got {default!r}")


def _describe(kind: Any) -> str:
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
    plural = {bool: "booleans", int: "integers", float: "numbers", str: "strings"}
    if typing.get_origin(kind) is list:
        return f"a list of {plural.get(typing.get_args(kind)[0], 'values')}"
    return names.get(kind, str(kind))
