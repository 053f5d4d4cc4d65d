"""deepbsde: high-dimensional semilinear parabolic PDEs by the deep BSDE method.

    import deepbsde, equations
    result = deepbsde.solve(equations.get("hjb", dim=100), iterations=2000)
    result.value, result.z0, result.rel_error
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TensorFlow's start-up chatter off the terminal

from deepbsde.config import ConfigError, RunConfig, SolverOptions, load_config  # noqa: E402
from deepbsde.result import HistoryRecord, Result  # noqa: E402
from deepbsde.loading import TrainedSolver, load  # noqa: E402
from deepbsde.training import DivergenceError, TrainingInterrupted, solve  # noqa: E402
from deepbsde.pricing import PriceResult, price  # noqa: E402

__version__ = "0.1.0"

__all__ = ["ConfigError", "DivergenceError", "HistoryRecord", "Result", "RunConfig", "SolverOptions",
           "TrainedSolver", "TrainingInterrupted", "load", "load_config", "solve", "__version__",
           "PriceResult", "price"]
