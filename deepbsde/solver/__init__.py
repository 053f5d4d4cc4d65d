"""The deep BSDE method itself: options, stacked networks, the model, the optimizer,
the compiled training loop, and the per-time-step baseline it is measured against."""
from deepbsde.solver.history import HistoryRecord
from deepbsde.solver.options import SolverOptions
from deepbsde.solver.training import Trainer

__all__ = ["HistoryRecord", "SolverOptions", "Trainer"]
