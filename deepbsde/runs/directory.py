"""The output folder of a run, and what is written into it while training.

    DIR/config.yaml      the resolved configuration
    DIR/history.csv      appended at every log point (survives a crash)
    DIR/tensorboard/     TensorBoard scalars: loss, value, learning rate
    DIR/checkpoints/     tf.train.CheckpointManager, every checkpoint_every steps
    DIR/result.json      written when training ends
    DIR/training.png     loss and value against iterations
    DIR/model/           the trained model, for deepbsde.load
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import tensorflow as tf
import yaml

from deepbsde.errors import RunFolderError
from deepbsde.runs.result import MODEL_FOLDER, append_history, read_history, write_history
from deepbsde.solver.history import HistoryRecord

RUN_FILES = ("config.yaml", "history.csv", "result.json", "training.png", "tensorboard", "checkpoints", MODEL_FOLDER)
# Solver fields a resumed run may change: they do not alter the trained trajectory.
RESUMABLE_CHANGES = ("iterations", "log_every", "checkpoint_every", "max_loss")
CHECKPOINTS_KEPT = 3


class RunDirectory:
    """Creates or reopens a run folder; observes training to write into it."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.manager: Any = None  # a tf.train.CheckpointManager once attached
        self.writer: Any = None  # a TensorBoard summary writer once attached

    # ------------------------------------------------------------ set-up
    def holds_a_run(self) -> bool:
        return any((self.path / name).exists() for name in RUN_FILES)

    def create(self, config: dict[str, Any], overwrite: bool) -> None:
        """Starts a new run here; refuses a folder holding another run unless overwrite."""
        if self.path.exists() and not self.path.is_dir():
            raise RunFolderError("--out", f"{self.path} exists and is not a folder")
        if self.holds_a_run():
            if not overwrite:
                raise RunFolderError("--out", f"{self.path} already holds a run; choose another folder, "
                                                 "continue it with --resume, or replace it with --overwrite")
            for name in RUN_FILES:
                target = self.path / name
                if target.is_dir():
                    shutil.rmtree(target)
                elif target.exists():
                    target.unlink()
        self.path.mkdir(parents=True, exist_ok=True)
        (self.path / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        write_history(self.path / "history.csv", [])

    def check_resumable(self, config: dict[str, Any]) -> None:
        """Raises RunFolderError unless this folder holds a checkpointed run of the same problem."""
        saved_path = self.path / "config.yaml"
        if not saved_path.exists():
            raise RunFolderError("--resume", f"{self.path} holds no run to resume (no config.yaml)")
        if tf.train.latest_checkpoint(str(self.path / "checkpoints")) is None:
            raise RunFolderError("--resume", f"{self.path} holds no checkpoint to resume from")
        saved = yaml.safe_load(saved_path.read_text())
        # name and dim first: the most telling difference is the one reported
        for key in ["name", "dim", *sorted(set(saved["equation"]) | set(config["equation"]) - {"name", "dim"})]:
            if saved["equation"].get(key) != config["equation"].get(key):
                raise RunFolderError(f"equation.{key}", f"the run in {self.path} has "
                                        f"{saved['equation'].get(key)!r}, the configuration "
                                        f"{config['equation'].get(key)!r}: cannot resume a different problem")
        for key in sorted(set(saved["solver"]) | set(config["solver"])):
            if key not in RESUMABLE_CHANGES and saved["solver"].get(key) != config["solver"].get(key):
                raise RunFolderError(f"solver.{key}", f"the run in {self.path} has {saved['solver'].get(key)!r}, "
                                        f"the configuration {config['solver'].get(key)!r}; only "
                                        f"{', '.join(RESUMABLE_CHANGES)} may change on resume")

    def attach(self, checkpoint_objects: dict[str, tf.Module]) -> None:
        """Connects the checkpoint manager and TensorBoard writer to a trainer's state."""
        checkpoint = tf.train.Checkpoint(**checkpoint_objects)
        self.manager = tf.train.CheckpointManager(checkpoint, str(self.path / "checkpoints"),
                                                  max_to_keep=CHECKPOINTS_KEPT)
        self.writer = tf.summary.create_file_writer(str(self.path / "tensorboard"))

    def restore_latest(self) -> list[HistoryRecord]:
        """Restores the newest checkpoint; returns the history up to its step (rewritten to disk)."""
        self.manager.checkpoint.restore(self.manager.latest_checkpoint).assert_existing_objects_matched()
        step = int(self.manager.checkpoint.optimizer.iterations.numpy())
        history = [r for r in read_history(self.path / "history.csv") if r.step <= step]
        write_history(self.path / "history.csv", history)
        return history

    def latest_checkpoint(self) -> str | None:
        return self.manager.latest_checkpoint if self.manager else None

    # --------------------------------------------------------- observer
    def on_record(self, record: HistoryRecord, total_iterations: int) -> None:
        append_history(self.path / "history.csv", record)
        with self.writer.as_default(step=record.step):
            tf.summary.scalar("loss", record.loss)
            tf.summary.scalar("value", record.value)
            tf.summary.scalar("learning_rate", record.learning_rate)
        self.writer.flush()

    def on_checkpoint(self, step: int) -> None:
        self.manager.save(checkpoint_number=step)
