"""The one base class every equation derives from.

An equation is the data of a semilinear parabolic PDE

    du/dt + 1/2 Tr(sigma sigma^T Hess u) + mu . grad u + f(t, x, u, sigma^T grad u) = 0,
    u(T, x) = g(x),

given as a forward process (mu, sigma and an exact sampler), the generator f
and the terminal condition g. A subclass declares its parameters with their
defaults in `defaults`; every parameter can be overridden by the caller and
is validated on construction.
"""
from __future__ import annotations

import abc
import numbers
from typing import Any, ClassVar, Mapping

import numpy as np
import tensorflow as tf

from equations.processes import ForwardProcess

#: Parameters every equation has.
COMMON_DEFAULTS: dict[str, Any] = {"dim": 100, "total_time": 1.0, "num_time_interval": 20, "x0": 0.0}


class ParameterError(ValueError):
    """A parameter is unknown or has an invalid value; `field` names it."""

    def __init__(self, field: str, reason: str):
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


class Equation(abc.ABC):
    """Base class of the equation registry.

    Subclasses set `defaults` (their own parameters, and any common one whose
    default differs), implement `build_process`, `f` and `g`, and may
    implement `exact_solution`. Parameters become attributes of the instance.
    """

    name: ClassVar[str] = ""                       # set by @register
    summary: ClassVar[str] = ""                    # one line for `deepbsde list`
    source: ClassVar[str] = ""                     # the paper the benchmark comes from
    defaults: ClassVar[dict[str, Any]] = {}
    y0_range: ClassVar[tuple[float, float]] = (0.0, 1.0)  # initial guess range for Y_0
    #: Published u(0, x0) and the parameters it holds for (None: no published value).
    published_value: ClassVar[float | None] = None
    #: How deepbsde.reference computes u(0, x0) for any parameters: "cole_hopf",
    #: "mlp", "black_scholes_mc", or None (no computed reference).
    reference_method: ClassVar[str | None] = None

    dim: int
    total_time: float
    num_time_interval: int

    def __init__(self, **params: Any):
        self.params = self._validate(params)
        for key, value in self.params.items():
            setattr(self, key, value)
        self.x0 = self._broadcast_x0(self.params["x0"])
        self.delta_t = self.total_time / self.num_time_interval
        self.process: ForwardProcess = self.build_process()

    # ----------------------------------------------------------------- params
    @classmethod
    def parameter_defaults(cls) -> dict[str, Any]:
        """All parameters of this equation with their default values."""
        return {**COMMON_DEFAULTS, **cls.defaults}

    @classmethod
    def _validate(cls, params: Mapping[str, Any]) -> dict[str, Any]:
        known = cls.parameter_defaults()
        unknown = sorted(set(params) - set(known))
        if unknown:
            raise ParameterError(unknown[0], f"unknown parameter for equation '{cls.name}'; "
                                             f"known parameters: {', '.join(sorted(known))}")
        resolved = dict(known)
        for key, value in params.items():
            resolved[key] = coerce_parameter(key, value, known[key])
        for key in ("dim", "num_time_interval"):
            if resolved[key] <= 0:
                raise ParameterError(key, f"must be a positive integer, got {resolved[key]}")
        if not resolved["total_time"] > 0:
            raise ParameterError("total_time", f"must be positive, got {resolved['total_time']}")
        cls.check_params(resolved)
        return resolved

    @classmethod
    def check_params(cls, params: dict[str, Any]) -> None:
        """Hook for equation-specific checks; raise ParameterError naming the field."""

    def _broadcast_x0(self, x0: Any) -> np.ndarray:
        values = np.asarray(x0, dtype=np.float64).reshape(-1)
        if values.size == 1:
            return np.full(self.dim, values[0])
        if values.size != self.dim:
            raise ParameterError("x0", f"has {values.size} entries but dim is {self.dim}; "
                                       "give one number or one per dimension")
        return values

    # --------------------------------------------------------------- the PDE
    @abc.abstractmethod
    def build_process(self) -> ForwardProcess:
        """The forward SDE (drift mu, diffusion sigma) started at x0."""

    @abc.abstractmethod
    def f(self, t: float, x: tf.Tensor, y: tf.Tensor, z: tf.Tensor) -> tf.Tensor:
        """Generator f(t, x, y, z); x, z of shape [batch, d], y and result [batch, 1]."""

    @abc.abstractmethod
    def g(self, x: tf.Tensor) -> tf.Tensor:
        """Terminal condition g(x); x of shape [batch, d], result [batch, 1]."""

    def exact_solution(self, t: tf.Tensor, x: tf.Tensor) -> tf.Tensor | None:
        """u(t, x) in closed form, [batch, 1], or None where none is known."""
        return None

    def sample(self, batch_size: int, seed, dtype: tf.DType = tf.float64) -> tuple[tf.Tensor, tf.Tensor]:
        """(dw [N, batch, d], x [N+1, batch, d]) for the seed pair `seed`."""
        return self.process.sample(batch_size, seed, dtype)

    # ------------------------------------------------------------- reference
    def uses_published_parameters(self) -> bool:
        """True when every parameter equals the default the published value is for."""
        defaults = self.parameter_defaults()
        return all(np.array_equal(np.asarray(self.params[k]), np.asarray(v)) for k, v in defaults.items())

    def exact_value(self) -> float | None:
        """u(0, x0) from the exact solution, or None where none is known."""
        exact = self.exact_solution(tf.constant(0.0, tf.float64), tf.constant(self.x0[np.newaxis], tf.float64))
        return None if exact is None else float(exact.numpy().reshape(-1)[0])

    def reference(self) -> tuple[float, str] | None:
        """(u(0, x0), how it is known) or None.

        The exact solution where there is one; otherwise the published value,
        but only for the parameters it was published for.
        """
        exact = self.exact_value()
        if exact is not None:
            return exact, "exact solution"
        if self.published_value is not None and self.uses_published_parameters():
            return float(self.published_value), f"published ({self.source})"
        return None

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({shown})"


def coerce_parameter(key: str, value: Any, default: Any) -> Any:
    """Checks `value` against the type of `default` (bool, int, float, str, or a
    list of strings, ints or numbers) and returns it converted; the error names `key`."""
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ParameterError(key, f"must be true or false, got {value!r}")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise ParameterError(key, f"must be an integer, got {value!r}")
        return int(value)
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            # x0 may also be a list, one entry per dimension
            if key.endswith("x0") and _is_number_list(value):
                return [float(v) for v in value]
            raise ParameterError(key, f"must be a number, got {value!r}")
        if not np.isfinite(value):
            raise ParameterError(key, f"must be finite, got {value!r}")
        return float(value)
    if isinstance(default, list):
        if default and all(isinstance(v, str) for v in default):
            if not (isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value)):
                raise ParameterError(key, f"must be a non-empty list of strings, got {value!r}")
            return list(value)
        if default and all(isinstance(v, int) for v in default):
            if not (isinstance(value, (list, tuple)) and value
                    and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value)):
                raise ParameterError(key, f"must be a non-empty list of integers, got {value!r}")
            return [int(v) for v in value]
        if not _is_number_list(value):
            raise ParameterError(key, f"must be a list of numbers, got {value!r}")
        return [float(v) for v in value]
    if isinstance(default, str):
        if not isinstance(value, str):
            raise ParameterError(key, f"must be a string, got {value!r}")
        return value
    return value


def _is_number_list(value: Any) -> bool:
    return (isinstance(value, (list, tuple, np.ndarray))
            and all(isinstance(v, numbers.Real) and not isinstance(v, bool) and np.isfinite(v)
                    for v in np.asarray(value, dtype=object).reshape(-1)))
