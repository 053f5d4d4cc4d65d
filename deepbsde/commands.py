"""The commands of `deepbsde` (run, reference, list, evaluate) and what they print.

deepbsde.cli parses the command line and imports this module only when a command runs, so
that `deepbsde --help` and an argument error import neither it nor TensorFlow. Each
`command_NAME(args)` takes the parsed arguments and returns the exit code.
"""
from __future__ import annotations

import gc
import os

# The command (deepbsde.cli and this module) is the program, not the library: it alone
# quiets TensorFlow's start-up logging, before TensorFlow is first imported (the imports below).
# TF_CPP_MIN_LOG_LEVEL quiets TensorFlow's own C++ log; the oneDNN and absl
# banners of TensorFlow 2.21 are written to file descriptor 2 during the import
# whatever it says, so stderr is pointed at /dev/null for the import alone.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
_stderr, _devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
os.dup2(_devnull, 2)
# The import makes about 320,000 objects the collector tracks, none of them garbage: its full collections during it
# cost about 0.4 s of the command's start on a 2-core CPU (docs/benchmarks.md), so they wait until it is done.
# On CPython 3.11 its time also depends on how deep the Python stack is when it starts: frames live in 16 KiB chunks,
# mapped and unmapped whenever a call crosses a chunk's end, which at some depths TensorFlow's import does 51,000
# times (+0.3 s; `strace -e munmap`). Imported here, within this module's import, it does so 8,500 times.
_collecting = gc.isenabled()
gc.disable()
try:
    import tensorflow  # noqa: F401
finally:
    if _collecting:
        gc.enable()
    os.dup2(_stderr, 2)
    os.close(_stderr)
    os.close(_devnull)

import argparse  # noqa: E402
import csv  # noqa: E402
import importlib.resources  # noqa: E402
import io  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from pathlib import Path  # noqa: E402
from types import FrameType  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from deepbsde.checks.control_variate import RegionControlVariate  # noqa: E402
from deepbsde.checks.diagnostics import NotConvergedWarning  # noqa: E402
from deepbsde.errors import ConfigError, ParameterError, TrainingInterrupted  # noqa: E402
from deepbsde.pricing.book import load_price_function  # noqa: E402
from deepbsde.pricing.early_exercise import EarlyExerciseJob, early_exercise_job  # noqa: E402
from deepbsde.reference.resolve import best_reference  # noqa: E402
from deepbsde.runs.config import apply_overrides, load_config, read_yaml  # noqa: E402
from deepbsde.runs.files import LOCK, STAGING, atomic_write, remove_entry  # noqa: E402
from deepbsde.runs.region_run import LINE_PLOT, RegionRunResult, is_region_run, load_region_run  # noqa: E402
from deepbsde.runs.runner import run_config  # noqa: E402
from deepbsde.runs.solve import check_on_twice_the_time_steps  # noqa: E402
from deepbsde.solver.history import HistoryRecord  # noqa: E402
from equations.registry import available, equation_class  # noqa: E402

#: The configurations installed with the package (deepbsde/configs links to configs/).
SHIPPED_CONFIGS = importlib.resources.files("deepbsde") / "configs"


def shipped_configs() -> list[str]:
    """Names of the shipped configurations, e.g. "hjb" for configs/hjb.yaml."""
    return sorted(entry.name[:-len(".yaml")] for entry in SHIPPED_CONFIGS.iterdir() if entry.name.endswith(".yaml"))


def config_path(argument: str) -> Path:
    """The YAML file a CONFIG argument names: a path, or a shipped configuration's name."""
    path = Path(argument)
    if path.exists() or path.suffix in (".yaml", ".yml") or os.sep in argument:
        return path
    if argument in shipped_configs():
        return Path(str(SHIPPED_CONFIGS / f"{argument}.yaml"))
    raise ConfigError("config", f"no file {argument!r} and no shipped configuration of that name; "
                                f"shipped: {', '.join(shipped_configs())}")


class ProgressPrinter:
    """Prints one line per logged step: loss, value, speed and time left.

    Not keras.utils.Progbar: when the output is not a terminal (CI logs, `| tee`),
    Progbar printed only the first and the last of four updates here, with
    terminal escape codes and backspaces in the file; a run's log needs every line.
    """

    def __init__(self, stream=None):
        self.stream = stream  # None: whatever sys.stdout is at print time
        self.last: HistoryRecord | None = None

    def on_checkpoint(self, step: int) -> None:
        pass

    def on_record(self, record: HistoryRecord, total: int) -> None:
        speed = ""
        if self.last is not None and record.elapsed > self.last.elapsed:
            rate = (record.step - self.last.step) / (record.elapsed - self.last.elapsed)
            eta = (total - record.step) / rate if rate > 0 else float("nan")
            speed = f"  {rate:7.1f} it/s  ETA {eta:6.1f} s"
        self.last = record
        print(f"step {record.step:6d}/{total}  loss {record.loss:.4e}  value {record.value:.6g}  "
              f"lr {record.learning_rate:.1e}  {record.elapsed:7.1f} s{speed}", file=self.stream, flush=True)


class StopRequest:
    """SIGINT/SIGTERM while training: checkpoint after the current step, then exit 130/143.

    Before the first step has succeeded (building, tracing, XLA compilation), after the
    last (reference, writing), or on a second signal, the process exits at once: a thread
    woken through signal.set_wakeup_fd acts even while the main thread is inside a long
    TensorFlow call, which Python's own handlers would wait for. `cleanup` is run first
    (it removes a new run's unfinished folder); checkpoints already written are whole.
    """

    def __init__(self, cleanup: Callable[[], None] = lambda: None):
        self.signal_number: int | None = None
        self.cleanup = cleanup
        self.training = False
        self.count = 0
        self._previous: dict[int, object] = {}
        self._previous_wakeup = -1
        self._sockets: tuple[socket.socket, socket.socket] | None = None

    def install(self) -> None:
        reader, writer = socket.socketpair()
        writer.setblocking(False)
        self._sockets = (reader, writer)
        self._previous_wakeup = signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
        for number in (signal.SIGINT, signal.SIGTERM):
            self._previous[number] = signal.signal(number, self._handle)
        threading.Thread(target=self._watch, args=(reader,), name="deepbsde-signals", daemon=True).start()

    def uninstall(self) -> None:
        if self._sockets is None:
            return
        for number, handler in self._previous.items():
            signal.signal(number, handler)  # type: ignore[arg-type]
        signal.set_wakeup_fd(self._previous_wakeup)
        reader, writer = self._sockets
        writer.send(b"\0")  # wakes the watcher, which then ends
        self._sockets = None

    def _handle(self, number: int, frame: FrameType | None) -> None:
        """Python's handler: the watcher thread has already acted on the signal."""

    def _watch(self, reader: socket.socket) -> None:
        while True:
            data = reader.recv(16)
            for number in data:
                if number == 0:
                    reader.close()
                    return
                self.count += 1
                self.signal_number = number
                if self.count > 1 or not self.training:
                    self._exit_now(number)

    def _exit_now(self, number: int) -> None:
        when = "a second signal" if self.count > 1 else "not training"
        try:
            self.cleanup()
        finally:
            print(f"deepbsde: stopped at once by {signal.Signals(number).name} ({when}); checkpoints already "
                  "written are kept", file=sys.stderr, flush=True)
            sys.stdout.flush()
            os._exit(128 + number)

    # the training loop's observer: the phases in which a signal waits for the next step
    def on_started(self, step: int) -> None:
        self.training = True

    def on_finished(self, step: int) -> None:
        self.training = False

    def on_record(self, record: HistoryRecord, total: int) -> None:
        pass

    def on_checkpoint(self, step: int) -> None:
        pass

    def __call__(self) -> bool:
        return self.signal_number is not None


def _abandon_new_run(out: Path, existed: bool) -> Callable[[], None]:
    """What an immediate stop removes: the staging folder of a run that had not started,
    and the folder itself (with its lock file) when this command created it."""
    def cleanup() -> None:
        remove_entry(out / STAGING)
        if not existed and out.is_dir() and sorted(os.listdir(out)) in ([], [LOCK]):
            (out / LOCK).unlink(missing_ok=True)
            out.rmdir()
    return cleanup


@contextmanager
def verdict_printed_by_the_command() -> Iterator[None]:
    """Silences the self-check's NotConvergedWarning, which the library raises for Python callers: the command
    prints the verdict itself, as a WARNING line with the result, not as a warning pointing into this module."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotConvergedWarning)
        yield


def error_against(value: float, reference: float) -> str:
    """|value / reference - 1| as a percentage, or |value - reference| where the reference is 0 (a relative
    error has no meaning there)."""
    return f"{abs(value / reference - 1):.3%}" if reference else f"{abs(value - reference):.3g}"


def command_run(args: argparse.Namespace) -> int:
    """Trains on a configuration (or prices a `kind: bermudan` one), writes the run folder and prints the
    result; a signal while training saves a checkpoint and returns 128 + its number."""
    if args.resume and args.out and Path(args.out) != Path(args.resume):
        raise ConfigError("--out", "give either --out or --resume: a resumed run writes into its own folder")
    path = config_path(args.config)
    raw = apply_overrides(read_yaml(path), args.set)
    if isinstance(raw, dict) and raw.get("kind") == "bermudan":
        return price_early_exercise_config(early_exercise_job(raw), args.quiet)
    config = load_config(path, args.set)
    if args.check_time_grid and config.x0_region is not None:
        raise ConfigError("--check-time-grid", "applies to a solve at one point, not to a region (x0_region)")
    equation = config.build_equation()
    out = Path(args.resume or args.out or Path("runs") / f"{path.stem}-{time.strftime('%Y%m%d-%H%M%S')}")
    say = (lambda *a, **k: None) if args.quiet else print
    say(f"{'resuming' if args.resume else 'solving'} {equation.name} (d = {equation.dim}, T = {equation.total_time}, "
        f"N = {equation.num_time_interval}) for {config.solver.iterations} iterations in {out}", flush=True)
    stop = StopRequest(cleanup=(lambda: None) if args.resume else _abandon_new_run(out, out.exists()))
    stop.install()
    try:
        with verdict_printed_by_the_command():
            result = run_config(config, out, resume=bool(args.resume), overwrite=args.overwrite,
                                observers=[stop, *([] if args.quiet else [ProgressPrinter()])], should_stop=stop,
                                report=lambda message: print(f"deepbsde: {message}", file=sys.stderr, flush=True))
    except TrainingInterrupted as interrupted:
        print(f"deepbsde: {interrupted}; checkpoint saved to {interrupted.checkpoint}\n"
              f"continue with: deepbsde run {args.config} --resume {out}", file=sys.stderr)
        return 128 + (stop.signal_number or signal.SIGINT)
    finally:
        stop.uninstall()
    if args.check_time_grid and not isinstance(result, RegionRunResult):
        say(f"checking the time grid: solving again with N = {2 * equation.num_time_interval}", flush=True)
        with verdict_printed_by_the_command():
            check_on_twice_the_time_steps(result, equation, config.solver.to_dict())
        result.write(out)  # result.json with the check
    if isinstance(result, RegionRunResult):
        at = ", ".join(f"{name} = {(low + high) / 2:.4g}" for name, (low, high) in result.parameter_ranges.items())
        print(f"u(0, centre of the region) = {result.value_at_centre:.6f}" + (f" at {at}" if at else ""))
        for position, reference in zip(result.line_reference_positions, result.line_references):
            value = np.interp(position, result.line_positions, result.line_values)
            print(f"on the line at {position:+.3g}: u = {value:.6f}, reference = {reference:.6f} "
                  f"({error_against(value, reference)} off)")
        say(f"{result.iterations} iterations in {result.seconds:.1f} s ({result.ms_per_iteration:.2f} ms/iteration, "
            f"compile {result.compile_seconds:.1f} s)")
        say(f"wrote {out}/: result.json, history.csv, {LINE_PLOT}, checkpoints/, model/, tensorboard/; "
            f"evaluate with: deepbsde evaluate {out} --points points.csv")
        return 0
    print(f"u(0, x0) = {result.value:.6f}")
    if result.network_value != result.value and result.diagnostics is not None and result.diagnostics.bound:
        print(f"    (the certified {result.diagnostics.bound.side} bound: the networks' Y_0 = "
              f"{result.network_value:.6f} lies beyond it)")
    if result.reference is not None:
        interval = f" +/- {result.reference_half_width:.2g}" if result.reference_half_width else ""
        kind = "relative" if result.reference else "absolute"
        print(f"reference = {result.reference:.6f}{interval} ({result.reference_source}); "
              f"{kind} error = {error_against(result.value, result.reference)}")
    check = result.diagnostics
    if check is not None:
        if check.control_variate is not None:
            print(f"control-variate Monte Carlo price = {check.control_variate.value:.6f} "
                  f"+/- {check.control_variate.half_width:.2g} (95%)")
        if check.bound is not None:
            source = ("from the networks' Z" if check.bound.tightened_from is None else
                      f"from the networks trained for it on {check.bound.substeps} sub-steps per time step, "
                      f"{check.bound.tightened_from:.6f} before")
            print(f"certified {check.bound.side} bound on u(0, x0) = {check.bound.value:.6f} "
                  f"+/- {check.bound.half_width:.2g} (95%, {source})")
        if check.linearized is not None:
            print(f"linearised value = {check.linearized.value:.6f} +/- {check.linearized.half_width:.2g} (95%, the "
                  "linear equation of f's tangents along the networks' paths: a check of the value, not a bound)")
        if check.plain_measure is not None:
            print(f"value under the original measure = {check.plain_measure.value:.6f} +/- "
                  f"{check.plain_measure.half_width:.2g} (95%, the networks trained under the tangent measure on "
                  "paths of the forward process itself: a first-order check of the value)")
        print(check.message() if check.converged else f"WARNING: {check.message()}")
    say(f"{result.iterations} iterations in {result.seconds:.1f} s "
        f"({result.ms_per_iteration:.2f} ms/iteration, compile {result.compile_seconds:.1f} s, {result.device})")
    say(f"wrote {out}/: result.json, history.csv, training.png, checkpoints/, model/, tensorboard/")
    return 0


def price_early_exercise_config(job: EarlyExerciseJob, quiet: bool) -> int:
    """Prices a `kind: bermudan` configuration and prints the certified bounds."""
    if not quiet:
        print(f"pricing a {type(job.exercise).__name__} option on {job.model.dim} assets "
              f"(maturity {job.maturity}) by deep optimal stopping", flush=True)
    result = job.run()
    low, high = result.interval
    print(f"price = {result.price:.6f}  (lower {result.lower:.6f} +/- {result.lower_std_error:.2g}, "
          f"upper {result.upper:.6f} +/- {result.upper_std_error:.2g})")
    print(f"95% interval = [{low:.6f}, {high:.6f}]")
    if job.published is not None:
        print(f"published = {job.published}; relative error = {abs(result.price / job.published - 1):.3%}")
    if not quiet:
        print(f"exercise probability per date: {[round(float(p), 4) for p in result.exercise_probability]}")
        print(f"deltas at t = 0: {[round(float(d), 4) for d in result.deltas]} ({result.deltas_method})")
        phases = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in result.timings.items())
        print(f"time: {sum(result.timings.values()):.1f} s ({phases})")
    return 0


def command_reference(args: argparse.Namespace) -> int:
    """Computes the full-grade reference of the configuration's equation and prints it."""
    equation = load_config(config_path(args.config), args.set).build_equation()
    print(f"reference for {equation.name} (d = {equation.dim}, T = {equation.total_time})", flush=True)
    start = time.perf_counter()
    reference = best_reference(equation, cheap=False, seed=args.seed)
    if reference is None:
        print(f"deepbsde: no reference for {equation.name} at these parameters: no exact solution, no "
              "reference method, and not the published parameters", file=sys.stderr)
        return 2
    interval = "" if reference.half_width is None else f" +/- {reference.half_width:.2g} (95%)"
    print(f"u(0, x0) = {reference.value:.6f}{interval}\nmethod: {reference.source}\n"
          f"time: {time.perf_counter() - start:.1f} s")
    return 0


def command_list(args: argparse.Namespace) -> int:
    """Prints the registered equations with their defaults, or the shipped configurations."""
    if args.configs:
        for name in shipped_configs():
            summary = (SHIPPED_CONFIGS / f"{name}.yaml").read_text().splitlines()[0].lstrip("# ")
            print(f"{name}: {summary}")
        return 0
    for name in available():
        cls = equation_class(name)
        print(f"{name}: {cls.summary}")
        defaults = ", ".join(f"{k}={v}" for k, v in cls.parameter_defaults().items())
        print(f"    defaults: {defaults}")
        if cls.published_value is not None:
            print(f"    published u(0, x0) = {cls.published_value} ({cls.source})")
    return 0


def command_evaluate(args: argparse.Namespace) -> int:
    """Values and sensitivities of a saved price function, or of a region run, at the points of a CSV file.

    The CSV has a header. For a price function (PriceFunction.save) columns named volatility and rate
    (if any) are the parameters and every other column is a spot, in asset order; the output repeats
    the input columns and adds price, delta_1..delta_d, and vega / rho for the parameters the function
    was trained over (the network's); with --paths N also NAME_estimate and NAME_half_width for each of
    them (the control-variate estimate). For a region run (`deepbsde run` of a config with
    equation.x0_region) columns named as its parameters (equation.parameter_ranges) are their values,
    a missing one at its range's midpoint, and every other column is a coordinate of x, in order; the
    output adds u, grad_1..grad_d and grad_NAME for each parameter NAME, and with --paths N their
    Monte Carlo estimates from N paths per point (NAME_estimate, NAME_half_width;
    deepbsde.checks.control_variate.RegionControlVariate: unbiased for a linear equation, for a
    nonlinear one off by the networks' error inside f). --out is written atomically.
    """
    try:
        with open(args.points, newline="") as handle:
            rows = list(csv.DictReader(handle))
        if not rows:
            raise ParameterError("points", f"{args.points} has no rows")
        names = list(rows[0])
        columns = region_columns(args, rows, names) if is_region_run(args.run) else book_columns(args, rows, names)
    except (ParameterError, OSError, ValueError) as error:
        print(f"deepbsde: {error}", file=sys.stderr)
        return 2
    table = [[*names, *columns]] + [[*(row[n] for n in names), *(f"{values[i]:.6g}" for values in columns.values())]
                                    for i, row in enumerate(rows)]
    text = io.StringIO(newline="")
    csv.writer(text).writerows(table)
    if args.out:
        atomic_write(args.out, text.getvalue())  # a reader never sees half a file; a failure is a RunFolderError
    else:
        sys.stdout.write(text.getvalue())
    return 0


def region_columns(args: argparse.Namespace, rows: list[dict[str, str]], names: list[str]) -> dict[str, Any]:
    """u, grad_1..grad_d and grad_NAME per parameter of a region run at the CSV's points (columns named as
    parameters give their values, every other column a coordinate)."""
    solution = load_region_run(args.run)
    parameters = solution.problem.parameters.names
    coordinates = [n for n in names if n not in parameters]
    if len(coordinates) != solution.problem.dim:
        shown_parameters = f" besides the parameter columns ({', '.join(parameters)})" if parameters else ""
        raise ParameterError("points", f"{args.points} has {len(coordinates)} coordinate columns{shown_parameters} "
                                       f"but the region run has dimension {solution.problem.dim}")
    given = {n: [float(row[n]) for row in rows] for n in parameters if n in names}
    points = [[float(row[n]) for n in coordinates] for row in rows]
    values = solution.evaluate(points, given)
    columns = {"u": values["u"], **{f"grad_{i + 1}": column for i, column in enumerate(values["grad_x"].T)},
               **{f"grad_{name}": column for name, column in zip(parameters, values["grad_p"].T)}}
    if args.paths:
        x, p = solution.inputs(points, given)
        estimate = RegionControlVariate(solution.model).estimate(x.numpy().astype(np.float64),
                                                                 p.numpy().astype(np.float64),
                                                                 paths=args.paths, seed=args.seed)
        # the estimate's columns in the order of the network's: u, grad_1..grad_d, grad_NAME
        estimated = np.column_stack([estimate.value, estimate.gradient, estimate.sensitivities])
        half_widths = np.column_stack([estimate.value_half_widths, estimate.gradient_half_widths,
                                       estimate.sensitivity_half_widths])
        for j, name in enumerate(list(columns)):
            columns[f"{name}_estimate"], columns[f"{name}_half_width"] = estimated[:, j], half_widths[:, j]
    return columns


def book_columns(args: argparse.Namespace, rows: list[dict[str, str]], names: list[str]) -> dict[str, Any]:
    """Price, deltas, vega / rho (and with --paths the estimate) of a price function at the CSV's points."""
    book = load_price_function(args.run)
    spot_names = [n for n in names if n not in ("volatility", "rate")]
    spots = [[float(row[n]) for n in spot_names] for row in rows]
    given = {n: [float(row[n]) for row in rows] for n in ("volatility", "rate") if n in names}
    columns: dict[str, Any] = {"price": book.price(spots, **given)}
    for i, delta in enumerate(book.deltas(spots, **given).T):
        columns[f"delta_{i + 1}"] = delta
    for name, method in (("volatility", book.vegas), ("rate", book.rhos)):
        if name in book.ranges.names:
            columns["vega" if name == "volatility" else "rho"] = method(spots, **given)
    if args.paths:
        estimate = book.estimate(spots, **given, paths=args.paths, seed=args.seed)
        for name, (values, half_widths) in estimate.columns().items():
            columns[f"{name}_estimate"], columns[f"{name}_half_width"] = values, half_widths
    return columns
