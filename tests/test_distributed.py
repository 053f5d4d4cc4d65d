"""Data-parallel training across two logical CPU devices matches one device.

Logical devices must be configured before TensorFlow starts, so the
comparison runs in a fresh interpreter.
"""
import json
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.slow  # trainings on two logical devices, each in a subprocess

SCRIPT = textwrap.dedent("""
    import json, sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import deepbsde, equations
    from deepbsde.solver.options import SolverOptions
    from deepbsde.solver.training import Trainer
    values = {}
    for batch_norm in (False, True):
        for devices in (None, ["/cpu:0", "/cpu:1"]):
            options = SolverOptions(iterations=1000, log_every=500, seed=1, dtype="float64",
                                    learning_rates=[2e-2, 2e-3], lr_boundaries=[700], y0_range=[0.0, 1.0],
                                    batch_norm=batch_norm, devices=devices)
            history, _ = Trainer(equations.get("burgers", dim=5, num_time_interval=10), options).run()
            values[f"{batch_norm}-{devices is not None}"] = history[-1].value  # the trained Y_0
    try:
        Trainer(equations.get("hjb", dim=2), SolverOptions.from_mapping({"batch_size": 7}),
                tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))
    except deepbsde.ConfigError as error:
        values["odd_batch_error"] = str(error)
    print(json.dumps(values))
""")


@pytest.fixture(scope="module")
def values():
    completed = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr[-2000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_without_batch_norm_two_devices_give_the_same_training(values):
    # the same global batch, split in halves: the averaged gradient is the same up to rounding
    assert values["False-True"] == pytest.approx(values["False-False"], rel=1e-9)


def test_the_replicas_must_divide_the_batch(values):
    assert values["odd_batch_error"] == "solver.batch_size: must be a multiple of the 2 replicas, got 7"


def test_with_batch_norm_two_devices_agree_within_monte_carlo_noise(values):
    # per-device batch statistics change the trajectory, not the answer: both within 1% of u = 0.5
    assert values["True-True"] != values["True-False"]
    assert values["True-True"] == pytest.approx(0.5, rel=0.01)
    assert values["True-False"] == pytest.approx(0.5, rel=0.01)



def test_a_given_strategy_is_used():
    import tensorflow as tf

    import equations
    from deepbsde.solver.options import SolverOptions
    from deepbsde.solver.training import Trainer

    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    trainer = Trainer(equations.get("hjb", dim=2, num_time_interval=3),
                      SolverOptions.from_mapping({"iterations": 3, "batch_size": 8}), strategy)
    assert trainer.strategy is strategy
    history, _ = trainer.run()
    assert history[-1].step == 3 and trainer.step == 3
