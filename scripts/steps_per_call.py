"""Time per training step against steps_per_call, alternating in one process.

    python scripts/steps_per_call.py [--config configs/hjb.yaml] [--counts 1 10 50] [--steps 500] [--rounds 2]

Each round trains a fresh Trainer per count for the same steps and reports the
median over rounds of the ms per step (after the first, compiling, call).
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from deepbsde.runs.config import load_config
from deepbsde.solver.training import Trainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/hjb.yaml")
    parser.add_argument("--counts", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    timings: dict[int, list[float]] = {count: [] for count in args.counts}
    for _ in range(args.rounds):
        for count in args.counts:
            config = load_config(args.config, [f"solver.steps_per_call={count}", f"solver.iterations={args.steps}",
                                               f"solver.log_every={args.steps}", "solver.checkpoint_every=0"])
            trainer = Trainer(config.build_equation(), config.solver)
            trainer.train_steps(count).numpy()  # compile
            start = time.perf_counter()
            for _ in range((args.steps - count) // count):
                losses = trainer.train_steps(count)
            losses.numpy()
            timings[count].append(1000 * (time.perf_counter() - start) / ((args.steps - count) // count * count))
    print(f"{'steps_per_call':>14} {'ms/step (median)':>17} {'all rounds':>24}")
    for count, values in timings.items():
        print(f"{count:>14} {np.median(values):>17.2f} {' '.join(f'{v:.2f}' for v in values):>24}")


if __name__ == "__main__":
    main()
