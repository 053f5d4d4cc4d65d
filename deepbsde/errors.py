"""Every error deepbsde raises on purpose, in one hierarchy.

    DeepBSDEError                 root: `except deepbsde.errors.DeepBSDEError` catches them all
    ├── ParameterError            an input value is invalid; `field` names it, `reason` says why
    │   ├── ConfigError           a field of a run configuration (`solver.batch_size`, `--set`, ...)
    │   └── UnknownEquationError  no equation is registered under a name (also a KeyError)
    ├── RunFolderError            an output or resume folder cannot be used as asked
    ├── DivergenceError           the training loss became NaN, infinite or too large
    └── TrainingInterrupted       training stopped on request after saving a checkpoint

This module imports nothing from the package: every layer may use it.
"""
from __future__ import annotations


class DeepBSDEError(Exception):
    """Root of the package's errors."""


class ParameterError(DeepBSDEError, ValueError):
    """A parameter is unknown or has an invalid value; `field` names it."""

    def __init__(self, field: str, reason: str):
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


class ConfigError(ParameterError):
    """A configuration field is missing, unknown or invalid; `field` is its dotted path."""


class UnknownEquationError(ParameterError, KeyError):
    """No equation is registered under the requested name."""

    def __init__(self, name: str, known: list[str]):
        self.name = name
        super().__init__("name", f"unknown equation '{name}'; known equations: {', '.join(known)}")

    def __str__(self) -> str:  # KeyError would quote the whole message
        return self.reason


class RunFolderError(DeepBSDEError):
    """A run folder cannot be created, resumed or read; `field` is the option or path concerned."""

    def __init__(self, field: str, reason: str):
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


class DivergenceError(DeepBSDEError, RuntimeError):
    """The training loss became NaN or infinite, or exceeded the configured bound."""

    def __init__(self, step: int, loss: float, bound: float | None = None):
        self.step, self.loss = step, loss
        self.checkpoint: str | None = None  # the last good checkpoint, when the run had one
        finite = loss == loss and abs(loss) != float("inf")
        why = f" exceeds solver.max_loss = {bound}" if finite and bound is not None else ""
        super().__init__(f"training diverged at step {step}: loss = {loss}{why}")


class TrainingInterrupted(DeepBSDEError, RuntimeError):
    """Training was asked to stop (SIGINT/SIGTERM) after a checkpoint was saved."""

    def __init__(self, step: int):
        self.step = step
        self.checkpoint: str | None = None  # where the state at `step` was saved
        super().__init__(f"training interrupted at step {step}")


def error_summary(error: BaseException) -> str:
    """The first line of an exception's message (TensorFlow's `message` where it has one, without the
    op details it appends), else the exception's type name."""
    text = (getattr(error, "message", None) or str(error)).strip()
    return text.splitlines()[0] if text else type(error).__name__
