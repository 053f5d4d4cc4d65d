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

from deepbsde.errors import ParameterError, error_summary
from deepbsde.tracing import instance_function
from deepbsde.validation import coerce, type_of_default
from equations.processes import ForwardProcess

#: Type of the start-point parameter: one number for every coordinate, or one per coordinate.
X0_TYPE = float | list[float]
#: Paths on which `Equation.check_functions` evaluates the process, g and f, fewer where a path holds more than
#: CHECK_ELEMENTS / CHECK_PATHS numbers (N = 20000 at d = 100: 2 paths, 16 MB in float64).
CHECK_PATHS, CHECK_ELEMENTS = 64, 2 ** 21


def _called(field: str, what: str, function: Any, *tensors: tf.Tensor) -> tf.Tensor:
    """function(*tensors) traced as the solver traces it (a graph, where numpy cannot read a tensor), as a
    tensor; an exception of the user's code becomes a ParameterError naming `field`."""
    try:
        return tf.convert_to_tensor(instance_function(function, autograph=False)(*tensors))
    except ParameterError:
        raise
    except Exception as error:  # the user's code: any failure is a bad equation, named as such
        raise ParameterError(field, f"{what} raised {type(error).__name__}: {error_summary(error)} (f and g "
                                    "take and return TensorFlow tensors: see Equation.f and Equation.g)") from error


def _expect_shape(field: str, what: str, value: tf.Tensor, shape: list[int], dtype: tf.DType) -> None:
    """A ParameterError naming `field` unless value has this shape and dtype."""
    if value.shape.as_list() != shape:
        raise ParameterError(field, f"{what} must have shape {shape} (one value per path), got {value.shape.as_list()}")
    if value.dtype != dtype:
        raise ParameterError(field, f"{what} must keep the inputs' dtype {dtype.name}, got {value.dtype.name} "
                                    "(make constants with x.dtype)")


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

    def check_functions(self, dtype: tf.DType = tf.float64) -> None:
        """Evaluates the process, g and f on a few sampled paths in `dtype` and raises a ParameterError
        naming the one that breaks the contract the solver relies on: paths [N + 1, batch, d]; g and f one
        value per path, [batch, 1], in the inputs' dtype; g finite along the paths.

        A user's equation that breaks it otherwise fails deep inside the solver with TensorFlow's shape
        message, or, where an f of shape [batch, d] broadcasts against Y, trains without any error.
        """
        paths = int(np.clip(CHECK_ELEMENTS // ((self.num_time_interval + 1) * self.dim), 2, CHECK_PATHS))
        dw = self.process.brownian_increments(paths, [0, 0], dtype)
        x = _called("process", "its paths_from_increments", self.process.paths_from_increments, dw)
        _expect_shape("process", "paths_from_increments(dw) for dw of shape [N, batch, d]", x,
                      [self.num_time_interval + 1, paths, self.dim], dtype)
        terminal = _called("g", "g(x)", self.g, x[-1])
        _expect_shape("g", "g(x) for x of shape [batch, d]", terminal, [paths, 1], dtype)
        broken = int(np.sum(~np.isfinite(terminal.numpy())))
        if broken:
            raise ParameterError("g", f"is not finite on {broken} of {paths} paths of the forward process "
                                      "at T: u(T, x) = g(x) must be a number wherever X_T can be")
        y = tf.ones_like(terminal) * tf.reduce_mean(terminal)
        drift = _called("f", "f(t, x, y, z)", lambda *inputs: self.f(0.0, *inputs), x[0], y, tf.zeros_like(x[0]))
        _expect_shape("f", "f(t, x, y, z) for x, z of shape [batch, d] and y [batch, 1]", drift, [paths, 1], dtype)

    def takes_time_as_tensor(self, dtype: tf.DType = tf.float64) -> bool:
        """Whether f can be traced with the time t a scalar tensor, as a tf.while_loop over the time steps
        hands it: False for an f that computes on t with numpy or branches on it in Python."""
        spec = tf.TensorSpec([2, self.dim], dtype)
        traced = tf.function(self.f, autograph=False)
        try:
            traced.get_concrete_function(tf.TensorSpec([], dtype), spec, tf.TensorSpec([2, 1], dtype), spec)
        except (TypeError, ValueError, NotImplementedError):
            return False
        return True

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
