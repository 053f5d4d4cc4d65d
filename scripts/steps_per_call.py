"""Time per training step against steps_per_call, with and without the block drawn ahead, alternating in one process.

    python scripts/steps_per_call.py [--config configs/hjb.yaml] [--set solver.dtype=float64 ...]
                                     [--counts 1 10 50] [--steps 50] [--rounds 40]

One Trainer per count and variant, built and compiled first; then, round after round, each trains
--steps steps in turn (calls of its count), so that the machine's changing load falls on all alike.
Reported: the median over rounds of the ms per step. The variants: the next block of batches drawn on the
sampler thread while the current one trains (the default), and drawn by the call itself
(`deepbsde.solver.training.AHEAD_NUMBERS` set to 0 for that trainer's calls); a count of 1 has no blocks.
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from deepbsde.runs.config import load_config
from deepbsde.solver import training
from deepbsde.solver.training import Trainer

VARIANTS = {"drawn ahead": training.AHEAD_NUMBERS, "drawn by the call": 0}


def ms_per_step(trainer: Trainer, count: int, steps: int, ahead_numbers: int) -> float:
    """ms per step of `steps` steps (rounded down to whole calls of `count`)."""
    saved, training.AHEAD_NUMBERS = training.AHEAD_NUMBERS, ahead_numbers
    try:
        calls = max(steps // count, 1)
        start = time.perf_counter()
        for _ in range(calls):
            losses = trainer.train_steps(count)
        losses.numpy()
        return 1000 * (time.perf_counter() - start) / (calls * count)
    finally:
        training.AHEAD_NUMBERS = saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/hjb.yaml")
    parser.add_argument("--set", action="append", default=[], metavar="KEY.PATH=VALUE",
                        help="a configuration override, e.g. solver.dtype=float64 (repeatable)")
    parser.add_argument("--counts", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--steps", type=int, default=50, help="steps per trainer and round")
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    cases = [(count, variant) for count in args.counts for variant in (VARIANTS if count > 1 else list(VARIANTS)[:1])]
    trainers = {}
    for count, variant in cases:
        config = load_config(args.config, [*args.set, f"solver.steps_per_call={count}", "solver.checkpoint_every=0"])
        trainers[count, variant] = Trainer(config.build_equation(), config.solver)
        ms_per_step(trainers[count, variant], count, 2 * count, VARIANTS[variant])  # compile, warm up
    timings: dict[tuple[int, str], list[float]] = {case: [] for case in cases}
    for _ in range(args.rounds):
        for (count, variant), trainer in trainers.items():
            timings[count, variant].append(ms_per_step(trainer, count, args.steps, VARIANTS[variant]))
    print(f"{'steps_per_call':>14} {'next block':>18} {'ms/step (median)':>17}   fastest, slowest round")
    for (count, variant), values in timings.items():
        print(f"{count:>14} {variant if count > 1 else '-':>18} {np.median(values):>17.2f}   "
              f"{min(values):.2f}, {max(values):.2f}")


if __name__ == "__main__":
    main()
