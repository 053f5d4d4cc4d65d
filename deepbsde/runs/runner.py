"""Runs a configuration in an output folder: new or resumed, checkpointed,
with history, TensorBoard, result, plot and the trained model written there."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import yaml

from deepbsde.errors import DivergenceError, TrainingInterrupted
from deepbsde.runs.config import RunConfig
from deepbsde.runs.directory import RunDirectory
from deepbsde.runs.plotting import plot_history
from deepbsde.runs.result import Result
from deepbsde.runs.solve import build_result
from deepbsde.solver.training import Trainer, TrainingObserver


def run_config(config: RunConfig, out: str | Path, *, resume: bool = False, overwrite: bool = False,
               observers: Sequence[TrainingObserver] = (),
               should_stop: Callable[[], bool] = lambda: False) -> Result:
    """Trains `config` with its outputs in `out`.

    resume: continue the checkpointed run in `out` (same problem required).
    overwrite: replace a run already in `out` (otherwise that is an error).
    DivergenceError and TrainingInterrupted carry `.checkpoint`, the last
    good checkpoint, which is kept.
    """
    resolved = config.to_dict()
    directory = RunDirectory(out)
    if resume:
        directory.check_resumable(resolved)
    else:
        directory.create(resolved, overwrite)
    trainer = Trainer(config.build_equation(), config.solver)
    directory.attach(trainer.checkpoint_objects())
    history = []
    if resume:
        history = directory.restore_latest()
        (directory.path / "config.yaml").write_text(yaml.safe_dump(resolved, sort_keys=False))
    try:
        history, timings = trainer.run([directory, *observers], history, should_stop)
    except (DivergenceError, TrainingInterrupted) as stopped:
        stopped.checkpoint = directory.latest_checkpoint()
        raise
    if not str(directory.latest_checkpoint()).endswith(f"-{trainer.step}"):
        directory.on_checkpoint(trainer.step)
    result = build_result(trainer, history, timings, config.reference, resolved)
    result.save(directory.path)
    plot_history(history, directory.path / "training.png",
                 f"{result.equation}, d = {result.dim}: u(0, x0) = {result.value:.6g}",
                 result.reference, result.reference_half_width)
    return result
