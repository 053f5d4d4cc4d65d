"""`solve`: train the deep BSDE model of an equation and attach its reference.

The solver layer trains; this layer adds what a user needs around it: the
equation looked up by name, the reference value chosen for it, and a Result
that can be saved.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from deepbsde.checks.diagnostics import reported_value, self_check, warn_if_not_converged, with_time_grid
from deepbsde.reference.resolve import resolve_reference
from deepbsde.runs import refinement
from deepbsde.runs.limits import check_limits
from deepbsde.runs.result import Result
from deepbsde.solver.history import HistoryRecord
from deepbsde.solver.options import SolverOptions
from deepbsde.solver.training import Trainer, device_description
from equations.base import Equation
from equations.registry import get

ProgressCallback = Callable[[HistoryRecord, int], None]


def build_result(trainer: Trainer, history: list[HistoryRecord], timings: dict[str, float],
                 reference: Any, config: dict[str, Any]) -> Result:
    """The Result of a finished training run, self-checked (a NotConvergedWarning if it fails), refined under the
    tangent measure where the self-check asks for it (deepbsde.runs.refinement)."""
    known = resolve_reference(trainer.equation, reference)
    diagnostics = self_check(trainer, history[-1].value, history)
    iterations = trainer.step
    if refinement.wanted(trainer, diagnostics):
        refined, note = refinement.refine(trainer, history, timings, diagnostics)
        if refined is not None:
            iterations += refined.trainer.step
            trainer, history, timings, diagnostics = (refined.trainer, refined.history, refined.timings,
                                                      refined.diagnostics)
        diagnostics = replace(diagnostics, notes=[*diagnostics.notes, note])
    network_value = history[-1].value
    warn_if_not_converged(diagnostics, trainer.equation.name)
    return Result(equation=trainer.equation.name, dim=trainer.equation.dim,
                  value=reported_value(network_value, diagnostics), network_value=network_value,
                  z0=trainer.z0(), reference=known.value if known else None,
                  reference_source=known.source if known else None,
                  reference_half_width=known.half_width if known else None, iterations=iterations,
                  seed=trainer.options.seed, device=device_description(), history=history, config=config,
                  model=trainer.model, diagnostics=diagnostics, **timings)


def solve(equation: Equation | str, *, reference: Any = "auto", progress: ProgressCallback | None = None,
          check_time_grid: bool = False, **options: Any) -> Result:
    """Solves the PDE of `equation` for u(0, x0) with the deep BSDE method.

    equation: an Equation instance, or a registered name (default parameters).
    options: SolverOptions fields (iterations, batch_size, learning_rates, ...).
    reference: "auto" (the equation's exact or published value), a number, or None.
    progress: called as progress(record, total_iterations) at every log point.
    check_time_grid: also solve at twice the time steps for the time-grid bias
    estimate and the Richardson value (result.diagnostics.time_grid).
    The returned Result holds the trained model; `result.save(folder)` keeps it,
    and its self-check (result.diagnostics); a NotConvergedWarning says when that fails.
    """
    if isinstance(equation, str):
        equation = get(equation)
    solver_options = SolverOptions.from_mapping(options, section="options")
    check_limits(equation.dim, equation.num_time_interval, solver_options, section="options",
                 equation_section="equation")
    trainer = Trainer(equation, solver_options)
    observers = [_ProgressObserver(progress)] if progress is not None else []
    history, timings = trainer.run(observers)
    config = {"equation": {"name": equation.name, **equation.params}, "solver": solver_options.to_dict(),
              "reference": reference}
    result = build_result(trainer, history, timings, reference, config)
    if check_time_grid:
        check_on_twice_the_time_steps(result, equation, options, stacklevel=4)
    return result


def check_on_twice_the_time_steps(result: Result, equation: Equation, options: Mapping[str, Any],
                                  stacklevel: int = 3) -> None:
    """Solves `equation` again at twice its time steps with the same solver `options` and adds the
    time-grid bias estimate and the Richardson value to result.diagnostics; warns if the check fails."""
    finer = type(equation)(**{**equation.params, "num_time_interval": 2 * equation.num_time_interval})
    value_2n = solve(finer, reference=None, **options).value
    assert result.diagnostics is not None  # build_result checks every result
    result.diagnostics = with_time_grid(result.diagnostics, result.value, value_2n)
    warn_if_not_converged(result.diagnostics, equation.name, stacklevel=stacklevel)


class _ProgressObserver:
    """Adapts a progress(record, total) callable to a TrainingObserver."""

    def __init__(self, progress: ProgressCallback):
        self.on_record = progress

    def on_checkpoint(self, step: int) -> None:
        pass
