"""How far to trust a solve: the self-check of every Result (diagnostics) and the
control-variate Monte Carlo price and Z_0 of linear equations (control_variate).
Above the solver (they read a trained model), below runs (which attach them)."""
from deepbsde.checks.control_variate import ControlVariateEstimate, control_variate_estimate
from deepbsde.checks.diagnostics import Diagnostics, NotConvergedWarning, diagnose, self_check, with_time_grid

__all__ = ["ControlVariateEstimate", "Diagnostics", "NotConvergedWarning", "control_variate_estimate", "diagnose",
           "self_check", "with_time_grid"]
