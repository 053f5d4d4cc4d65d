"""Hamilton-Jacobi-Bellman equation of a linear-quadratic control problem."""
from typing import ClassVar

import numpy as np
import tensorflow as tf

from deepbsde.errors import ParameterError
from equations.base import Equation
from equations.processes import ScaledBrownianMotion
from equations.registry import register


@register("hjb")
class HJB(Equation):
    """u_t + Laplace(u) - lam |grad u|^2 = 0, u(T, x) = ln((1 + |x|^2) / 2).

    With sigma = sqrt(2) I the forward process is X = x0 + sqrt(2) W and
    Z = sigma^T grad u = sqrt(2) grad u, so lam |grad u|^2 = lam |z|^2 / 2.
    """

    summary = "HJB of linear-quadratic control, f = -lam |z|^2 / 2, g = ln((1+|x|^2)/2)"
    source = "Han, Jentzen, E, PNAS 2018; reference by Cole-Hopf Monte Carlo"
    y0_range = (0.0, 1.0)
    published_value = 4.5901
    reference_method = "cole_hopf"

    volatility: ClassVar[float] = float(np.sqrt(2.0))

    lam: float = 1.0  # lambda, the weight of the control cost

    @classmethod
    def check_params(cls, params):
        if params["lam"] <= 0:
            raise ParameterError("lam", f"must be positive, got {params['lam']}")

    def build_process(self):
        return ScaledBrownianMotion(self.x0, self.total_time, self.num_time_interval, volatility=self.volatility)

    def f(self, t, x, y, z):
        return -0.5 * self.lam * tf.reduce_sum(tf.square(z), axis=1, keepdims=True)

    def driver_convexity(self):
        return "concave"  # lam > 0

    def g(self, x):
        return tf.math.log(0.5 * (1.0 + tf.reduce_sum(tf.square(x), axis=1, keepdims=True)))
