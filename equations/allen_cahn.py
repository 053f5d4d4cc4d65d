"""Allen-Cahn equation with a double-well reaction term."""
from typing import ClassVar

import numpy as np
import tensorflow as tf

from equations.base import Equation
from equations.processes import ScaledBrownianMotion
from equations.registry import register


@register("allen_cahn")
class AllenCahn(Equation):
    """u_t + Laplace(u) + u - u^3 = 0, u(T, x) = 1 / (2 + 0.4 |x|^2)."""

    summary = "Allen-Cahn, f = y - y^3, g = 1/(2 + 0.4 |x|^2)"
    source = "Han, Jentzen, E, PNAS 2018; reference by branching diffusion"
    defaults = {"total_time": 0.3}
    y0_range = (0.3, 0.6)
    published_value = 0.052802
    reference_method = "mlp"

    volatility: ClassVar[float] = float(np.sqrt(2.0))

    def build_process(self):
        return ScaledBrownianMotion(self.x0, self.total_time, self.num_time_interval, volatility=self.volatility)

    def f(self, t, x, y, z):
        return y - y ** 3

    def g(self, x):
        return 1.0 / (2.0 + 0.4 * tf.reduce_sum(tf.square(x), axis=1, keepdims=True))
