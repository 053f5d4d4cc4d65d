"""Reference values of u(0, x0) to validate the solver against.

Each computed reference returns an `Estimate` (value, 95% half-width, sample count, method):

    black_scholes_price, black_scholes_deltas   exact-simulation Monte Carlo, linear Black-Scholes
    black_scholes_closed_form_call              one-asset closed form, to check them
    cole_hopf_quadrature, cole_hopf_monte_carlo HJB via the Cole-Hopf transformation
    multilevel_picard                           semilinear PDEs with gradient-free f

`resolve_reference` / `best_reference` pick an equation's reference: exact
solution, computed reference (`Equation.reference_method`), published value.
"""
from deepbsde.reference.black_scholes_mc import (
                                                 black_scholes_closed_form_call,
                                                 black_scholes_deltas,
                                                 black_scholes_price,
)
from deepbsde.reference.cole_hopf import cole_hopf_monte_carlo, cole_hopf_quadrature
from deepbsde.reference.estimate import Estimate
from deepbsde.reference.mlp import multilevel_picard
from deepbsde.reference.resolve import ReferenceValue, best_reference, computed_reference, resolve_reference

__all__ = ["Estimate", "ReferenceValue", "best_reference", "black_scholes_closed_form_call",
           "black_scholes_deltas", "black_scholes_price", "cole_hopf_monte_carlo", "cole_hopf_quadrature",
           "computed_reference", "multilevel_picard", "resolve_reference"]
