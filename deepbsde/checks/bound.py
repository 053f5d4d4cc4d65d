"""A certified one-sided bound on u(0, x0) from the trained networks, for a generator f that is convex
or concave in (y, z).

Where f(t, x, ., .) is convex, every tangent plane lies below it: at any point (Y, Z),

    f(t, x, y, z) >= f(t, x, Y, Z) + a (y - Y) + b . (z - Z),   a = df/dy, b = df/dz there.

Choose the point along each path from the trained scheme (Y_n of its recursion, Z_n of its networks):
the linear equation with generator a_n y + b_n . z + c_n (c_n = f - a_n Y_n - b_n . Z_n) lies below f,
so by the comparison theorem for backward SDEs its solution lies below u. Its value has a closed form,

    v = E^Q[ G_T g(X_T) + int_0^T G_t c_t dt ],   G_t = exp(int_0^t a ds),

where under Q the driving Brownian motion is W~ = W - int b dt: X is simulated with the increments
dW_n = dW~_n + b_n dt (a Girsanov change of drift, which keeps the paths where the weights would
explode). Coefficients held constant over each time step are an admissible choice, and both of the
package's forward processes are simulated exactly, so the Monte Carlo estimate of v has no time-grid
bias: v <= u(0, x0) holds up to Monte Carlo noise alone, whatever the networks. So do coefficients
held over each of K sub-steps of a step, Z read from that step's network at the sub-step's X: the
control then follows the path within the step, which at HJB d = 100, lambda = 50 takes the tightened
bound from 5.0% above u(0, x0) to 2.0% (K = 4), 1.25% (K = 8) and 0.84% (K = 16). With f concave the
tangent lies above f and v >= u(0, x0). The closer the networks are to the solution, the tighter the
bound; for a linear f it is the control-variate price itself.

All of this holds as stated for an f of (y, z) alone (HJB, different rates). Where f also depends on t or
x (a source term), the tangent taken at (t_n, X_n) and held over the step lies below f at (t_n, X_n) only:
the bound then holds up to the change of f along the path within a step, a bias of order dt that
sub-steps shrink. Measured on quadratic_gradient (|z|^2 plus a source in (t, x); default options, float32,
seed 1): 0.012% +/- 0.011% below u(0, x0) on one sub-step, 0.004% +/- 0.007% above it on 4, 0.004%
+/- 0.005% below it on 16. On a coarse grid the bias matters: a held-out equation (d = 4, N = 10, f = -2 |z|
plus a source, concave) ended 1.39% above u(0, x0) by the grid's own error, and its upper bound on one
sub-step lay 1.43% above u, Y_0 inside it, so nothing was flagged; on 4 sub-steps it lies 0.48% above u
(16: 0.24%). So the bound's paths take sub-steps by default wherever f changes along the paths at a fixed
(y, z) (`bound_substeps`): at least BOUND_GRID_STEPS in all.

The samples carry sum_n G_n Z_n . dW~_n (mean zero under Q) as a control variate with a fitted
coefficient, which removes most of their noise where the networks are good.

For HJB (f = -lam |z|^2 / 2) this is the cost of the feedback control that the trained Z defines, an
upper bound by the control problem's own definition; for different borrowing and lending rates it is
the price under the rate the trained networks choose at each step, a lower bound.

For an f that is neither convex nor concave the same linear equation bounds nothing, but its value
still checks the trained Y_0 (`linearized_value`). Where the networks' (Y, Z) miss the solution's by
e, f and its tangent differ by O(e^2) along the paths, so the value of the tangent equation is off by
O(e^2) (plus the time grid's own error), while Y_0, fitted to the same networks through the loss, is
off by O(e). A gap between the two beyond the tolerance says that training has not found the solution.
Certifying nothing, it takes the tangent's a and c from both ends of each step (`_trapezoid_step`), where
the bound holds the start's values: a source in (t, x) then costs O(dt^2) rather than O(dt).
On a held-out test (d = 100, f = (y - 4)|z|, u = 3 + tanh(t + w . x)) default training ended 1.72%
above u(0, x0) with every other check passing; the tangent equation's value was 0.35% above it.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf

from deepbsde.checks.control_variate import ControlledMoments, path_chunks
from deepbsde.solver.model import DeepBSDEModel, generator_gradients
from deepbsde.tracing import instance_function
from deepbsde.validation import positive_int
from equations.base import Equation

BOUND_STREAM = -4  # second seed word of the bound's paths
TIGHTEN_STREAM = -5  # second seed word of the batches that tighten it
#: Adam steps, paths per step and rate of `tightened_bound`: its prototype at HJB d = 100 settled within
#: 200 steps at either rate 1e-3 or 1e-2 (lambda = 30, 40, 50 alike)
TIGHTEN_STEPS, TIGHTEN_PATHS, TIGHTEN_RATE = 200, 256, 1e-2
#: sub-steps per time step of the tightened bound (the plain one takes 1: there K = 4 gains little, 8.6% ->
#: 7.9% above u at the lambda = 50 above, for 3 times the cost, while training for it gains 5.0% -> 2.0%;
#: 400 steps at K = 4 gain nothing more, 1.93%)
TIGHTEN_SUBSTEPS = 4
#: further Adam steps and sub-steps of a refined tightening (`tightened_bound`'s good_enough): at the lambda =
#: 50 above, 2.0% -> 0.80% above u (K = 16 from scratch, 200 steps: 0.84%; K = 8: 1.25%)
REFINE_STEPS, REFINE_SUBSTEPS = 100, 16
BOUND_PATHS = 2 ** 14  # half-width about 0.05% of u at HJB d = 100, ample against the 1% tolerance
#: sub-steps in all, at least, of the bound's paths where f has a source in (t, x) (`bound_substeps`)
BOUND_GRID_STEPS = 40
#: paths on which `bound_substeps` looks for a source, and the second seed word of their sampling
PROBE_PATHS, PROBE_STREAM = 64, -6
#: which side of u(0, x0) the tangent value lies on, by the driver's shape
SIDES = {"convex": "lower", "concave": "upper"}


@dataclass(frozen=True)
class BoundEstimate:
    """A one-sided bound on u(0, x0): value (Monte Carlo mean) and its 95% half-width.

    side: "lower" (f convex) or "upper" (f concave). variance_ratio: the samples' variance with the
    control variate over that without (the noise the networks remove). paths: Monte Carlo paths.
    tightened_from: the bound of the trained networks when this one comes from networks trained further
    for the bound itself (`tightened_bound`), else None. substeps: sub-steps per time step of its paths.
    """

    value: float
    half_width: float
    side: str
    variance_ratio: float
    paths: int
    tightened_from: float | None = None
    substeps: int = 1

    def beyond(self, estimate: float) -> float:
        """How far `estimate` lies past the bound's value on the wrong side (negative: on the right side)."""
        return self.value - estimate if self.side == "lower" else estimate - self.value

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"value": self.value, "half_width": self.half_width, "side": self.side,
                "variance_ratio": self.variance_ratio, "paths": self.paths, "tightened_from": self.tightened_from,
                "substeps": self.substeps}


def _declared_side(equation: Equation) -> str:
    """driver_side, or a ValueError for an equation that declares no convexity."""
    side = driver_side(equation)
    if side is None:
        raise ValueError(f"{type(equation).__name__} declares no driver_convexity(): no bound from tangents")
    return side


def driver_side(equation: Equation) -> str | None:
    """"lower" or "upper" from the equation's declared `driver_convexity()`, None without one."""
    shape = equation.driver_convexity()
    if shape is None:
        return None
    if shape not in SIDES:
        raise ValueError(f"{type(equation).__name__}.driver_convexity() must return 'convex', 'concave' or None, "
                         f"got {shape!r}")
    return SIDES[shape]


class _BoundSamples:
    """Per-path target G_N g(X_N) + sum_n G_n c_n (e^{a_n dt} - 1) / a_n and control sum_n G_n Z_n . dW~_n,
    one compiled call per chunk, the path simulated one (sub-)step at a time under Q.

    With `trapezoid` (the linearised value, which certifies nothing) each step's integral takes the
    tangent's a and c at both ends (`_trapezoid_step`; at T the tangent at (X_N, Y_N, sigma^T grad g(X_N)))
    rather than the start's held over the step: where f has a source in (t, x), holding it costs a bias of
    order dt that the solver's own Heun step does not have.

    With `substeps` K > 1 the sums run over the K N sub-steps of the same equation on a K times finer
    grid (built from its parameters), Z at sub-step k from the network of time step k // K."""

    def __init__(self, equation: Equation, model: DeepBSDEModel, substeps: int = 1, trapezoid: bool = False):
        self.model, self.substeps, self.trapezoid = model, substeps, trapezoid
        self.equation = (equation if substeps == 1 else
                         type(equation)(**{**equation.params,
                                           "num_time_interval": substeps * equation.num_time_interval}))
        self.call = instance_function(self._samples, reduce_retracing=True, autograph=False)

    def _samples(self, seed: tf.Tensor, size: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        eq, model = self.equation, self.model
        dtype = model.dtype
        increments = eq.process.brownian_increments(size, seed, dtype)  # dW~_n under Q, [N, size, d]
        ones = tf.ones([size, 1], dtype)
        state = (tf.broadcast_to(tf.constant(eq.x0, dtype), [size, eq.dim]),  # X_n
                 ones * model.initial_values()[0],  # Y_n of the scheme
                 ones, 0.0 * ones, 0.0 * ones,  # G_n, the sum of the c terms, the control
                 0.0 * ones, 0.0 * ones)  # the tangent's a and c at the previous point (trapezoidal rule)
        first = self.substeps  # the sub-steps of step 0, whose Z_0 is a constant rather than a network
        for k in range(first):
            state = self._step(k, increments[k], *state)

        def body(k: tf.Tensor, *state: tf.Tensor) -> tuple[tf.Tensor, ...]:
            return (k + 1, *self._step(k, increments[k], *state))

        # a loop rather than N copies of the step: the graph traces in a fraction of the time
        steps = eq.num_time_interval
        if steps > first:
            _, *state = tf.while_loop(lambda k, *_: k < steps, body, (tf.constant(first), *state),
                                      maximum_iterations=steps - first)
        x, y, discount, running, control, last_a, last_c = state
        if self.trapezoid:  # the last step, closed by the tangent at (X_N, Y_N, Z_N = sigma^T grad g(X_N))
            _, a, _, c = self._tangent(eq.total_time, x, y, model.terminal_gradient(x))
            discount, running = _trapezoid_step(discount, running, last_a, last_c, a, c, eq.delta_t)
        target = discount * eq.g(x) + running
        return tf.cast(target[:, 0], tf.float64), tf.cast(control[:, 0], tf.float64)

    def _tangent(self, t: float | tf.Tensor, x: tf.Tensor, y: tf.Tensor,
                 z: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor]:
        """f and its tangent at (t, x, y, z): f, a = df/dy, b = df/dz and c = f - a y - b . z."""
        f, a, b = generator_gradients(self.equation, t, x, y, z)
        return f, a, b, f - a * y - tf.reduce_sum(b * z, axis=1, keepdims=True)

    def _step(self, k: int | tf.Tensor, dw_q: tf.Tensor, x: tf.Tensor, y: tf.Tensor, discount: tf.Tensor,
              running: tf.Tensor, control: tf.Tensor, last_a: tf.Tensor, last_c: tf.Tensor) -> tuple[tf.Tensor, ...]:
        """Sub-step k under Q: the tangent at (Y_k, Z_k), its c term and control term, then X_{k+1}, Y_{k+1}.

        Holding the start's values (the bound), discount enters as G_k and leaves as G_{k+1}; with the
        trapezoidal rule it enters as G_{k-1} with the previous point's a and c, closes step k - 1 and
        leaves as G_k."""
        eq, model = self.equation, self.model
        dtype, dt = model.dtype, eq.delta_t
        z = model.z_at(k // self.substeps, x)
        f, a, b, c = self._tangent(tf.cast(k, dtype) * dt, x, y, z)
        if self.trapezoid and not (isinstance(k, int) and k == 0):
            discount, running = _trapezoid_step(discount, running, last_a, last_c, a, c, dt)  # closes step k - 1
        control += discount * tf.reduce_sum(z * dw_q, axis=1, keepdims=True)  # G_k either way
        if not self.trapezoid:  # step k with the start's a and c held over it
            discount, running = _trapezoid_step(discount, running, a, c, a, c, dt)
        dw = dw_q + b * dt  # the P-increment under Q
        y = y - dt * f + tf.reduce_sum(z * dw, axis=1, keepdims=True)
        x = eq.process.paths_from_increments(dw[tf.newaxis], x)[-1]
        return x, y, discount, running, control, a, c


def _trapezoid_step(discount: tf.Tensor, running: tf.Tensor, a_start: tf.Tensor, c_start: tf.Tensor,
                    a_end: tf.Tensor, c_end: tf.Tensor, dt: float) -> tuple[tf.Tensor, tf.Tensor]:
    """One step of int G_t c_t dt, G_t = e^{int a}, from its start (G, a, c) to its end (a, c): a held at
    the mean of both ends, c linear in between, integrated exactly against the exponential (exact for a
    constant a and a linear c; with equal ends, the start's values held, the bound's rule). Returns (G at
    the end, running)."""
    alpha = 0.5 * (a_start + a_end) * dt
    e1, e2 = _step_integrals(alpha)
    running += discount * dt * (c_start * (e1 - e2) + c_end * e2)
    return discount * tf.exp(alpha), running


#: |alpha| below which `_step_integrals` sums the series, and their terms (the 15th below 5e-17 there)
SERIES_LIMIT, SERIES_TERMS = 0.5, 15
_E1_SERIES = [1.0 / math.factorial(k + 1) for k in range(SERIES_TERMS)]
_E2_SERIES = [1.0 / (math.factorial(k) * (k + 2)) for k in range(SERIES_TERMS)]


def _step_integrals(alpha: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """e1 = int_0^1 e^{alpha s} ds and e2 = int_0^1 s e^{alpha s} ds: their series where |alpha| <
    SERIES_LIMIT, where the closed forms cancel (in float32 at alpha = 1e-3, (e^alpha (alpha - 1) + 1) /
    alpha^2 is 4.7% off, at 2e-4 100%), the closed forms beyond."""
    small = tf.abs(alpha) < SERIES_LIMIT
    safe = tf.where(small, tf.ones_like(alpha), alpha)
    e1 = tf.where(small, _horner(_E1_SERIES, alpha), tf.math.expm1(safe) / safe)
    e2 = tf.where(small, _horner(_E2_SERIES, alpha), (safe * tf.exp(safe) - tf.math.expm1(safe)) / safe ** 2)
    return e1, e2


def _horner(coefficients: list[float], x: tf.Tensor) -> tf.Tensor:
    """sum_k coefficients[k] x^k."""
    total = coefficients[-1] * tf.ones_like(x)
    for coefficient in reversed(coefficients[:-1]):
        total = total * x + coefficient
    return total


@dataclass(frozen=True)
class LinearizedEstimate:
    """The value of the linear equation of f's tangents along the trained scheme, for an f with no declared
    convexity (`linearized_value`): value (Monte Carlo mean), its 95% half-width, variance_ratio (as for
    BoundEstimate) and paths. An estimate of u(0, x0) with an error of second order in the networks'
    error, not a bound."""

    value: float
    half_width: float
    variance_ratio: float
    paths: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"value": self.value, "half_width": self.half_width, "variance_ratio": self.variance_ratio,
                "paths": self.paths}


def _tangent_moments(equation: Equation, model: DeepBSDEModel, paths: int, seed: int,
                     substeps: int, trapezoid: bool = False) -> tuple[float, float, float]:
    """Mean, 95% half-width and variance ratio (with the control variate over without) of the tangent
    equation's value on `paths` fresh paths, each time step simulated in `substeps` sub-steps."""
    paths, substeps = positive_int("paths", paths), positive_int("substeps", substeps)
    sampler = _BoundSamples(equation, model, substeps, trapezoid)
    moments = ControlledMoments()
    for seed_pair, size in path_chunks(sampler.equation, paths, seed, BOUND_STREAM):
        target, control = sampler.call(seed_pair, size)
        moments.add(target.numpy()[np.newaxis], control.numpy()[np.newaxis])
    plain = moments.target.variance[0]
    ratio = float(moments.variance[0] / plain) if plain > 0 else 0.0
    return float(moments.mean[0]), float(moments.half_width[0]), ratio


def has_source(equation: Equation, model: DeepBSDEModel) -> bool:
    """Whether f, at the trained (Y_0, Z_0) held fixed, changes along sampled paths of the forward process:
    a source in (t, x) (or a coefficient of y or z depending on them), which the tangent held over a step
    bounds only up to a bias of order dt."""
    dtype = model.dtype
    _, x = equation.sample(PROBE_PATHS, tf.constant([0, PROBE_STREAM], tf.int64), dtype)
    y0, z0 = model.initial_values()
    y = tf.fill([PROBE_PATHS, 1], tf.cast(y0, dtype))
    z = tf.broadcast_to(tf.cast(z0, dtype), [PROBE_PATHS, equation.dim])
    steps = sorted({0, equation.num_time_interval // 2, equation.num_time_interval - 1})
    values = tf.concat([equation.f(n * equation.delta_t, x[n], y, z) for n in steps], axis=0).numpy()
    spread = np.max(values) - np.min(values)
    return not spread <= 64 * np.finfo(dtype.as_numpy_dtype).eps * max(1.0, float(np.max(np.abs(values))))


def bound_substeps(equation: Equation, model: DeepBSDEModel) -> int:
    """Sub-steps per time step of the bound's paths by default: 1 for an f of (y, z) alone (exact on any
    grid), else enough for BOUND_GRID_STEPS sub-steps in all."""
    return -(-BOUND_GRID_STEPS // equation.num_time_interval) if has_source(equation, model) else 1


def tangent_bound(equation: Equation, model: DeepBSDEModel, *, paths: int = BOUND_PATHS,
                  seed: int = 0, substeps: int | None = None) -> BoundEstimate:
    """The bound on u(0, x0) of a trained model whose equation declares `driver_convexity()`: a lower bound
    for a convex f, an upper one for a concave f, from `paths` fresh paths (seeded by seed), each time
    step simulated in `substeps` sub-steps (by default `bound_substeps`)."""
    side = _declared_side(equation)
    substeps = bound_substeps(equation, model) if substeps is None else substeps
    value, half_width, ratio = _tangent_moments(equation, model, paths, seed, substeps)
    return BoundEstimate(value, half_width, side, ratio, paths, substeps=substeps)


def linearized_value(equation: Equation, model: DeepBSDEModel, *, paths: int = BOUND_PATHS,
                     seed: int = 0) -> LinearizedEstimate:
    """The value of the linear equation of f's tangents at the trained Y and Z on `paths` fresh paths: for
    any f, an estimate of u(0, x0) to check the trained Y_0 against (the module's docstring)."""
    value, half_width, ratio = _tangent_moments(equation, model, paths, seed, 1, trapezoid=True)
    return LinearizedEstimate(value, half_width, ratio, paths)


def tightened_bound(equation: Equation, model: DeepBSDEModel, *, steps: int = TIGHTEN_STEPS,
                    paths: int = BOUND_PATHS, seed: int = 0, substeps: int = TIGHTEN_SUBSTEPS,
                    good_enough: Callable[[BoundEstimate], bool] | None = None) -> BoundEstimate:
    """The tangent bound after `steps` Adam steps that move it toward u(0, x0) on fresh batches, its paths
    simulated in `substeps` sub-steps per time step (for training and estimate alike).

    Any networks give a certified bound, so the networks may be trained for the bound itself: down for an
    upper bound (for HJB, the cost of the feedback control they define), up for a lower one. The bound is
    then estimated on the usual fresh paths (`tangent_bound`, independent of the training batches), and
    the model's weights are restored: the trained result is left as it was. Where `good_enough` is given
    and says no to that bound, the networks train on for REFINE_STEPS steps on REFINE_SUBSTEPS sub-steps
    per time step (a control that follows the path more closely), and the tighter of the two is returned.
    """
    side = _declared_side(equation)
    steps, substeps = positive_int("steps", steps), positive_int("substeps", substeps)
    variables = list(model.trainable_variables)
    trained = [variable.numpy() for variable in variables]
    direction = 1.0 if side == "upper" else -1.0

    def train(sub: int, count: int, first_batch: int) -> BoundEstimate:
        sampler = _BoundSamples(equation, model, sub)
        optimizer = tf.keras.optimizers.Adam(TIGHTEN_RATE)
        optimizer.build(variables)  # its slots made here, not inside the traced step (a second trace)

        def step(seed_pair: tf.Tensor) -> None:
            with tf.GradientTape() as tape:
                target, _ = sampler._samples(seed_pair, tf.constant(TIGHTEN_PATHS, tf.int32))
                objective = direction * tf.reduce_mean(target)
            gradients = tape.gradient(objective, variables, unconnected_gradients=tf.UnconnectedGradients.ZERO)
            optimizer.apply(gradients, variables)

        compiled = tf.function(step, reduce_retracing=True, autograph=False)
        for k in range(first_batch, first_batch + count):
            compiled(tf.constant([seed * 2 ** 20 + k, TIGHTEN_STREAM], tf.int64))
        return tangent_bound(equation, model, paths=paths, seed=seed, substeps=sub)

    # the bound reads Y_0 and Z_0 from the trainable variables (`initial_values`), so the model's copies
    # `y0`, `z0` are left alone and need no refresh
    try:
        bound = train(substeps, steps, 0)
        if good_enough is None or good_enough(bound):
            return bound
        refined = train(REFINE_SUBSTEPS, REFINE_STEPS, steps)  # fresh batches, from where the networks are
        return refined if refined.beyond(bound.value) > 0 else bound
    finally:
        for variable, value in zip(variables, trained):
            variable.assign(value)
