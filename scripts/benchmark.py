"""Speed benchmarks of the deep BSDE solver (issue 5), written to docs/benchmarks.md and a JSON beside it.

    .venv/bin/python scripts/benchmark.py                     # everything (long: see the lead's estimate)
    .venv/bin/python scripts/benchmark.py --quick --out /tmp/bench.md   # smoke test, ~2 minutes
    .venv/bin/python scripts/benchmark.py --sections compare precision

Sections:
  compare    our XLA-compiled stacked solver against deepbsde.baseline (the
             reference's per-time-step design) on HJB, Allen-Cahn and default
             risk at d = 100 (configs/*.yaml): compile time, ms/iteration,
             FLOP/s, time to 0.5% relative error of Y_0.
  precision  our solver in float32 and float64 on the same problems.
  scaling    our solver on HJB and bs_diff_rates (call spread on the max) at
             d = 100, 1000, 10000 with a fixed hidden width: ms/iteration and
             peak memory, each case in a fresh process so that its peak is its own.

Timing: ms/iteration is the median over repeats of blocks of consecutive
training steps (the clock read after synchronising on the block's last
loss), after warm-up steps; compile time is the first step. Time to accuracy
is the elapsed time of the first logged step from which Y_0 stays within the
tolerance of the reference up to the end of the run (the configured
iterations are the cap); elapsed time includes compilation and validation.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import json
import multiprocessing
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

# Before TensorFlow is imported: allocate GPU memory as needed (not all of it
# up front), so that the scaling processes can run beside this one and
# TensorFlow's peak allocation is meaningful.
os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")

import keras
import numpy as np
import tensorflow as tf

import deepbsde
from deepbsde.reference import ReferenceValue, resolve_reference
from deepbsde.solver.baseline import BaselineSolver
from deepbsde.solver.training import Trainer, device_description
from equations import Equation

REPO = Path(__file__).resolve().parent.parent
SECTIONS = ("compare", "precision", "scaling")
COMPARE_CONFIGS = ("hjb", "allen_cahn", "bs_default_risk")
SCALING_CONFIGS = ("hjb", "bs_diff_rates")
TOLERANCE = 0.005


@dataclass(frozen=True)
class TimingPlan:
    """Warm-up steps, then `repeats` blocks of `block` steps each."""

    warmup: int
    repeats: int
    block: int


@dataclass(frozen=True)
class Settings:
    """What a benchmark run measures; --quick shrinks everything."""

    quick: bool
    timing: TimingPlan
    large_dim_timing: TimingPlan          # d >= LARGE_DIM: a handful of steps only
    dims: tuple[int, ...]
    scaling_width: int
    accuracy_max_dim: int                 # scaling: full training runs (for accuracy) up to this d
    baseline_dtype: str
    tolerance: float

    def overrides(self) -> list[str]:
        """Config overrides of a quick run: tiny problems, few iterations."""
        if not self.quick:
            return []
        return ["equation.dim=10", "equation.num_time_interval=5", "solver.iterations=30", "solver.log_every=10"]


LARGE_DIM = 10_000


# ------------------------------------------------------------------ measuring
def median_ms_per_iteration(step: Callable[[], Any], plan: TimingPlan) -> tuple[float, list[float]]:
    """Median ms per step over plan.repeats blocks, and every block's ms per step.

    `step` returns the step's loss tensor; reading the last one of a block
    waits for the block to finish.
    """
    for _ in range(plan.warmup):
        step().numpy()
    blocks = []
    for _ in range(plan.repeats):
        tick = time.perf_counter()
        for _ in range(plan.block):
            loss = step()
        loss.numpy()
        blocks.append(1000.0 * (time.perf_counter() - tick) / plan.block)
    return statistics.median(blocks), blocks


def time_to_accuracy(history: list, reference: float, tolerance: float) -> dict[str, float] | None:
    """Step and elapsed seconds of the first record from which Y_0 stays within tolerance; None if never."""
    reached = None
    for record in history:
        if abs(record.value - reference) <= tolerance * abs(reference):
            reached = reached or record
        else:
            reached = None
    return {"step": reached.step, "seconds": reached.elapsed} if reached else None


def flops_per_iteration(trainer: Trainer) -> int:
    """3 x forward matmul FLOPs of the subnetworks x batch size (see the Method note in the report)."""
    return 3 * trainer.model.subnetworks.flops_per_sample() * trainer.options.batch_size


def peak_memory() -> dict[str, float]:
    """Peak resident set size of this process (MiB) and, on a GPU, TensorFlow's peak allocation (MiB)."""
    # VmHWM, not getrusage's ru_maxrss: Linux carries ru_maxrss over fork and
    # exec, so a spawned process would report its parent's peak.
    memory = {"peak_rss_mib": process_status_mib("VmHWM")}
    if tf.config.list_logical_devices("GPU"):
        memory["gpu_peak_mib"] = tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2 ** 20
    return memory


def process_status_mib(field: str) -> float:
    """A memory field of /proc/self/status (VmRSS: now, VmHWM: peak), MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024.0  # given in kB
    raise RuntimeError(f"/proc/self/status has no {field}: peak memory needs Linux")


# ------------------------------------------------------------------- solving
def load_problem(name: str, settings: Settings,
                 extra: list[str] = ()) -> tuple[Equation, deepbsde.SolverOptions, ReferenceValue | None]:
    """(equation, SolverOptions, reference) from configs/<name>.yaml with the run's overrides."""
    config = deepbsde.load_config(REPO / "configs" / f"{name}.yaml", [*settings.overrides(), *extra])
    equation = config.build_equation()
    # exact, else a cheap computed reference (Cole-Hopf quadrature for HJB at any d), else published
    reference = resolve_reference(equation, config.reference)
    return equation, config.solver, reference


def benchmark_solver(solver: Trainer | BaselineSolver, reference: ReferenceValue | None, plan: TimingPlan,
                     tolerance: float) -> dict[str, Any]:
    """Trains `solver` (a Trainer or a BaselineSolver) for its configured
    iterations, then times further steps; returns the raw numbers."""
    history, timings = solver.run()
    ms, blocks = median_ms_per_iteration(lambda: solver.train_step(), plan)
    final = history[-1]
    result = {"iterations": final.step, "train_seconds": timings["seconds"],
              "compile_seconds": timings["compile_seconds"], "ms_per_iteration": ms, "block_ms": blocks,
              "value": final.value, "dtype": solver.options.dtype,
              "history": [asdict(record) for record in history]}
    if reference is not None:
        result.update(reference=reference.value, reference_source=reference.source,
                      rel_error=abs(final.value - reference.value) / abs(reference.value),
                      time_to_accuracy=time_to_accuracy(history, reference.value, tolerance))
    return result


class OurRuns:
    """Our solver on a compare problem in a given dtype, each run once and shared between sections."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.results: dict[tuple[str, str], dict[str, Any]] = {}

    def get(self, name: str, dtype: str) -> dict[str, Any]:
        if (name, dtype) not in self.results:
            equation, options, reference = load_problem(name, self.settings, [f"solver.dtype={dtype}"])
            trainer = Trainer(equation, options)
            result = benchmark_solver(trainer, reference, self.settings.timing, self.settings.tolerance)
            result["flops_per_iteration"] = flops_per_iteration(trainer)
            self.results[name, dtype] = result
            print(f"  ours {name} {dtype}: {summary_line(result)}", flush=True)
        return self.results[name, dtype]


def summary_line(result: dict[str, Any]) -> str:
    error = f"rel. error {result['rel_error']:.2%}" if "rel_error" in result else "no reference"
    return (f"{result['ms_per_iteration']:.2f} ms/it, compile {result['compile_seconds']:.1f} s, "
            f"Y_0 {result['value']:.5g}, {error}")


def compare_section(settings: Settings, ours: OurRuns) -> list[dict[str, Any]]:
    """Ours (config dtype) against the baseline (settings.baseline_dtype) per problem."""
    rows = []
    for name in COMPARE_CONFIGS:
        equation, options, reference = load_problem(name, settings)
        our = ours.get(name, options.dtype)
        _, baseline_options, _ = load_problem(name, settings, [f"solver.dtype={settings.baseline_dtype}"])
        baseline = benchmark_solver(BaselineSolver(equation, baseline_options), reference, settings.timing,
                                    settings.tolerance)
        baseline["flops_per_iteration"] = our["flops_per_iteration"]  # same layers, same batch
        print(f"  baseline {name} {settings.baseline_dtype}: {summary_line(baseline)}", flush=True)
        rows.append({"problem": name, "dim": equation.dim, "num_time_interval": equation.num_time_interval,
                     "ours": our, "baseline": baseline})
    return rows


def precision_section(settings: Settings, ours: OurRuns) -> list[dict[str, Any]]:
    """Our solver in float32 and in float64 per problem."""
    return [{"problem": name, "float32": ours.get(name, "float32"), "float64": ours.get(name, "float64")}
            for name in COMPARE_CONFIGS]


def scaling_case(name: str, dim: int, settings: Settings, reference: ReferenceValue | None) -> dict[str, Any]:
    """One (problem, d) of the scaling section; runs in a fresh process (see scaling_section)."""
    rss_before = process_status_mib("VmRSS")  # TensorFlow loaded, nothing built
    width = settings.scaling_width
    equation, options, _ = load_problem(name, settings, [f"equation.dim={dim}",
                                                          f"solver.hidden_widths=[{width}, {width}]"])
    trainer = Trainer(equation, options)
    plan = settings.large_dim_timing if dim >= LARGE_DIM else settings.timing
    result: dict[str, Any] = {"problem": name, "dim": dim, "num_time_interval": equation.num_time_interval,
                              "hidden_widths": [width, width],
                              "parameters": trainer.model.subnetworks.parameter_count(),
                              "flops_per_iteration": flops_per_iteration(trainer), "rss_before_mib": rss_before,
                              "full_run": reference is not None}
    if reference is not None:
        result.update(benchmark_solver(trainer, reference, plan, settings.tolerance))
    else:
        tick = time.perf_counter()
        trainer.train_step().numpy()
        result["compile_seconds"] = time.perf_counter() - tick
        result["ms_per_iteration"], result["block_ms"] = median_ms_per_iteration(lambda: trainer.train_step(),
                                                                                  plan)
        result["dtype"] = options.dtype
    result["timed_iterations"] = plan.warmup + plan.repeats * plan.block
    # XLA's benefit depends on the size: time the same step without it, side by side
    plain = Trainer(equation, replace(options, jit_compile=False))
    plain.train_step().numpy()
    result["ms_per_iteration_without_xla"], _ = median_ms_per_iteration(lambda: plain.train_step(), plan)
    result["xla"] = options.jit_compile
    result.update(peak_memory())
    return result


def scaling_section(settings: Settings) -> list[dict[str, Any]]:
    """Every (problem, d), each in its own spawned process, so that its peak memory is its own."""
    rows = []
    context = multiprocessing.get_context("spawn")
    for name in SCALING_CONFIGS:
        for dim in settings.dims:
            # the reference is computed here, not in the measured process; only where a full run uses it
            reference = (load_problem(name, settings, [f"equation.dim={dim}"])[2]
                         if dim <= settings.accuracy_max_dim else None)
            with concurrent.futures.ProcessPoolExecutor(1, mp_context=context) as pool:
                row = pool.submit(scaling_case, name, dim, settings, reference).result()
            print(f"  scaling {name} d={dim}: {row['ms_per_iteration']:.1f} ms/it, "
                  f"peak RSS {row['peak_rss_mib']:.0f} MiB", flush=True)
            rows.append(row)
    return rows


# ------------------------------------------------------------------ reporting
def environment(argv: list[str]) -> dict[str, Any]:
    """Device, versions, date, command line and machine load."""
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown")
    gpus = tf.config.list_physical_devices("GPU")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    return {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "command": shlex.join([Path(sys.executable).name, *argv]), "cpu": cpu,
            "cpu_cores": os.cpu_count(), "cpu_cores_usable": len(os.sched_getaffinity(0)),
            "gpu": device_description() if gpus else None, "tensorflow": tf.__version__,
            "keras": keras.__version__, "numpy": np.__version__, "python": platform.python_version(),
            "git_commit": commit.stdout.strip() or None, "load_average_start": os.getloadavg()}


def fmt_time_to_accuracy(result: dict[str, Any], tolerance: float) -> str:
    if "reference" not in result:
        return "no reference"
    reached = result["time_to_accuracy"]
    if reached is None:
        return f"not within {tolerance:.1%} by step {result['iterations']} (cap)"
    return f"{reached['seconds']:.1f} s (step {reached['step']})"


def gflops(result: dict[str, Any]) -> float:
    return result["flops_per_iteration"] / (result["ms_per_iteration"] * 1e-3) / 1e9


def ms_spread(result: dict[str, Any]) -> str:
    return f"{result['ms_per_iteration']:.2f} [{min(result['block_ms']):.2f}-{max(result['block_ms']):.2f}]"


def accuracy_cells(result: dict[str, Any]) -> str:
    if "reference" not in result:
        return f"{result['value']:.5g} | - | -"
    return f"{result['value']:.5g} | {result['reference']:.5g} | {result['rel_error']:.2%}"


def render(report: dict[str, Any]) -> str:
    """The Markdown report."""
    env, settings = report["environment"], report["settings"]
    tol = settings["tolerance"]
    lines = ["# Benchmarks", ""]
    if settings["quick"]:
        lines += ["**Quick smoke run (--quick): tiny problems, few iterations. Not benchmark numbers.**", ""]
    lines += ["| | |", "|---|---|",
              f"| date (UTC) | {env['date']} |", f"| command | `{env['command']}` |",
              f"| CPU | {env['cpu']}, {env['cpu_cores']} cores ({env['cpu_cores_usable']} usable) |",
              f"| GPU | {env['gpu'] or 'none'} |",
              f"| versions | TensorFlow {env['tensorflow']}, Keras {env['keras']}, numpy {env['numpy']}, "
              f"Python {env['python']} |",
              f"| commit | {env['git_commit']} |",
              f"| load average (1, 5, 15 min) | start {_load(env['load_average_start'])}, "
              f"end {_load(env['load_average_end'])} |", "",
              "## Method", "",
              "- ms/iteration: median over blocks of consecutive training steps (in brackets: fastest and "
              "slowest block), after warm-up steps, timed after the solver's training run; "
              f"{_plan(settings['timing'])}. One iteration = sampling a batch + forward + backward + Adam.",
              "- compile: the first training step (tracing; XLA compilation for ours).",
              f"- time to {tol:.1%}: elapsed time (compilation and validation included) at the first logged "
              "step from which Y_0 stays within the tolerance of the reference to the end of the run; the "
              "configured iterations are the cap.",
              "- FLOPs per iteration: 3 x (2 x multiply-adds of the subnetworks' matmuls for one path, "
              "`StackedSubnetworks.flops_per_sample()`) x batch size, i.e. forward + backward counted as "
              "3 x forward (the backward pass has two matmuls per forward one; the unneeded gradient of the "
              "first layer's input is counted anyway). Batch norm, ReLU, the Y recursion, sampling and Adam "
              "are not counted. Both solvers have the same layers, hence the same count.",
              "- ours: the stacked subnetworks, sampling on the device, the update XLA-compiled "
              "(`deepbsde.training.Trainer`); baseline: `deepbsde.baseline.BaselineSolver`, the reference's "
              "design (N-1 Keras subnetworks in a Python loop inside `tf.function`, numpy sampling on the "
              f"host every step, Keras Adam), in {settings['baseline_dtype']} as the reference.", ""]
    if "compare" in report:
        float64 = {row["problem"]: row["float64"] for row in report.get("precision", [])}
        lines += _compare_table(report["compare"], tol, float64)
    if "precision" in report:
        lines += _precision_table(report["precision"], tol)
    if "scaling" in report:
        lines += _scaling_table(report["scaling"], settings, tol)
    return "\n".join(lines) + "\n"


def _load(values: list[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


def _plan(plan: dict[str, int]) -> str:
    return f"{plan['warmup']} warm-up + {plan['repeats']} blocks x {plan['block']} timed steps"


def _compare_table(rows: list[dict[str, Any]], tol: float, ours_float64: dict[str, dict]) -> list[str]:
    lines = ["## Ours against the baseline", "",
             f"| problem | d | N | solver | dtype | compile (s) | ms/iteration | GFLOP/iteration | GFLOP/s | "
             f"Y_0 | reference | rel. error | time to {tol:.1%} |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        for solver in ("ours", "baseline"):
            r = row[solver]
            lines.append(f"| {row['problem']} | {row['dim']} | {row['num_time_interval']} | {solver} | "
                         f"{r['dtype']} | {r['compile_seconds']:.1f} | {ms_spread(r)} | "
                         f"{r['flops_per_iteration'] / 1e9:.3f} | {gflops(r):.1f} | {accuracy_cells(r)} | "
                         f"{fmt_time_to_accuracy(r, tol)} |")
    lines += ["", f"| problem | ms/iteration ours/baseline | speed-up | time to {tol:.1%} ours/baseline | "
                  "ms/iteration ours in float64/baseline |", "|---|---|---|---|---|"]
    for row in rows:
        ours, baseline = row["ours"], row["baseline"]
        ratio = ours["ms_per_iteration"] / baseline["ms_per_iteration"]
        same_dtype = ours_float64.get(row["problem"])
        like_for_like = (f"{same_dtype['ms_per_iteration'] / baseline['ms_per_iteration']:.3f}"
                         if same_dtype and baseline["dtype"] == "float64" else "not run")
        lines.append(f"| {row['problem']} | {ratio:.3f} | {1 / ratio:.1f}x | "
                     f"{_accuracy_ratio(ours, baseline)} | {like_for_like} |")
    return lines + [""]


def _accuracy_ratio(ours: dict[str, Any], baseline: dict[str, Any]) -> str:
    reached = ours.get("time_to_accuracy"), baseline.get("time_to_accuracy")
    if None in reached:
        return "n/a (" + ", ".join(name for name, r in zip(("ours", "baseline"), reached) if r is None) + \
            " not reached)"
    return f"{reached[0]['seconds'] / reached[1]['seconds']:.3f}"


def _precision_table(rows: list[dict[str, Any]], tol: float) -> list[str]:
    lines = ["## Ours in float32 and float64", "",
             f"| problem | dtype | compile (s) | ms/iteration | GFLOP/s | Y_0 | reference | rel. error | "
             f"time to {tol:.1%} |", "|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        for dtype in ("float32", "float64"):
            r = row[dtype]
            lines.append(f"| {row['problem']} | {dtype} | {r['compile_seconds']:.1f} | {ms_spread(r)} | "
                         f"{gflops(r):.1f} | {accuracy_cells(r)} | {fmt_time_to_accuracy(r, tol)} |")
    ratios = ", ".join(f"{row['problem']} {row['float32']['ms_per_iteration'] / row['float64']['ms_per_iteration']:.2f}"
                       for row in rows)
    return lines + ["", f"ms/iteration float32/float64: {ratios}.", ""]


def _scaling_table(rows: list[dict[str, Any]], settings: dict[str, Any], tol: float) -> list[str]:
    width = settings["scaling_width"]
    largest = max(rows, key=lambda r: r["dim"])
    d, steps = largest["dim"], largest["num_time_interval"] - 1
    reference_weights = steps * (2 * d * (d + 10) + (d + 10) ** 2)  # the reference's widths [d + 10, d + 10]
    lines = ["## Scaling in the dimension (ours)", "",
             f"Hidden widths fixed at [{width}, {width}] for every d: the reference's width d + 10 would mean "
             f"{reference_weights:.2g} weights at d = {d} ({4 * reference_weights / 2 ** 30:.0f} GiB in float32, "
             f"three times that with Adam's moments), infeasible here. "
             f"Each case runs in a fresh process; peak RSS is that process's maximum resident set size (VmHWM), "
             f"TensorFlow's own memory included (RSS before building the model: its own column). Full training runs "
             f"(for accuracy) where a reference exists and d <= {settings['accuracy_max_dim']}; otherwise "
             f"only timed steps: {_plan(settings['timing'])} (d < {LARGE_DIM}), "
             f"{_plan(settings['large_dim_timing'])} (d >= {LARGE_DIM}).", "",
             f"| problem | d | N | dtype | parameters | compile (s) | ms/iteration | ms/iteration without XLA | "
             f"GFLOP/s | peak RSS (MiB) | RSS before (MiB) | Y_0 | reference | rel. error | time to {tol:.1%} |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        memory = f"{r['peak_rss_mib']:.0f}" + (f" (GPU {r['gpu_peak_mib']:.0f})" if "gpu_peak_mib" in r else "")
        accuracy = (f"{accuracy_cells(r)} | {fmt_time_to_accuracy(r, tol)}" if r["full_run"]
                    else "- | - | - | timing only")
        lines.append(f"| {r['problem']} | {r['dim']} | {r.get('num_time_interval', '')} | {r['dtype']} | "
                     f"{r['parameters']:,} | {r['compile_seconds']:.1f} | {ms_spread(r)} | "
                     f"{r['ms_per_iteration_without_xla']:.1f} | {gflops(r):.1f} | "
                     f"{memory} | {r['rss_before_mib']:.0f} | {accuracy} |")
    return lines + [""]


# ---------------------------------------------------------------------- main
def parse_settings(argv: list[str]) -> tuple[argparse.Namespace, Settings]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny settings, a smoke test of ~2 minutes")
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS))
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md",
                        help="Markdown report; the raw numbers go to the same name with .json")
    parser.add_argument("--dims", type=int, nargs="+", default=None, help="scaling dimensions")
    parser.add_argument("--scaling-width", type=int, default=None,
                        help="hidden width of both layers in scaling (default 110; 16 with --quick)")
    parser.add_argument("--baseline-dtype", choices=("float32", "float64"), default="float64")
    args = parser.parse_args(argv)
    if args.quick:
        settings = Settings(True, TimingPlan(1, 3, 3), TimingPlan(1, 2, 1), tuple(args.dims or (10, 10000)),
                            args.scaling_width or 16, 10, args.baseline_dtype, TOLERANCE)
    else:
        settings = Settings(False, TimingPlan(10, 7, 25), TimingPlan(1, 3, 2),
                            tuple(args.dims or (100, 1000, 10000)), args.scaling_width or 110, 100,
                            args.baseline_dtype, TOLERANCE)
    return args, settings


def main(argv: list[str]) -> None:
    args, settings = parse_settings(argv)
    start = time.perf_counter()
    report: dict[str, Any] = {"environment": environment(["scripts/benchmark.py", *argv]),
                              "settings": asdict(settings)}
    ours = OurRuns(settings)
    if "compare" in args.sections:
        print("compare", flush=True)
        report["compare"] = compare_section(settings, ours)
    if "precision" in args.sections:
        print("precision", flush=True)
        report["precision"] = precision_section(settings, ours)
    if "scaling" in args.sections:
        print("scaling", flush=True)
        report["scaling"] = scaling_section(settings)
    report["environment"]["load_average_end"] = os.getloadavg()
    report["environment"]["total_seconds"] = time.perf_counter() - start
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(report))
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {args.out} and {args.out.with_suffix('.json')} in {report['environment']['total_seconds']:.0f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
