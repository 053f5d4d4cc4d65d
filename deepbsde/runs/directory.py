"""The output folder of a run, and what is written into it while training.

    DIR/config.yaml      the resolved configuration
    DIR/history.csv      rewritten atomically at every log point (survives a crash)
    DIR/tensorboard/     TensorBoard scalars: loss, value, learning rate
    DIR/checkpoints/     tf.train.CheckpointManager, every checkpoint_every steps
    DIR/training.png     loss and value against iterations
    DIR/model/           the trained model, for deepbsde.load
    DIR/result.json      written last, when everything else is in place
    DIR/.deepbsde-run    the manifest: what deepbsde wrote here (only that is ever removed)
    DIR/.deepbsde-lock   held by the one process working in the folder

A new run is built in DIR/.deepbsde-new/ and moved into place only once its
first training step has succeeded and been checkpointed: until then nothing of
a run it replaces (--overwrite) is touched, and a failed start leaves the folder
as it was.
"""
from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import tensorflow as tf
import yaml

from deepbsde.errors import RunFolderError, error_summary
from deepbsde.runs.config import with_earlier_options
from deepbsde.runs.files import (
    LOCK,
    MANIFEST,
    STAGING,
    FolderLock,
    Manifest,
    atomic_write,
    foreign_entries,
    fsync_directory,
    fsync_tree,
    reason_of,
    remove_entry,
    remove_owned,
)
from deepbsde.runs.result import MODEL_FOLDER, read_history_checked, write_history
from deepbsde.solver.history import HistoryRecord
from deepbsde.validation import shown

RUN_FILES = ("config.yaml", "history.csv", "result.json", "training.png", "tensorboard", "checkpoints", MODEL_FOLDER)
# Solver fields a resumed run may change: they do not alter the problem solved. A change of the
# learning rates (e.g. to continue a diverged run from its last good checkpoint) is recorded in
# history.csv's learning_rate column; tangent_refinement acts only after training.
RESUMABLE_CHANGES = ("iterations", "log_every", "checkpoint_every", "max_loss", "learning_rates", "lr_boundaries",
                     "tangent_refinement")
CHECKPOINTS_KEPT = 3
_CHECKPOINT = re.compile(r"^ckpt-(\d+)\.index$")


def checkpoint_steps(folder: Path) -> list[int]:
    """The steps of the checkpoints in `folder`, newest first (from the files, not the state file)."""
    if not folder.is_dir():
        return []
    found = (_CHECKPOINT.match(name) for name in os.listdir(folder))
    return sorted((int(match.group(1)) for match in found if match), reverse=True)


def _first_line(error: BaseException) -> str:
    return shown(error_summary(error))


class RunDirectory:
    """Creates or reopens a run folder; observes training to write into it."""

    def __init__(self, path: str | Path, report: Callable[[str], None] = lambda message: None):
        self.path = Path(path)
        self.work = self.path  # where files are written now: the staging folder until the run has started
        self.report = report
        self.manager: Any = None  # a tf.train.CheckpointManager once attached
        self.writer: Any = None  # a TensorBoard summary writer once attached
        self.checkpoint: Any = None
        self.records: list[HistoryRecord] = []
        self.lock = FolderLock(self.path)
        self.installed = True
        self.overwrite = False
        self.created_folder = False
        self.checked = False  # nothing that a refusal should not leave behind is written before this

    # ------------------------------------------------------------ set-up
    def holds_a_run(self) -> bool:
        if (self.path / MANIFEST).is_file():
            return any((self.path / name).exists() for name in Manifest(self.path).read()
                       if name not in (MANIFEST, LOCK))
        return any((self.path / name).exists() for name in RUN_FILES)

    def create(self, config: dict[str, Any], overwrite: bool) -> None:
        """Starts a new run in a staging folder; refuses a folder holding another run unless
        overwrite, and a folder holding anything deepbsde did not write in any case."""
        self._check_new(overwrite)
        if not self.path.exists():
            try:
                self.path.mkdir(parents=True)
            except OSError as error:
                raise RunFolderError(str(self.path), f"cannot create the folder: {reason_of(error)}") from None
            self.created_folder = True
        self.lock.acquire()
        self._check_new(overwrite)  # again, now that no other deepbsde process can change it
        self.overwrite, self.installed = overwrite, False
        self.work = self.path / STAGING
        remove_entry(self.work)  # a stale one from a start that was killed
        try:
            self.work.mkdir()
        except OSError as error:
            raise RunFolderError(str(self.work), f"cannot create the folder: {reason_of(error)}") from None
        atomic_write(self.work / "config.yaml", yaml.safe_dump(config, sort_keys=False))
        write_history(self.work / "history.csv", [])
        self.checked = True

    def _check_new(self, overwrite: bool) -> None:
        if self.path.exists() and not self.path.is_dir():
            raise RunFolderError(str(self.path), "exists and is not a folder")
        if not self.path.exists():
            return
        try:
            foreign = foreign_entries(self.path)
        except OSError as error:
            raise RunFolderError(str(self.path), f"cannot read the folder: {reason_of(error)}") from None
        if foreign:
            listing = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
            raise RunFolderError(str(self.path), f"holds {listing}, which deepbsde did not write; a new run "
                                                 "needs an empty or new folder (--overwrite replaces only a "
                                                 "run deepbsde wrote, and nothing else)")
        if self.holds_a_run() and not overwrite:
            raise RunFolderError(str(self.path), "already holds a run; choose another folder, continue it with "
                                                 "--resume, or replace it with --overwrite")

    def open_existing(self, config: dict[str, Any]) -> None:
        """Locks a folder to resume; RunFolderError unless it holds a checkpointed run of the same problem."""
        if not (self.path / "config.yaml").is_file():
            raise RunFolderError(str(self.path), "holds no run to resume (no config.yaml)")
        self.lock.acquire()
        if not checkpoint_steps(self.path / "checkpoints"):
            raise RunFolderError(str(self.path), "holds no checkpoint to resume from")
        saved = with_earlier_options(self._saved_config())  # a folder of an earlier version: its set-up
        # name and dim first: the most telling difference is the one reported
        for key in ["name", "dim", *sorted(set(saved["equation"]) | set(config["equation"]) - {"name", "dim"})]:
            if saved["equation"].get(key) != config["equation"].get(key):
                raise RunFolderError(f"equation.{key}", f"the run in {self.path} has "
                                        f"{shown(saved['equation'].get(key))}, the configuration "
                                        f"{shown(config['equation'].get(key))}: cannot resume a different problem")
        for key in sorted(set(saved["solver"]) | set(config["solver"])):
            if key not in RESUMABLE_CHANGES and saved["solver"].get(key) != config["solver"].get(key):
                raise RunFolderError(f"solver.{key}", f"the run in {self.path} has {shown(saved['solver'].get(key))}, "
                                        f"the configuration {shown(config['solver'].get(key))}; only "
                                        f"{', '.join(RESUMABLE_CHANGES)} may change on resume")

    def _saved_config(self) -> dict[str, Any]:
        path = self.path / "config.yaml"
        try:
            saved = yaml.safe_load(path.read_text())
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
            raise RunFolderError(str(path), f"damaged ({_first_line(error)}): cannot tell which problem the run "
                                            "solved; start a new run instead") from None
        if not (isinstance(saved, dict) and isinstance(saved.get("equation"), dict)
                and isinstance(saved.get("solver"), dict)):
            what = "empty" if saved is None else f"not a run configuration ({shown(saved)})"
            raise RunFolderError(str(path), f"{what}: cannot tell which problem the run solved; "
                                            "start a new run instead")
        return saved

    def attach(self, checkpoint_objects: dict[str, tf.Module]) -> None:
        """Connects the checkpoint manager and TensorBoard writer to a trainer's state."""
        self.checkpoint = tf.train.Checkpoint(**checkpoint_objects)
        self._open_writers()

    def _open_writers(self) -> None:
        self.manager = tf.train.CheckpointManager(self.checkpoint, str(self.work / "checkpoints"),
                                                  max_to_keep=CHECKPOINTS_KEPT)
        if self.installed and self.checked and self.writer is None:  # one events file, in its final place
            self.writer = tf.summary.create_file_writer(str(self.path / "tensorboard"))
            for record in self.records:
                self._summarise(record)

    def restore_latest(self, iterations: int) -> list[HistoryRecord]:
        """Restores the newest checkpoint that restores (reporting those skipped); returns the
        history up to its step (rewritten to disk, a torn last line left out)."""
        folder = self.work / "checkpoints"
        skipped, step = [], None
        for candidate in checkpoint_steps(folder):
            try:
                self.checkpoint.restore(str(folder / f"ckpt-{candidate}")).assert_existing_objects_matched()
            except Exception as error:  # a damaged checkpoint fails in many ways (DataLoss, Index, Value...)
                skipped.append(candidate)
                self.report(f"skipped the damaged checkpoint ckpt-{candidate} ({_first_line(error)})")
                continue
            step = int(self.checkpoint.optimizer.iterations.numpy())
            break
        if step is None:
            raise RunFolderError(str(folder), "no checkpoint can be restored (all damaged); start a new run")
        if step > iterations:
            raise RunFolderError("solver.iterations", f"the run in {self.path} is already at step {step} "
                                                      f"(its checkpoint); iterations must be at least that, "
                                                      f"got {iterations}")
        if skipped:
            self.report(f"resuming from ckpt-{step}")
            for candidate in skipped:  # newer than the one restored, and damaged: the resumed run redoes them
                for name in os.listdir(folder):
                    if name.startswith(f"ckpt-{candidate}."):
                        remove_entry(folder / name)
            kept = [f"ckpt-{s}" for s in reversed(checkpoint_steps(folder))]
            # the CheckpointManager's state file (a text proto, paths relative to the folder)
            atomic_write(folder / "checkpoint", f'model_checkpoint_path: "ckpt-{step}"\n' + "".join(
                f'all_model_checkpoint_paths: "{name}"\n' for name in kept))
            self._open_writers()  # the manager rereads the repaired state
        history_path = self.work / "history.csv"
        try:
            records, torn = read_history_checked(history_path)
        except RunFolderError as error:
            records, torn = [], f"{error}: started a new history at step {step}"
        if torn:
            self.report(torn)
        self.records = [r for r in records if r.step <= step]
        Manifest(self.path).claim([name for name in RUN_FILES if (self.path / name).exists()])
        write_history(history_path, self.records)
        self.checked = True
        self._open_writers()
        return list(self.records)

    def save_config(self, config: dict[str, Any]) -> None:
        atomic_write(self.work / "config.yaml", yaml.safe_dump(config, sort_keys=False))

    def latest_checkpoint(self) -> str | None:
        return self.manager.latest_checkpoint if self.manager else None

    # --------------------------------------------------------- observer
    def on_record(self, record: HistoryRecord, total_iterations: int) -> None:
        self.records.append(record)
        write_history(self.work / "history.csv", self.records)
        if self.writer is not None:  # else written when the run is moved into place
            self._summarise(record)

    def _summarise(self, record: HistoryRecord) -> None:
        with self.writer.as_default(step=record.step):
            tf.summary.scalar("loss", record.loss)
            tf.summary.scalar("value", record.value)
            tf.summary.scalar("learning_rate", record.learning_rate)
        self.writer.flush()

    def on_checkpoint(self, step: int) -> None:
        try:
            self.manager.save(checkpoint_number=step)
            fsync_tree(self.work / "checkpoints")
        except (OSError, tf.errors.OpError) as error:
            raise RunFolderError(str(self.work / "checkpoints"), f"cannot write a checkpoint: "
                                                                 f"{_first_line(error)}") from None

    def on_started(self, step: int) -> None:
        """The first training step succeeded: checkpoint it and move the new run into place."""
        self.install(step)

    # ------------------------------------------------------- life cycle
    def install(self, step: int) -> None:
        """Moves a new run from its staging folder into the run folder, replacing (with
        --overwrite) only what the manifest says deepbsde wrote there."""
        if self.installed:
            return
        self.on_checkpoint(step)
        if self.overwrite:
            remove_owned(self.path, keep=[STAGING])
        names = sorted(os.listdir(self.work))
        Manifest(self.path).claim([*names, "tensorboard"])
        for name in names:
            os.replace(self.work / name, self.path / name)
        self.work.rmdir()
        fsync_directory(self.path)
        self.work, self.installed = self.path, True
        self._open_writers()

    def claim(self, names: list[str]) -> None:
        Manifest(self.path).claim(names)

    def close(self) -> None:
        """Ends the run's use of the folder: a run that never started is removed (the folder is
        left as it was found), and the lock is released."""
        if self.writer is not None:
            self.writer.close()
        if not self.installed:
            remove_entry(self.work)
            if self.lock.created:
                (self.path / LOCK).unlink(missing_ok=True)
            if self.created_folder:
                with contextlib.suppress(OSError):
                    self.path.rmdir()
        self.lock.release()
