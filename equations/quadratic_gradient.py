"""Equation with a quadratic gradient term and an explicit solution."""
import tensorflow as tf

from deepbsde.errors import ParameterError
from equations.base import Equation
from equations.processes import ScaledBrownianMotion
from equations.registry import register


@register("quadratic_gradient")
class QuadraticGradient(Equation):
    """X = x0 + W, explicit u(t, x) = sin(s^alpha) with s = T - t + |x|^2 / d.

    f = |z|^2 + h(t, x), h chosen so that u solves u_t + 1/2 Laplace(u) + f = 0:
    with D(s) = alpha s^(alpha-1) cos(s^alpha),
    h = -(2 |x|^2 / d^2) D'(s) - 4 D(s)^2 |x|^2 / d^2.
    """

    summary = "quadratic gradient, f = |z|^2 + h(t,x), explicit u = sin((T-t+|x|^2/d)^alpha)"
    source = "E, Han, Jentzen, Commun. Math. Stat. 2017 (explicit solution)"
    defaults = {"num_time_interval": 30}
    y0_range = (2.0, 4.0)

    alpha: float = 0.4  # exponent of the explicit solution, in (0, 1]

    @classmethod
    def check_params(cls, params):
        if not 0 < params["alpha"] <= 1:
            raise ParameterError("alpha", f"must lie in (0, 1], got {params['alpha']}")

    def build_process(self):
        return ScaledBrownianMotion(self.x0, self.total_time, self.num_time_interval, volatility=1.0)

    def _shifted_time(self, t, x):
        return self.total_time - t + tf.reduce_sum(tf.square(x), axis=1, keepdims=True) / self.dim

    def f(self, t, x, y, z):
        a = self.alpha
        s = self._shifted_time(t, x)
        s_a = s ** a
        d_s = a * s ** (a - 1.0) * tf.cos(s_a)
        d_prime = a * (a - 1.0) * s ** (a - 2.0) * tf.cos(s_a) - a * a * s ** (2.0 * a - 2.0) * tf.sin(s_a)
        x_norm2_over_d2 = tf.reduce_sum(tf.square(x), axis=1, keepdims=True) / self.dim ** 2
        h = -2.0 * x_norm2_over_d2 * d_prime - 4.0 * tf.square(d_s) * x_norm2_over_d2
        return tf.reduce_sum(tf.square(z), axis=1, keepdims=True) + h

    def driver_convexity(self):
        return "convex"  # |z|^2 plus a function of (t, x)

    def g(self, x):
        return self.exact_solution(self.total_time, x)

    def exact_solution(self, t, x):
        return tf.sin(self._shifted_time(t, x) ** self.alpha)
