"""Equation registry of deepbsde.

    import equations
    equations.available()                  # registered names
    eq = equations.get("hjb", dim=100)     # an instance, parameters validated

To add an equation, subclass `equations.Equation` and decorate it with
`@equations.register("name")`.
"""
from equations.base import COMMON_DEFAULTS, Equation, ParameterError, coerce_parameter
from equations.processes import ForwardProcess, GeometricBrownianMotion, ScaledBrownianMotion
from equations.registry import UnknownEquationError, available, equation_class, get, register

# Importing the modules registers their equations.
from equations import allen_cahn, black_scholes, black_scholes_linear, burgers, hjb, quadratic_gradient, reaction_diffusion  # noqa: E402,F401

__all__ = ["COMMON_DEFAULTS", "coerce_parameter", "Equation", "ParameterError", "ForwardProcess", "GeometricBrownianMotion",
           "ScaledBrownianMotion", "UnknownEquationError", "available", "equation_class", "get", "register"]
