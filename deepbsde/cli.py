"""The `deepbsde` command.

    deepbsde run CONFIG [--set key.path=value ...] [--out DIR] [--resume DIR] [--overwrite] [--quiet]
    deepbsde list [--configs]
    deepbsde reference CONFIG [--set key.path=value ...] [--seed N]

CONFIG is a YAML file or the name of a shipped configuration (`deepbsde run hjb`).
Exit codes: 0 done, 1 diverged, 2 bad input, 130/143 interrupted by SIGINT/SIGTERM
(a checkpoint is saved first; continue with --resume).
"""
from __future__ import annotations

import os

# This module is the program, not the library: it alone quiets TensorFlow's
# start-up logging, before TensorFlow is first imported (the imports below).
# TF_CPP_MIN_LOG_LEVEL quiets TensorFlow's own C++ log; the oneDNN and absl
# banners of TensorFlow 2.21 are written to file descriptor 2 during the import
# whatever it says, so stderr is pointed at /dev/null for the import alone.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
_stderr, _devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
os.dup2(_devnull, 2)
try:
    import tensorflow  # noqa: F401
finally:
    os.dup2(_stderr, 2)
    os.close(_stderr)
    os.close(_devnull)

import argparse  # noqa: E402
import csv  # noqa: E402
import importlib.resources  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from pathlib import Path  # noqa: E402
from types import FrameType  # noqa: E402

from deepbsde.errors import ConfigError, DivergenceError, ParameterError, RunFolderError, TrainingInterrupted  # noqa: E402
from deepbsde.pricing.book import load_price_function  # noqa: E402
from deepbsde.reference.resolve import best_reference  # noqa: E402
from deepbsde.runs.config import load_config  # noqa: E402
from deepbsde.runs.runner import run_config  # noqa: E402
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
    """Prints one line per logged step: loss, value, speed and time left."""

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
    """Turns SIGINT/SIGTERM into a request to checkpoint and stop after the current step."""

    def __init__(self):
        self.signal_number: int | None = None

    def install(self) -> None:
        for number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(number, self._handle)

    def _handle(self, number: int, frame: FrameType | None) -> None:
        self.signal_number = number

    def __call__(self) -> bool:
        return self.signal_number is not None


def command_run(args: argparse.Namespace) -> int:
    if args.resume and args.out and Path(args.out) != Path(args.resume):
        raise ConfigError("--out", "give either --out or --resume: a resumed run writes into its own folder")
    path = config_path(args.config)
    config = load_config(path, args.set)
    equation = config.build_equation()
    out = Path(args.resume or args.out or Path("runs") / f"{path.stem}-{time.strftime('%Y%m%d-%H%M%S')}")
    say = (lambda *a, **k: None) if args.quiet else print
    say(f"{'resuming' if args.resume else 'solving'} {equation.name} (d = {equation.dim}, T = {equation.total_time}, "
        f"N = {equation.num_time_interval}) for {config.solver.iterations} iterations in {out}", flush=True)
    stop = StopRequest()
    stop.install()
    try:
        result = run_config(config, out, resume=bool(args.resume), overwrite=args.overwrite,
                            observers=[] if args.quiet else [ProgressPrinter()], should_stop=stop)
    except TrainingInterrupted as interrupted:
        print(f"deepbsde: {interrupted}; checkpoint saved to {interrupted.checkpoint}\n"
              f"continue with: deepbsde run {args.config} --resume {out}", file=sys.stderr)
        return 128 + (stop.signal_number or signal.SIGINT)
    print(f"u(0, x0) = {result.value:.6f}")
    if result.reference is not None:
        interval = f" +/- {result.reference_half_width:.2g}" if result.reference_half_width else ""
        print(f"reference = {result.reference:.6f}{interval} ({result.reference_source}); "
              f"relative error = {result.rel_error:.3%}")
    say(f"{result.iterations} iterations in {result.seconds:.1f} s "
        f"({result.ms_per_iteration:.2f} ms/iteration, compile {result.compile_seconds:.1f} s, {result.device})")
    say(f"wrote {out}/: result.json, history.csv, training.png, checkpoints/, model/, tensorboard/")
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
    """Prices, deltas and the parameter sensitivities of a saved price function at the points of a CSV file.

    The CSV has a header; columns named volatility and rate (if any) are the parameters, every other
    column is a spot, in asset order. The output repeats the input columns and adds price,
    delta_1..delta_d, and vega / rho for the parameters the function was trained over.
    """
    try:
        book = load_price_function(args.run)
        with open(args.points, newline="") as handle:
            rows = list(csv.DictReader(handle))
        if not rows:
            raise ParameterError("points", f"{args.points} has no rows")
        names = list(rows[0])
        spot_names = [n for n in names if n not in ("volatility", "rate")]
        spots = [[float(row[n]) for n in spot_names] for row in rows]
        given = {n: [float(row[n]) for row in rows] for n in ("volatility", "rate") if n in names}
        columns = {"price": book.price(spots, **given)}
        for i, delta in enumerate(book.deltas(spots, **given).T):
            columns[f"delta_{i + 1}"] = delta
        for name, method in (("volatility", book.vegas), ("rate", book.rhos)):
            if name in book.ranges.names:
                columns["vega" if name == "volatility" else "rho"] = method(spots, **given)
    except (ParameterError, OSError, ValueError) as error:
        print(f"deepbsde: {error}", file=sys.stderr)
        return 2
    table = [[*names, *columns]] + [[*(row[n] for n in names), *(f"{values[i]:.6g}" for values in columns.values())]
                                    for i, row in enumerate(rows)]
    if args.out:
        with open(args.out, "w", newline="") as handle:
            csv.writer(handle).writerows(table)
    else:
        csv.writer(sys.stdout).writerows(table)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="deepbsde", description="Deep BSDE solver for high-dimensional PDEs.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="train on a YAML configuration and write the result")
    run.add_argument("config", help="YAML configuration (e.g. configs/hjb.yaml) or a shipped one by name (hjb)")
    run.add_argument("--set", action="append", default=[], metavar="KEY.PATH=VALUE",
                     help="override a configuration field, e.g. --set solver.iterations=200 (repeatable)")
    run.add_argument("--out", help="output folder (default: runs/<config>-<time>)")
    run.add_argument("--resume", metavar="DIR", help="continue the interrupted run in DIR from its last checkpoint")
    run.add_argument("--overwrite", action="store_true", help="replace a run already in the output folder")
    run.add_argument("--quiet", action="store_true", help="print only the final value and reference")
    run.set_defaults(handler=command_run)
    reference = commands.add_parser("reference", help="compute the reference u(0, x0) of a configuration's equation")
    reference.add_argument("config", help="YAML configuration or a shipped one by name, e.g. allen_cahn")
    reference.add_argument("--set", action="append", default=[], metavar="KEY.PATH=VALUE",
                           help="override a configuration field, e.g. --set equation.dim=10 (repeatable)")
    reference.add_argument("--seed", type=int, default=0, help="seed of the Monte Carlo / MLP reference")
    reference.set_defaults(handler=command_reference)
    listing = commands.add_parser("list", help="list the registered equations with their defaults")
    listing.add_argument("--configs", action="store_true", help="list the shipped configurations instead")
    listing.set_defaults(handler=command_list)
    evaluate = commands.add_parser("evaluate", help="prices and sensitivities of a saved price function at points")
    evaluate.add_argument("run", help="folder written by PriceFunction.save")
    evaluate.add_argument("--points", required=True, help="CSV: a header, one spot column per asset, optionally "
                                                          "volatility and rate columns")
    evaluate.add_argument("--out", help="output CSV (default: standard output)")
    evaluate.set_defaults(handler=command_evaluate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except ConfigError as error:
        print(f"deepbsde: configuration error: {error}", file=sys.stderr)
        return 2
    except RunFolderError as error:
        print(f"deepbsde: run folder error: {error}", file=sys.stderr)
        return 2
    except DivergenceError as error:
        kept = f"; the last good checkpoint is kept: {error.checkpoint}" if error.checkpoint else \
            "; no checkpoint had been saved yet"
        print(f"deepbsde: {error}{kept}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
