"""Reference values of u(0, x0) to validate the solver against.

Computed references (each returns an `Estimate` with a 95% half-width):
    black_scholes_price, black_scholes_deltas, black_scholes_closed_form_call
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deepbsde.reference.black_scholes_mc import (black_scholes_closed_form_call, black_scholes_deltas,
                                                 black_scholes_price)
from deepbsde.reference.estimate import Estimate
from equations import Equation

__all__ = ["Estimate", "ReferenceValue", "black_scholes_closed_form_call", "black_scholes_deltas",
           "black_scholes_price", "resolve_reference"]


@dataclass(frozen=True)
class ReferenceValue:
    """A reference u(0, x0): its value, how it is known, and a 95% half-width if it is an estimate."""

    value: float
    source: str
    half_width: float | None = None


def resolve_reference(equation: Equation, reference: Any) -> ReferenceValue | None:
    """The reference a configuration asks for: "auto", a number, or None.

    "auto" is the equation's exact solution where it has one, else its
    published value (only for the published parameters).
    """
    if reference is None:
        return None
    if reference == "auto":
        known = equation.reference()
        return ReferenceValue(*known) if known is not None else None
    return ReferenceValue(float(reference), "given in the configuration")
