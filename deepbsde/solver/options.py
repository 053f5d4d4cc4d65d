"""The solver's training options, validated field by field against their declared types.

Every error is a ConfigError naming `section.field`, e.g. `solver.batch_size`.
"""
from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from deepbsde.errors import ConfigError, ParameterError
from deepbsde.validation import coerce, shown

DTYPES = ("float32", "float64")
PRESETS = ("robust", "paper")
LINEAR_TERMS = ("diagonal", "full", "none")
TIME_SCHEMES = ("euler", "heun")


@dataclass(frozen=True)
class SolverOptions:
    """Training options of the deep BSDE solver.

    hidden_widths None means the reference's [d + 10, d + 10]; y0_range None
    means the equation's own initial range for Y_0. learning_rates has one
    more entry than lr_boundaries (piecewise constant in the step).
    checkpoint_every applies when the run has an output folder (0: only at
    the end and on interruption); max_loss None means only NaN/inf diverge.
    devices None trains on the default device; a list of device names (e.g.
    ["/gpu:0", "/gpu:1"]) splits each batch across them (data parallel).
    shared_network uses one network of (t, x) for all time steps;
    mixed_precision runs the matmuls in bfloat16 (needs dtype float32).
    steps_per_call: training steps per compiled call (a loop in the graph,
    one host round trip); the batches and the result do not depend on it.
    rolled_time_loop: the Y recursion as a tf.while_loop over the time steps
    (a graph whose size does not grow with N) instead of unrolled; None takes
    the preset's choice: rolled for robust wherever f takes the time t as a
    tensor (`Equation.takes_time_as_tensor`; an f computing on t with numpy
    cannot), unrolled for paper.
    linear_term (robust preset): the linear term beside each network,
    "diagonal" (Z_i gets a_i times the normalised X_i: N d weights), "full"
    (a d x d matrix per step: N d^2 weights, the earlier default) or "none";
    true and false mean "full" and "none". terminal_gradient (robust
    preset): each Z_n also gets c_n * sigma^T grad g(X_n), the terminal
    condition's gradient at X_n, with a trained coefficient c_n per step and
    component.
    increments_dtype: the precision in which the training batches' Brownian
    increments are drawn before the cast to dtype; null draws them in dtype.
    float32 by default: drawing normals in float64 takes about a fifth of a
    float64 training step, and the increments' 7 digits lie far below the
    Monte Carlo and time-grid errors (docs/benchmarks.md). Validation paths
    and every check are drawn in dtype.
    preset "paper" is the PNAS 2018 set-up (Y_0 in the equation's range,
    batch norm, Z = net / d); "robust" starts from pilot-path estimates of
    the problem's scales (deepbsde.solver.model, deepbsde.solver.initialization).
    batch_norm None takes the preset's choice; continuation is the fraction
    of the iterations over which Z's weight inside f rises from 0 to 1. In the
    robust preset a single learning rate with no boundaries starts an adaptive
    schedule (deepbsde.solver.adaptive): tenfold drops when the value settles
    and a stop after the last, iterations being the cap.
    time_scheme: how the Y recursion integrates f over a time step, "euler"
    (f at t_n, the paper's scheme) or "heun" (the mean of f at t_n and at
    t_{n+1} with an Euler predictor for Y_{n+1} and the next network's Z,
    Z_N being sigma^T grad g(X_N): the drift's error of order dt^2 per step
    rather than dt, docs/method.md, section 2); None takes the preset's
    choice (robust: heun, paper: euler). Z_n . dW_n is the same in both. The
    region solver (deepbsde.solver.region) takes Euler steps whatever this says.
    tamed_drift (robust preset): each step's drift increment a = f dt becomes
    a (1 + (a / c)^4)^(-1/4), c the pilot's size of Y, so that an f growing
    faster than linearly in y cannot run Y to infinity (docs/method.md,
    section 2); the paper preset's step is never tamed.
    tangent_refinement (robust preset): where the self-check finds Y_0 and a
    second-order estimate of u (the certified bound, the linearised value)
    apart, and f depends on z, the problem is solved again, afresh, under the
    tangent measure, in which the networks' error moves Y_0 only to second
    order; that result is kept if it passes the self-check, with the check under
    the original measure (deepbsde.runs.refinement, docs/method.md, section 10).
    """

    iterations: int = 6000
    batch_size: int = 64
    valid_size: int = 256
    learning_rates: list[float] = field(default_factory=lambda: [1e-2])
    lr_boundaries: list[int] = field(default_factory=list)
    hidden_widths: list[int] | None = None
    shared_network: bool = False
    y0_range: list[float] | None = None
    batch_norm: bool | None = None
    loss_clip: float = 50.0
    dtype: str = "float64"
    mixed_precision: bool = False
    seed: int = 1
    log_every: int = 100
    checkpoint_every: int = 500
    max_loss: float | None = None
    jit_compile: bool = True
    steps_per_call: int = 10
    rolled_time_loop: bool | None = None
    linear_term: bool | str = "diagonal"
    terminal_gradient: bool = True
    increments_dtype: str | None = "float32"
    devices: list[str] | None = None
    preset: str = "robust"
    continuation: float = 0.0
    time_scheme: str | None = None
    tamed_drift: bool = True
    tangent_refinement: bool = True

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], section: str = "solver") -> SolverOptions:
        """Validated options from a mapping; errors name `section.field`."""
        if not isinstance(values, Mapping):
            raise ConfigError(section, f"must be a mapping of options, got {shown(values)}")
        types = typing.get_type_hints(cls)
        unknown = sorted(set(values) - set(types))
        if unknown:
            raise ConfigError(f"{section}.{unknown[0]}",
                              f"unknown option; known options: {', '.join(sorted(types))}")
        resolved = {}
        for name, value in values.items():
            try:
                resolved[name] = coerce(name, value, types[name])
            except ParameterError as error:
                raise ConfigError(f"{section}.{name}", error.reason) from None
        options = cls(**resolved)
        options._check(section)
        return options

    def _check(self, section: str) -> None:
        def fail(name: str, reason: str) -> None:
            raise ConfigError(f"{section}.{name}", reason)

        for name in ("iterations", "batch_size", "valid_size", "log_every", "steps_per_call"):
            if getattr(self, name) <= 0:
                fail(name, f"must be a positive integer, got {getattr(self, name)}")
        if len(self.learning_rates) != len(self.lr_boundaries) + 1:
            fail("learning_rates", f"needs one more entry than lr_boundaries: got {len(self.learning_rates)} "
                                   f"rates for {len(self.lr_boundaries)} boundaries")
        if any(rate <= 0 for rate in self.learning_rates):
            fail("learning_rates", f"must all be positive, got {shown(self.learning_rates)}")
        if any(b <= 0 for b in self.lr_boundaries) or list(self.lr_boundaries) != sorted(set(self.lr_boundaries)):
            fail("lr_boundaries", f"must be positive and strictly increasing, got {shown(self.lr_boundaries)}")
        if self.hidden_widths is not None and any(w <= 0 for w in self.hidden_widths):
            fail("hidden_widths", f"must all be positive, got {shown(self.hidden_widths)}")
        if self.y0_range is not None and (len(self.y0_range) != 2 or self.y0_range[0] > self.y0_range[1]):
            fail("y0_range", f"must be [low, high] with low <= high, got {shown(self.y0_range)}")
        if self.checkpoint_every < 0:
            fail("checkpoint_every", f"must be 0 (off) or a positive integer, got {self.checkpoint_every}")
        if self.max_loss is not None and self.max_loss <= 0:
            fail("max_loss", f"must be positive or null, got {self.max_loss}")
        if self.loss_clip <= 0:
            fail("loss_clip", f"must be positive, got {self.loss_clip}")
        if self.devices is not None and not self.devices:
            fail("devices", "must be a non-empty list of strings (device names) or null (the default device)")
        if self.devices is not None and self.batch_size % len(self.devices):
            fail("batch_size", f"must be a multiple of the {len(self.devices)} devices, got {self.batch_size}")
        if not -2 ** 63 <= self.seed < 2 ** 63:
            fail("seed", f"must fit in a 64-bit integer (|seed| < 2**63), got {shown(self.seed)}")
        if self.dtype not in DTYPES:
            fail("dtype", f"must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        if self.increments_dtype is not None and self.increments_dtype not in DTYPES:
            fail("increments_dtype", f"must be one of {', '.join(DTYPES)} or null (dtype), "
                                     f"got {shown(self.increments_dtype)}")
        if self.preset not in PRESETS:
            fail("preset", f"must be one of {', '.join(PRESETS)}, got {shown(self.preset)}")
        if not 0 <= self.continuation < 1:
            fail("continuation", f"must be a fraction in [0, 1), got {self.continuation}")
        if isinstance(self.linear_term, str) and self.linear_term not in LINEAR_TERMS:
            fail("linear_term",
                 f"must be one of {', '.join(LINEAR_TERMS)} (or true / false), got {shown(self.linear_term)}")
        if self.time_scheme is not None and self.time_scheme not in TIME_SCHEMES:
            fail("time_scheme", f"must be one of {', '.join(TIME_SCHEMES)} or null (the preset's), "
                                f"got {shown(self.time_scheme)}")
        if self.mixed_precision and self.dtype != "float32":
            fail("mixed_precision", "needs dtype float32 (bfloat16 matmuls, float32 weights)")

    def to_dict(self) -> dict[str, Any]:
        """The options as a plain mapping (the `solver:` section of a configuration)."""
        return dataclasses.asdict(self)

    @property
    def uses_batch_norm(self) -> bool:
        """batch_norm, or the preset's choice (the paper's networks have it)."""
        return self.batch_norm if self.batch_norm is not None else self.preset == "paper"

    @property
    def scheme(self) -> str:
        """time_scheme, or the preset's choice (heun for robust, the paper's euler)."""
        return self.time_scheme or ("heun" if self.preset == "robust" else "euler")

    @property
    def sampling_dtype(self) -> str:
        """The dtype the training increments are drawn in: increments_dtype, else dtype."""
        return self.increments_dtype or self.dtype

    @property
    def linear_term_shape(self) -> str | None:
        """"diagonal", "full" or None: the robust preset's linear term (none in preset paper)."""
        if isinstance(self.linear_term, bool):
            shape = "full" if self.linear_term else "none"
        else:
            shape = self.linear_term
        return None if self.preset != "robust" or shape == "none" else shape

    @property
    def adaptive_schedule(self) -> bool:
        """True for the robust preset's adaptive learning rate (one rate, no boundaries)."""
        return self.preset == "robust" and not self.lr_boundaries and len(self.learning_rates) == 1
