"""Regions of starting points X_0 and ranges of model parameters for a region solve.

A region solve draws X_0 from a distribution nu instead of fixing it, so the
trained Y_0 network approximates u(0, .) on the support of nu. The kinds:

    box           uniform on [low_1, high_1] x ... x [low_d, high_d]
    uniform_ball  uniform (in volume) on the ball |x - centre| <= radius
    radial_ball   a uniform direction and a radius uniform on [0, radius]
    normal        centre + scale * N(0, I)

In high dimension the uniform ball is a thin shell: |X_0 - centre| / radius is
distributed as U^(1/d), above 0.97 with probability 95% at d = 100, so its
interior is never trained on. The radial ball covers every distance from the
centre alike and is the one to use when u is wanted near the centre too.

Samples are drawn with stateless random ops from a seed pair (reproducible).
Every invalid input raises deepbsde.errors.ParameterError naming the field.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import tensorflow as tf

from deepbsde.errors import ParameterError
from deepbsde.validation import positive, positive_int, shown, vector

KINDS = ("box", "uniform_ball", "radial_ball", "normal")


@dataclass(frozen=True, eq=False)
class Region:
    """A distribution of starting points in R^d; see the module docstring for the kinds.

    box: low and high (one number for all coordinates or one per coordinate,
    low < high). Balls: centre and radius. normal: centre and radius (the
    standard deviation of each coordinate). dim is needed when every vector
    is given as one number.
    """

    kind: str
    dim: int
    low: np.ndarray
    high: np.ndarray

    @classmethod
    def box(cls, low: Any, high: Any, dim: int | None = None) -> Region:
        """Uniform on the box [low, high]; low, high: numbers or one per coordinate."""
        dim = _dimension(dim, low, high)
        low, high = vector("low", low, dim), vector("high", high, dim)
        if np.any(low >= high):
            raise ParameterError("high", f"must exceed low in every coordinate, got low={shown(low.tolist())}, "
                                         f"high={shown(high.tolist())}")
        return cls("box", dim, low, high)

    @classmethod
    def ball(cls, kind: str, centre: Any, radius: Any, dim: int | None = None) -> Region:
        """A ball-shaped distribution around centre: kind uniform_ball, radial_ball or normal."""
        if kind not in KINDS[1:]:
            raise ParameterError("kind", f"must be one of {', '.join(KINDS)}, got {shown(kind)}")
        dim = _dimension(dim, centre)
        centre, radius = vector("centre", centre, dim), positive("radius", radius)
        return cls(kind, dim, centre - radius, centre + radius)

    @classmethod
    def from_mapping(cls, values: Any, dim: int) -> Region:
        """A region from a configuration mapping, e.g. {kind: radial_ball, centre: 0, radius: 10}."""
        if not isinstance(values, dict) or "kind" not in values:
            raise ParameterError("x0_region", f"must be a mapping with a kind ({', '.join(KINDS)}), got "
                                              f"{shown(values)}")
        fields = {"box": {"kind", "low", "high"}}.get(values["kind"], {"kind", "centre", "radius"})
        unknown = sorted(set(values) - fields)
        if unknown:
            raise ParameterError(f"x0_region.{unknown[0]}", f"unknown field; known fields: {', '.join(sorted(fields))}")
        missing = sorted(fields - set(values))
        if missing:
            raise ParameterError(f"x0_region.{missing[0]}", "missing")
        if values["kind"] == "box":
            return cls.box(values["low"], values["high"], dim)
        return cls.ball(values["kind"], values["centre"], values["radius"], dim)

    @property
    def centre(self) -> np.ndarray:
        """Centre of the region, [d]."""
        return 0.5 * (self.low + self.high)

    @property
    def radius(self) -> float:
        """Radius of a ball, scale of the normal; half the largest side of a box."""
        return float(np.max(0.5 * (self.high - self.low)))

    @property
    def scale(self) -> np.ndarray:
        """Typical spread of each coordinate, [d]: the networks' inputs are (x - centre) / scale."""
        half = 0.5 * (self.high - self.low)
        if self.kind in ("box", "normal"):
            return half
        return half / np.sqrt(self.dim)  # a coordinate of a point on the sphere is about radius / sqrt(d)

    def sample(self, count: int, seed: Any, dtype: tf.DType = tf.float64) -> tf.Tensor:
        """count points [count, d] drawn from the seed pair `seed`."""
        seed = tf.cast(seed, tf.int64)
        shape = tf.stack([count, self.dim])
        if self.kind == "box":
            unit = tf.random.stateless_uniform(shape, seed, dtype=dtype)
            return tf.constant(self.low, dtype) + tf.constant(self.high - self.low, dtype) * unit
        normals = tf.random.stateless_normal(shape, seed, dtype=dtype)
        if self.kind == "normal":
            return tf.constant(self.centre, dtype) + self.radius * normals
        direction = normals / tf.norm(normals, axis=1, keepdims=True)
        radial_seed = tf.random.experimental.stateless_fold_in(seed, 1)  # a stream apart from the directions
        unit = tf.random.stateless_uniform(tf.stack([count, 1]), radial_seed, dtype=dtype)
        distance = unit if self.kind == "radial_ball" else unit ** (1.0 / self.dim)
        return tf.constant(self.centre, dtype) + self.radius * distance * direction

    def contains(self, points: np.ndarray) -> np.ndarray:
        """Whether each point [n, d] lies in the region's support (always true for normal)."""
        points = np.asarray(points, np.float64)
        if self.kind == "box":
            return np.all((points >= self.low) & (points <= self.high), axis=1)
        if self.kind == "normal":
            return np.ones(len(points), bool)
        return np.linalg.norm(points - self.centre, axis=1) <= self.radius * (1 + 1e-12)

    def to_mapping(self) -> dict[str, Any]:
        """The configuration mapping of the region (from_mapping's inverse)."""
        if self.kind == "box":
            return {"kind": "box", "low": self.low.tolist(), "high": self.high.tolist()}
        return {"kind": self.kind, "centre": self.centre.tolist(), "radius": self.radius}


@dataclass(frozen=True, eq=False)
class ParameterRanges:
    """Model parameters drawn uniformly per path and fed to every network.

    names: one per parameter; low, high: their ranges (low <= high; equal
    bounds fix a parameter). An empty ParameterRanges() has no parameters.
    """

    names: tuple[str, ...] = ()
    low: np.ndarray = field(default_factory=lambda: np.zeros(0))
    high: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @classmethod
    def from_mapping(cls, ranges: dict[str, Any]) -> ParameterRanges:
        """From {name: [low, high]} or {name: value} (a fixed value)."""
        names, low, high = [], [], []
        for name, value in ranges.items():
            bounds = vector(name, value)
            if bounds.size not in (1, 2) or bounds[0] > bounds[-1]:
                raise ParameterError(name, f"must be a number or a range [low, high] with low <= high, "
                                           f"got {shown(value)}")
            names.append(name)
            low.append(bounds[0])
            high.append(bounds[-1])
        return cls(tuple(names), np.asarray(low, np.float64), np.asarray(high, np.float64))

    @property
    def count(self) -> int:
        """Number of parameters k."""
        return len(self.names)

    @property
    def centre(self) -> np.ndarray:
        """Midpoints of the ranges, [k]."""
        return 0.5 * (self.low + self.high)

    @property
    def scale(self) -> np.ndarray:
        """Half-widths of the ranges (1 for a fixed parameter), [k]: inputs are (p - centre) / scale."""
        half = 0.5 * (self.high - self.low)
        return np.where(half > 0, half, 1.0)

    def sample(self, count: int, seed: Any, dtype: tf.DType = tf.float64) -> tf.Tensor:
        """count parameter vectors [count, k] drawn from the seed pair `seed`."""
        unit = tf.random.stateless_uniform(tf.stack([count, self.count]), tf.cast(seed, tf.int64), dtype=dtype)
        return tf.constant(self.low, dtype) + tf.constant(self.high - self.low, dtype) * unit

    def values(self, count: int, given: dict[str, Any]) -> np.ndarray:
        """[count, k] from {name: number or [count] values}; a missing name takes its range's midpoint."""
        unknown = sorted(set(given) - set(self.names))
        if unknown:
            raise ParameterError(unknown[0], f"is not a parameter of this solution; parameters: "
                                             f"{', '.join(self.names) or 'none'}")
        columns = []
        for name, middle in zip(self.names, self.centre):
            column = vector(name, given.get(name, middle), count)
            columns.append(column)
        return np.stack(columns, axis=1) if columns else np.zeros((count, 0))

    def to_mapping(self) -> dict[str, list[float]]:
        """{name: [low, high]}, from_mapping's inverse."""
        return {name: [float(lo), float(hi)] for name, lo, hi in zip(self.names, self.low, self.high)}


def _dimension(dim: int | None, *values: Any) -> int:
    """dim if given, else the length of the first vector-valued argument."""
    if dim is not None:
        return positive_int("dim", dim)
    for value in values:
        if np.ndim(value) == 1:
            return len(value)
    raise ParameterError("dim", "is needed when every coordinate is given as one number")
