"""How far to trust a solve: the self-check of every Result (diagnostics), the
Monte Carlo estimates with the trained networks as control variates (control_variate): the price, Z_0
and deltas of a linear equation, u and its gradient at points of a region solve, the certified
bound of a generator convex or concave in (y, z) and the linearised value of any other (bound).
Above the solver (they read a trained model), below runs (which attach them)."""
from deepbsde.checks.bound import BoundEstimate, LinearizedEstimate, linearized_value, tangent_bound, tightened_bound
from deepbsde.checks.control_variate import (
                                             ControlVariateEstimate,
                                             PointwiseEstimate,
                                             RegionControlVariate,
                                             control_variate_estimate,
)
from deepbsde.checks.diagnostics import Diagnostics, NotConvergedWarning, diagnose, self_check, with_time_grid

__all__ = ["BoundEstimate", "ControlVariateEstimate", "Diagnostics", "LinearizedEstimate", "NotConvergedWarning",
           "PointwiseEstimate", "RegionControlVariate", "control_variate_estimate", "diagnose", "linearized_value",
           "self_check", "tangent_bound", "tightened_bound", "with_time_grid"]
