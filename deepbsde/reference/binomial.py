"""Cox-Ross-Rubinstein binomial tree for one-asset calls and puts with a
dividend yield: European, Bermudan (exercise on given dates) and American.

With n steps of dt = T/n the price moves up by u = exp(vol sqrt(dt)) or down
by 1/u with risk-neutral probability p = (exp((r - q) dt) - d) / (u - d). The
backward induction is vectorised over the nodes of a step, so 10,000 steps
take a fraction of a second. A Bermudan date is exercised at the tree step
nearest to it; choose `steps` as a multiple of T / (date spacing) to put the
dates exactly on the grid.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from deepbsde.errors import ParameterError
from deepbsde.validation import finite, positive, positive_int


def binomial_price(spot: float, strike: float, rate: float, volatility: float, maturity: float, *,
                   call: bool, dividend_yield: float = 0.0, steps: int = 10_000,
                   exercise: str | Sequence[float] = "american") -> float:
    """Price of a one-asset call (call=True) or put on a CRR tree.

    exercise: "european", "american" (every tree step, including t = 0), or a
    sequence of Bermudan exercise dates in [0, maturity].
    """
    spot, strike = positive("spot", spot), positive("strike", strike)
    volatility, maturity = positive("volatility", volatility), positive("maturity", maturity)
    rate, dividend_yield = finite("rate", rate), finite("dividend_yield", dividend_yield)
    steps = positive_int("steps", steps)
    exercisable = _exercise_steps(exercise, maturity, steps)

    dt = maturity / steps
    up = np.exp(volatility * np.sqrt(dt))
    prob = (np.exp((rate - dividend_yield) * dt) - 1.0 / up) / (up - 1.0 / up)
    if not 0.0 < prob < 1.0:
        raise ParameterError("steps", f"too few steps for a valid tree (up probability {prob:.4f}); use more")
    discount = np.exp(-rate * dt)
    sign = 1.0 if call else -1.0

    prices = spot * up ** (2.0 * np.arange(steps + 1) - steps)  # nodes at maturity, lowest first
    values = np.maximum(sign * (prices - strike), 0.0)
    for step in range(steps - 1, -1, -1):
        values = discount * (prob * values[1:] + (1.0 - prob) * values[:-1])
        prices = prices[:-1] * up  # node j of step n is node j of step n+1 moved up once
        if exercisable[step]:
            np.maximum(values, sign * (prices - strike), out=values)
    return float(values[0])


def _exercise_steps(exercise: Any, maturity: float, steps: int) -> np.ndarray:
    """Boolean mask over the steps 0..steps-1 where early exercise is allowed
    (maturity itself always pays the payoff)."""
    mask = np.zeros(steps, dtype=bool)
    expected = f"must be 'european', 'american' or a list of dates, got {exercise!r}"
    if isinstance(exercise, str):
        if exercise not in ("european", "american"):
            raise ParameterError("exercise", expected)
        mask[:] = exercise == "american"
        return mask
    try:
        dates = np.asarray(exercise, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        raise ParameterError("exercise", expected) from None
    if dates.size == 0 or not np.all(np.isfinite(dates)) or np.any(dates < 0) or np.any(dates > maturity):
        raise ParameterError("exercise", f"dates must be a non-empty list in [0, maturity = {maturity}], "
                                         f"got {exercise!r}")
    indices = np.rint(dates / maturity * steps).astype(int)
    mask[indices[indices < steps]] = True
    return mask
