"""Reaction-diffusion equation with an oscillating explicit solution."""
import numpy as np
import tensorflow as tf

from equations.base import Equation
from equations.processes import ScaledBrownianMotion
from equations.registry import register


@register("reaction_diffusion")
class ReactionDiffusion(Equation):
    """X = x0 + W, explicit u(t, x) = 1 + kappa + sin(lam sum_i x_i) exp(lam^2 d (t - T) / 2).

    The explicit u satisfies u_t + 1/2 Laplace(u) = 0, so any f vanishing on
    it works; f = min(1, (y - u(t, x))^2) as in the benchmark. The frequency is
    lam = lam_scale / sqrt(d), so the default lam_scale = 1 gives the benchmark's 1/sqrt(d).
    """

    summary = "oscillating reaction-diffusion, explicit u = 1 + kappa + sin(lam sum x) e^{lam^2 d (t-T)/2}"
    source = "E, Han, Jentzen, Commun. Math. Stat. 2017 (explicit solution)"
    defaults = {"num_time_interval": 30}
    y0_range = (0.0, 1.0)

    kappa: float = 0.6      # offset of the explicit solution
    lam_scale: float = 1.0  # frequency times sqrt(d)

    @property
    def lam(self) -> float:
        """The frequency lam_scale / sqrt(d)."""
        return float(self.lam_scale / np.sqrt(self.dim))

    def build_process(self):
        return ScaledBrownianMotion(self.x0, self.total_time, self.num_time_interval, volatility=1.0)

    def f(self, t, x, y, z):
        return tf.minimum(tf.square(y - self.exact_solution(t, x)), 1.0)

    def g(self, x):
        return self.exact_solution(self.total_time, x)

    def exact_solution(self, t, x):
        phase = self.lam * tf.reduce_sum(x, axis=1, keepdims=True)
        decay = tf.exp(tf.cast(self.lam ** 2 * self.dim * (t - self.total_time) / 2.0, x.dtype))
        return 1.0 + self.kappa + tf.sin(phase) * decay
