"""Limits checked before any TensorFlow work: what a run would need, against what the machine has.

The estimate is a lower bound from the shapes alone (the stacked weights with Adam's two
moments and the gradient, and the activations of the training and validation batches), so a
refusal is never wrong by more than TensorFlow's own overhead; the message gives the numbers.
"""
from __future__ import annotations

import os

from deepbsde.errors import ConfigError
from deepbsde.solver.options import SolverOptions
from deepbsde.validation import shown

#: Above this many time steps the unrolled training graph takes minutes to build and compile
#: (solver.rolled_time_loop builds one step whatever N).
MAX_TIME_STEPS = 5000
GIB = 2.0 ** 30


def available_memory() -> float:
    """Bytes of memory available now (MemAvailable), or the physical memory where unknown."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return float(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return float("inf")


def memory_estimate(dim: int, num_time_interval: int, options: SolverOptions) -> tuple[float, float]:
    """(bytes of the weights with Adam state and gradient, bytes of the batches' activations)."""
    size = 4 if options.dtype == "float32" else 8
    widths = list(options.hidden_widths) if options.hidden_widths is not None else [dim + 10, dim + 10]
    layers = [dim + (1 if options.shared_network else 0), *widths, dim]
    parameters = sum(a * b + 3 * b for a, b in zip(layers, layers[1:]))  # weights, bias / batch-norm vectors
    networks = 1 if options.shared_network else max(num_time_interval - 1, 1)
    # the robust preset's terms beside each step's network: d x d weights per step for a full
    # linear term, d for a diagonal one, d for the terminal gradient's coefficients
    per_step = {"full": dim * dim, "diagonal": dim, None: 0}[options.linear_term_shape]
    if options.preset == "robust" and options.terminal_gradient:
        per_step += dim
    linear = max(num_time_interval - 1, 0) * per_step
    weights = 4.0 * (networks * parameters + linear) * size  # weights, two Adam moments, gradient
    # per path: the Brownian increments and the path, and per time step each layer's
    # input, normalised input and output kept for the gradient
    per_path = (2.0 * (num_time_interval + 1) * dim + 3.0 * (num_time_interval - 1) * sum(layers)) * size
    return weights, per_path * (options.batch_size + options.valid_size)


def check_limits(dim: int, num_time_interval: int, options: SolverOptions, section: str = "solver",
                 equation_section: str = "equation") -> None:
    """ConfigError naming the field to change when the run cannot fit, with the estimate."""
    if num_time_interval > MAX_TIME_STEPS and not options.rolled_time_loop:
        raise ConfigError(f"{equation_section}.num_time_interval",
                          f"{num_time_interval} time steps is more than {MAX_TIME_STEPS}: the training graph "
                          "holds operations for every step and would take many minutes to build "
                          f"({section}.rolled_time_loop: true builds one)")
    weights, batches = memory_estimate(dim, num_time_interval, options)
    available = available_memory()
    if weights + batches <= available:
        return
    if sum(memory_estimate(1, num_time_interval, options)) <= available:
        field = f"{equation_section}.dim"  # the same run at d = 1 would fit
    elif weights >= batches:
        field = f"{section}.hidden_widths" if options.hidden_widths is not None else f"{equation_section}.dim"
    else:
        field = f"{section}.batch_size"
    widths = shown(options.hidden_widths) if options.hidden_widths is not None else "[d + 10, d + 10] (default)"
    networks = "one shared network" if options.shared_network else f"{num_time_interval - 1} networks"
    raise ConfigError(field, f"the run needs at least {(weights + batches) / GIB:.3g} GiB of memory "
                             f"(weights with Adam state {weights / GIB:.3g} GiB: {networks} of widths {widths} "
                             f"at d = {dim}; batches {batches / GIB:.3g} GiB: {options.batch_size} + "
                             f"{options.valid_size} paths of {num_time_interval} steps), more than the "
                             f"{available / GIB:.3g} GiB available")
