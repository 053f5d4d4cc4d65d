"""The robust preset on the solver layer: step scales as a reparameterisation, the adaptive
learning rate driving Keras Adam, and continuation inside the compiled block of steps."""
import numpy as np
import pytest
import tensorflow as tf

import equations
from deepbsde.solver.adaptive import PlateauSchedule
from deepbsde.solver.history import HistoryRecord
from deepbsde.solver.optimizer import current_learning_rate
from deepbsde.solver.options import SolverOptions
from deepbsde.solver.training import Trainer


def small(**options):
    return Trainer(equations.get("hjb", dim=3, num_time_interval=4), SolverOptions(**options))


def test_robust_model_trains_y0_and_z0_in_units_of_their_scales():
    trainer = small(iterations=20, seed=2)
    model = trainer.model
    names = {v.name.split(":")[0] for v in trainer.variables}
    assert {"y0_unit", "z0_unit", "linear_unit"} <= names and not {"y0", "z0"} & names
    trainer.train_steps(10)
    y0, z0 = model.initial_values()
    assert float(model.y0.numpy()) == pytest.approx(float(y0.numpy()), rel=1e-12)
    np.testing.assert_allclose(model.z0.numpy(), z0.numpy(), rtol=1e-12)
    assert float(model.y0.numpy()) == pytest.approx(float(model.y0_unit.numpy() * model.y0_step.numpy()))


def test_paper_preset_keeps_y0_and_z0_trainable():
    trainer = small(preset="paper")
    names = {v.name.split(":")[0] for v in trainer.variables}
    assert {"y0", "z0"} <= names and "y0_unit" not in names
    assert trainer.plateau is None


def test_adaptive_rate_is_given_to_keras_adam():
    trainer = small(learning_rates=[1e-2])
    assert trainer.plateau is not None
    flat = [HistoryRecord(step, 0.1, 1.0, 1e-2, 0.0) for step in range(0, 600, 100)]
    assert trainer.plateau.observe(flat) is False  # settled: first tenfold drop
    trainer._set_adaptive_rate()
    assert current_learning_rate(trainer.optimizer) == pytest.approx(1e-3)


def test_piecewise_schedule_still_drives_the_paper_preset():
    trainer = small(preset="paper", learning_rates=[1e-2, 1e-3], lr_boundaries=[5])
    trainer.train_steps(6)
    assert current_learning_rate(trainer.optimizer) == pytest.approx(1e-3)


@pytest.mark.parametrize("steps_per_call", [1, 4])
def test_continuation_ramps_inside_the_compiled_steps(steps_per_call):
    trainer = small(iterations=40, continuation=0.5, steps_per_call=steps_per_call)  # ramp over 20 steps
    trainer.train_steps(8) if steps_per_call > 1 else [trainer.train_step() for _ in range(8)]
    # the coupling is set at the start of each step from the steps taken before it: 7 / 20
    assert float(trainer.model.z_coupling.numpy()) == pytest.approx(7 / 20)


def test_plateau_schedule_holds_its_rate_until_the_continuation_ramp_ends():
    flat = [HistoryRecord(step, 0.1, 2.0, 1e-2, float(step)) for step in range(0, 1001, 100)]
    held = PlateauSchedule(1e-2, tf.float64, 1.0, hold_until=800)
    assert not held.observe(flat[:9]) and held.current_rate == pytest.approx(1e-2)  # step 800: still held
    free = PlateauSchedule(1e-2, tf.float64, 1.0)
    assert not free.observe(flat[:9]) and free.current_rate == pytest.approx(1e-3)  # flat for 500 steps: a drop
    flat += [HistoryRecord(step, 0.1, 2.0, 1e-2, float(step)) for step in range(1100, 1301, 100)]
    assert not held.observe(flat) and held.current_rate == pytest.approx(1e-3)  # 500 steps after the ramp


def test_plateau_schedule_holds_its_rate_while_the_validation_loss_still_falls():
    # the value is flat over the window, but the loss falls by 20% over it: the networks still learn Z
    falling = [HistoryRecord(step, 0.1 * (1.0 - 0.2 * step / 500), 2.0, 1e-2, 0.0) for step in range(0, 501, 100)]
    learning = PlateauSchedule(1e-2, tf.float64, 1.0)
    assert not learning.observe(falling) and learning.current_rate == pytest.approx(1e-2)
    # a fall of 5% over the window: settled, a drop
    slowing = [HistoryRecord(step, 0.1 * (1.0 - 0.05 * step / 500), 2.0, 1e-2, 0.0) for step in range(0, 501, 100)]
    settled = PlateauSchedule(1e-2, tf.float64, 1.0)
    assert not settled.observe(slowing) and settled.current_rate == pytest.approx(1e-3)

