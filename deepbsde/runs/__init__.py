"""Everything around one solve: the `solve` entry point with its reference, YAML run
configurations, run folders (checkpoints, history, result), saving and loading, plots."""
from deepbsde.runs.config import RunConfig, load_config
from deepbsde.runs.loading import TrainedSolver, load
from deepbsde.runs.result import Result
from deepbsde.runs.runner import run_config
from deepbsde.runs.solve import solve

__all__ = ["Result", "RunConfig", "TrainedSolver", "load", "load_config", "run_config", "solve"]
