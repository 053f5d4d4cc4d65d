"""The `deepbsde` command.

    deepbsde run CONFIG [--set key.path=value ...] [--out DIR]
    deepbsde list
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Sequence

import deepbsde  # noqa: F401  (quietens TensorFlow before it is imported)
import equations
from deepbsde.config import ConfigError, load_config
from deepbsde.result import HistoryRecord
from deepbsde.training import DivergenceError, solve


class ProgressPrinter:
    """Prints one line per logged step: loss, value, speed and time left."""

    def __init__(self, stream=None):
        self.stream = stream  # None: whatever sys.stdout is at print time
        self.last: HistoryRecord | None = None

    def __call__(self, record: HistoryRecord, total: int) -> None:
        speed = ""
        if self.last is not None and record.elapsed > self.last.elapsed:
            rate = (record.step - self.last.step) / (record.elapsed - self.last.elapsed)
            eta = (total - record.step) / rate if rate > 0 else float("nan")
            speed = f"  {rate:7.1f} it/s  ETA {eta:6.1f} s"
        self.last = record
        print(f"step {record.step:6d}/{total}  loss {record.loss:.4e}  value {record.value:.6g}  "
              f"lr {record.learning_rate:.1e}  {record.elapsed:7.1f} s{speed}", file=self.stream, flush=True)


def command_run(args: argparse.Namespace) -> int:
    config = load_config(args.config, args.set)
    equation = config.build_equation()
    out = Path(args.out) if args.out else Path("runs") / f"{Path(args.config).stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    print(f"solving {equation.name} (d = {equation.dim}, T = {equation.total_time}, "
          f"N = {equation.num_time_interval}) for {config.solver.iterations} iterations", flush=True)
    result = solve(equation, reference=config.reference, progress=ProgressPrinter(), config=config.to_dict(),
                   **config.solver.to_dict())
    result.write(out)
    print(f"\nu(0, x0) = {result.value:.6f}")
    if result.reference is not None:
        print(f"reference = {result.reference:.6f} ({result.reference_source}); "
              f"relative error = {result.rel_error:.3%}")
    print(f"{result.iterations} iterations in {result.seconds:.1f} s "
          f"({result.ms_per_iteration:.2f} ms/iteration, compile {result.compile_seconds:.1f} s, {result.device})")
    print(f"wrote {out / 'result.json'} and {out / 'history.csv'}")
    return 0


def command_list(args: argparse.Namespace) -> int:
    for name in equations.available():
        cls = equations.equation_class(name)
        print(f"{name}: {cls.summary}")
        defaults = ", ".join(f"{k}={v}" for k, v in cls.parameter_defaults().items())
        print(f"    defaults: {defaults}")
        if cls.published_value is not None:
            print(f"    published u(0, x0) = {cls.published_value} ({cls.source})")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="deepbsde", description="Deep BSDE solver for high-dimensional PDEs.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="train on a YAML configuration and write the result")
    run.add_argument("config", help="YAML configuration, e.g. configs/hjb.yaml")
    run.add_argument("--set", action="append", default=[], metavar="KEY.PATH=VALUE",
                     help="override a configuration field, e.g. --set solver.iterations=200 (repeatable)")
    run.add_argument("--out", help="output folder (default: runs/<config>-<time>)")
    run.set_defaults(handler=command_run)
    listing = commands.add_parser("list", help="list the registered equations with their defaults")
    listing.set_defaults(handler=command_list)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except ConfigError as error:
        print(f"deepbsde: configuration error: {error}", file=sys.stderr)
        return 2
    except DivergenceError as error:
        print(f"deepbsde: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
