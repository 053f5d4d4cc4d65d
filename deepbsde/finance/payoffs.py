"""Option payoffs of the pricing API, each with its exact ReLU network.

A payoff is a frozen dataclass that is validated on construction, gives
its ReLU network for d assets (`network`), and evaluates itself directly in
TensorFlow (`__call__`, used by the Monte Carlo reference, so the reference
does not depend on the network it checks). All payoffs are positively
homogeneous of degree one in (prices, strikes), which `scaled` uses.
"""
from __future__ import annotations

import abc
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import tensorflow as tf

from deepbsde.errors import ParameterError
from deepbsde.finance import relu_networks
from deepbsde.finance.market import BlackScholesModel, checked_model
from deepbsde.finance.sparse_relu import ReluNetwork
from deepbsde.validation import finite, positive, shown, vector


@dataclass(frozen=True)
class Payoff(abc.ABC):
    """Base class: `kind` names the payoff in equation parameters; `strike_fields`
    are the fields that scale with the prices."""

    kind: ClassVar[str]
    strike_fields: ClassVar[tuple[str, ...]] = ("strike",)

    def __post_init__(self):
        for name in self.strike_fields:
            object.__setattr__(self, name, positive(name, getattr(self, name)))

    @abc.abstractmethod
    def network(self, dim: int) -> ReluNetwork:
        """The exact ReLU network of this payoff on `dim` assets."""

    @abc.abstractmethod
    def __call__(self, prices: tf.Tensor) -> tf.Tensor:
        """The payoff of prices [batch, d] as [batch, 1], in TensorFlow ops."""

    def check_dimension(self, dim: int) -> None:
        """Raises ParameterError if the payoff does not fit `dim` assets."""

    @property
    def unit(self) -> float:
        """The price scale of the payoff: its (first) strike."""
        return getattr(self, self.strike_fields[0])

    def scaled(self, factor: float) -> Payoff:
        """The payoff with every strike multiplied by `factor`."""
        return dataclasses.replace(self, **{name: getattr(self, name) * factor for name in self.strike_fields})

    def to_params(self) -> dict[str, Any]:
        """Parameters of the `black_scholes` equation selecting this payoff."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {"payoff": self.kind, **{k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}}


@dataclass(frozen=True)
class _Weighted(Payoff):
    """A payoff on the weighted prices w_i S_i; `weights` has one entry per asset."""

    weights: tuple[float, ...]

    def __post_init__(self):
        super().__post_init__()
        object.__setattr__(self, "weights", tuple(vector("weights", self.weights).tolist()))

    def check_dimension(self, dim: int) -> None:
        if len(self.weights) != dim:
            raise ParameterError("weights", f"has {len(self.weights)} entries but the model has {dim} assets")

    def weighted(self, prices: tf.Tensor) -> tf.Tensor:
        return prices * tf.constant(self.weights, prices.dtype)


def _best(prices: tf.Tensor) -> tf.Tensor:
    return tf.reduce_max(prices, axis=1, keepdims=True)


def _worst(prices: tf.Tensor) -> tf.Tensor:
    return tf.reduce_min(prices, axis=1, keepdims=True)


@dataclass(frozen=True)
class MaxCall(Payoff):
    """max(max_i S_i - strike, 0): a call on the best of the assets."""

    kind: ClassVar[str] = "max_call"
    strike: float

    def network(self, dim):
        return relu_networks.max_call(dim, self.strike)

    def __call__(self, prices):
        return tf.nn.relu(_best(prices) - self.strike)


@dataclass(frozen=True)
class MinPut(Payoff):
    """max(strike - min_i S_i, 0): a put on the worst of the assets."""

    kind: ClassVar[str] = "min_put"
    strike: float

    def network(self, dim):
        return relu_networks.min_put(dim, self.strike)

    def __call__(self, prices):
        return tf.nn.relu(self.strike - _worst(prices))


@dataclass(frozen=True)
class BestOfCall(_Weighted):
    """max(max_i w_i S_i - strike, 0); with w_i = 1 / S_i(0) a call on the best performance."""

    kind: ClassVar[str] = "best_of_call"
    strike: float

    def network(self, dim):
        return relu_networks.max_call(dim, self.strike, self.weights)

    def __call__(self, prices):
        return tf.nn.relu(_best(self.weighted(prices)) - self.strike)


@dataclass(frozen=True)
class WorstOfPut(_Weighted):
    """max(strike - min_i w_i S_i, 0); with w_i = 1 / S_i(0) a put on the worst performance."""

    kind: ClassVar[str] = "worst_of_put"
    strike: float

    def network(self, dim):
        return relu_networks.min_put(dim, self.strike, self.weights)

    def __call__(self, prices):
        return tf.nn.relu(self.strike - _worst(self.weighted(prices)))


@dataclass(frozen=True)
class CallSpreadOnMax(Payoff):
    """max(M - strike_low, 0) - ratio * max(M - strike_high, 0), M = max_i S_i.

    ratio 2 with strikes 120 and 150 is the payoff of the published
    Black-Scholes equation with different interest rates.
    """

    kind: ClassVar[str] = "call_spread_on_max"
    strike_fields: ClassVar[tuple[str, ...]] = ("strike_low", "strike_high")
    strike_low: float
    strike_high: float
    ratio: float = 2.0

    def __post_init__(self):
        super().__post_init__()
        object.__setattr__(self, "ratio", finite("ratio", self.ratio))
        if not self.strike_low < self.strike_high:
            raise ParameterError("strike_high", f"must exceed strike_low = {self.strike_low}, "
                                                f"got {self.strike_high}")

    def network(self, dim):
        return relu_networks.call_spread_on_max(dim, self.strike_low, self.strike_high, self.ratio)

    def __call__(self, prices):
        best = _best(prices)
        return tf.nn.relu(best - self.strike_low) - self.ratio * tf.nn.relu(best - self.strike_high)


@dataclass(frozen=True)
class BasketCall(_Weighted):
    """max(sum_i w_i S_i - strike, 0)."""

    kind: ClassVar[str] = "basket_call"
    strike: float

    def network(self, dim):
        return relu_networks.basket_call(self.weights, self.strike)

    def __call__(self, prices):
        return tf.nn.relu(tf.reduce_sum(self.weighted(prices), axis=1, keepdims=True) - self.strike)


#: kind -> payoff class, for the equation parameter `payoff`.
PAYOFFS: dict[str, type[Payoff]] = {cls.kind: cls for cls in
                                    (MaxCall, MinPut, BestOfCall, WorstOfPut, CallSpreadOnMax, BasketCall)}


def payoff_fields(kind: str) -> list[str]:
    """The parameters of the payoff named `kind` (ParameterError "payoff" for an unknown one)."""
    if kind not in PAYOFFS:
        raise ParameterError("payoff", f"unknown payoff {kind!r}; known payoffs: {', '.join(sorted(PAYOFFS))}")
    return [field.name for field in dataclasses.fields(PAYOFFS[kind])]


def payoff_from_params(params: Mapping[str, Any]) -> Payoff:
    """The payoff named by params["payoff"], built from the parameters of its fields."""
    kind = params["payoff"]
    return PAYOFFS[kind](**{name: params[name] for name in payoff_fields(kind)})


def checked_option(payoff: Any, model: Any) -> tuple[Payoff, BlackScholesModel]:
    """(payoff, model) when they are a Payoff and a BlackScholesModel that fit each other
    (the pricing APIs' first check); ParameterError naming the field otherwise."""
    if not isinstance(payoff, Payoff):
        raise ParameterError("payoff", f"must be a deepbsde.payoffs.Payoff (e.g. MaxCall(100.0)), got {shown(payoff)}")
    model = checked_model(model)
    payoff.check_dimension(model.dim)
    return payoff, model
