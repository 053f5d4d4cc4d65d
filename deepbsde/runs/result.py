"""What a solve returns, and how it is written to disk."""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from deepbsde.solver.history import HISTORY_FIELDS, HistoryRecord

MODEL_FOLDER = "model"


def read_history(path: str | Path) -> list[HistoryRecord]:
    """The records of a history.csv."""
    with open(path, newline="") as handle:
        return [HistoryRecord(int(row["step"]), float(row["loss"]), float(row["value"]),
                              float(row["learning_rate"]), float(row["elapsed"])) for row in csv.DictReader(handle)]


def write_history(path: str | Path, history: list[HistoryRecord]) -> None:
    """Writes records as history.csv, header included."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HISTORY_FIELDS)
        writer.writerows(record.row() for record in history)


def append_history(path: str | Path, record: HistoryRecord) -> None:
    """Appends one record to an existing history.csv."""
    with open(path, "a", newline="") as handle:
        csv.writer(handle).writerow(record.row())


@dataclass
class Result:
    """Outcome of `deepbsde.solve`.

    value is the estimate of u(0, x0); z0 the estimate of sigma^T grad u(0, x0).
    reference and rel_error are None when no reference is known;
    reference_half_width is the 95% half-width of a Monte Carlo reference.
    model is the trained DeepBSDEModel (kept in memory, written by `save`).
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
    model: Any = field(default=None, repr=False, compare=False)

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
        write_history(directory / "history.csv", self.history)
        return directory

    def save(self, directory: str | Path) -> Path:
        """Writes the result, the configuration and the trained model; `deepbsde.load` reads it back."""
        import tensorflow as tf  # only here: the summary part needs no TensorFlow

        if self.model is None:
            raise ValueError("this Result holds no trained model to save")
        directory = self.write(directory)
        (directory / "config.yaml").write_text(yaml.safe_dump(self.config, sort_keys=False))
        tf.train.Checkpoint(model=self.model).write(str(directory / MODEL_FOLDER / "model"))
        return directory
