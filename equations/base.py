"""The one base class every equation derives from.

An equation is the data of a semilinear parabolic PDE

    du/dt + 1/2 Tr(sigma sigma^T Hess u) + mu . grad u + f(t, x, u, sigma^T grad u) = 0,
    u(T, x) = g(x),

given as a forward process (mu, sigma and an exact sampler), the generator f
and the terminal condition g (docs/method.md). Parameters are declared as
annotated class attributes with a default,

    class HJB(Equation):
        lam: float = 1.0   # weight of the control cost

so readers and type checkers know them; every parameter can be overridden by
the caller and is checked against its declared type on construction.
"""
from __future__ import annotations

import abc
import typing
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import tensorflow as tf

from deepbsde.errors import ParameterError
from deepbsde.validation import coerce, type_of_default
from equations.processes import ForwardProcess

#: Type of the start-point parameter: one number for every coordinate, or one per coordinate.
X0_TYPE = float | list[float]


class Equation(abc.ABC):
    """Base class of the equation registry.

    Subclasses declare their parameters as annotated class attributes with a
    default (constants that are not parameters are ClassVar or unannotated),
    may change the default of an inherited parameter in `defaults` (e.g.
    `defaults = {"x0": 100.0}`), and implement `build_process`, `f` and `g`,
    optionally `exact_solution`. After construction each parameter is an
    attribute of the instance; `x0` is the start point as a vector of length dim.
    """

    name: ClassVar[str] = ""                       # set by @register
    summary: ClassVar[str] = ""                    # one line for `deepbsde list`
    source: ClassVar[str] = ""                     # the paper the benchmark comes from
    #: New defaults of inherited parameters (and, for equations written before
    #: typed parameters, parameters of their own, typed by their default).
    defaults: ClassVar[dict[str, Any]] = {}
    y0_range: ClassVar[tuple[float, float]] = (0.0, 1.0)  # initial guess range for Y_0
    #: Published u(0, x0) and the parameters it holds for (None: no published value).
    published_value: ClassVar[float | None] = None
    #: How deepbsde.reference computes u(0, x0) for any parameters: "cole_hopf",
    #: "mlp", "black_scholes_mc", or None (no computed reference).
    reference_method: ClassVar[str | None] = None

    dim: int = 100                  # number of space dimensions d
    total_time: float = 1.0         # terminal time T
    num_time_interval: int = 20     # time steps N of the scheme
    x0: np.ndarray                  # the start point (parameter: one number or one per dimension)

    def __init__(self, **params: Any):
        self.params = self._validate(params)
        for key, value in self.params.items():
            setattr(self, key, value)
        self.x0 = self._broadcast_x0(self.params["x0"])
        self.delta_t = self.total_time / self.num_time_interval
        self.process: ForwardProcess = self.build_process()

    # ----------------------------------------------------------------- params
    @classmethod
    def parameter_types(cls) -> dict[str, Any]:
        """Every parameter of this equation with its declared type."""
        types: dict[str, Any] = {}
        for name, hint in typing.get_type_hints(cls).items():
            if name == "x0":  # the attribute is the broadcast vector; the parameter is this
                types[name] = X0_TYPE
            elif typing.get_origin(hint) is not ClassVar and hasattr(cls, name):
                types[name] = hint
        for name, default in cls._default_overrides().items():
            types.setdefault(name, type_of_default(default))
        return types

    @classmethod
    def parameter_defaults(cls) -> dict[str, Any]:
        """Every parameter of this equation with its default value."""
        overrides = cls._default_overrides()
        return {name: overrides.get(name, 0.0 if name == "x0" else getattr(cls, name, None))
                for name in cls.parameter_types()}

    @classmethod
    def _default_overrides(cls) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for klass in reversed(cls.__mro__):
            merged.update(vars(klass).get("defaults", {}))
        return merged

    @classmethod
    def _validate(cls, params: Mapping[str, Any]) -> dict[str, Any]:
        types = cls.parameter_types()
        unknown = sorted(set(params) - set(types))
        if unknown:
            raise ParameterError(unknown[0], f"unknown parameter for equation '{cls.name}'; "
                                             f"known parameters: {', '.join(sorted(types))}")
        resolved = cls.parameter_defaults()
        for key, value in params.items():
            resolved[key] = coerce(key, value, types[key])
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

    def _broadcast_x0(self, x0: float | list[float]) -> np.ndarray:
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

    def driver_convexity(self) -> str | None:
        """"convex" (or "concave") if f(t, x, y, z) is convex (concave) in (y, z) for every t and x at
        these parameters, else None (neither, or not known).

        Declaring it lets the self-check bound u(0, x0) from below (above) by a Monte Carlo estimate
        that holds whatever the networks (deepbsde.checks.bound); a wrong declaration gives a wrong bound.
        """
        return None

    def sample(self, batch_size: int, seed: Any, dtype: tf.DType = tf.float64) -> tuple[tf.Tensor, tf.Tensor]:
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
