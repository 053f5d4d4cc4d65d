"""Train once, price a book: prices, deltas and vegas over a region of spots and a range of parameters.

    from deepbsde import price_function
    from deepbsde.market import BlackScholesModel
    from deepbsde.payoffs import MaxCall

    model = BlackScholesModel(spots=[100.0] * 10, rate=0.05, volatilities=0.2)
    book = price_function(MaxCall(100.0), model, maturity=1.0, spot_range=(80.0, 120.0),
                          volatility_range=(0.15, 0.25))
    book.price(spots, volatility=0.18), book.deltas(spots), book.vegas(spots)   # spots: [n, d]
    book.estimate(spots, volatility=0.18, paths=2**15)                          # with 95% half-widths
    book.check(num_points=30, paths=10**6)                                      # against Monte Carlo

One region solve (deepbsde.solver.region) of the Black-Scholes equation with
the spots drawn uniformly from the box spot_range^d and the volatility (one
for all assets) and the rate drawn from their ranges, fed to every network.
As in `price`, the PDE is solved in units of the strike. `price`, `deltas`,
`vegas` and `rhos` are the trained price network and its derivatives by
automatic differentiation (instant, but only as good as the training);
`estimate` is Monte Carlo from each point with the trained networks as
control variates (deepbsde.checks.control_variate.RegionControlVariate):
unbiased whatever the networks, with 95% half-widths that the networks narrow.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from deepbsde.checks.control_variate import RegionControlVariate
from deepbsde.errors import ParameterError
from deepbsde.finance.market import BlackScholesModel
from deepbsde.finance.payoffs import Payoff, checked_option, payoff_from_params
from deepbsde.pricing.european import PRICING_TIME_STEPS
from deepbsde.reference.black_scholes_mc import black_scholes_deltas, black_scholes_price
from deepbsde.solver.history import HistoryRecord
from deepbsde.solver.options import SolverOptions
from deepbsde.solver.parametric import BlackScholesRegion
from deepbsde.solver.region import RegionTrainer
from deepbsde.solver.regions import ParameterRanges, Region
from deepbsde.validation import positive, positive_int, vector

#: Solver options of `price_function` unless overridden (measured in docs/region.md): twice the
#: batch and twice the steps of `price`, the same learning-rate phases stretched, and wider networks
#: (the default d + k + 10 = 21 units left 3% price errors over the 10-asset box, 64 left 1.7%).
BOOK_OPTIONS: dict[str, Any] = {"iterations": 5000, "batch_size": 1024, "learning_rates": [1e-2, 1e-3, 1e-4, 1e-5],
                                "lr_boundaries": [1000, 2500, 4000], "hidden_widths": [64, 64], "dtype": "float32",
                                "log_every": 500}
#: Relative bump of the volatility in the Monte Carlo finite-difference vega of `check`.
VEGA_BUMP = 0.01
#: Fresh paths per point of `PriceFunction.estimate` unless given.
ESTIMATE_PATHS = 2 ** 15


class PrintedRecords:
    """A training observer that prints each history record (`train(verbose=True)`)."""

    def on_record(self, record: HistoryRecord, total_iterations: int) -> None:
        print(f"step {record.step}/{total_iterations}  loss {record.loss:.4e}  value {record.value:.6g}  "
              f"lr {record.learning_rate:.1e}  {record.elapsed:.1f} s", flush=True)

    def on_checkpoint(self, step: int) -> None:
        """Nothing to save: a price function is saved by `save`."""


@dataclass(frozen=True)
class BookEstimate:
    """`PriceFunction.estimate`: control-variate Monte Carlo at n points with 95% half-widths.

    prices [n], deltas [n, d], vegas / rhos [n] (None without the range);
    variance_ratio [n]: the part of the payoff's variance left by the trained
    networks as control variates; paths per point.
    """

    prices: np.ndarray
    price_half_widths: np.ndarray
    deltas: np.ndarray
    delta_half_widths: np.ndarray
    vegas: np.ndarray | None
    vega_half_widths: np.ndarray | None
    rhos: np.ndarray | None
    rho_half_widths: np.ndarray | None
    variance_ratio: np.ndarray
    paths: int

    def columns(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """(values [n], 95% half-widths [n]) by the name of the price function's output: price, delta_1..delta_d,
        and vega / rho where the book has that range."""
        named = {"price": (self.prices, self.price_half_widths),
                 **{f"delta_{i + 1}": (self.deltas[:, i], self.delta_half_widths[:, i])
                    for i in range(self.deltas.shape[1])}}
        for name, values, half_widths in (("vega", self.vegas, self.vega_half_widths),
                                          ("rho", self.rhos, self.rho_half_widths)):
            if values is not None and half_widths is not None:
                named[name] = (values, half_widths)
        return named


def relative_errors(values: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """|values / reference - 1|, elementwise."""
    return np.abs(values / reference - 1.0)


@dataclass(frozen=True)
class BookCheck:
    """`PriceFunction.check`: network against Monte Carlo at random points of the region.

    spots [n, d], volatility [n], rate [n]; price, reference_price and its
    95% half-width [n]; deltas, reference_deltas and half-widths [n, d]; vegas,
    reference_vegas (central finite differences with common random numbers) and
    their half-widths [n] (None without a volatility range).
    """

    spots: np.ndarray
    volatility: np.ndarray
    rate: np.ndarray
    price: np.ndarray
    reference_price: np.ndarray
    price_half_width: np.ndarray
    deltas: np.ndarray
    reference_deltas: np.ndarray
    delta_half_widths: np.ndarray
    vegas: np.ndarray | None
    reference_vegas: np.ndarray | None
    vega_half_widths: np.ndarray | None
    estimate: BookEstimate | None = None

    @property
    def price_rel_errors(self) -> np.ndarray:
        """|price / reference - 1| per point (the network)."""
        return relative_errors(self.price, self.reference_price)

    @property
    def delta_rel_errors(self) -> np.ndarray:
        """|delta_i / reference delta_i - 1| per point and asset (the network)."""
        return relative_errors(self.deltas, self.reference_deltas)

    @property
    def vega_rel_errors(self) -> np.ndarray | None:
        """|vega / reference vega - 1| per point (the network), None without a volatility range."""
        if self.vegas is None or self.reference_vegas is None:
            return None
        return relative_errors(self.vegas, self.reference_vegas)


class PriceFunction:
    """A trained price over spots in a box and parameters in ranges; see the module docstring."""

    def __init__(self, payoff: Payoff, model: BlackScholesModel, maturity: float, spot_range: Any,
                 volatility_range: Any = None, rate_range: Any = None, time_steps: int = PRICING_TIME_STEPS,
                 **solver_options: Any):
        payoff, model = checked_option(payoff, model)
        self.payoff, self.model = payoff, model
        self.maturity = positive("maturity", maturity)
        self.time_steps = positive_int("time_steps", time_steps)
        low, high = _bounds("spot_range", spot_range, model.dim)
        if np.any(low <= 0):
            raise ParameterError("spot_range", f"must be positive, got {spot_range!r}")
        self.spot_region = Region.box(low, high, model.dim)
        ranges: dict[str, Any] = {}
        for name, given in (("volatility", volatility_range), ("rate", rate_range)):
            if given is not None:
                bounds = _bounds(f"{name}_range", given, 1)
                ranges[name] = [float(bounds[0][0]), float(bounds[1][0])]
        if "volatility" in ranges and ranges["volatility"][0] <= 0:
            raise ParameterError("volatility_range", f"must be positive, got {volatility_range!r}")
        self.ranges = ParameterRanges.from_mapping(ranges)
        self.options = SolverOptions.from_mapping({**BOOK_OPTIONS, **solver_options}, section="options")
        self.unit = payoff.unit
        scaled_region = Region.box(low / self.unit, high / self.unit, model.dim)
        problem = BlackScholesRegion(payoff.scaled(1.0 / self.unit), model.scaled(1.0 / self.unit), self.maturity,
                                     self.time_steps, scaled_region, self.ranges)
        self.trainer = RegionTrainer(problem, self.options)
        self.control_variate = RegionControlVariate(self.trainer.model)
        self.history: list = []
        self.timings: dict[str, float] = {}

    def train(self, verbose: bool = False) -> PriceFunction:
        """Trains (once); returns self. verbose prints a line per history record."""
        self.history, self.timings = self.trainer.run([PrintedRecords()] if verbose else [])
        return self

    def _given(self, volatility: Any, rate: Any) -> dict[str, Any]:
        """The parameters with a range among volatility and rate; a fixed one must equal the model's value."""
        given = {name: value for name, value in (("volatility", volatility), ("rate", rate)) if value is not None}
        fixed = {"volatility": self.model.volatilities, "rate": self.model.rate}
        for name in set(given) - set(self.ranges.names):
            if not np.allclose(given[name], fixed[name]):
                raise ParameterError(name, f"was fixed at {fixed[name]} for training; give a {name}_range to vary it")
            del given[name]
        return given

    def _evaluate(self, spots: Any, volatility: Any, rate: Any) -> dict[str, np.ndarray]:
        points = np.asarray(spots, np.float64)
        return self.trainer.solution.evaluate(points / self.unit, self._given(volatility, rate))

    def estimate(self, spots: Any, volatility: Any = None, rate: Any = None, *, paths: int = ESTIMATE_PATHS,
                 seed: int = 0) -> BookEstimate:
        """Prices, deltas, vegas and rhos at spots [n, d] by Monte Carlo with the trained networks as control
        variates, with 95% half-widths (deepbsde.checks.control_variate): `paths` fresh paths per point,
        all points at once. Unbiased whatever the networks (exact simulation of the model); the better
        they are, the narrower the intervals. volatility, rate as for `price`."""
        x, p = self.trainer.solution.inputs(np.asarray(spots, np.float64) / self.unit, self._given(volatility, rate))
        result = self.control_variate.estimate(x.numpy().astype(np.float64), p.numpy().astype(np.float64),
                                               paths=paths, seed=seed)
        sensitivities: dict[str, tuple[np.ndarray | None, np.ndarray | None]] = {}
        for name in ("volatility", "rate"):
            column = self.ranges.names.index(name) if name in self.ranges.names else None
            sensitivities[name] = (None, None) if column is None else (
                self.unit * result.sensitivities[:, column], self.unit * result.sensitivity_half_widths[:, column])
        return BookEstimate(self.unit * result.value, self.unit * result.value_half_widths, result.gradient,
                            result.gradient_half_widths, *sensitivities["volatility"], *sensitivities["rate"],
                            result.variance_ratio, result.paths)

    def price(self, spots: Any, volatility: Any = None, rate: Any = None) -> np.ndarray:
        """Prices at spots [n, d] (or one point [d]), shape [n]; volatility, rate: a number or [n]
        values inside their ranges (None: the range's midpoint, or the model's value without a range)."""
        return self.unit * self._evaluate(spots, volatility, rate)["u"]

    def deltas(self, spots: Any, volatility: Any = None, rate: Any = None) -> np.ndarray:
        """d price / d S_i at each point, shape [n, d] (the price network's gradient)."""
        return self._evaluate(spots, volatility, rate)["grad_x"]

    def vegas(self, spots: Any, volatility: Any = None, rate: Any = None) -> np.ndarray:
        """d price / d volatility (all assets' volatility moved together), shape [n]."""
        return self._sensitivity("volatility", spots, volatility, rate)

    def rhos(self, spots: Any, volatility: Any = None, rate: Any = None) -> np.ndarray:
        """d price / d rate, shape [n]."""
        return self._sensitivity("rate", spots, volatility, rate)

    def _sensitivity(self, name: str, spots: Any, volatility: Any, rate: Any) -> np.ndarray:
        if name not in self.ranges.names:
            raise ParameterError(f"{name}_range", f"was not given, so the price has no {name} sensitivity")
        return self.unit * self._evaluate(spots, volatility, rate)["grad_p"][:, self.ranges.names.index(name)]

    def sample_points(self, num_points: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Uniform random spots [n, d], volatilities [n] and rates [n] of the training region."""
        rng = np.random.default_rng(seed)
        spots = rng.uniform(self.spot_region.low, self.spot_region.high, (num_points, self.model.dim))
        columns = {name: rng.uniform(lo, hi, num_points)
                   for name, lo, hi in zip(self.ranges.names, self.ranges.low, self.ranges.high)}
        volatility = columns.get("volatility", np.full(num_points, np.nan))
        rate = columns.get("rate", np.full(num_points, self.model.rate))
        return spots, volatility, rate

    def check(self, num_points: int = 30, paths: int = 10 ** 6, seed: int = 0,
              estimate_paths: int | None = ESTIMATE_PATHS) -> BookCheck:
        """Prices, deltas and vegas at num_points random points of the region against Monte Carlo
        (exact simulation, antithetic, `paths` paths per point; vegas by central differences of
        bump VEGA_BUMP * volatility with common random numbers): the network's, and the control-variate
        `estimate` with estimate_paths paths per point (None: the network alone)."""
        num_points = positive_int("num_points", num_points)
        spots, volatility, rate = self.sample_points(num_points, seed)
        has_vol = "volatility" in self.ranges.names
        vol_arg = volatility if has_vol else None
        rate_arg = rate if "rate" in self.ranges.names else None
        rows: dict[str, list] = {k: [] for k in ("price", "half", "deltas", "delta_half", "vega", "vega_half")}
        for i in range(num_points):
            vols = volatility[i] if has_vol else self.model.volatilities
            market = self.market(spots[i], vols, rate[i])
            estimate = black_scholes_price(self.payoff, market, self.maturity, num_paths=paths, seed=seed + 1 + i)
            deltas, delta_half = black_scholes_deltas(self.payoff, market, self.maturity, num_paths=paths,
                                                      seed=seed + 1 + i)
            rows["price"].append(estimate.value)
            rows["half"].append(estimate.half_width)
            rows["deltas"].append(deltas)
            rows["delta_half"].append(delta_half)
            if has_vol:
                vega, half = self._reference_vega(spots[i], volatility[i], rate[i], paths, seed + 1 + i)
                rows["vega"].append(vega)
                rows["vega_half"].append(half)
        refined = None if estimate_paths is None else self.estimate(spots, vol_arg, rate_arg, paths=estimate_paths,
                                                                    seed=seed)
        return BookCheck(spots, volatility, rate, self.price(spots, vol_arg, rate_arg), np.array(rows["price"]),
                         np.array(rows["half"]), self.deltas(spots, vol_arg, rate_arg), np.array(rows["deltas"]),
                         np.array(rows["delta_half"]), self.vegas(spots, vol_arg, rate_arg) if has_vol else None,
                         np.array(rows["vega"]) if has_vol else None, np.array(rows["vega_half"]) if has_vol else None,
                         refined)

    def market(self, spots: np.ndarray, volatilities: Any, rate: float) -> BlackScholesModel:
        """The book's model (dividends, correlation) at these spots, volatilities and rate."""
        return BlackScholesModel(spots, rate, volatilities, self.model.dividend_yields, self.model.correlation)

    def _reference_vega(self, spots: np.ndarray, volatility: float, rate: float, paths: int,
                        seed: int) -> tuple[float, float]:
        """Central difference of Monte Carlo prices at volatility (1 +- VEGA_BUMP) on common random
        numbers, with its 95% half-width: each path's normals are recovered from its terminal prices at
        `volatility` and re-used at both bumped volatilities, so the interval is the difference's own."""
        market = self.market(spots, volatility, rate)
        bump = VEGA_BUMP * volatility
        spot_row = tf.constant(market.spots[np.newaxis], tf.float64)
        drift = (rate - market.dividend_yields) * self.maturity

        def difference(terminal: tf.Tensor) -> tf.Tensor:
            # log(S_T / S_0) = drift - vol^2 T / 2 + vol W_T: recover W_T, then move vol alone
            spots_t = tf.cast(spot_row, terminal.dtype)
            brownian = (tf.math.log(terminal / spots_t) - drift + 0.5 * volatility ** 2 * self.maturity) / volatility
            bumped = [self.payoff(spots_t * tf.exp(drift - 0.5 * v ** 2 * self.maturity + v * brownian))
                      for v in (volatility + bump, volatility - bump)]
            return (bumped[0] - bumped[1]) / (2 * bump)

        estimate = black_scholes_price(difference, market, self.maturity, num_paths=paths, seed=seed)
        return estimate.value, estimate.half_width

    def save(self, directory: str | Path) -> Path:
        """Writes book.json (the problem and options) and the trained weights into directory."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        model = self.model
        description = {
            "payoff": self.payoff.to_params(),
            "model": {"spots": model.spots.tolist(), "rate": model.rate, "volatilities": model.volatilities.tolist(),
                      "dividend_yields": model.dividend_yields.tolist(),
                      "correlation": None if model.correlation is None else model.correlation.tolist()},
            "maturity": self.maturity, "time_steps": self.time_steps,
            "spot_range": [self.spot_region.low.tolist(), self.spot_region.high.tolist()],
            "ranges": self.ranges.to_mapping(), "options": self.options.to_dict(), "timings": self.timings,
        }
        (directory / "book.json").write_text(json.dumps(description, indent=2) + "\n")
        tf.train.Checkpoint(model=self.trainer.model).write(str(directory / "weights"))
        return directory


def price_function(payoff: Payoff, model: BlackScholesModel, maturity: float, *, spot_range: Any,
                   volatility_range: Any = None, rate_range: Any = None, time_steps: int = PRICING_TIME_STEPS,
                   verbose: bool = False, **solver_options: Any) -> PriceFunction:
    """Trains one network for the price of `payoff` over spots in spot_range and parameters in their ranges.

    spot_range: (low, high), numbers for every asset or one per asset;
    volatility_range, rate_range: (low, high) or None (model's value, fixed).
    model gives the dimension, dividend yields and correlation (and the fixed
    values). solver_options override BOOK_OPTIONS. Inputs are validated
    before any training; errors are ParameterErrors naming the field.
    """
    return PriceFunction(payoff, model, maturity, spot_range, volatility_range, rate_range, time_steps,
                         **solver_options).train(verbose)


def load_price_function(directory: str | Path) -> PriceFunction:
    """A PriceFunction saved by PriceFunction.save, with its weights, without training."""
    directory = Path(directory)
    path = directory / "book.json"
    if not path.is_file():
        raise ParameterError("directory", f"{directory} holds no book.json (not a saved price function)")
    saved = json.loads(path.read_text())
    market = saved["model"]
    model = BlackScholesModel(market["spots"], market["rate"], market["volatilities"], market["dividend_yields"],
                              market["correlation"])
    ranges = saved["ranges"]
    book = PriceFunction(payoff_from_params(saved["payoff"]), model, saved["maturity"], saved["spot_range"],
                         ranges.get("volatility"), ranges.get("rate"), saved["time_steps"], **saved["options"])
    tf.train.Checkpoint(model=book.trainer.model).read(str(directory / "weights")).expect_partial()
    book.timings = saved["timings"]
    return book


def _bounds(field: str, value: Any, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """(low [dim], high [dim]) from (low, high), each a number or one per coordinate; low < high."""
    if not isinstance(value, Sequence | np.ndarray) or len(value) != 2:
        raise ParameterError(field, f"must be (low, high), got {value!r}")
    low, high = vector(field, value[0], dim), vector(field, value[1], dim)
    if np.any(low >= high):
        raise ParameterError(field, f"needs low < high, got {value!r}")
    return low, high
