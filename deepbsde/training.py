"""Kept so that `from deepbsde.training import Trainer` still works; the training
loop lives in deepbsde.solver.training and `solve` in deepbsde.runs.solve."""
from deepbsde.runs.solve import solve
from deepbsde.solver.training import Trainer, device_description

__all__ = ["Trainer", "device_description", "solve"]
