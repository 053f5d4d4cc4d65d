"""Train a configuration data-parallel over several worker processes or hosts.

Each worker runs this same command with its own TF_CONFIG (TensorFlow's
multi-worker convention: the cluster's addresses and this worker's index):

    TF_CONFIG='{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}' \\
        python scripts/multiworker.py configs/hjb.yaml --set solver.batch_norm=false

Every worker draws the same global batch from (seed, step) and trains on its
share; gradients are averaged over the workers (tf.distribute.MultiWorkerMirroredStrategy)
and one update keeps the model identical everywhere. Worker 0 prints the result.
`--compare` also trains the configuration in this process alone, for timing.
"""
from __future__ import annotations

import argparse
import json
import os
import time

import tensorflow as tf

from deepbsde.runs.config import load_config
from deepbsde.solver.training import Trainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", help="YAML configuration")
    parser.add_argument("--set", action="append", default=[], metavar="KEY.PATH=VALUE")
    parser.add_argument("--alone", action="store_true", help="train in this process only (no TF_CONFIG), to compare")
    args = parser.parse_args()
    config = load_config(args.config, args.set)
    strategy = tf.distribute.get_strategy() if args.alone else tf.distribute.MultiWorkerMirroredStrategy()
    start = time.perf_counter()
    trainer = Trainer(config.build_equation(), config.solver, strategy)
    history, timings = trainer.run()
    task = json.loads(os.environ.get("TF_CONFIG", "{}")).get("task", {}).get("index", 0)
    if task == 0:
        print(json.dumps({"value": history[-1].value, "replicas": strategy.num_replicas_in_sync,
                          "ms_per_iteration": timings["ms_per_iteration"],
                          "compile_seconds": timings["compile_seconds"],
                          "wall_seconds": time.perf_counter() - start}))


if __name__ == "__main__":
    main()
