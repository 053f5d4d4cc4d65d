"""Measures the region solves of docs/region.md and writes it.

    .venv/bin/python scripts/region_table.py                    # both sections (about 10 minutes here)
    .venv/bin/python scripts/region_table.py --sections book    # or hjb, or config

book: the 10-asset max-call over spots in [80, 120]^10 and volatility in
[0.15, 0.25] (r = 0.05, T = 1, K = 100), one `price_function` training timed
against one single-point `deepbsde.price` run in the same process, and 30
random points of the region against Monte Carlo (`PriceFunction.check`).
hjb: the d = 100 HJB equation with X_0 on the radial ball of radius 10 around
0, at 20 points (the centre, one at radius 9.9, 18 at uniform random radii
and directions) against the Cole-Hopf quadrature, the gradient norm against
central differences of the quadrature along the radius (u is radial).
config: configs/black_scholes_book.yaml (the same book with parameter_ranges, as
`deepbsde run` trains it) in a temporary run folder, its line against the
references `deepbsde run` prints, and CONFIG_POINTS random points with their
volatilities (a points CSV through `deepbsde evaluate`) against Monte Carlo
prices and vegas.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

import equations
from deepbsde.checks.control_variate import RegionControlVariate
from deepbsde.cli import main as deepbsde_command
from deepbsde.finance.market import BlackScholesModel
from deepbsde.finance.payoffs import MaxCall
from deepbsde.pricing.book import PriceFunction, price_function, relative_errors
from deepbsde.pricing.european import price
from deepbsde.reference.black_scholes_mc import black_scholes_price
from deepbsde.reference.cole_hopf import cole_hopf_quadrature
from deepbsde.runs.plotting import PointSeries, plot_along_line
from deepbsde.runs.region_run import LINE_PLOT, line_through
from deepbsde.solver.options import SolverOptions
from deepbsde.solver.region import EquationOnRegion, RegionTrainer
from deepbsde.solver.regions import Region

REPO = Path(__file__).resolve().parent.parent
#: HJB region solve: 8x the batch and 1.5x the steps of configs/hjb.yaml, with two smaller-rate phases
#: (batch 128 left the gradient norm 2x too large: noise in the 99 directions across the radius).
HJB_OPTIONS = {"iterations": 3000, "batch_size": 512, "learning_rates": [1e-2, 1e-3, 1e-4],
               "lr_boundaries": [1500, 2500], "dtype": "float32", "log_every": 500}
#: Fresh paths per point of the config section's estimate (`deepbsde evaluate --paths`).
CONFIG_ESTIMATE_PATHS = 2 ** 17
#: Fresh paths per point of the HJB section's estimate.
HJB_ESTIMATE_PATHS = 2 ** 14
RADIUS_STEP = 0.05  # central-difference step of the reference gradient norm
LINE_POINTS = 7  # reference points on the plotted line of the book section
LINE_VOLATILITY = 0.2
CONFIG = REPO / "configs" / "black_scholes_book.yaml"
CONFIG_POINTS = 10  # random points of the config section


def book_line_plot(book: PriceFunction, paths: int, estimate_paths: int, path: Path) -> dict:
    """The book's price along the diagonal S_i = s for s in [80, 120] (volatility 0.2): the network as a
    curve, the estimate and Monte Carlo at LINE_POINTS spots with their intervals."""
    line = np.linspace(80.0, 120.0, 81)
    curve = book.price(np.repeat(line[:, np.newaxis], 10, axis=1), volatility=LINE_VOLATILITY)
    at = np.linspace(80.0, 120.0, LINE_POINTS)
    spots = np.repeat(at[:, np.newaxis], 10, axis=1)
    estimate = book.estimate(spots, volatility=LINE_VOLATILITY, paths=estimate_paths, seed=1)
    references = [black_scholes_price(book.payoff, book.market(row, LINE_VOLATILITY, 0.05), 1.0, num_paths=paths,
                                      seed=100 + i) for i, row in enumerate(spots)]
    plot_along_line(path, "10-asset max-call along S_1 = ... = S_10 = s, volatility 0.2", "s", "price",
                    line, curve, "network U(s, ..., s)",
                    [PointSeries(at, [r.value for r in references], [r.half_width for r in references],
                                 f"Monte Carlo ({paths:.0e} paths)"),
                     PointSeries(at + 0.6, estimate.prices, estimate.price_half_widths,
                                 f"estimate ({estimate_paths} paths, shifted right by 0.6)")])
    network = book.price(spots, volatility=LINE_VOLATILITY)
    reference = np.array([r.value for r in references])
    return {"spots": at.tolist(), "monte_carlo": reference.tolist(), "network": network.tolist(),
            "estimate": estimate.prices.tolist(),
            "max_network_rel_error": float(relative_errors(network, reference).max()),
            "max_estimate_rel_error": float(relative_errors(estimate.prices, reference).max())}


def book_section(points: int, paths: int, estimate_paths: int, plot: Path) -> tuple[list[str], dict]:
    model = BlackScholesModel(spots=[100.0] * 10, rate=0.05, volatilities=0.2)
    tick = time.perf_counter()
    single = price(MaxCall(100.0), model, maturity=1.0, seed=1, reference=False)
    single_seconds = time.perf_counter() - tick
    tick = time.perf_counter()
    book = price_function(MaxCall(100.0), model, 1.0, spot_range=(80.0, 120.0), volatility_range=(0.15, 0.25),
                          seed=1)
    book_seconds = time.perf_counter() - tick
    check = book.check(num_points=points, paths=paths, seed=0, estimate_paths=None)
    tick = time.perf_counter()
    estimate = book.estimate(check.spots, check.volatility, paths=estimate_paths, seed=0)
    estimate_seconds = time.perf_counter() - tick
    assert check.vegas is not None and check.reference_vegas is not None and check.vega_half_widths is not None
    assert estimate.vegas is not None and estimate.vega_half_widths is not None
    reference_deltas = check.reference_deltas
    errors = {
        "network": (check.price_rel_errors, check.delta_rel_errors, relative_errors(check.vegas, check.reference_vegas),
                    check.deltas),
        "estimate": (relative_errors(estimate.prices, check.reference_price),
                     relative_errors(estimate.deltas, reference_deltas),
                     relative_errors(estimate.vegas, check.reference_vegas), estimate.deltas),
    }
    # |error| of each delta over the largest reference delta of its point, and the estimate's error in units of
    # the combined 95% half-width of the estimate and the Monte Carlo reference
    of_largest = {name: np.abs(values[3] - reference_deltas) / reference_deltas.max(axis=1, keepdims=True)
                  for name, values in errors.items()}
    combined = np.abs(estimate.deltas - reference_deltas) / np.hypot(estimate.delta_half_widths,
                                                                      check.delta_half_widths)
    lines = ["| point | max S_i | min S_i | vol | Monte Carlo | network | estimate | deltas within 5%: "
             "network / estimate | largest delta error / largest delta: network / estimate | smallest delta: MC / "
             "estimate | MC vega (CRN) | network vega | estimate vega |", "|" + "---|" * 13]
    for i in range(points):
        smallest = int(np.argmin(reference_deltas[i]))
        lines.append(
            f"| {i} | {check.spots[i].max():.1f} | {check.spots[i].min():.1f} | {check.volatility[i]:.3f} | "
            f"{check.reference_price[i]:.3f} +- {check.price_half_width[i]:.3f} | "
            f"{check.price[i]:.3f} ({100 * errors['network'][0][i]:.2f}%) | "
            f"{estimate.prices[i]:.3f} +- {estimate.price_half_widths[i]:.3f} "
            f"({100 * errors['estimate'][0][i]:.2f}%) | "
            f"{(errors['network'][1][i] <= 0.05).sum()} / {(errors['estimate'][1][i] <= 0.05).sum()} | "
            f"{100 * of_largest['network'][i].max():.1f}% / {100 * of_largest['estimate'][i].max():.1f}% | "
            f"{reference_deltas[i, smallest]:.4f} +- {check.delta_half_widths[i, smallest]:.4f} / "
            f"{estimate.deltas[i, smallest]:.4f} +- {estimate.delta_half_widths[i, smallest]:.4f} | "
            f"{check.reference_vegas[i]:.2f} +- {check.vega_half_widths[i]:.2f} | "
            f"{check.vegas[i]:.2f} ({100 * errors['network'][2][i]:.1f}%) | "
            f"{estimate.vegas[i]:.2f} +- {estimate.vega_half_widths[i]:.2f} ({100 * errors['estimate'][2][i]:.1f}%) |")
    summary: dict = {
        "single_point_price_seconds": single_seconds, "single_point_price": single.price,
        "book_training_seconds": book_seconds, "cost_ratio": book_seconds / single_seconds,
        "book_timings": book.timings, "points": points, "paths": paths, "estimate_paths": estimate_paths,
        "estimate_seconds": estimate_seconds,
        "estimate_variance_ratio_range": [float(estimate.variance_ratio.min()), float(estimate.variance_ratio.max())],
        "deltas": int(reference_deltas.size),
        "estimate_deltas_within_combined_95pct_intervals": int((combined <= 1.0).sum()),
        "estimate_max_delta_error_in_combined_half_widths": float(combined.max()),
        "monte_carlo_delta_rel_half_width_max": float((check.delta_half_widths / reference_deltas).max()),
        "line": book_line_plot(book, paths, estimate_paths, plot), "plot": plot.name,
    }
    for name, (price_errors, delta_errors, vega_errors, _) in errors.items():
        summary[name] = {
            "prices_within_1pct": int((price_errors <= 0.01).sum()), "max_price_rel_error": float(price_errors.max()),
            "deltas_within_5pct": int((delta_errors <= 0.05).sum()), "max_delta_rel_error": float(delta_errors.max()),
            "median_delta_rel_error": float(np.median(delta_errors)),
            "max_delta_error_over_largest_delta": float(of_largest[name].max()),
            "vegas_within_5pct": int((vega_errors <= 0.05).sum()), "max_vega_rel_error": float(vega_errors.max()),
        }
    return lines, summary


def hjb_section(points: int, plot: Path) -> tuple[list[str], dict]:
    equation = equations.get("hjb", dim=100)
    region = Region.ball("radial_ball", 0.0, 10.0, 100)
    trainer = RegionTrainer(EquationOnRegion(equation, region), SolverOptions(**HJB_OPTIONS))
    history, timings = trainer.run()
    rng = np.random.default_rng(0)
    directions = rng.standard_normal((points, 100))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    radii = np.concatenate([[0.0, 9.9], rng.uniform(0.0, 10.0, points - 2)])
    x = radii[:, np.newaxis] * directions
    result = trainer.solution.evaluate(x)
    start = time.perf_counter()
    estimate = RegionControlVariate(trainer.model).estimate(x, np.zeros((points, 0)), paths=HJB_ESTIMATE_PATHS,
                                                            seed=1)
    estimate_seconds = time.perf_counter() - start

    def reference(point: np.ndarray) -> float:
        return cole_hopf_quadrature(equation.g, 100, equation.lam, equation.total_time, x=point).value

    ref_u = np.array([reference(p) for p in x])
    ref_norm = np.array([abs(reference((r + RADIUS_STEP) * d) - reference(max(r - RADIUS_STEP, 0.0) * d))
                         / (r + RADIUS_STEP - max(r - RADIUS_STEP, 0.0)) for r, d in zip(radii, directions)])
    norm = np.linalg.norm(result["grad_x"], axis=1)
    u_error = np.abs(result["u"] / ref_u - 1.0)
    large = ref_norm >= 0.1 * ref_norm.max()  # "not small": at least a tenth of the largest
    norm_error = np.abs(norm / ref_norm - 1.0)
    estimate_u_error = np.abs(estimate.value / ref_u - 1.0)
    estimate_norm = np.linalg.norm(estimate.gradient, axis=1)
    estimate_norm_error = np.abs(estimate_norm / ref_norm - 1.0)
    lines = ["| point | radius | Cole-Hopf u | network u | rel. error | estimate u | rel. error | reference norm of "
             "grad u | network | rel. error | estimate | rel. error |",
             "|" + "---|" * 12]

    def graded(error: np.ndarray, i: int) -> str:
        return f"{100 * error[i]:.1f}%" if large[i] else "(small)"

    for i in range(points):
        lines.append(f"| {i} | {radii[i]:.2f} | {ref_u[i]:.4f} | {result['u'][i]:.4f} | {100 * u_error[i]:.2f}% | "
                     f"{estimate.value[i]:.4f} | {100 * estimate_u_error[i]:.2f}% | {ref_norm[i]:.4f} | "
                     f"{norm[i]:.4f} | {graded(norm_error, i)} | {estimate_norm[i]:.4f} | "
                     f"{graded(estimate_norm_error, i)} |")
    positions, line = line_through(region, 81)
    marks = np.arange(0, 81, 10)
    line_reference = [reference(point) for point in line[marks]]
    curve = trainer.solution.evaluate(line)["u"]
    plot_along_line(plot, "HJB, d = 100: u(0, x) along a diameter (the diagonal direction)",
                    "signed distance from 0", "u(0, x)", positions.tolist(), curve.tolist(), "region solve",
                    [PointSeries(positions[marks].tolist(), line_reference, None, "Cole-Hopf quadrature")])
    line_errors = relative_errors(curve[marks], np.array(line_reference))
    summary = {"options": HJB_OPTIONS, "timings": timings, "max_u_rel_error": float(u_error.max()),
               "line_max_u_rel_error": float(line_errors.max()), "plot": plot.name,
               "max_grad_norm_rel_error": float(norm_error[large].max()), "graded_points": int(large.sum()),
               "estimate_paths": HJB_ESTIMATE_PATHS, "estimate_seconds": estimate_seconds,
               "estimate_max_u_rel_error": float(estimate_u_error.max()),
               "estimate_max_grad_norm_rel_error": float(estimate_norm_error[large].max()),
               "estimate_mean_variance_ratio": float(estimate.variance_ratio.mean()),
               "final_validation_loss": history[-1].loss, "points": points,
               "u_range": [float(ref_u.min()), float(ref_u.max())]}
    return lines, summary


def config_section(paths: int, plot: Path) -> tuple[list[str], dict]:
    """configs/black_scholes_book.yaml through `deepbsde run` and `deepbsde evaluate`: its line against the
    run's references, and CONFIG_POINTS random points of the box and volatility range against Monte Carlo
    (price; vega as a central difference at volatility (1 +- 1%) on common random numbers)."""
    with tempfile.TemporaryDirectory() as folder:
        run, points, out = Path(folder) / "run", Path(folder) / "points.csv", Path(folder) / "evaluated.csv"
        start = time.perf_counter()
        assert deepbsde_command(["run", str(CONFIG), "--out", str(run), "--quiet"]) == 0
        command_seconds = time.perf_counter() - start
        result = json.loads((run / "result.json").read_text())
        shutil.copyfile(run / LINE_PLOT, plot)
        rng = np.random.default_rng(0)
        spots, volatilities = rng.uniform(80.0, 120.0, (CONFIG_POINTS, 10)), rng.uniform(0.15, 0.25, CONFIG_POINTS)
        rows = [[f"{s:.2f}" for s in row] + [f"{v:.3f}"] for row, v in zip(spots, volatilities)]
        with open(points, "w", newline="") as handle:
            csv.writer(handle).writerows([[f"S{i + 1}" for i in range(10)] + ["volatility"], *rows])
        start = time.perf_counter()
        assert deepbsde_command(["evaluate", str(run), "--points", str(points), "--out", str(out),
                                 "--paths", str(CONFIG_ESTIMATE_PATHS)]) == 0
        evaluate_seconds = time.perf_counter() - start
        with open(out, newline="") as handle:
            evaluated = list(csv.DictReader(handle))
    lines = ["| point | max S_i | min S_i | volatility | Monte Carlo | u | rel. error | estimate | rel. error "
             "| MC vega (CRN) | grad_volatility | rel. error | estimate | rel. error |", "|" + "---|" * 14]
    price_errors, vega_errors, estimate_price_errors, estimate_vega_errors = [], [], [], []
    for i, row in enumerate(evaluated):
        market = [float(row[f"S{k + 1}"]) for k in range(10)]
        volatility = float(row["volatility"])

        def monte_carlo(v: float, at: list[float] = market, seed: int = i + 1):
            return black_scholes_price(MaxCall(100.0), BlackScholesModel(at, 0.05, v), 1.0, num_paths=paths, seed=seed)

        reference = monte_carlo(volatility)
        vega = (monte_carlo(1.01 * volatility).value - monte_carlo(0.99 * volatility).value) / (0.02 * volatility)
        u, grad = float(row["u"]), float(row["grad_volatility"])
        u_estimate, vega_estimate = float(row["u_estimate"]), float(row["grad_volatility_estimate"])
        price_errors.append(abs(u / reference.value - 1))
        vega_errors.append(abs(grad / vega - 1))
        estimate_price_errors.append(abs(u_estimate / reference.value - 1))
        estimate_vega_errors.append(abs(vega_estimate / vega - 1))
        lines.append(f"| {i} | {max(market):.1f} | {min(market):.1f} | {volatility:.3f} | {reference.value:.3f} +- "
                     f"{reference.half_width:.3f} | {u:.3f} | {price_errors[-1]:.2%} | {u_estimate:.3f} | "
                     f"{estimate_price_errors[-1]:.2%} | {vega:.1f} | {grad:.1f} | {vega_errors[-1]:.1%} | "
                     f"{vega_estimate:.1f} | {estimate_vega_errors[-1]:.1%} |")
    line_errors = [abs(np.interp(x, result["line_positions"], result["line_values"]) / r - 1)
                   for x, r in zip(result["line_reference_positions"], result["line_references"])]
    summary = {"command_seconds": command_seconds, "iterations": result["iterations"],
               "training_seconds": result["seconds"], "compile_seconds": result["compile_seconds"],
               "ms_per_iteration": result["ms_per_iteration"], "value_at_centre": result["value_at_centre"],
               "line_reference_positions": result["line_reference_positions"],
               "line_references": result["line_references"], "line_rel_errors": line_errors,
               "points": len(evaluated), "paths": paths,
               "prices_within_1pct": int(np.sum(np.array(price_errors) <= 0.01)),
               "max_price_rel_error": max(price_errors),
               "vegas_within_5pct": int(np.sum(np.array(vega_errors) <= 0.05)), "max_vega_rel_error": max(vega_errors),
               "estimate_paths": CONFIG_ESTIMATE_PATHS, "evaluate_seconds": evaluate_seconds,
               "estimate_prices_within_1pct": int(np.sum(np.array(estimate_price_errors) <= 0.01)),
               "estimate_max_price_rel_error": max(estimate_price_errors),
               "estimate_vegas_within_5pct": int(np.sum(np.array(estimate_vega_errors) <= 0.05)),
               "estimate_max_vega_rel_error": max(estimate_vega_errors), "plot": plot.name}
    return lines, summary


INTRO = """# Region solves: u and its gradient over a region of states and a range of parameters

Written by `scripts/region_table.py` (the command and machine below); every number on this page is
measured by it. The method: [deepbsde/solver/region.py](../deepbsde/solver/region.py) (X_0 drawn from a
distribution on the region, parameters drawn from their ranges and fed to every network,
Y_0 = U(X_0, p), Z_0 = sigma^T grad_x U). The Python API of the pricing section is
`deepbsde.price_function` (README, "Price a book"), its refined answers `book.estimate`
([deepbsde/checks/control_variate.py](../deepbsde/checks/control_variate.py)); a configuration with
`equation.x0_region` (and `equation.parameter_ranges`) runs a region solve with `deepbsde run` (README,
"Command line"; the last section). Each section records the commit and command it was measured with;
the two may differ.
"""

BOOK_INTRO = """## 10-asset max-call over spots and volatility

Spots in [80, 120]^10 (uniform), one volatility for all assets in [0.15, 0.25], r = 0.05, T = 1,
K = 100, independent assets, `price_function` with its default options (`BOOK_OPTIONS`), seed 1,
at 30 random points of the region (none of them used in training).
Monte Carlo per point: exact simulation, antithetic; deltas pathwise; the vega a central difference
at volatility (1 +- 1%) on common random numbers, with the difference's own 95% interval.
Two answers of the trained book: **network**, the price network U(x, p) and its automatic
derivatives (`book.price`, `book.deltas`, `book.vegas`, microseconds per point), and **estimate**,
`book.estimate` (Monte Carlo from each point with the trained networks as control variates, pathwise
derivatives for the deltas and vegas, each with its 95% half-width; `estimate_paths` paths per point,
all points in one vectorised run, `estimate_seconds` in the summary). Delta errors are relative, per
asset; since many reference deltas are 0.002 to 0.02 (an asset far below the others), where 5% is
near or below the Monte Carlo interval itself, each point also shows its largest delta error over its
largest delta, and the summary counts the estimate's deltas inside the combined 95% interval of
estimate and reference.
"""

HJB_INTRO = """## HJB, d = 100, X_0 on the ball of radius 10 around 0

X_0 from the radial ball (uniform direction, distance uniform on [0, 10]: the uniform-in-volume
ball at d = 100 is a shell |x| > 9.7 with probability 95%, which never trains the centre),
`HJB_OPTIONS` of the script, seed 1. Reference: the Cole-Hopf quadrature at each point; the
gradient norm reference is the central difference of the quadrature along the radius (u is radial),
graded where it is at least a tenth of the largest. The plot: u(0, .) of the region solve along the
diameter in the direction (1, ..., 1), with the quadrature at nine points of it.

The table shows the network's u and gradient (autodiff of U) beside the estimate from fresh paths
(`RegionControlVariate`, 2^14 paths per point, `deepbsde evaluate RUN --points F --paths N` for a
region run): the mean of g(X_N) + sum_n f(t_n, X_n, Y_n, Z_n) dt along the trained scheme, with the
Z sum as control variate, and its pathwise derivative in x. Its gradient is the pathwise Monte Carlo
derivative of g(X_T), which needs no network, plus that of the f terms; the networks enter only
through f, so for HJB, where |grad u| is small on this ball, it is far closer than the network's own
gradient. It is not an unbiased estimate for a nonlinear equation: its 95% half-widths cover the
Monte Carlo noise, not the networks' error inside f (at d = 4 and lambda = 1, with |grad u| near 0.5
and a network trained for 3000 steps, it was 2% to 4% off in u and 6% to 9% in the gradient).
"""


CONFIG_INTRO = """## A region configuration with parameter ranges: `deepbsde run`, `deepbsde evaluate`

A configuration trains a region solve when its equation section has `x0_region`, and takes equation
parameters as network inputs, drawn uniformly per path from their ranges, when it also has
`parameter_ranges` ({name: [low, high]}, or {name: value} to fix one):

```yaml
equation:
  name: black_scholes
  dim: 10
  rate: 0.05
  payoff: max_call
  strike: 100.0
  x0_region: {kind: box, low: 80.0, high: 120.0}     # the spots, uniform per asset
  parameter_ranges: {volatility: [0.15, 0.25]}       # one volatility for all assets, drawn per path
```

A plain list keeps its meaning (`volatilities: [0.2, 0.3]` is one volatility per asset): a range is
only ever written under `parameter_ranges`. Which equations take which parameters as inputs
(`deepbsde/solver/parametric.py`, `PARAMETER_INPUTS`):

| equation | parameter | replaces |
|---|---|---|
| `black_scholes` | `volatility` | `volatilities` (one volatility for all assets) |
| `black_scholes` | `rate` | `rate` (drift and discounting) |

Any other name, an equation without inputs, ranges without `x0_region`, a range with low > high, a
non-positive volatility or a non-finite bound is refused before training with exit code 2 and
`equation.parameter_ranges[.NAME]: reason` (and a Black-Scholes region that reaches a non-positive
spot, or a normal one, as `equation.x0_region: reason`). The parameters are the networks' inputs in sorted order
whatever the file's. A Black-Scholes region solve works in units of the strike (the networks'
outputs are scaled by it: `RegionProblem.value_scale`), as `price_function` does.

`deepbsde run` prints u at the region's centre and the cheap references along the diagonal, with
every parameter at its range's midpoint. `deepbsde evaluate RUN --points points.csv` reads a CSV with
a header: columns named as parameters (`volatility`, `rate`) give each point's parameter values (a
parameter without a column is at its range's midpoint), every other column is a coordinate, in order.
It writes the input columns followed by `u`, `grad_1..grad_d` (grad_x u) and `grad_NAME` per parameter
(d u / d NAME: `grad_volatility` is the vega, `grad_rate` the rho), all of the network; with
`--paths N` also each one's Monte Carlo estimate from N fresh paths per point with the networks as
control variates, and its 95% half-width (`u_estimate`, `u_half_width`, ...).

The shipped `configs/black_scholes_book.yaml` (the book above with 3000 steps of batch 1024: about two
minutes here, where `price_function` takes 5000 of batch 1024) was trained with

    .venv/bin/deepbsde run configs/black_scholes_book.yaml --out runs/book
    .venv/bin/deepbsde evaluate runs/book --points points.csv --out evaluated.csv --paths 131072

(the script runs both in one process, on 10 random points with random volatilities in the
range); Monte Carlo per point as in the first section (here 10^6 antithetic paths, the vega a central
difference at volatility (1 +- 1%) on common random numbers). The table shows the network's u and
vega beside the estimate's (2^17 paths per point).
"""


def render(measured: dict) -> str:
    """docs/region.md from the measured sections."""
    parts = [INTRO]
    for name, intro in (("book", BOOK_INTRO), ("hjb", HJB_INTRO), ("config", CONFIG_INTRO)):
        if name in measured:
            section = measured[name]
            parts += [intro, f"Measured on {section['machine']} at commit {section['commit']} with\n\n"
                             f"    {section['command']}\n", "\n".join(section["table"]),
                      *([f"\n![u along a line through the region]({section['summary']['plot']})\n"]
                        if "plot" in section["summary"] else []),
                      "\nSummary (JSON):\n\n```json\n" + json.dumps(section["summary"], indent=2) + "\n```\n"]
    return "\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sections", nargs="+", default=["book", "hjb", "config"],
                        choices=["book", "hjb", "config"])
    parser.add_argument("--points", type=int, default=30, help="book check points")
    parser.add_argument("--paths", type=int, default=10 ** 6, help="Monte Carlo paths per book check point")
    parser.add_argument("--estimate-paths", type=int, default=2 ** 17,
                        help="paths per point of the book's control-variate estimate")
    parser.add_argument("--out", default=str(REPO / "docs" / "region.md"),
                        help="the page; the measurements are kept in the same name with .json, so a run of one "
                             "section keeps the other")
    args = parser.parse_args()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=REPO).stdout.strip()
    command = ".venv/bin/python scripts/region_table.py " + " ".join(sys.argv[1:])
    store = Path(args.out).with_suffix(".json")
    measured = json.loads(store.read_text()) if store.exists() else {}
    for name in args.sections:
        if name == "book":
            plot = Path(args.out).with_name(Path(args.out).stem + "_book_line.png")
            lines, summary = book_section(args.points, args.paths, args.estimate_paths, plot)
        elif name == "config":
            lines, summary = config_section(args.paths, Path(args.out).with_name(Path(args.out).stem
                                                                                 + "_config_line.png"))
        else:
            lines, summary = hjb_section(20, Path(args.out).with_name(Path(args.out).stem + "_hjb_line.png"))
        measured[name] = {"summary": summary, "table": lines, "commit": commit, "command": command.strip(),
                          "machine": f"{platform.machine()}, {os.cpu_count()} CPUs (shared with other jobs)"}
        print("\n".join(lines))
        print(json.dumps(summary, indent=2))
    store.write_text(json.dumps(measured, indent=2) + "\n")
    Path(args.out).write_text(render(measured))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
