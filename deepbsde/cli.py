"""The `deepbsde` command.

    deepbsde run CONFIG [--set key.path=value ...] [--out DIR] [--resume DIR] [--overwrite] [--quiet]
    deepbsde list [--configs]
    deepbsde reference CONFIG [--set key.path=value ...] [--seed N]

CONFIG is a YAML file or the name of a shipped configuration (`deepbsde run hjb`).
Exit codes (README, "Exit codes"): 0 done, 1 diverged, 2 bad input or environment
(`field: reason` or `path: reason`), 3 reserved for "not converged", 130/143
interrupted by SIGINT/SIGTERM (a checkpoint is saved first when training; continue
with --resume), 70 an internal error (one line; the traceback with --debug).
"""
from __future__ import annotations

import argparse
import gc
import importlib
import signal
import sys
import traceback
from collections.abc import Sequence
from typing import Any

from deepbsde.errors import DivergenceError, ParameterError, RunFolderError

#: Exit codes (README, "Exit codes").
EXIT_DONE, EXIT_DIVERGED, EXIT_BAD_INPUT, EXIT_NOT_CONVERGED, EXIT_INTERNAL = 0, 1, 2, 3, 70
MESSAGE_LIMIT = 600  # characters of an error message printed (values in it are already cut short)

#: The commands' implementations, with TensorFlow: imported when a command runs, on first use of a name
#: of theirs, so that `deepbsde --help` and an argument error answer without seconds of imports.
COMMANDS = "deepbsde.commands"


def __getattr__(name: str) -> Any:
    """The names of deepbsde.commands (command_run, StopRequest, shipped_configs, ...), importable from here
    as before they moved there (`from deepbsde.cli import StopRequest`): loaded on first use (PEP 562)."""
    # a dunder is a probe for a module attribute (__path__, __wrapped__), not a command's name
    commands = None if name.startswith("__") else importlib.import_module(COMMANDS)
    if commands is None or not hasattr(commands, name):
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(commands, name)


def build_parser() -> argparse.ArgumentParser:
    """The command line's parser; each command's `handler` is the name of its function here."""
    parser = argparse.ArgumentParser(prog="deepbsde", description="Deep BSDE solver for high-dimensional PDEs.")
    commands = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)  # options of every command
    common.add_argument("--debug", action="store_true", help="print the full traceback of an internal error")
    run = commands.add_parser("run", parents=[common], help="train on a YAML configuration and write the result")
    run.add_argument("config", help="YAML configuration (e.g. configs/hjb.yaml) or a shipped one by name (hjb)")
    run.add_argument("--set", action="append", default=[], metavar="KEY.PATH=VALUE",
                     help="override a configuration field, e.g. --set solver.iterations=200 (repeatable)")
    run.add_argument("--out", help="output folder (default: runs/<config>-<time>)")
    run.add_argument("--resume", metavar="DIR", help="continue the interrupted run in DIR from its last checkpoint")
    run.add_argument("--overwrite", action="store_true", help="replace a run already in the output folder")
    run.add_argument("--quiet", action="store_true", help="print only the final value and reference")
    run.add_argument("--check-time-grid", action="store_true",
                     help="solve again at twice the time steps: time-grid bias estimate, Richardson value, and a "
                          "failed self-check if the two differ by more than the tolerance")
    run.set_defaults(handler="command_run")
    reference = commands.add_parser("reference", parents=[common],
                                    help="compute the reference u(0, x0) of a configuration's equation")
    reference.add_argument("config", help="YAML configuration or a shipped one by name, e.g. allen_cahn")
    reference.add_argument("--set", action="append", default=[], metavar="KEY.PATH=VALUE",
                           help="override a configuration field, e.g. --set equation.dim=10 (repeatable)")
    reference.add_argument("--seed", type=int, default=0, help="seed of the Monte Carlo / MLP reference")
    reference.set_defaults(handler="command_reference")
    listing = commands.add_parser("list", parents=[common], help="list the registered equations with their defaults")
    listing.add_argument("--configs", action="store_true", help="list the shipped configurations instead")
    listing.set_defaults(handler="command_list")
    evaluate = commands.add_parser("evaluate", parents=[common],
                                   help="prices and sensitivities of a saved price function, or u and its "
                                        "gradient of a region run, at points")
    evaluate.add_argument("run", help="folder written by PriceFunction.save, or by `deepbsde run` of a config with "
                                      "equation.x0_region")
    evaluate.add_argument("--points", required=True, help="CSV: a header, one spot (coordinate) column per asset "
                                                          "(dimension), optionally one column per parameter "
                                                          "(volatility, rate)")
    evaluate.add_argument("--out", help="output CSV (default: standard output)")
    evaluate.add_argument("--paths", type=int, default=0,
                          help="also the control-variate Monte Carlo estimate with this many paths per point, with "
                               "95%% half-widths (PriceFunction.estimate)")
    evaluate.add_argument("--seed", type=int, default=0, help="seed of the estimate's paths")
    evaluate.set_defaults(handler="command_evaluate")
    return parser


def _cut(message: object, limit: int = MESSAGE_LIMIT) -> str:
    """An error message on at most `limit` characters (and one line)."""
    text = " ".join(str(message).split())
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


def _out_of_memory_errors() -> tuple[type[BaseException], ...]:
    """MemoryError, and TensorFlow's ResourceExhaustedError once a command has imported TensorFlow."""
    tensorflow = sys.modules.get("tensorflow")
    return (MemoryError,) if tensorflow is None else (MemoryError, tensorflow.errors.ResourceExhaustedError)


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the command; returns its exit code (README, "Exit codes"). No exception escapes."""
    args = build_parser().parse_args(argv)
    say = lambda text: print(f"deepbsde: {_cut(text)}", file=sys.stderr, flush=True)  # noqa: E731
    try:
        # looked up by name on this module when the command runs: deepbsde.commands, or a replacement set here
        return getattr(sys.modules[__name__], args.handler)(args)
    except ParameterError as error:
        say(f"configuration error: {error}")
        return EXIT_BAD_INPUT
    except RunFolderError as error:
        say(f"run folder error: {error}")
        return EXIT_BAD_INPUT
    except DivergenceError as error:
        kept = f"; the last good checkpoint is kept: {error.checkpoint}" if error.checkpoint else \
            "; no checkpoint had been saved yet"
        say(f"{error}{kept}")
        return EXIT_DIVERGED
    except KeyboardInterrupt:
        say("interrupted")
        return 128 + signal.SIGINT
    except _out_of_memory_errors() as error:
        text = getattr(error, "message", None) or str(error) or "out of memory"
        say(f"out of memory: {text.strip().splitlines()[0] if text.strip() else ''}; reduce equation.dim, "
            "solver.batch_size or solver.hidden_widths")
        return EXIT_BAD_INPUT
    except OSError as error:
        say(f"{error.filename or 'system'}: {error.strerror or error}")
        return EXIT_BAD_INPUT
    except Exception as error:
        if getattr(args, "debug", False):
            traceback.print_exc()
        say(f"internal error: {type(error).__name__}: {_cut(error, MESSAGE_LIMIT // 2)} "
            "(a bug in deepbsde: please report it; --debug prints the traceback)")
        return EXIT_INTERNAL


def entry_point() -> int:
    """The `deepbsde` command: main() on the command line's arguments; returns its exit code."""
    code = main()
    # Every file of the command is closed by now. What is left is Python's collection at exit, a walk over
    # TensorFlow's objects that frees nothing the command needs and costs about 1 s on a 2-core CPU
    # (docs/benchmarks.md): the objects are frozen out of it.
    gc.freeze()
    return code


if __name__ == "__main__":
    sys.exit(entry_point())
