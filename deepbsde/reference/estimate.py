"""The result type of every computed reference, and the streaming statistics behind it."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

#: Two-sided 95% quantile of the standard normal distribution.
Z_95 = 1.959963984540054


@dataclass(frozen=True)
class Estimate:
    """A computed reference: value, 95% half-width, how many samples it used
    (Monte Carlo paths, quadrature nodes or MLP repetitions) and the method."""

    value: float
    half_width: float
    num_samples: int
    method: str

    @property
    def interval(self) -> tuple[float, float]:
        """(value - half_width, value + half_width)."""
        return self.value - self.half_width, self.value + self.half_width

    def contains(self, value: float) -> bool:
        """True when `value` lies in the 95% interval."""
        low, high = self.interval
        return low <= value <= high


class RunningMoments:
    """Mean and sample variance of a stream of vector samples, merged chunk by chunk.

    Each chunk contributes (count, mean, sum of squared deviations); merging
    uses the pairwise update of Chan, Golub and LeVeque, which stays accurate
    at 10^8 samples where sum-of-squares formulas cancel catastrophically.
    """

    def __init__(self) -> None:
        self.count = 0
        self.mean = np.zeros(0)  # per component, once the first chunk is merged
        self.m2 = np.zeros(0)

    def merge(self, count: int, mean: np.ndarray, m2: np.ndarray) -> None:
        """Adds a chunk of `count` samples with per-component mean and squared deviations m2."""
        mean, m2 = np.asarray(mean, np.float64), np.asarray(m2, np.float64)
        if self.count == 0:
            self.count, self.mean, self.m2 = count, mean, m2
            return
        total = self.count + count
        delta = mean - self.mean
        self.mean = self.mean + delta * (count / total)
        self.m2 = self.m2 + m2 + delta ** 2 * (self.count * count / total)
        self.count = total

    def half_width(self) -> np.ndarray:
        """95% half-width of the mean (normal approximation)."""
        if self.count < 2:
            raise ValueError("a confidence interval needs at least two samples")
        return Z_95 * np.sqrt(self.m2 / (self.count - 1) / self.count)


def chunks(total: int, size: int) -> Iterator[tuple[int, int]]:
    """(index, count) of consecutive chunks of at most `size` covering `total` samples;
    the index is the second word of the chunk's stateless seed."""
    for index, start in enumerate(range(0, total, size)):
        yield index, min(size, total - start)
