"""Burgers-type equation with an explicit solution."""
import tensorflow as tf

from equations.base import Equation
from equations.processes import ScaledBrownianMotion
from equations.registry import register


@register("burgers")
class BurgersType(Equation):
    """X = x0 + d W, f = (y - (2 + d) / (2 d)) sum_i z_i.

    Explicit solution u(t, x) = e^{t+s} / (1 + e^{t+s}) with s = sum_i x_i / d.
    """

    summary = "Burgers-type, explicit u = sigmoid(t + sum x / d)"
    source = "E, Han, Jentzen, Commun. Math. Stat. 2017 (explicit solution)"
    defaults = {"dim": 50, "total_time": 0.2, "num_time_interval": 30}
    y0_range = (2.0, 4.0)

    def build_process(self):
        return ScaledBrownianMotion(self.x0, self.total_time, self.num_time_interval, volatility=float(self.dim))

    def f(self, t, x, y, z):
        return (y - (2.0 + self.dim) / (2.0 * self.dim)) * tf.reduce_sum(z, axis=1, keepdims=True)

    def g(self, x):
        return self.exact_solution(self.total_time, x)

    def exact_solution(self, t, x):
        return tf.sigmoid(t + tf.reduce_sum(x, axis=1, keepdims=True) / self.dim)
