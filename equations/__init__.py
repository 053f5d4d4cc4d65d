"""Equation registry of deepbsde.

    import equations
    equations.available()                  # registered names
    eq = equations.get("hjb", dim=100)     # an instance, parameters validated

To add an equation, subclass `equations.Equation`, declare its parameters as
annotated class attributes, and decorate it with `@equations.register("name")`.
"""
from deepbsde.errors import ParameterError, UnknownEquationError

# Importing the modules registers their equations.
from equations import (  # noqa: F401
                       allen_cahn,
                       black_scholes,
                       black_scholes_nonlinear,
                       burgers,
                       hjb,
                       quadratic_gradient,
                       reaction_diffusion,
)
from equations.base import Equation
from equations.processes import ForwardProcess, GeometricBrownianMotion, ScaledBrownianMotion
from equations.registry import available, equation_class, get, register

__all__ = ["Equation", "ParameterError", "ForwardProcess", "GeometricBrownianMotion", "ScaledBrownianMotion",
           "UnknownEquationError", "available", "equation_class", "get", "register"]
