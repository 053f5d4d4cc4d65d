"""What a solve returns, and how it is written to disk."""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class HistoryRecord:
    """One logged point of training; loss is on the fixed validation batch."""

    step: int
    loss: float
    value: float
    learning_rate: float
    elapsed: float


HISTORY_FIELDS = ("step", "loss", "value", "learning_rate", "elapsed")


@dataclass
class Result:
    """Outcome of `deepbsde.solve`.

    value is the estimate of u(0, x0); z0 the estimate of sigma^T grad u(0, x0).
    reference and rel_error are None when no reference is known;
    reference_half_width is the 95% half-width of a Monte Carlo reference.
    """

    equation: str
    dim: int
    value: float
    z0: np.ndarray
    reference: float | None
    reference_source: str | None
    reference_half_width: float | None
    iterations: int
    seconds: float
    compile_seconds: float
    ms_per_iteration: float
    seed: int
    device: str
    history: list[HistoryRecord] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def rel_error(self) -> float | None:
        """|value - reference| / |reference|, or None without a reference."""
        if self.reference is None or self.reference == 0:
            return None
        return abs(self.value - self.reference) / abs(self.reference)

    def summary(self) -> dict[str, Any]:
        """The JSON-ready summary written to result.json."""
        return {"equation": self.equation, "dim": self.dim, "value": self.value,
                "reference": self.reference, "reference_source": self.reference_source,
                "reference_half_width": self.reference_half_width,
                "rel_error": self.rel_error, "iterations": self.iterations, "seconds": self.seconds,
                "compile_seconds": self.compile_seconds, "ms_per_iteration": self.ms_per_iteration,
                "seed": self.seed, "device": self.device, "z0": [float(v) for v in np.ravel(self.z0)],
                "config": self.config}

    def write(self, directory: str | Path) -> Path:
        """Writes result.json and history.csv into `directory`; returns it."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "result.json").write_text(json.dumps(self.summary(), indent=2) + "\n")
        with open(directory / "history.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(HISTORY_FIELDS)
            for record in self.history:
                writer.writerow([getattr(record, name) for name in HISTORY_FIELDS])
        return directory
