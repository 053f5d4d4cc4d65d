"""What a solve returns, and how it is written to disk."""
from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from deepbsde.checks.diagnostics import Diagnostics
from deepbsde.errors import RunFolderError
from deepbsde.runs.files import MODEL_SWAP, Manifest, atomic_write, fsync_tree, reason_of, remove_entry
from deepbsde.solver.history import HISTORY_FIELDS, HistoryRecord

MODEL_FOLDER = "model"


def read_history(path: str | Path) -> list[HistoryRecord]:
    """The records of a history.csv; a torn last line (a crash while it was written) is left out."""
    return read_history_checked(path)[0]


def read_history_checked(path: str | Path) -> tuple[list[HistoryRecord], str | None]:
    """The records of a history.csv and a note on a torn last line left out (None if none).
    A damaged header or a damaged line before the last is a RunFolderError naming the file."""
    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as error:
        reason = reason_of(error) if isinstance(error, OSError) else "not text"
        raise RunFolderError(str(path), f"cannot read: {reason}") from None
    lines = text.splitlines()
    if not lines or lines[0].split(",") != list(HISTORY_FIELDS):
        raise RunFolderError(str(path), f"not a history (its first line should be {','.join(HISTORY_FIELDS)})")
    records, skipped = [], None
    rows = list(csv.reader(lines[1:]))
    for number, row in enumerate(rows, start=2):
        try:
            if len(row) != len(HISTORY_FIELDS):
                raise ValueError(f"{len(row)} fields")
            records.append(HistoryRecord(int(row[0]), float(row[1]), float(row[2]), float(row[3]), float(row[4])))
        except ValueError:
            if number - 1 < len(rows):
                raise RunFolderError(str(path), f"line {number} is damaged") from None
            skipped = f"left out the torn last line {number} of {path}"
    return records, skipped


def write_history(path: str | Path, history: list[HistoryRecord]) -> None:
    """Writes records as history.csv, header included (atomically: whole or not at all)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HISTORY_FIELDS)
    writer.writerows(record.row() for record in history)
    atomic_write(path, buffer.getvalue())


@dataclass
class Result:
    """Outcome of `deepbsde.solve`.

    value is the estimate of u(0, x0): the networks' Y_0 (network_value), or, where Y_0 lies beyond
    the certified bound of a convex or concave f, that bound (diagnostics.bound, with its 95%
    half-width; the diagnostics say so). z0 is the estimate of sigma^T grad u(0, x0).
    reference and rel_error are None when no reference is known;
    reference_half_width is the 95% half-width of a Monte Carlo reference.
    model is the trained DeepBSDEModel (kept in memory, written by `save`).
    diagnostics is the self-check (deepbsde.checks.diagnostics.Diagnostics).
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
    diagnostics: Diagnostics | None = None
    network_value: float | None = None

    def __post_init__(self) -> None:
        if self.network_value is None:
            self.network_value = self.value

    @property
    def rel_error(self) -> float | None:
        """|value - reference| / |reference|, or None without a reference."""
        if self.reference is None or self.reference == 0:
            return None
        return abs(self.value - self.reference) / abs(self.reference)

    def summary(self) -> dict[str, Any]:
        """The JSON-ready summary written to result.json."""
        return {"equation": self.equation, "dim": self.dim, "value": self.value, "network_value": self.network_value,
                "reference": self.reference, "reference_source": self.reference_source,
                "reference_half_width": self.reference_half_width,
                "rel_error": self.rel_error, "iterations": self.iterations, "seconds": self.seconds,
                "compile_seconds": self.compile_seconds, "ms_per_iteration": self.ms_per_iteration,
                "seed": self.seed, "device": self.device, "z0": [float(v) for v in np.ravel(self.z0)],
                "config": self.config,
                "diagnostics": None if self.diagnostics is None else self.diagnostics.to_dict()}

    def write(self, directory: str | Path) -> Path:
        """Writes history.csv, then result.json, into `directory` (each atomically); returns it."""
        directory = _make_folder(directory)
        Manifest(directory).claim(["history.csv", "result.json"])
        write_history(directory / "history.csv", self.history)
        atomic_write(directory / "result.json", self.json())
        return directory

    def json(self) -> str:
        """result.json's text (strict JSON: a non-finite number is an error, never a bare NaN)."""
        try:
            return json.dumps(self.summary(), indent=2, allow_nan=False) + "\n"
        except ValueError:
            raise RunFolderError("result.json", f"a value is not finite: {self.value}, {self.reference}") from None

    def save(self, directory: str | Path) -> Path:
        """Writes history.csv, config.yaml, model/ and, last, result.json; `deepbsde.load` reads it back.

        Each file is replaced atomically and the model is swapped in whole, so a crash or a
        full disk leaves either the old saved solve or the new one, never a mixture."""
        import tensorflow as tf  # only here: the summary part needs no TensorFlow

        if self.model is None:
            raise ValueError("this Result holds no trained model to save")
        directory = _make_folder(directory)
        Manifest(directory).claim(["history.csv", "config.yaml", MODEL_FOLDER, "result.json"])
        write_history(directory / "history.csv", self.history)
        atomic_write(directory / "config.yaml", yaml.safe_dump(self.config, sort_keys=False))
        new, old = (directory / name for name in MODEL_SWAP)
        remove_entry(new)
        try:
            tf.train.Checkpoint(model=self.model).write(str(new / "model"))
            fsync_tree(new)
        except (OSError, tf.errors.OpError) as error:
            remove_entry(new)
            reason = reason_of(error) if isinstance(error, OSError) else error.message.splitlines()[0]
            raise RunFolderError(str(directory / MODEL_FOLDER), f"cannot write the model: {reason}") from None
        target = directory / MODEL_FOLDER
        if target.exists():
            remove_entry(old)
            os.replace(target, old)
        os.replace(new, target)
        remove_entry(old)
        atomic_write(directory / "result.json", self.json())
        return directory


def _make_folder(directory: str | Path) -> Path:
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise RunFolderError(str(directory), f"cannot create the folder: {reason_of(error)}") from None
    return directory
