"""The Black-Scholes market model of the pricing API, validated on construction."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from deepbsde.errors import ParameterError
from deepbsde.validation import correlation_cholesky, finite, shown, vector


@dataclass(frozen=True, eq=False)
class BlackScholesModel:
    """d assets following correlated geometric Brownian motions under the pricing measure:

        dS_i = (rate - dividend_yields_i) S_i dt + volatilities_i S_i dB_i,  d<B_i, B_j> = correlation_ij dt.

    spots: one positive price per asset (gives d). volatilities, dividend_yields:
    a number for all assets or one per asset. correlation: a d x d symmetric,
    positive definite matrix with unit diagonal; None means independent assets.
    Every invalid input raises deepbsde.errors.ParameterError naming the field.
    """

    spots: Any
    rate: float
    volatilities: Any
    dividend_yields: Any = 0.0
    correlation: Any = None

    def __post_init__(self):
        spots = vector("spots", self.spots, positive_entries=True)
        dim = spots.size
        object.__setattr__(self, "spots", spots)
        object.__setattr__(self, "rate", finite("rate", self.rate))
        object.__setattr__(self, "volatilities", vector("volatilities", self.volatilities, dim,
                                                        positive_entries=True))
        object.__setattr__(self, "dividend_yields", vector("dividend_yields", self.dividend_yields, dim))
        if correlation_cholesky("correlation", self.correlation, dim) is not None:
            object.__setattr__(self, "correlation", np.asarray(self.correlation, np.float64))

    @cached_property
    def cholesky(self) -> np.ndarray | None:
        """Lower Cholesky factor L of the correlation matrix (B = L W); None for independent assets."""
        return None if self.correlation is None else np.linalg.cholesky(self.correlation)

    @property
    def dim(self) -> int:
        """Number of assets."""
        return self.spots.size

    def scaled(self, factor: float) -> BlackScholesModel:
        """The same market with every spot multiplied by `factor`."""
        return BlackScholesModel(self.spots * factor, self.rate, self.volatilities, self.dividend_yields,
                                 self.correlation)


def checked_model(model: Any) -> BlackScholesModel:
    """`model` itself when it is a BlackScholesModel; ParameterError naming `model` otherwise."""
    if not isinstance(model, BlackScholesModel):
        raise ParameterError("model", f"must be a deepbsde.market.BlackScholesModel, got {shown(model)}")
    return model
