"""Speed benchmarks of the deep BSDE solver (issues 5, 12), written to docs/benchmarks.md and a JSON beside it.

    .venv/bin/python scripts/benchmark.py                     # the default sections (answer levers step compile)
    .venv/bin/python scripts/benchmark.py --quick --out /tmp/bench.md   # smoke test
    .venv/bin/python scripts/benchmark.py --sections compare precision

Sections (by default the first four):
  answer     time to the answer: from the start of a fresh process (TensorFlow's
             import, building, compiling and training included) to a value that
             stays within 0.5% (and 0.2%) of the reference, on HJB, Allen-Cahn and
             default risk at d = 100: ours with the robust preset, ours with the
             published (paper) set-up, and the baseline; and the wall time of the
             whole command `deepbsde run configs/hjb.yaml`.
  levers     the same measurement on HJB for one change at a time: the preset,
             the Monte Carlo pilot's Y_0, batch norm, the adaptive schedule with its
             convergence stop, steps_per_call, XLA, the rolled time loop.
  step       ms per training step of ours (float32, float64) and the baseline
             (float64), the solvers timed in alternating blocks in one process.
  compile    tracing and XLA compilation of the training step against N, the
             recursion unrolled and rolled (options.rolled_time_loop).
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
import shutil
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
from deepbsde.solver.history import HistoryRecord
from deepbsde.solver.training import Trainer, device_description
from equations import Equation

REPO = Path(__file__).resolve().parent.parent
SECTIONS = ("answer", "levers", "step", "compile", "compare", "precision", "scaling")
DEFAULT_SECTIONS = SECTIONS[:4]
TIGHT_TOLERANCE = 0.002
#: ours with the robust preset's defaults on a config published with preset paper: the adaptive rate
ROBUST = ["solver.preset=robust", "solver.y0_range=null", "solver.learning_rates=[0.01]", "solver.lr_boundaries=[]"]
ANSWER_LOG_EVERY = "solver.log_every=50"  # the same resolution of time to accuracy for every run
#: configs/hjb.yaml as published (PNAS 2018 set-up), before it moved to the robust preset
PAPER_HJB = ["solver.preset=paper", "solver.y0_range=[0.0, 1.0]", "solver.learning_rates=[0.01]",
             "solver.lr_boundaries=[]", "solver.iterations=2000", "solver.rolled_time_loop=false"]
#: HJB with the solver's defaults (robust preset, adaptive rate and stop, cap 6000)
DEFAULT_HJB = [*ROBUST, "solver.iterations=6000", "solver.rolled_time_loop=false"]
#: (label, config overrides) of the levers section, each one change from a run above it
LEVERS = (
    ("published set-up (preset paper, Y_0 from U(0, 1), 2000 steps)", PAPER_HJB),
    ("the defaults: robust preset, adaptive rate with its convergence stop (cap 6000)", DEFAULT_HJB),
    ("  the same, Y_0 from U(0, 1) instead of the Monte Carlo pilot", [*DEFAULT_HJB, "solver.y0_range=[0.0, 1.0]"]),
    ("  the same, with batch norm", [*DEFAULT_HJB, "solver.batch_norm=true"]),
    ("configs/hjb.yaml: robust, 200 steps at two fixed rates, rolled time loop", []),
    ("  the same, unrolled time loop", ["solver.rolled_time_loop=false"]),
    ("  the same, steps_per_call 1", ["solver.steps_per_call=1"]),
    ("  the same, without XLA", ["solver.jit_compile=false"]),
)
COMPILE_STEPS = {False: (20, 50, 100), True: (20, 100, 1000)}  # N per recursion (rolled?)
COMPARE_CONFIGS = ("hjb", "allen_cahn", "bs_default_risk")
SCALING_CONFIGS = ("hjb", "bs_diff_rates")
TOLERANCE = 0.005
COMMAND_RUNS = 5  # runs of the whole command, one after another (its median is reported)


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
    compile_steps: dict[bool, tuple[int, ...]]

    def overrides(self) -> list[str]:
        """Config overrides of a quick run: tiny problems, few iterations."""
        if not self.quick:
            return []
        return ["equation.dim=10", "equation.num_time_interval=5", "solver.iterations=30", "solver.log_every=10"]

    def answer_overrides(self) -> list[str]:
        """Overrides of the answer and levers runs (after the configs' own)."""
        return self.overrides() if self.quick else [ANSWER_LOG_EVERY]


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


# ------------------------------------------------------- time to the answer
def answer_run(solver: str, name: str, overrides: list[str], launched: float) -> dict[str, Any]:
    """In a fresh process: trains `solver` ("ours" or "baseline") on configs/<name>.yaml with
    the overrides; `launched` is the parent's time.time() just before starting this process."""
    config = deepbsde.load_config(REPO / "configs" / f"{name}.yaml", overrides)
    equation = config.build_equation()
    built = time.time()
    trainer = Trainer(equation, config.solver) if solver == "ours" else BaselineSolver(equation, config.solver)
    started = time.time()
    history, timings = trainer.run()
    return {"solver": solver, "overrides": overrides, "dtype": config.solver.dtype,
            "preset": config.solver.preset, "start_seconds": built - launched,  # imports, process start-up
            "build_seconds": started - built,  # model, pilot paths (robust preset), optimizer
            "to_training_seconds": started - launched, **timings,
            "history": [asdict(record) for record in history]}


def in_fresh_process(function: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """function(*args, launched) in a new spawned interpreter (TensorFlow imported afresh)."""
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, *args, time.time()).result()


def with_accuracy(run: dict[str, Any], reference: ReferenceValue | None, tolerances: tuple[float, ...]) -> dict:
    """The run with its final error and, per tolerance, the time from the process start (and the
    step) from which its value stays within it."""
    if reference is None:
        return run
    history = [HistoryRecord(**record) for record in run["history"]]
    final = history[-1]
    run.update(value=final.value, iterations=final.step, reference=reference.value,
               rel_error=abs(final.value - reference.value) / abs(reference.value), answer={})
    for tolerance in tolerances:
        reached = time_to_accuracy(history, reference.value, tolerance)
        run["answer"][str(tolerance)] = (None if reached is None else
                                         {"step": reached["step"],
                                          "seconds": run["to_training_seconds"] + reached["seconds"],
                                          "training_seconds": reached["seconds"]})
    return run


def command_wall_seconds(config: str, runs: int = COMMAND_RUNS) -> dict[str, Any]:
    """Wall time of the whole command `deepbsde run CONFIG` (into a temporary folder), `runs` times one after
    another: the median, each run's time, and the last run's output tail (one run alone says little on a
    machine shared with other jobs)."""
    command = [str(Path(sys.executable).with_name("deepbsde")), "run", config, "--out",
               f"runs/benchmark-command-{os.getpid()}"]  # relative to REPO, the command's working directory
    seconds = []
    for _ in range(runs):
        tick = time.perf_counter()
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=True)
        seconds.append(time.perf_counter() - tick)
        shutil.rmtree(REPO / command[-1], ignore_errors=True)
    return {"command": f"deepbsde run {config}", "wall_seconds": statistics.median(seconds),
            "runs_seconds": seconds, "output_tail": done.stdout.strip().splitlines()[-5:]}


def answer_section(settings: Settings) -> dict[str, Any]:
    """Per problem: ours (robust preset), ours (the config's published set-up), the baseline, each in a
    fresh process; then the wall time of `deepbsde run configs/hjb.yaml`."""
    tolerances = (settings.tolerance, TIGHT_TOLERANCE)
    rows = []
    for name in COMPARE_CONFIGS:
        _, options, reference = load_problem(name, settings)
        extra = settings.answer_overrides()
        robust = [] if options.preset == "robust" else ROBUST  # configs/hjb.yaml is robust already
        paper = published_setup(name)
        runs = {"ours (robust)": in_fresh_process(answer_run, "ours", name, [*robust, *extra]),
                "ours (paper)": in_fresh_process(answer_run, "ours", name, [*paper, *extra]),
                "baseline": in_fresh_process(answer_run, "baseline", name,
                                             [*paper, *extra, f"solver.dtype={settings.baseline_dtype}"])}
        for label, run in runs.items():
            with_accuracy(run, reference, tolerances)
            print(f"  answer {name} {label}: {_answer_line(run, settings.tolerance)}", flush=True)
        rows.append({"problem": name, "runs": runs})
    command = (command_wall_seconds("configs/hjb.yaml") if not settings.quick else None)
    if command:
        print(f"  {command['command']}: median {command['wall_seconds']:.1f} s of "
              f"{', '.join(f'{t:.1f}' for t in command['runs_seconds'])}", flush=True)
    return {"rows": rows, "command": command, "tolerances": list(tolerances)}


def published_setup(name: str) -> list[str]:
    """Overrides that give configs/<name>.yaml the PNAS 2018 set-up (the other configs pin it)."""
    return PAPER_HJB if name == "hjb" else []


def _answer_line(run: dict[str, Any], tolerance: float) -> str:
    reached = run.get("answer", {}).get(str(tolerance))
    when = "not reached" if reached is None else f"{reached['seconds']:.1f} s (step {reached['step']})"
    return (f"{run['ms_per_iteration']:.2f} ms/it, compile {run['compile_seconds']:.1f} s, "
            f"{run.get('rel_error', float('nan')):.3%} off after {run.get('iterations')}, "
            f"within {tolerance:.1%} from {when}")


def levers_section(settings: Settings) -> list[dict[str, Any]]:
    """HJB d = 100 in fresh processes, one change at a time (LEVERS)."""
    _, _, reference = load_problem("hjb", settings)
    rows = []
    for label, overrides in LEVERS:
        run = with_accuracy(in_fresh_process(answer_run, "ours", "hjb", [*overrides, *settings.answer_overrides()]),
                            reference, (settings.tolerance, TIGHT_TOLERANCE))
        run["label"] = label
        print(f"  lever {label.strip()}: {_answer_line(run, settings.tolerance)}", flush=True)
        rows.append(run)
    return rows


# ------------------------------------------------------------ step and compile
def stepper(solver: Trainer | BaselineSolver) -> tuple[Callable[[], tf.Tensor], int]:
    """A call that trains, and how many steps it takes: ours steps_per_call at once, as in its runs."""
    if isinstance(solver, Trainer):
        count = solver.options.steps_per_call
        return (lambda: solver.train_steps(count)[-1]), count
    return solver.train_step, 1


def step_section(settings: Settings) -> list[dict[str, Any]]:
    """ms per step of ours in float32 and float64 and of the baseline in float64, timed in
    alternating blocks (each solver's block in turn), so that the machine's load hits all alike."""
    rows = []
    for name in COMPARE_CONFIGS:
        equation, options, _ = load_problem(name, settings, published_setup(name))  # the baseline's set-up
        solvers = {"ours float32": Trainer(equation, replace(options, dtype="float32")),
                   "ours float64": Trainer(equation, replace(options, dtype="float64")),
                   "ours float64, float64 increments": Trainer(equation, replace(options, dtype="float64",
                                                                                 increments_dtype=None)),
                   "baseline float64": BaselineSolver(equation, replace(options, dtype="float64"))}
        plan = settings.timing
        steppers = {label: stepper(solver) for label, solver in solvers.items()}
        blocks: dict[str, list[float]] = {label: [] for label in solvers}
        for step, _ in steppers.values():  # compile, warm up
            for _ in range(plan.warmup):
                step().numpy()
        for _ in range(plan.repeats):
            for label, (step, count) in steppers.items():
                ms, _ = median_ms_per_iteration(step, TimingPlan(0, 1, max(plan.block // count, 1)))
                blocks[label].append(ms / count)
        row = {"problem": name, "ms": {label: statistics.median(b) for label, b in blocks.items()},
               "block_ms": blocks}
        ms = row["ms"]
        print(f"  step {name}: " + ", ".join(f"{label} {value:.2f} ms" for label, value in ms.items())
              + f"; baseline / ours float64 = {ms['baseline float64'] / ms['ours float64']:.2f}", flush=True)
        rows.append(row)
    return rows


def compile_case(num_time_interval: int, rolled: bool, settings: Settings, launched: float) -> dict[str, Any]:
    """In a fresh process: tracing and first-call (XLA) time of HJB's training step at N steps."""
    equation, options, _ = load_problem("hjb", settings, [f"equation.num_time_interval={num_time_interval}",
                                                         f"solver.rolled_time_loop={str(rolled).lower()}"])
    trainer = Trainer(equation, options)
    count = options.steps_per_call
    tick = time.perf_counter()
    batch = trainer.sample_block(count, tf.constant(0, tf.int64))
    sample_seconds = time.perf_counter() - tick
    tick = time.perf_counter()
    trainer.update_block.get_concrete_function(*batch)
    trace_seconds = time.perf_counter() - tick
    tick = time.perf_counter()
    trainer.update_block(*batch).numpy()
    compile_seconds = time.perf_counter() - tick
    ms, _ = median_ms_per_iteration(lambda: trainer.train_steps(count)[-1], TimingPlan(0, 2, 1))
    return {"num_time_interval": num_time_interval, "rolled": rolled, "first_sample_seconds": sample_seconds,
            "trace_seconds": trace_seconds, "compile_seconds": compile_seconds, "ms_per_iteration": ms / count,
            "steps_per_call": count}


def compile_section(settings: Settings) -> list[dict[str, Any]]:
    """compile_case for each N of settings.compile_steps, unrolled and rolled, each in its own process."""
    rows = []
    for rolled, steps in settings.compile_steps.items():
        for num_time_interval in steps:
            row = in_fresh_process(compile_case, num_time_interval, rolled, settings)
            print(f"  compile N={num_time_interval} rolled={rolled}: trace {row['trace_seconds']:.1f} s, "
                  f"compile {row['compile_seconds']:.1f} s, {row['ms_per_iteration']:.1f} ms/step", flush=True)
            rows.append(row)
    return rows


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
    if "answer" in report:
        lines += _answer_table(report["answer"])
    if "levers" in report:
        lines += _levers_table(report["levers"], tol)
    if "step" in report:
        lines += _step_table(report["step"], settings)
    if "compile" in report:
        lines += _compile_table(report["compile"])
    if "compare" in report:
        float64 = {row["problem"]: row["float64"] for row in report.get("precision", [])}
        lines += _compare_table(report["compare"], tol, float64)
    if "precision" in report:
        lines += _precision_table(report["precision"], tol)
    if "scaling" in report:
        lines += _scaling_table(report["scaling"], settings, tol)
    return "\n".join(lines) + "\n"


def _reached(run: dict[str, Any], tolerance: float) -> str:
    reached = run.get("answer", {}).get(str(tolerance))
    if "answer" not in run:
        return "no reference"
    if reached is None:
        return f"not for good by step {run['iterations']}"
    return f"{reached['seconds']:.1f} s (step {reached['step']}, {reached['training_seconds']:.1f} s training)"


def _answer_cells(run: dict[str, Any], tolerances: list[float]) -> str:
    return (f"{run['dtype']} | {run['to_training_seconds']:.1f} | {run['compile_seconds']:.1f} | "
            f"{run['ms_per_iteration']:.2f} | {run['iterations']} | {run['seconds']:.1f} | "
            f"{run.get('rel_error', float('nan')):.3%} | " + " | ".join(_reached(run, t) for t in tolerances))


def _answer_ratio(ours: dict[str, Any], baseline: dict[str, Any], tolerance: float) -> str:
    a, b = ours.get("answer", {}).get(str(tolerance)), baseline.get("answer", {}).get(str(tolerance))
    if a is None or b is None:
        return "n/a (not reached)"
    return f"{b['seconds'] / a['seconds']:.1f}x"


def _answer_table(answer: dict[str, Any]) -> list[str]:
    tolerances = answer["tolerances"]
    within = " | ".join(f"within {t:.1%} for good from (s since process start)" for t in tolerances)
    lines = ["## Time to the answer", "",
             "Each run in a fresh process; times from its start (importing TensorFlow, building the model and "
             "the robust preset's pilot paths, compiling, training, validation records; the reference is "
             "computed beforehand and not counted, for every run alike). For good: from that logged step "
             "on the value stays within the tolerance to the end of the run (log every 50 steps). Ours "
             "(robust): `preset: robust` (Monte Carlo pilot Y_0, normalised inputs, scaled Z, adaptive rate "
             "with its convergence stop; `configs/hjb.yaml` as shipped); ours (paper): the PNAS 2018 set-up "
             "the other configs pin; baseline: the reference's per-step design, the paper set-up in "
             "float64.", "",
             f"| problem | solver | dtype | start to training (s) | compile (s) | ms/step | steps | training (s) "
             f"| final rel. error | {within} |",
             "|---|---|---|---|---|---|---|---|---|" + "---|" * len(tolerances)]
    for row in answer["rows"]:
        for label, run in row["runs"].items():
            lines.append(f"| {row['problem']} | {label} | {_answer_cells(run, tolerances)} |")
    lines += ["", "| problem | " + " | ".join(f"time to {t:.1%}: baseline / ours (robust)" for t in tolerances)
              + " | " + " | ".join(f"baseline / ours (paper), {t:.1%}" for t in tolerances) + " |",
              "|---|" + "---|" * (2 * len(tolerances))]
    for row in answer["rows"]:
        runs = row["runs"]
        lines.append(f"| {row['problem']} | "
                     + " | ".join(_answer_ratio(runs["ours (robust)"], runs["baseline"], t) for t in tolerances)
                     + " | " + " | ".join(_answer_ratio(runs["ours (paper)"], runs["baseline"], t)
                                          for t in tolerances) + " |")
    if answer["command"]:
        command = answer["command"]
        lines += ["", f"Whole command `{command['command']}` (start-up, pilot, compile, training, reference, "
                      f"self-check, writing the run folder): median {command['wall_seconds']:.1f} s wall of "
                      f"{len(command['runs_seconds'])} runs one after another "
                      f"({', '.join(f'{t:.1f}' for t in command['runs_seconds'])} s). The last one's last lines:",
                  "", *[f"    {line}" for line in command["output_tail"]]]
    return lines + [""]


def _levers_table(rows: list[dict[str, Any]], tol: float) -> list[str]:
    tolerances = [tol, TIGHT_TOLERANCE]
    lines = ["## Levers (HJB, d = 100, float32)", "",
             "One change at a time, each run in a fresh process, measured as in the table above. Indented rows "
             "change one thing from the unindented row above them.", "",
             "| run | dtype | start to training (s) | compile (s) | ms/step | steps | training (s) | final rel. error "
             "| " + " | ".join(f"within {t:.1%} for good from" for t in tolerances) + " |",
             "|---|---|---|---|---|---|---|---|" + "---|" * len(tolerances)]
    for run in rows:
        label = run["label"].replace("  ", "&nbsp;&nbsp;&nbsp;", 1) if run["label"].startswith("  ") else run["label"]
        lines.append(f"| {label} | {_answer_cells(run, tolerances)} |")
    return lines + [""]


def _step_table(rows: list[dict[str, Any]], settings: dict[str, Any]) -> list[str]:
    plan = settings["timing"]
    lines = ["## Per step, like for like", "",
             f"The solvers built side by side in one process and timed in turn, block after block "
             f"({plan['warmup']} warm-up steps each, then {plan['repeats']} rounds of one block of {plan['block']} "
             "steps per solver; median over the rounds), so that the machine's changing load falls on all "
             "alike. All with the published set-up (preset paper: batch norm, the same networks) of "
             "configs/*.yaml, ours with steps_per_call 10. Ours draws the training increments in float32 "
             "(`solver.increments_dtype`, the default) and computes in the column's dtype; the column "
             "\"float64 increments\" draws them in float64 as the baseline does.", "",
             "| problem | ours float32 (ms) | ours float64 (ms) | ours float64, float64 increments (ms) "
             "| baseline float64 (ms) | baseline / ours, float64 | the same, float64 increments "
             "| baseline / ours float32 |", "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        ms = row["ms"]
        baseline = ms["baseline float64"]
        exact = ms["ours float64, float64 increments"]
        lines.append(f"| {row['problem']} | {ms['ours float32']:.2f} | {ms['ours float64']:.2f} | {exact:.2f} | "
                     f"{baseline:.2f} | {baseline / ms['ours float64']:.2f}x | {baseline / exact:.2f}x | "
                     f"{baseline / ms['ours float32']:.2f}x |")
    return lines + [""]


def _compile_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = ["## Tracing and compilation against N (HJB, d = 100, float32)", "",
             "Each case in a fresh process: tracing of the compiled block of steps_per_call steps "
             "(`get_concrete_function`), then its first call (XLA compilation and one run), then ms per step. "
             "Unrolled: one copy of f and its gradient per time step in the graph, the paths built inside XLA; "
             "rolled (`rolled_time_loop: true`): a `tf.while_loop` over the steps, the paths built outside XLA.",
             "", "| N | recursion | sampling: first call (s) | tracing (s) | first call: XLA compile (s) | ms/step |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['num_time_interval']} | {'rolled' if r['rolled'] else 'unrolled'} | "
                     f"{r['first_sample_seconds']:.1f} | {r['trace_seconds']:.1f} | {r['compile_seconds']:.1f} | "
                     f"{r['ms_per_iteration']:.1f} |")
    return lines + [""]


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
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(DEFAULT_SECTIONS))
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks.md",
                        help="Markdown report; the raw numbers go to the same name with .json")
    parser.add_argument("--dims", type=int, nargs="+", default=None, help="scaling dimensions")
    parser.add_argument("--scaling-width", type=int, default=None,
                        help="hidden width of both layers in scaling (default 110; 16 with --quick)")
    parser.add_argument("--baseline-dtype", choices=("float32", "float64"), default="float64")
    parser.add_argument("--repeats", type=int, default=7,
                        help="timed blocks per solver (medians over them; more for a steadier median)")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    if args.quick:
        settings = Settings(True, TimingPlan(1, 3, 3), TimingPlan(1, 2, 1), tuple(args.dims or (10, 10000)),
                            args.scaling_width or 16, 10, args.baseline_dtype, TOLERANCE,
                            {False: (5, 10), True: (5, 50)})
    else:
        settings = Settings(False, TimingPlan(10, args.repeats, 25), TimingPlan(1, 3, 2),
                            tuple(args.dims or (100, 1000, 10000)), args.scaling_width or 110, 100,
                            args.baseline_dtype, TOLERANCE, COMPILE_STEPS)
    return args, settings


def main(argv: list[str]) -> None:
    args, settings = parse_settings(argv)
    start = time.perf_counter()
    report: dict[str, Any] = {"environment": environment(["scripts/benchmark.py", *argv]),
                              "settings": asdict(settings)}
    ours = OurRuns(settings)
    for section, measure in (("answer", answer_section), ("levers", levers_section), ("step", step_section),
                             ("compile", compile_section)):
        if section in args.sections:
            print(section, flush=True)
            report[section] = measure(settings)
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
