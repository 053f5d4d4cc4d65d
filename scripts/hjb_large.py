"""HJB (lambda = 1) at large d against its Cole-Hopf reference: error, time and peak memory.

    .venv/bin/python scripts/hjb_large.py                     # d = 100, 1,000, 10,000 -> docs/validation.md
    .venv/bin/python scripts/hjb_large.py --dims 100 --out /tmp/large.md   # a quick look

Every d runs in its own fresh process (its peak memory is its own), with the
same options: the robust preset without its linear term and terminal gradient
(as measured before the diagonal term and the gradient became the defaults; a
full linear term would be N d^2 weights, 7.6 GB at d = 10,000 in float32 before
Adam's moments), hidden widths fixed (the
reference's d + 10 would need 5.7e9 weights at d = 10,000), float32, a fixed
two-rate schedule (the adaptive one needs at least 1500 steps). Peak memory is
resource.getrusage's ru_maxrss of that process; Linux carries the parent's peak
over fork and exec, so the parent's peak at the start of each child is recorded
beside it (a child's value above it is the child's own). The report replaces
the section of docs/validation.md that starts with SECTION_TITLE
(scripts/validate.py keeps it when it rewrites the table).
"""
from __future__ import annotations

import argparse
import datetime
import json
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import deepbsde
import equations
from deepbsde.reference import resolve_reference

REPO = Path(__file__).resolve().parent.parent
SECTION_TITLE = "## HJB at large d"
OPTIONS: dict[str, Any] = {"preset": "robust", "linear_term": False, "terminal_gradient": False,
                           "hidden_widths": [110, 110],
                           "dtype": "float32", "batch_size": 64, "iterations": 200,
                           "learning_rates": [1e-2, 1e-3], "lr_boundaries": [100], "log_every": 20,
                           "seed": 1}
TOLERANCE = 0.005


def solve_one(dim: int) -> dict[str, Any]:
    """Trains HJB at d = dim (this process only), then computes the Cole-Hopf reference."""
    start = time.perf_counter()
    equation = equations.get("hjb", dim=dim)
    result = deepbsde.solve(equation, reference=None, **OPTIONS)
    solve_seconds = time.perf_counter() - start
    tick = time.perf_counter()
    reference = resolve_reference(equation, "auto")
    reference_seconds = time.perf_counter() - tick
    assert reference is not None  # the Cole-Hopf quadrature exists for HJB at any d
    pilot = result.history[0].value  # Y_0 before the first step: the pilot's Monte Carlo estimate
    return {"dim": dim, "value": result.value, "pilot_value": pilot, "reference": reference.value,
            "reference_source": reference.source,
            "rel_error": abs(result.value - reference.value) / abs(reference.value),
            "pilot_rel_error": abs(pilot - reference.value) / abs(reference.value),
            "iterations": result.iterations, "converged": result.diagnostics.converged,
            "self_check": result.diagnostics.message(), "solve_seconds": solve_seconds,
            "train_seconds": result.seconds, "compile_seconds": result.compile_seconds,
            "ms_per_iteration": result.ms_per_iteration, "reference_seconds": reference_seconds,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}


def run_in_fresh_process(dim: int) -> dict[str, Any]:
    """solve_one(dim) in a new interpreter; its result as JSON on the last line of its output."""
    parent_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    tick = time.perf_counter()
    done = subprocess.run([sys.executable, __file__, "--single", str(dim)], check=True, capture_output=True,
                          text=True, cwd=REPO)
    row = json.loads(done.stdout.strip().splitlines()[-1])
    row["process_seconds"] = time.perf_counter() - tick  # the whole command: start-up, training, reference
    row["parent_peak_rss_mib"] = parent_peak
    return row


def report(rows: list[dict[str, Any]], command: str) -> str:
    """The Markdown section for docs/validation.md."""
    widths = OPTIONS["hidden_widths"]
    lines = [SECTION_TITLE, "",
             f"Made by `{command}` on {datetime.date.today().isoformat()}, {platform.platform()}, on the "
             "2-core CPU shared with other jobs (times measured under load). Each d in its own process: "
             f"`deepbsde.solve(equations.get(\"hjb\", dim=d), **OPTIONS)` with OPTIONS = `{OPTIONS}` "
             f"(robust preset without its linear term and terminal gradient, hidden widths {widths} for every d, "
             "float32), then the "
             "Cole-Hopf quadrature. Peak memory: `resource.getrusage(RUSAGE_SELF).ru_maxrss` of that process "
             "(TensorFlow's own memory included; it carries the launching process's peak, "
             f"{max(r['parent_peak_rss_mib'] for r in rows) / 1024:.2f} GiB at most, over fork and exec). "
             "Pilot: Y_0 before the first step, the robust preset's "
             "Monte Carlo estimate (Z = 0 recursion, for HJB the mean of g(X_T)); for this HJB (lambda = 1) "
             "it is already close, since u(0, x0) = -ln E exp(-g(X_T)) and g(X_T) varies little at large d, "
             "so training mostly has to keep it there.", "",
             "| d | u(0, x0) | reference | rel. error | pilot Y_0 (its error) | self-check | iterations "
             "| ms/iteration | compile | training | whole process | peak memory |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        check = "passed" if r["converged"] else "FAILED"
        lines.append(f"| {r['dim']:,} | {r['value']:.6g} | {r['reference']:.6g} ({r['reference_source']}) "
                     f"| {r['rel_error']:.3%} | {r['pilot_value']:.6g} ({r['pilot_rel_error']:.3%}) | {check} "
                     f"| {r['iterations']} | {r['ms_per_iteration']:.1f} | {r['compile_seconds']:.1f} s "
                     f"| {r['train_seconds']:.1f} s | {r['process_seconds']:.1f} s "
                     f"| {r['peak_rss_mib'] / 1024:.2f} GiB |")
    within = [r["dim"] for r in rows if r["rel_error"] <= TOLERANCE]
    lines += ["", f"Within {TOLERANCE:.1%} of the reference: d = {', '.join(f'{d:,}' for d in within) or 'none'}. "
                  "Self-check messages: " + "; ".join(f"d = {r['dim']:,}: {r['self_check']}" for r in rows) + ".",
              ""]
    return "\n".join(lines)


def replace_section(document: str, section: str) -> str:
    """document with its SECTION_TITLE section (to the end) replaced by, or else followed by, section."""
    head = document.split(SECTION_TITLE, 1)[0].rstrip("\n")
    return f"{head}\n\n{section}" if head else section


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dims", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "validation.md",
                        help="Markdown file whose large-d section is replaced (the raw numbers go beside it)")
    parser.add_argument("--single", type=int, help=argparse.SUPPRESS)  # the child process of one d
    args = parser.parse_args(argv)
    if args.single is not None:
        print(json.dumps(solve_one(args.single)))
        return 0
    rows = []
    for dim in args.dims:
        rows.append(run_in_fresh_process(dim))
        r = rows[-1]
        print(f"d = {dim}: {r['value']:.6g} vs {r['reference']:.6g} ({r['rel_error']:.3%}), "
              f"{r['process_seconds']:.1f} s, peak {r['peak_rss_mib']:.0f} MiB", flush=True)
    command = " ".join(["python", "scripts/hjb_large.py", *argv])
    document = args.out.read_text() if args.out.exists() else ""
    args.out.write_text(replace_section(document, report(rows, command)))
    args.out.with_name("hjb_large.json").write_text(json.dumps({"command": command, "rows": rows}, indent=1) + "\n")
    print(f"wrote {args.out} and {args.out.with_name('hjb_large.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
