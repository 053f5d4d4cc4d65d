"""Bermudan and American options in the pricing API, with certified price bounds.

    from deepbsde.pricing.early_exercise import Bermudan, American, price_early_exercise
    result = price_early_exercise(MaxCall(100), BlackScholesModel([100, 100], 0.05, 0.2, 0.1), 3.0,
                                  Bermudan([k / 3 for k in range(10)]), seed=0)
    result.interval   # 95%: [lower - 1.96 s_L, upper + 1.96 s_U]

The method (deep optimal stopping, lower bound on fresh paths, Andersen-Broadie
dual upper bound) is in `deepbsde.pricing.optimal_stopping`; the hedge that
reduces the noise of the upper bound in `deepbsde.pricing.continuation`.
"""
from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf

from deepbsde.errors import ConfigError, ParameterError
from deepbsde.finance.market import BlackScholesModel
from deepbsde.finance.payoffs import Payoff, checked_option, payoff_from_params
from deepbsde.pricing import continuation, optimal_stopping
from deepbsde.reference.estimate import Z_95
from deepbsde.validation import integer, positive, positive_int, shown, vector


@dataclass(frozen=True)
class Bermudan:
    """Exercise on the given dates (strictly increasing, >= 0; t = 0 allowed).
    The dates must lie in [0, maturity], which the pricer checks."""

    dates: Any

    def __post_init__(self):
        dates = vector("dates", self.dates)
        if np.any(dates < 0):
            raise ParameterError("dates", f"must be >= 0, got {dates.tolist()}")
        if np.any(np.diff(dates) <= 0):
            raise ParameterError("dates", f"must increase strictly, got {dates.tolist()}")
        object.__setattr__(self, "dates", tuple(dates.tolist()))

    def exercise_dates(self, maturity: float) -> np.ndarray:
        """The dates as an array, checked against the maturity."""
        if self.dates[-1] > maturity * (1 + 1e-12):
            raise ParameterError("dates", f"must not exceed the maturity {maturity}, got {self.dates[-1]}")
        return np.asarray(self.dates)


@dataclass(frozen=True)
class American:
    """American exercise approximated by a Bermudan on `steps` equal steps:
    dates 0, T/steps, ..., T."""

    steps: int

    def __post_init__(self):
        object.__setattr__(self, "steps", positive_int("steps", self.steps))

    def exercise_dates(self, maturity: float) -> np.ndarray:
        """The steps + 1 grid dates 0, T/steps, ..., T."""
        return np.linspace(0.0, maturity, self.steps + 1)


@dataclass(frozen=True)
class EarlyExercisePrice:
    """A certified early-exercise price.

    lower / upper: Monte Carlo estimates of a lower bound (the learned rule on
    fresh paths) and an upper bound (dual martingale) of the price, with
    their standard errors; interval: [lower - 1.96 s_L, upper + 1.96 s_U],
    which holds the price with probability >= 95% (two one-sided 97.5% bounds);
    price: the midpoint of the bounds. exercise_dates / exercise_probability:
    the grid dates and the fraction of paths the rule stops at each.
    deltas: d price / d S_i(0) with standard errors, see `deltas_method`.
    timings: seconds per phase.
    """

    lower: float
    lower_std_error: float
    upper: float
    upper_std_error: float
    exercise_dates: np.ndarray
    exercise_probability: np.ndarray
    deltas: np.ndarray
    delta_std_errors: np.ndarray
    deltas_method: str
    timings: dict[str, float]

    @property
    def price(self) -> float:
        """Point estimate: the midpoint of the two bounds."""
        return 0.5 * (self.lower + self.upper)

    @property
    def interval(self) -> tuple[float, float]:
        """95% confidence interval for the price."""
        return self.lower - Z_95 * self.lower_std_error, self.upper + Z_95 * self.upper_std_error


def price_early_exercise(payoff: Payoff, model: BlackScholesModel, maturity: float, exercise: Bermudan | American,
                         *, seed: int = 0, training_paths: int = 2 ** 17, training_steps: int = 500,
                         batch_size: int = 8192, hidden: int | None = None, lower_paths: int = 2 ** 20,
                         outer_paths: int = 1000, inner_paths: int = 1000, hedge: bool = True,
                         regression_paths: int = 2 ** 16, regression_steps: int = 2000,
                         dtype: tf.DType = tf.float32) -> EarlyExercisePrice:
    """Price of the option paying payoff(S_t) when exercised at an allowed date t.

    Deep optimal stopping on `training_paths` paths (`training_steps` Adam
    steps per date, networks of width `hidden`, default d + 40), then the
    lower bound on `lower_paths` fresh paths and the Andersen-Broadie upper
    bound with `outer_paths` x `inner_paths` nested paths. With `hedge`, a
    continuation value fitted on `regression_paths` fresh paths
    (`regression_steps` Adam steps) gives the inner paths of the upper bound
    a hedge as control variate (`deepbsde.pricing.continuation`); without
    it they use a fixed multiple of the asset prices' increment. Fixed
    `seed`, fixed result.
    """
    payoff, model = checked_option(payoff, model)
    if not isinstance(exercise, (Bermudan, American)):
        raise ParameterError("exercise", f"must be Bermudan(dates) or American(steps), got {exercise!r}")
    maturity = positive("maturity", maturity)
    seed = integer("seed", seed)
    dates = exercise.exercise_dates(maturity)
    problem = optimal_stopping.StoppingProblem.build(payoff, model, dates, payoff.unit)
    timings = {}
    start = time.perf_counter()
    policy = optimal_stopping.train_policy(problem, seed=seed, paths=positive_int("training_paths", training_paths),
                                           steps=positive_int("training_steps", training_steps),
                                           batch_size=positive_int("batch_size", batch_size),
                                           hidden=None if hidden is None else positive_int("hidden", hidden),
                                           dtype=dtype)
    timings["training"] = time.perf_counter() - start
    start = time.perf_counter()
    lower = optimal_stopping.lower_bound(policy, seed=seed, paths=positive_int("lower_paths", lower_paths, 2),
                                         dtype=dtype)
    timings["lower_bound"] = time.perf_counter() - start
    hedge_ratio = None
    if hedge and problem.steps > 1:  # with one step there is no later date to learn the hedge from
        start = time.perf_counter()
        hedge_ratio = continuation.fitted_hedge(policy, seed=seed,
                                                paths=positive_int("regression_paths", regression_paths),
                                                steps=positive_int("regression_steps", regression_steps),
                                                dtype=dtype)
        timings["regression"] = time.perf_counter() - start
    start = time.perf_counter()
    upper, upper_error = optimal_stopping.upper_bound(policy, seed=seed,
                                                      outer_paths=positive_int("outer_paths", outer_paths, 2),
                                                      inner_paths=positive_int("inner_paths", inner_paths),
                                                      hedge=hedge_ratio, dtype=dtype)
    timings["upper_bound"] = time.perf_counter() - start
    # the grid may start with t = 0 as a non-exercise time: report the exercise dates only
    on_dates = problem.exercisable
    return EarlyExercisePrice(
        lower=lower.mean, lower_std_error=lower.std_error, upper=upper, upper_std_error=upper_error,
        exercise_dates=problem.times[on_dates], exercise_probability=lower.exercise_probability[on_dates],
        deltas=lower.deltas, delta_std_errors=lower.delta_std_errors,
        deltas_method="pathwise on the lower-bound paths, each path's exercise date held fixed",
        timings=timings)


@dataclass(frozen=True)
class EarlyExerciseJob:
    """A `kind: bermudan` configuration: what `price_early_exercise` is called with."""

    payoff: Payoff
    model: BlackScholesModel
    maturity: float
    exercise: Bermudan | American
    options: dict[str, Any]
    published: float | None = None

    def run(self) -> EarlyExercisePrice:
        """Prices the option."""
        return price_early_exercise(self.payoff, self.model, self.maturity, self.exercise, **self.options)


def early_exercise_job(config: Mapping[str, Any]) -> EarlyExerciseJob:
    """The job of a parsed `kind: bermudan` YAML document (sections market, payoff,
    exercise, solver; see configs/bermudan_max_call.yaml); errors are ConfigErrors
    naming the dotted field."""
    known = {"kind", "market", "payoff", "exercise", "solver", "published"}
    unknown = sorted(set(config) - known)
    if unknown:
        raise ConfigError(unknown[0], f"unknown section; known sections: {', '.join(sorted(known))}")
    sections = {}
    for name in ("market", "payoff", "exercise", "solver"):
        section = config.get(name) or {}
        if not isinstance(section, Mapping):
            raise ConfigError(name, f"must be a mapping, got {shown(section)}")
        sections[name] = dict(section)
    try:
        model = BlackScholesModel(**sections["market"])
    except ParameterError as error:
        raise ConfigError(f"market.{error.field}", error.reason) from None
    except TypeError as error:
        raise ConfigError("market", str(error)) from None
    try:
        payoff = payoff_from_params(sections["payoff"])
    except ParameterError as error:
        raise ConfigError(f"payoff.{error.field}", error.reason) from None
    except KeyError as error:
        raise ConfigError(f"payoff.{error.args[0]}", "missing") from None
    exercise_section = sections["exercise"]
    style = exercise_section.pop("style", None)
    try:
        maturity = positive("maturity", exercise_section.pop("maturity", None))
        if style == "american":
            exercise: Bermudan | American = American(**exercise_section)
        elif style == "bermudan" and "equally_spaced" in exercise_section:
            count = positive_int("equally_spaced", exercise_section["equally_spaced"])
            exercise = Bermudan(np.linspace(0.0, maturity, count + 1).tolist())
        elif style == "bermudan":
            exercise = Bermudan(**exercise_section)
        else:
            raise ParameterError("style", f"must be 'bermudan' or 'american', got {shown(style)}")
    except ParameterError as error:
        raise ConfigError(f"exercise.{error.field}", error.reason) from None
    except TypeError as error:
        raise ConfigError("exercise", str(error)) from None
    published = config.get("published")
    return EarlyExerciseJob(payoff, model, maturity, exercise, sections["solver"],
                            None if published is None else float(published))
