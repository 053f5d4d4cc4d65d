"""deepbsde: high-dimensional semilinear parabolic PDEs by the deep BSDE method.

    import deepbsde, equations
    result = deepbsde.solve(equations.get("hjb", dim=100), iterations=2000)
    result.value, result.z0, result.rel_error

The names below are loaded on first use: `import deepbsde` does not import
TensorFlow, so a program (the `deepbsde` command among them) can configure
TensorFlow's logging before it starts, and importing the package changes no
global state.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: public name -> the module that defines it
_EXPORTS = {
    "DeepBSDEError": "deepbsde.errors", "ParameterError": "deepbsde.errors", "ConfigError": "deepbsde.errors",
    "DivergenceError": "deepbsde.errors", "TrainingInterrupted": "deepbsde.errors",
    "RunFolderError": "deepbsde.errors",
    "SolverOptions": "deepbsde.solver.options", "HistoryRecord": "deepbsde.solver.history",
    "Result": "deepbsde.runs.result", "RunConfig": "deepbsde.runs.config", "load_config": "deepbsde.runs.config",
    "TrainedSolver": "deepbsde.runs.loading", "load": "deepbsde.runs.loading", "solve": "deepbsde.runs.solve",
    "PriceResult": "deepbsde.pricing.european", "price": "deepbsde.pricing.european",
    "Bermudan": "deepbsde.pricing.early_exercise", "American": "deepbsde.pricing.early_exercise",
    "PriceFunction": "deepbsde.pricing.book", "price_function": "deepbsde.pricing.book",
    "load_price_function": "deepbsde.pricing.book", "load_region_run": "deepbsde.runs.region_run",
    "Diagnostics": "deepbsde.checks.diagnostics", "NotConvergedWarning": "deepbsde.checks.diagnostics",
}

__all__ = ["American", "Bermudan", "ConfigError", "DeepBSDEError", "Diagnostics", "DivergenceError", "HistoryRecord",
           "NotConvergedWarning", "ParameterError", "PriceFunction", "PriceResult", "Result", "RunConfig",
           "RunFolderError", "SolverOptions", "TrainedSolver", "TrainingInterrupted", "load", "load_config",
           "load_price_function", "load_region_run", "price", "price_function", "solve", "__version__"]

if TYPE_CHECKING:
    from deepbsde.checks.diagnostics import Diagnostics, NotConvergedWarning
    from deepbsde.errors import (
        ConfigError,
        DeepBSDEError,
        DivergenceError,
        ParameterError,
        RunFolderError,
        TrainingInterrupted,
    )
    from deepbsde.pricing.book import PriceFunction, load_price_function, price_function
    from deepbsde.pricing.early_exercise import American, Bermudan
    from deepbsde.pricing.european import PriceResult, price
    from deepbsde.runs.config import RunConfig, load_config
    from deepbsde.runs.loading import TrainedSolver, load
    from deepbsde.runs.region_run import load_region_run
    from deepbsde.runs.result import Result
    from deepbsde.runs.solve import solve
    from deepbsde.solver.history import HistoryRecord
    from deepbsde.solver.options import SolverOptions


def __getattr__(name: str) -> Any:
    """Loads a public name from its module on first access (PEP 562)."""
    if name not in _EXPORTS:
        raise AttributeError(f"module 'deepbsde' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
