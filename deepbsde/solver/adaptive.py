"""The robust preset's learning rate: drop it when the value stops moving, stop when it stops again.

A fixed schedule either decays before a slow problem has arrived (HJB at
large lambda drifts for thousands of steps and freezes wherever the drop
finds it) or wastes steps on a fast one. Here the value Y_0 itself is the
signal: when it moved less than PLATEAU_TOLERANCE (relative) over the last
PLATEAU_WINDOW steps of a phase, or moved without a trend (the means of
the window's halves closer than NOISE_TREND x its range: batch noise), the
rate drops tenfold; after the last drop's plateau training stops. `iterations` stays the cap.

A value that looks settled is not yet one while the validation loss still
falls by more than LOSS_FALL over the window: the networks are still
learning Z, and the value follows (Han and Long's bound, |Y_0 - u|^2 <= C (dt
+ loss), falls with the loss). With default options the reaction-diffusion
equation (d = 100, f = min(1, (y - u)^2), whose value is biased up by about
the mismatch E int (Y - u)^2 dt) looked settled at step 800, batch noise
hiding a drift of about 1% per 1000 steps while its loss fell by 30% per 500:
the drop froze it 2.1% off; held while the loss falls, it ends 0.58% off.

The schedule decides in Python at the log points (every log_every steps,
where the compiled block of steps ends); the Trainer then assigns its rate
to Keras Adam's learning-rate variable, which the compiled step reads.
"""
from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

from deepbsde.solver.history import HistoryRecord

PLATEAU_WINDOW = 500       # steps a phase must last, and over which the value's movement is judged
PLATEAU_TOLERANCE = 0.005  # relative movement below which the value counts as settled
DROPS = 2                  # tenfold drops before the final phase
NOISE_TREND = 0.25         # a window whose half-means differ by less than this x its range has no trend
LOSS_FALL = 0.1            # relative fall of the validation loss over the window that holds the phase


class PlateauSchedule(tf.Module):
    """A learning rate held in a variable, lowered by `observe` (part of a checkpoint).

    The rate is the optimizer's: after `observe` the Trainer copies `current_rate` into
    Keras Adam's learning rate (also after a restore from a checkpoint).
    """

    def __init__(self, rate: float, dtype: tf.DType, scale: float, hold_until: int = 0):
        super().__init__(name="plateau_schedule")
        # no drop before this step: under continuation Z's weight inside f still rises until then, so a
        # value that settles earlier has settled for another equation
        self.hold_until = hold_until
        self.rate = tf.Variable(rate, dtype=dtype, trainable=False, name="rate")
        self.phase_start = tf.Variable(0, dtype=tf.int64, trainable=False, name="phase_start")
        self.drops = tf.Variable(0, dtype=tf.int64, trainable=False, name="drops")
        self.scale = scale  # floor of the value's size: the size of Y's fluctuations
        self.finished = False  # the last phase has settled: training stopped by itself

    @property
    def current_rate(self) -> float:
        """The learning rate of the current phase."""
        return float(self.rate.numpy())

    def observe(self, history: Sequence[HistoryRecord]) -> bool:
        """Looks at the records so far; lowers the rate on a plateau. True: training is done."""
        step = history[-1].step
        start = max(int(self.phase_start.numpy()), self.hold_until)
        if step - start < PLATEAU_WINDOW:
            return False
        recent = [r for r in history if r.step >= step - PLATEAU_WINDOW]
        if recent[-1].loss < (1.0 - LOSS_FALL) * recent[0].loss:
            return False  # the networks still learn Z, and the value's error with them
        window = [r.value for r in recent]
        size = max(abs(history[-1].value), self.scale)
        spread = max(window) - min(window)
        half = len(window) // 2
        trend = abs(sum(window[-half:]) / half - sum(window[:half]) / half) if half else 0.0
        # settled: hardly moving, or moving without a direction (batch noise, which a lower rate cures)
        if spread / size >= PLATEAU_TOLERANCE and trend >= NOISE_TREND * spread:
            return False
        if int(self.drops.numpy()) >= DROPS:
            self.finished = True
            return True
        self.rate.assign(self.rate / 10.0)
        self.drops.assign_add(1)
        self.phase_start.assign(step)
        return False
