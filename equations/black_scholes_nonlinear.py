"""Nonlinear Black-Scholes equations on d independent geometric Brownian motions."""
import numpy as np
import tensorflow as tf

from deepbsde.errors import ParameterError
from deepbsde.finance.relu_networks import call_spread_on_max
from equations.base import Equation
from equations.processes import GeometricBrownianMotion
from equations.registry import register


class _IndependentGBMEquation(Equation):
    """Shared forward process: dX_i = mu_bar X_i dt + sigma_bar X_i dW_i."""

    defaults = {"x0": 100.0}

    mu_bar: float = 0.02     # drift of every asset
    sigma_bar: float = 0.2   # volatility of every asset

    @classmethod
    def check_params(cls, params):
        if params["sigma_bar"] <= 0:
            raise ParameterError("sigma_bar", f"must be positive, got {params['sigma_bar']}")
        if np.min(params["x0"]) <= 0:
            raise ParameterError("x0", "must be positive: asset prices follow a geometric Brownian motion")

    def build_process(self):
        return GeometricBrownianMotion(self.x0, self.total_time, self.num_time_interval,
                                       drift_rate=self.mu_bar, volatility=self.sigma_bar)


@register("bs_default_risk")
class BlackScholesDefaultRisk(_IndependentGBMEquation):
    """Pricing with default risk: f = -(1 - delta) Q(y) y - R y, g = min_i x_i.

    The default intensity Q is gamma_h below v_h, gamma_l above v_l and linear
    in between.
    """

    summary = "Black-Scholes with default risk, g = min_i x_i"
    source = "Han, Jentzen, E, PNAS 2018; reference by multilevel Picard"
    defaults = {"num_time_interval": 40}
    y0_range = (40.0, 50.0)
    published_value = 57.300
    reference_method = "mlp"

    delta: float = 2.0 / 3.0   # recovery rate
    rate: float = 0.02         # interest rate R
    gamma_h: float = 0.2       # default intensity below v_h
    gamma_l: float = 0.02      # default intensity above v_l
    v_h: float = 50.0
    v_l: float = 70.0

    @classmethod
    def check_params(cls, params):
        super().check_params(params)
        if not params["v_h"] < params["v_l"]:
            raise ParameterError("v_h", f"must be below v_l, got v_h={params['v_h']}, v_l={params['v_l']}")

    def default_intensity(self, y: tf.Tensor) -> tf.Tensor:
        """Q(y): piecewise linear from gamma_h at v_h down to gamma_l at v_l."""
        weight = tf.clip_by_value((y - self.v_h) / (self.v_l - self.v_h), 0.0, 1.0)
        return self.gamma_h + (self.gamma_l - self.gamma_h) * weight

    def f(self, t, x, y, z):
        return -(1.0 - self.delta) * self.default_intensity(y) * y - self.rate * y

    def g(self, x):
        return tf.reduce_min(x, axis=1, keepdims=True)


@register("bs_diff_rates")
class BlackScholesDifferentRates(_IndependentGBMEquation):
    """Pricing with different borrowing and lending rates.

    f = -R_l y - (mu_bar - R_l)/sigma_bar sum_i z_i + (R_b - R_l) max(0, sum_i z_i / sigma_bar - y),
    g = max(max_i x_i - K1, 0) - 2 max(max_i x_i - K2, 0) (a call spread on the maximum).
    """

    summary = "Black-Scholes with different borrowing and lending rates, call spread on the max"
    source = "Han, Jentzen, E, PNAS 2018 / E, Han, Jentzen 2017; reference by multilevel Picard"
    defaults = {"total_time": 0.5}
    y0_range = (15.0, 18.0)
    published_value = 21.299

    mu_bar: float = 0.06
    rate_lend: float = 0.04      # R_l
    rate_borrow: float = 0.06    # R_b
    strike_low: float = 120.0    # K1
    strike_high: float = 150.0   # K2

    def f(self, t, x, y, z):
        z_sum = tf.reduce_sum(z, axis=1, keepdims=True)
        borrowed = tf.nn.relu(z_sum / self.sigma_bar - y)
        return (-self.rate_lend * y - (self.mu_bar - self.rate_lend) / self.sigma_bar * z_sum
                + (self.rate_borrow - self.rate_lend) * borrowed)

    def driver_convexity(self):
        # affine plus (R_b - R_l) times a ReLU of an affine function of (y, z)
        return "convex" if self.rate_borrow >= self.rate_lend else "concave"

    def g(self, x):
        # the payoff's exact ReLU network (docs/method.md)
        return call_spread_on_max(self.dim, self.strike_low, self.strike_high).tf_call(x)
