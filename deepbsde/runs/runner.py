"""Runs a configuration in an output folder: new or resumed, checkpointed,
with history, TensorBoard, result, plot and the trained model written there."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from deepbsde.errors import DivergenceError, RunFolderError, TrainingInterrupted
from deepbsde.runs.config import RunConfig
from deepbsde.runs.directory import RunDirectory
from deepbsde.runs.files import reason_of
from deepbsde.runs.plotting import plot_history
from deepbsde.runs.region_run import RegionRunResult, finish_region_run, region_trainer
from deepbsde.runs.result import Result
from deepbsde.runs.solve import build_result
from deepbsde.solver.region import RegionTrainer
from deepbsde.solver.training import Trainer, TrainingObserver


def run_config(config: RunConfig, out: str | Path, *, resume: bool = False, overwrite: bool = False,
               observers: Sequence[TrainingObserver] = (),
               should_stop: Callable[[], bool] = lambda: False,
               report: Callable[[str], None] = lambda message: None) -> Result | RegionRunResult:
    """Trains `config` with its outputs in `out`; a config with `equation.x0_region` is a region solve
    (deepbsde.runs.region_run), which returns a RegionRunResult.

    resume: continue the checkpointed run in `out` (same problem required); the
    newest checkpoint that restores is used, and `report` is told what was skipped.
    overwrite: replace a run deepbsde wrote in `out` (otherwise that is an error);
    a folder holding anything else is refused. The old run is kept until the new
    one has taken its first step and checkpointed it.
    DivergenceError and TrainingInterrupted carry `.checkpoint`, the last
    good checkpoint, which is kept. Every failure to write is a RunFolderError
    naming the path; files already in place are then left whole.
    """
    resolved = config.to_dict()
    directory = RunDirectory(out, report)
    try:
        if resume:
            directory.open_existing(resolved)
        else:
            directory.create(resolved, overwrite)
        trainer: Trainer | RegionTrainer = (Trainer(config.build_equation(), config.solver)
                                            if config.x0_region is None else region_trainer(config))
        directory.attach(trainer.checkpoint_objects())
        history = []
        if resume:
            history = directory.restore_latest(config.solver.iterations)
            if isinstance(trainer, Trainer):
                trainer.model.match_restored_values()
            directory.save_config(resolved)
        try:
            history, timings = trainer.run([directory, *observers], history, should_stop)
        except (DivergenceError, TrainingInterrupted) as stopped:
            stopped.checkpoint = directory.latest_checkpoint() if directory.installed else None
            raise
        directory.install(trainer.step)
        if not str(directory.latest_checkpoint()).endswith(f"-{trainer.step}"):
            directory.on_checkpoint(trainer.step)
        if isinstance(trainer, RegionTrainer):
            return finish_region_run(trainer, history, timings, config, resolved, directory.path)
        result = build_result(trainer, history, timings, config.reference, resolved)
        directory.claim(["training.png"])
        plot_history(history, directory.path / "training.png",
                     f"{result.equation}, d = {result.dim}: u(0, x0) = {result.value:.6g}",
                     result.reference, result.reference_half_width)
        result.save(directory.path)  # result.json last
        return result
    except OSError as error:  # anything not already named: the disk, permissions
        raise RunFolderError(str(getattr(error, "filename", None) or directory.path),
                             reason_of(error)) from None
    finally:
        directory.close()
