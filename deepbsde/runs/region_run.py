"""Region runs: a configuration whose equation section has `x0_region` trains u(0, .) over that region.

    equation:
      name: hjb
      dim: 100
      x0_region: {kind: radial_ball, centre: 0.0, radius: 10.0}   # or {kind: box, low: ..., high: ...}
      parameter_ranges: {...}   # optional: parameters as network inputs (deepbsde.solver.parametric)

`deepbsde run` trains it in a run folder as any run (config.yaml, history.csv,
checkpoints/, --resume; deepbsde.runs.runner) with the region solve of
deepbsde.solver.region, then writes here:

    DIR/model/            the trained region model
    DIR/region_line.png   u(0, .) along a line through the region, with reference points on it
    DIR/result.json       written last: kind "region", u at the centre, timings, the line's values

(the centre and the line with every parameter at its range's midpoint). `load_region_run(DIR)` (also
`deepbsde.load_region_run`) gives the trained u(0, x; p), grad_x u and grad_p u at any points and
parameters (`deepbsde evaluate DIR --points points.csv`).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from deepbsde.errors import ParameterError, RunFolderError
from deepbsde.reference.resolve import best_reference
from deepbsde.runs.config import RunConfig, config_from_mapping
from deepbsde.runs.files import Manifest, atomic_write, fsync_tree, reason_of
from deepbsde.runs.plotting import PointSeries, plot_along_line
from deepbsde.runs.result import MODEL_FOLDER
from deepbsde.solver.history import HistoryRecord
from deepbsde.solver.parametric import equation_parameters
from deepbsde.solver.region import RegionSolution, RegionTrainer
from deepbsde.solver.regions import Region
from deepbsde.validation import shown

REGION_KIND = "region"
LINE_PLOT = "region_line.png"
LINE_SAMPLES = 41  # points of the plotted curve
LINE_REFERENCES = 5  # reference points on it


def region_trainer(config: RunConfig) -> RegionTrainer:
    """The RegionTrainer of a configuration with `equation.x0_region` (and `equation.parameter_ranges`)."""
    problem = config.build_region_problem()
    if problem is None:
        raise ParameterError("equation.x0_region", "missing: not a region configuration")
    return RegionTrainer(problem, config.solver)


def line_through(region: Region, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Signed distances from the centre [count] and points [count, d] on the segment through the
    region's centre along the diagonal (1, ..., 1) / sqrt(d): corner to corner of a box, a diameter of
    a ball, plus and minus one standard deviation per coordinate of a normal."""
    if region.kind == "box":
        start, end = region.low, region.high
    else:
        half = region.radius * (np.ones(region.dim) / np.sqrt(region.dim) if region.kind != "normal"
                                else np.ones(region.dim))
        start, end = region.centre - half, region.centre + half
    fractions = np.linspace(0.0, 1.0, count)
    points = start + fractions[:, np.newaxis] * (end - start)
    return (fractions - 0.5) * np.linalg.norm(end - start), points


@dataclass(frozen=True)
class RegionRunResult:
    """What a region run reports: u at the region's centre, the timings, and u along the plotted line
    (line_references: the reference at LINE_REFERENCES points where the equation has one, else empty),
    all with the parameters of parameter_ranges ({name: [low, high]}) at their midpoints."""

    equation: str
    dim: int
    region: dict[str, Any]
    parameter_ranges: dict[str, list[float]]
    value_at_centre: float
    iterations: int
    seconds: float
    compile_seconds: float
    ms_per_iteration: float
    line_positions: list[float]
    line_values: list[float]
    line_reference_positions: list[float]
    line_references: list[float]
    config: dict[str, Any]

    def json(self) -> str:
        """result.json's content."""
        return json.dumps({"kind": REGION_KIND, **asdict(self)}, indent=2, allow_nan=False) + "\n"


def finish_region_run(trainer: RegionTrainer, history: list[HistoryRecord], timings: dict[str, float],
                      config: RunConfig, resolved: dict[str, Any], folder: Path) -> RegionRunResult:
    """Writes model/, the line plot and, last, result.json of a trained region run into folder."""
    equation, region, ranges = config.build_equation(), trainer.problem.region, trainer.problem.parameters
    positions, points = line_through(region, LINE_SAMPLES)
    values = trainer.solution.evaluate(points)["u"]
    reference_positions: list[float] = []
    references: list[float] = []
    if config.reference == "auto":
        midpoints = equation_parameters(equation, dict(zip(ranges.names, ranges.centre.tolist())))
        for index in np.linspace(0, LINE_SAMPLES - 1, LINE_REFERENCES).round().astype(int):
            at_point = RunConfig(config.equation_name, {**config.equation_params, **midpoints,
                                                        "x0": points[index].tolist()}, config.solver).build_equation()
            known = best_reference(at_point, cheap=True)
            if known is not None:
                reference_positions.append(float(positions[index]))
                references.append(float(known.value))
    Manifest(folder).claim([MODEL_FOLDER, LINE_PLOT, "result.json"])
    try:
        tf.train.Checkpoint(model=trainer.model).write(str(folder / MODEL_FOLDER / "model"))
        fsync_tree(folder / MODEL_FOLDER)
    except OSError as error:
        raise RunFolderError(str(folder / MODEL_FOLDER), f"cannot write the model: {reason_of(error)}") from None
    at = "".join(f", {name} = {value:.4g}" for name, value in zip(ranges.names, ranges.centre))
    plot_along_line(folder / LINE_PLOT, f"{equation.name}, d = {equation.dim}{at}: u(0, x) along the diagonal",
                    "signed distance from the centre", "u(0, x)", positions.tolist(), values.tolist(), "region solve",
                    [PointSeries(reference_positions, references, None, "reference")] if references else [])
    result = RegionRunResult(equation.name, equation.dim, region.to_mapping(), ranges.to_mapping(),
                             history[-1].value, trainer.step, timings["seconds"], timings["compile_seconds"],
                             timings["ms_per_iteration"],
                             positions.tolist(), values.tolist(), reference_positions, references, resolved)
    atomic_write(folder / "result.json", result.json())
    return result


def is_region_run(directory: str | Path) -> bool:
    """Whether directory holds a finished region run (result.json of kind "region")."""
    path = Path(directory) / "result.json"
    try:
        return json.loads(path.read_text()).get("kind") == REGION_KIND
    except (OSError, ValueError, AttributeError):
        return False


def load_region_run(directory: str | Path) -> RegionSolution:
    """The trained u(0, x) of a region run folder, without training; a damaged folder is a RunFolderError."""
    path = Path(directory) / "result.json"
    if not is_region_run(directory):
        raise RunFolderError(str(path), "not the result of a region run")
    try:
        config = config_from_mapping(json.loads(path.read_text())["config"])
        trainer = region_trainer(config)
    except (ParameterError, KeyError) as error:
        raise RunFolderError(str(path), f"config: {shown(str(error))}") from None
    model_path = Path(directory) / MODEL_FOLDER / "model"
    try:
        tf.train.Checkpoint(model=trainer.model).read(str(model_path)).assert_existing_objects_matched()
    except Exception as error:  # a damaged checkpoint fails in many ways (NotFound, DataLoss, Index, Value...)
        raise RunFolderError(str(model_path), f"the model cannot be restored ({shown(str(error))})") from None
    return trainer.solution
