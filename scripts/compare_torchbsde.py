"""Ours against TorchBSDE-Package (PyTorch) at that package's shipped HJB settings.

    git clone https://github.com/Steve-Shao/TorchBSDE-Package /tmp/TorchBSDE-Package
    python3 -m venv /tmp/torchenv
    /tmp/torchenv/bin/pip install torch numpy scipy pandas pytz matplotlib absl-py
    .venv/bin/python scripts/compare_torchbsde.py --peer /tmp/TorchBSDE-Package --peer-python /tmp/torchenv/bin/python

The peer runs unmodified, through its own command (`python -m tests.run_from_config
--config_path=configs/hjb_lq_d100.json`, float64, batch 256, 1000 iterations, validation on
1024 paths every 10 steps, a checkpoint every 100); its results are read from the
training_history.csv it writes. Ours runs `deepbsde run configs/hjb.yaml` with the peer's
d, N, T, batch, validation size and frequency, checkpoint frequency, widths, loss clip,
dtype and learning-rate schedule set on the command line (our preset otherwise: the robust
defaults of configs/hjb.yaml); its results are read from result.json. Each run is a fresh
process, peer and ours alternating (the order flipped every round), so that the machine's
changing load falls on both alike. With --threads N both libraries get N threads
(OMP_NUM_THREADS and MKL_NUM_THREADS for PyTorch, TF_NUM_INTRAOP_THREADS and
TF_NUM_INTEROP_THREADS for TensorFlow); without it, each its own default.

ms/iteration: the peer's is the mean over its steps not preceded by a validation or a
checkpoint of the difference of consecutive elapsed times (one step: sampling, forward,
backward, Adam); ours is the solver's own mean over its compiled steps (the first call,
which compiles, left out). The results replace the section "Against TorchBSDE-Package" of
their thread setting in the report (docs/benchmarks_compare.md by default) and its entry
under the key "torchbsde" of the report's JSON.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmark import REPO, environment

import deepbsde
from deepbsde.reference import cole_hopf_quadrature

PEER_CONFIG = "configs/hjb_lq_d100.json"
SECTION = "## Against TorchBSDE-Package (PyTorch)"  # then the threads: one section per thread setting
SOLVERS = ("peer", "ours")


def peer_config(peer: Path, iterations: int | None) -> tuple[Path, dict[str, Any]]:
    """The peer's shipped HJB configuration (a copy with num_iterations changed if `iterations`)."""
    path = peer / PEER_CONFIG
    config = json.loads(path.read_text())
    if iterations is not None:
        config["solver_config"]["num_iterations"] = iterations
        path = Path(tempfile.mkdtemp(prefix="torchbsde-config-")) / path.name
        path.write_text(json.dumps(config, indent=1))
    return path, config


def our_overrides(config: dict[str, Any], seed: int) -> list[str]:
    """`--set` values that give configs/hjb.yaml the peer's problem, batch, widths and schedule."""
    equation, network, solver = config["equation_config"], config["network_config"], config["solver_config"]
    rates = [solver["lr_start_value"], solver["lr_start_value"] * solver["lr_decay_rate"]]
    values = {"equation.dim": equation["dim"], "equation.total_time": equation["total_time"],
              "equation.num_time_interval": equation["num_time_interval"],
              "solver.batch_size": solver["batch_size"], "solver.valid_size": solver["valid_size"],
              "solver.iterations": solver["num_iterations"], "solver.log_every": solver["logging_frequency"],
              "solver.checkpoint_every": solver["checkpoint_frequency"], "solver.loss_clip": solver["delta_clip"],
              "solver.hidden_widths": network["num_hiddens"], "solver.learning_rates": rates,
              "solver.lr_boundaries": solver["lr_boundaries"], "solver.dtype": config["dtype"], "solver.seed": seed}
    return [f"{key}={json.dumps(value)}" for key, value in values.items()]


def thread_environment(threads: int | None) -> dict[str, str]:
    """The environment of both runs: this one's, with `threads` threads for both libraries if given."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    if threads is not None:
        env.update({name: str(threads) for name in
                    ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")})
    return env


def timed_run(command: list[str], cwd: Path, env: dict[str, str]) -> dict[str, float]:
    """Runs the command; its wall seconds and CPU seconds (user + system, of it and its children)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    tick = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - tick
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"wall_seconds": wall, "cpu_seconds": after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime}


def run_peer(peer: Path, python: str, config_path: Path, env: dict[str, str]) -> dict[str, Any]:
    """One run of the peer's own command; its history read back, then its run folder removed."""
    scenario = f"deepbsde-compare-{os.getpid()}-{time.time_ns()}"  # a new folder: an existing one is resumed
    command = [python, "-m", "tests.run_from_config", f"--config_path={config_path}", f"--scenario_name={scenario}"]
    times = timed_run(command, peer, env)
    folder = peer / "tests" / scenario
    with open(folder / "training_history.csv", newline="") as file:
        rows = [{key: float(value) for key, value in row.items()} for row in csv.DictReader(file)]
    shutil.rmtree(folder)
    config = json.loads(config_path.read_text())["solver_config"]
    step_ms = [1000.0 * (row["elapsed_time"] - before["elapsed_time"]) for before, row in zip(rows, rows[1:])
               if before["step"] % config["logging_frequency"] and before["step"] % config["checkpoint_frequency"]]
    logged = [row for row in rows if row["y0"] == row["y0"]]  # y0 is NaN between validations
    return {**times, "iterations": int(rows[-1]["step"]), "train_seconds": rows[-1]["elapsed_time"],
            "ms_per_iteration": statistics.mean(step_ms), "median_step_ms": statistics.median(step_ms),
            "value": logged[-1]["y0"], "history": [[int(r["step"]), r["y0"]] for r in logged]}


def run_ours(overrides: list[str], env: dict[str, str]) -> dict[str, Any]:
    """One run of `deepbsde run configs/hjb.yaml` with the overrides; its result.json read back."""
    out = Path(tempfile.mkdtemp(prefix="deepbsde-compare-"))
    command = [str(Path(sys.executable).with_name("deepbsde")), "run", "configs/hjb.yaml", "--quiet",
               "--overwrite", "--out", str(out)]
    for value in overrides:
        command += ["--set", value]
    times = timed_run(command, REPO, env)
    result = json.loads((out / "result.json").read_text())
    with open(out / "history.csv", newline="") as file:
        history = [[int(row["step"]), float(row["value"])] for row in csv.DictReader(file)]
    shutil.rmtree(out)
    return {**times, "iterations": result["iterations"], "train_seconds": result["seconds"],
            "compile_seconds": result["compile_seconds"], "ms_per_iteration": result["ms_per_iteration"],
            "value": result["value"], "history": history}


def matmul_flops(config: dict[str, Any], full_linear_term: bool) -> dict[str, int]:
    """3 x 2 x multiply-adds of the dense layers per iteration (forward and backward), per solver.

    The peer: a network for Y_0 (d -> widths -> 1) and one per time step n = 0..N-1
    (d -> widths -> d). Ours: one per step n = 1..N-1 (Z_0 is a variable), plus, with
    full_linear_term, the robust preset's full linear term (d x d per step; the default
    diagonal one and the terminal gradient are elementwise, not matmuls).
    """
    dim, steps = config["equation_config"]["dim"], config["equation_config"]["num_time_interval"]
    widths = config["network_config"]["num_hiddens"]

    def macs(out: int) -> int:
        layers = [dim, *widths, out]
        return sum(a * b for a, b in zip(layers, layers[1:]))

    batch = 6 * config["solver_config"]["batch_size"]
    linear = dim * dim if full_linear_term else 0
    return {"peer": batch * (macs(1) + steps * macs(dim)), "ours": batch * (steps - 1) * (macs(dim) + linear)}


def peer_versions(peer: Path, python: str) -> dict[str, str]:
    """The peer's commit and its interpreter's torch version."""
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=peer, capture_output=True, text=True).stdout.strip()
    torch = subprocess.run([python, "-c", "import torch; print(torch.__version__)"], capture_output=True,
                           text=True, check=True).stdout.strip()
    return {"peer_commit": commit or "unknown", "torch": torch}


def render(report: dict[str, Any]) -> str:
    """The report's section: conditions, one row per run, the medians and their ratios."""
    env, settings, runs = report["environment"], report["settings"], report["runs"]
    reference = report["reference"]
    threads = settings["threads"]
    lines = [section_heading(threads), "",
             f"{env['date']}, `{env['command']}`, commit {env['git_commit']}, TensorFlow {env['tensorflow']} "
             f"against TorchBSDE-Package {env['peer_commit'][:7]} with PyTorch {env['torch']}, {env['cpu']}, "
             f"{env['cpu_cores_usable']} cores, load average (1, 5, 15 min) "
             f"{', '.join(f'{v:.2f}' for v in env['load_average_start'])} at the start, "
             f"{', '.join(f'{v:.2f}' for v in env['load_average_end'])} at the end; threads: "
             f"{threads if threads is not None else 'each library its default'}.", "",
             f"Settings (the peer's {PEER_CONFIG}): d = {settings['dim']}, N = {settings['num_time_interval']}, "
             f"batch {settings['batch_size']}, {settings['iterations']} iterations, float64, widths "
             f"{settings['widths']}, learning rate {settings['learning_rate']}. Reference u(0, 0) = "
             f"{reference['value']:.6f} (cole_hopf_quadrature). Matmul GFLOP per iteration (3 x forward): "
             f"peer {settings['flops']['peer'] / 1e9:.3f}, ours {settings['flops']['ours'] / 1e9:.3f}.", "",
             "| round | solver | seed | wall, whole command (s) | CPU, whole command (s) | training (s) | "
             "ms/iteration | GFLOP/s | Y_0 after the last step | rel. error |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for run in runs:
        lines.append(f"| {run['round']} | {run['solver']} | {run['seed']} | {run['wall_seconds']:.1f} | "
                     f"{run['cpu_seconds']:.1f} | {run['train_seconds']:.1f} | {run['ms_per_iteration']:.2f} | "
                     f"{settings['flops'][run['solver']] / run['ms_per_iteration'] / 1e6:.1f} | "
                     f"{run['value']:.5f} | {run['rel_error']:.3%} |")
    # peer / ours within each round (the two runs next to each other in time), then the median over rounds
    keys = ("ms_per_iteration", "train_seconds", "wall_seconds", "cpu_seconds", "rel_error")
    ratios = {key: statistics.median(peer[key] / ours[key] for peer, ours in paired(runs)) for key in keys}
    lines += ["", "| peer / ours, median over rounds of the ratio within a round | ms/iteration | training | "
                  "wall, whole command | CPU, whole command | rel. error |", "|---|---|---|---|---|---|",
              "| | " + " | ".join(f"{ratios[key]:.2f}x" for key in keys) + " |", ""]
    return "\n".join(lines)


def paired(runs: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(peer, ours) run of each round."""
    by_round = {(run["round"], run["solver"]): run for run in runs}
    return [(by_round[r, "peer"], by_round[r, "ours"]) for r in sorted({run["round"] for run in runs})]


def section_heading(threads: int | None) -> str:
    """The heading of the section of a thread setting (None: each library's default)."""
    return f"{SECTION}, threads: {threads if threads is not None else 'default'}"


def write_report(report: dict[str, Any], out: Path) -> None:
    """Replaces (or appends) the section of this thread setting in the Markdown report, and its
    entry under the key "torchbsde" of the report's JSON."""
    threads = report["settings"]["threads"]
    heading = section_heading(threads)
    text = out.read_text() if out.exists() else "# Benchmarks\n"
    before, found, after = text.partition(heading + "\n")
    rest = after[after.find("\n## ") + 1:] if found and "\n## " in after else ""
    out.write_text(before.rstrip("\n") + "\n\n" + render(report) + ("\n" + rest if rest else ""))
    data_path = out.with_suffix(".json")
    data = json.loads(data_path.read_text()) if data_path.exists() else {}
    data.setdefault("torchbsde", {})[str(threads if threads is not None else "default")] = report
    data_path.write_text(json.dumps(data, indent=1) + "\n")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer", type=Path, required=True, help="checkout of TorchBSDE-Package")
    parser.add_argument("--peer-python", required=True, help="a Python with torch and the peer's requirements")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each solver, alternating")
    parser.add_argument("--threads", type=int, default=None, help="threads of both libraries (default: theirs)")
    parser.add_argument("--iterations", type=int, default=None, help="instead of the shipped 1000 (a smoke test)")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "benchmarks_compare.md")
    args = parser.parse_args(argv)
    peer = args.peer.resolve()
    config_path, config = peer_config(peer, args.iterations)
    ours = deepbsde.load_config(REPO / "configs" / "hjb.yaml", our_overrides(config, 1))
    equation = ours.build_equation()
    reference = cole_hopf_quadrature(equation.g, equation.dim, equation.lam, equation.total_time, x=equation.x0)
    env = thread_environment(args.threads)
    report: dict[str, Any] = {
        "environment": {**environment(["scripts/compare_torchbsde.py", *argv]),
                        **peer_versions(peer, args.peer_python)},
        "settings": {"threads": args.threads, "dim": equation.dim, "num_time_interval": equation.num_time_interval,
                     "batch_size": config["solver_config"]["batch_size"],
                     "iterations": config["solver_config"]["num_iterations"],
                     "widths": config["network_config"]["num_hiddens"],
                     "learning_rate": config["solver_config"]["lr_start_value"],
                     "flops": matmul_flops(config, ours.solver.linear_term_shape == "full")},
        "reference": {"value": reference.value, "half_width": reference.half_width}, "runs": []}
    for round_ in range(1, args.rounds + 1):
        for solver in (SOLVERS if round_ % 2 else SOLVERS[::-1]):
            seed = 42 if solver == "peer" else round_  # the peer's command fixes its seeds at 42
            run = (run_peer(peer, args.peer_python, config_path, env) if solver == "peer"
                   else run_ours(our_overrides(config, seed), env))
            run.update(round=round_, solver=solver, seed=seed,
                       rel_error=abs(run["value"] - reference.value) / abs(reference.value))
            report["runs"].append(run)
            print(f"round {round_} {solver}: {run['ms_per_iteration']:.2f} ms/iteration, training "
                  f"{run['train_seconds']:.1f} s, Y_0 {run['value']:.5f} ({run['rel_error']:.3%} off)", flush=True)
    report["environment"]["load_average_end"] = os.getloadavg()
    write_report(report, args.out)
    print(f"wrote {args.out} and {args.out.with_suffix('.json')}")


if __name__ == "__main__":
    main(sys.argv[1:])
