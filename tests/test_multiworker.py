"""A real multi-worker run: two worker processes on this machine, joined by
tf.distribute.MultiWorkerMirroredStrategy over two 127.0.0.1 ports, train one
model on halves of each global batch; the result equals the one-process run."""
import json
import os
import socket
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.slow  # three TensorFlow processes, two of them talking over gRPC

PROBLEM = {"dim": 4, "num_time_interval": 5}
OPTIONS = {"iterations": 40, "batch_size": 16, "log_every": 20, "seed": 3, "dtype": "float64", "batch_norm": False,
               "learning_rates": [1e-2], "y0_range": [0.0, 1.0]}

WORKER = textwrap.dedent("""
    import json, sys
    import tensorflow as tf
    import equations
    from deepbsde.solver.options import SolverOptions
    from deepbsde.solver.training import Trainer
    problem, options = json.loads(sys.argv[1]), json.loads(sys.argv[2])
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    trainer = Trainer(equations.get("hjb", **problem), SolverOptions.from_mapping(options), strategy)
    history, _ = trainer.run()
    print(json.dumps({"value": history[-1].value, "start": history[0].value,
                      "replicas": strategy.num_replicas_in_sync, "z0": trainer.z0().tolist()}))
""")

ALONE = textwrap.dedent("""
    import json, sys
    import deepbsde, equations
    problem, options = json.loads(sys.argv[1]), json.loads(sys.argv[2])
    result = deepbsde.solve(equations.get("hjb", **problem), reference=None, **options)
    print(json.dumps({"value": result.value, "z0": result.z0.tolist()}))
""")


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def last_json(output: str) -> dict:
    return json.loads(output.strip().splitlines()[-1])


def test_two_workers_give_the_one_process_result():
    arguments = [json.dumps(PROBLEM), json.dumps(OPTIONS)]
    workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
    processes = []
    for index in range(2):
        config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}}
        env = {**os.environ, "TF_CONFIG": json.dumps(config), "TF_CPP_MIN_LOG_LEVEL": "2"}
        processes.append(subprocess.Popen([sys.executable, "-c", WORKER, *arguments], env=env, text=True,
                                          stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    outputs = []
    try:
        for process in processes:
            out, err = process.communicate(timeout=300)
            assert process.returncode == 0, err[-2000:]
            outputs.append(last_json(out))
    finally:
        for process in processes:
            process.kill()
    alone = subprocess.run([sys.executable, "-c", ALONE, *arguments], capture_output=True, text=True, timeout=300,
                           env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert alone.returncode == 0, alone.stderr[-2000:]
    single = last_json(alone.stdout)

    assert [o["replicas"] for o in outputs] == [2, 2]
    assert outputs[0]["value"] == outputs[1]["value"]  # one model, held in sync on both workers
    # the same global batch split in halves: the all-reduced mean gradient equals the one-process one
    assert outputs[0]["value"] == pytest.approx(single["value"], rel=1e-9)
    assert outputs[0]["z0"] == pytest.approx(single["z0"], rel=1e-8, abs=1e-12)
    assert abs(outputs[0]["value"] - outputs[0]["start"]) > 1e-2  # it trained: Y_0 left its start
