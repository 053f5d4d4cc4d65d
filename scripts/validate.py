"""Validation of the deep BSDE solver against references (issue 4).

    .venv/bin/python scripts/validate.py            # every configs/*.yaml at full scale -> docs/
    .venv/bin/python scripts/validate.py --quick    # smoke test: few iterations -> runs/validation-quick/
    .venv/bin/python scripts/validate.py --only hjb allen_cahn

For each configuration: train with `deepbsde.solve` exactly as `deepbsde run
CONFIG` would, compute the equation's reference as `deepbsde reference
CONFIG` would (exact solution, else Cole-Hopf quadrature / Black-Scholes
Monte Carlo / multilevel Picard, else the published value), then write
validation.md (one table row per configuration) and validation_<config>.png
(Y_0 against the iteration with the reference band).

Quick mode trains only a few iterations and uses only the cheap references
(what `reference: auto` uses), so its numbers say nothing about accuracy: its
output goes to runs/ and is labelled as a smoke test.
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import deepbsde
from deepbsde.reference import ReferenceValue, best_reference
from deepbsde.runs.config import read_yaml
from deepbsde.runs.plotting import plot_history
from deepbsde.runs.result import Result

REPO = Path(__file__).resolve().parent.parent
QUICK_OVERRIDES = ["solver.iterations=40", "solver.log_every=10"]


@dataclass
class Row:
    """One validated configuration."""

    config: Path
    result: Result | None          # None when training diverged
    failure: str | None
    reference: ReferenceValue | None
    published: float | None
    train_seconds: float
    reference_seconds: float
    command: str

    @property
    def rel_error(self) -> float | None:
        if self.result is None or self.reference is None or self.reference.value == 0:
            return None
        return abs(self.result.value - self.reference.value) / abs(self.reference.value)


def validate(config_path: Path, overrides: list[str], cheap_reference: bool, out: Path) -> Row:
    """Trains one configuration, computes its reference and plots the run."""
    config = deepbsde.load_config(config_path, overrides)
    equation = config.build_equation()
    shown = config_path.relative_to(REPO) if config_path.is_relative_to(REPO) else config_path
    command = " ".join(["deepbsde", "run", shlex.quote(str(shown))]
                       + [f"--set {shlex.quote(item)}" for item in overrides])
    print(f"== {config_path.name}: {equation.name}, d = {equation.dim}, {config.solver.iterations} iterations",
          flush=True)
    start = time.perf_counter()
    result, failure = None, None
    try:
        # the reference is computed below, once, at the grade asked for
        result = deepbsde.solve(equation, reference=None, **config.solver.to_dict())
    except deepbsde.DivergenceError as error:
        failure = str(error)
    train_seconds = time.perf_counter() - start
    start = time.perf_counter()
    reference = best_reference(equation, cheap=cheap_reference)
    reference_seconds = time.perf_counter() - start
    published = equation.published_value if equation.uses_published_parameters() else None
    row = Row(config_path, result, failure, reference, published, train_seconds, reference_seconds, command)
    if result is not None:
        plot_history(result.history, out / f"validation_{config_path.stem}.png",
                     f"{equation.name}, d = {equation.dim}: {command}",
                     reference.value if reference else None, reference.half_width if reference else None)
    print(f"   value {_value(row)}, reference {_reference(row)}, relative error {_percent(row.rel_error)}, "
          f"train {train_seconds:.1f} s, reference {reference_seconds:.1f} s", flush=True)
    return row


def _value(row: Row) -> str:
    return f"{row.result.value:.6g}" if row.result is not None else f"diverged ({row.failure})"


def _reference(row: Row) -> str:
    if row.reference is None:
        return "none"
    interval = f" +/- {row.reference.half_width:.2g}" if row.reference.half_width is not None else ""
    return f"{row.reference.value:.6g}{interval} ({row.reference.source})"


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3%}"


def report(rows: list[Row], quick: bool, overrides: list[str]) -> str:
    """validation.md: how it was made, then one row per configuration."""
    device = next((row.result.device for row in rows if row.result is not None), "n/a")
    title = "Validation against references" + (" - QUICK SMOKE TEST, NOT A VALIDATION" if quick else "")
    made_by = "python scripts/validate.py" + (" --quick" if quick else "")
    lines = [f"# {title}", "",
             f"Made by `{made_by}` on {datetime.date.today().isoformat()}, {platform.platform()}, "
             f"{os.cpu_count()} CPU cores, device {device}.", "",
             "Reference: the exact solution where there is one, else the equation's computed reference "
             "(Cole-Hopf quadrature for HJB, multilevel Picard for Allen-Cahn and default risk, "
             "Black-Scholes Monte Carlo for linear Black-Scholes; 95% half-widths, see "
             "`deepbsde reference CONFIG`), else the published value (no interval).", ""]
    if quick:
        lines += [f"Quick mode: {', '.join(overrides)} and only the cheap references; the errors below "
                  "measure nothing.", ""]
    lines += ["| equation | d | our u(0, x0) | reference (95% interval) | published | rel. error "
              "| self-check | iterations | training wall time | reference time | command |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        equation = row.config.stem
        dim = row.result.dim if row.result is not None else ""
        iterations = row.result.iterations if row.result is not None else ""
        published = f"{row.published:g}" if row.published is not None else ""
        lines.append(f"| {equation} | {dim} | {_value(row)} | {_reference(row)} | {published} "
                     f"| {_percent(row.rel_error)} | {_verdict(row)} | {iterations} | {row.train_seconds:.1f} s "
                     f"| {row.reference_seconds:.1f} s | `{row.command}` |")
    checks = [(row.config.stem, row.result.diagnostics) for row in rows if row.result is not None]
    flagged = [(name, check.reasons) for name, check in checks if check is not None and not check.converged]
    lines += ["", "Self-check: the verdict `deepbsde run` prints (`deepbsde.checks.diagnostics`), made without the "
                  "reference." + (" Reasons of the flagged runs:" if flagged else ""), ""]
    lines += [f"- {name}: {'; '.join(reasons)}" for name, reasons in flagged]
    lines += ["", "Plots: `validation_<config>.png` beside this file (loss, and Y_0 against the iteration "
                  "with the reference and its band).", ""]
    return "\n".join(lines)


def _verdict(row: Row) -> str:
    if row.result is None or row.result.diagnostics is None:
        return "n/a"
    return "passed" if row.result.diagnostics.converged else "FLAGGED"


def appended_sections(path: Path) -> str:
    """The `## ` sections of an existing validation.md, which other scripts write (scripts/hjb_large.py):
    kept when the table above them is rewritten."""
    text = path.read_text() if path.exists() else ""
    start = text.find("\n## ")
    return text[start + 1:] if start >= 0 else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="few iterations and cheap references (smoke test)")
    parser.add_argument("--only", nargs="+", metavar="CONFIG", help="configuration names, e.g. hjb allen_cahn")
    parser.add_argument("--configs", type=Path, default=REPO / "configs", help="folder of YAML configurations")
    parser.add_argument("--out", type=Path, help="output folder (default: docs/, or runs/validation-quick/)")
    args = parser.parse_args(argv)
    out = args.out or (REPO / "runs" / "validation-quick" if args.quick else REPO / "docs")
    out.mkdir(parents=True, exist_ok=True)
    # solves at one point only: `kind: bermudan` ones are priced by scripts/bermudan_table.py, region ones
    # (equation.x0_region) are measured by `deepbsde run` itself (docs/region.md)
    configs = sorted(p for p in args.configs.resolve().glob("*.yaml") if "kind" not in (read_yaml(p) or {})
                     and "x0_region" not in (read_yaml(p) or {}).get("equation", {}))
    if args.only:
        unknown = sorted(set(args.only) - {path.stem for path in configs})
        if unknown:
            parser.error(f"no configuration named {', '.join(unknown)} in {args.configs}")
        configs = [path for path in configs if path.stem in args.only]
    overrides = QUICK_OVERRIDES if args.quick else []
    rows = [validate(path, overrides, args.quick, out) for path in configs]
    kept = appended_sections(out / "validation.md")
    (out / "validation.md").write_text(report(rows, args.quick, overrides) + (f"\n{kept}" if kept else ""))
    print(f"wrote {out / 'validation.md'} and {len(rows)} plots")
    return 0


if __name__ == "__main__":
    sys.exit(main())
