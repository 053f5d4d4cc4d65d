"""Cole-Hopf references for HJB: quadrature against closed forms and Monte Carlo."""
import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

import equations
from deepbsde.reference import cole_hopf_monte_carlo, cole_hopf_quadrature
from deepbsde.reference.cole_hopf import chi_log_density
from equations import ParameterError

HJB = equations.get("hjb")


def quadratic_g(a):
    return lambda x: a * tf.reduce_sum(tf.square(x), axis=1)


def quadratic_exact(a, dim, lam, tau, x):
    """For g = a |x|^2 the Gaussian integral is explicit:
    u = d/(2 lam) ln(1 + 4 a lam tau) + a |x|^2 / (1 + 4 a lam tau)."""
    growth = 1.0 + 4.0 * a * lam * tau
    return dim / (2.0 * lam) * np.log(growth) + a * float(np.sum(np.square(x))) / growth


def test_quadrature_gives_the_published_hjb_value():
    estimate = cole_hopf_quadrature(HJB.g, 100, 1.0, 1.0)
    assert estimate.value == pytest.approx(4.5901, abs=1e-4)
    assert estimate.half_width < 1e-8


@pytest.mark.parametrize("dim", [1, 3, 100, 1000])
def test_chi_log_density_is_scipys(dim):
    v = np.linspace(0.0, np.sqrt(dim) + 20.0, 2001)
    with np.errstate(divide="ignore"):
        expected = stats.chi.logpdf(v, dim)
    alive = expected > expected.max() - 60.0  # where the quadrature looks
    np.testing.assert_allclose(chi_log_density(v, dim)[alive], expected[alive], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dim, lam, x", [(100, 1.0, 0.0), (100, 50.0, 0.0), (1, 3.0, 0.0), (2, 0.5, 0.0),
                                         (100, 1.0, 0.2), (100, 20.0, np.linspace(-1.0, 1.0, 100)),
                                         (1, 3.0, -0.8)])
def test_quadrature_is_exact_for_quadratic_terminal_condition(dim, lam, x):
    # the noncentral case x != 0 included; large lam too, where Monte Carlo fails
    estimate = cole_hopf_quadrature(quadratic_g(0.3), dim, lam, 1.0, x=x, t=0.25)
    assert estimate.value == pytest.approx(quadratic_exact(0.3, dim, lam, 0.75, np.broadcast_to(x, (dim,))),
                                           abs=1e-6)


@pytest.mark.parametrize("lam, x", [(0.2, 0.0), (1.0, 0.0), (1.0, 0.5)])
def test_quadrature_and_monte_carlo_agree_where_monte_carlo_is_unbiased(lam, x):
    quadrature = cole_hopf_quadrature(HJB.g, 100, lam, 1.0, x=x)
    monte_carlo = cole_hopf_monte_carlo(HJB.g, 100, lam, 1.0, x=x, num_paths=2 * 10 ** 5, seed=1)
    assert monte_carlo.half_width < 1e-3
    assert monte_carlo.contains(quadrature.value)


def test_monte_carlo_is_biased_at_large_lambda():
    # why the quadrature exists: at lam = 50 the sample mean misses the rare paths that dominate
    quadrature = cole_hopf_quadrature(HJB.g, 100, 50.0, 1.0)
    monte_carlo = cole_hopf_monte_carlo(HJB.g, 100, 50.0, 1.0, num_paths=10 ** 5, seed=1)
    assert monte_carlo.value - quadrature.value > 10 * monte_carlo.half_width


def test_monte_carlo_survives_overflowing_exponents():
    # exp(-lam g) underflows to 0 in double precision for every path; the log-space sums do not
    estimate = cole_hopf_monte_carlo(lambda x: 1000.0 + quadratic_g(0.3)(x), 10, 1.0, 1.0, num_paths=10 ** 4)
    assert estimate.value == pytest.approx(1000.0 + quadratic_exact(0.3, 10, 1.0, 1.0, 0.0), abs=0.05)


def test_same_seed_gives_identical_numbers():
    def estimate(seed):
        return cole_hopf_monte_carlo(HJB.g, 20, 1.0, 1.0, num_paths=10_001, chunk_size=1000, seed=seed)

    assert estimate(4) == estimate(4)
    assert estimate(4).value != estimate(5).value
    assert cole_hopf_quadrature(HJB.g, 20, 1.0, 1.0) == cole_hopf_quadrature(HJB.g, 20, 1.0, 1.0)


@pytest.mark.parametrize("function", [cole_hopf_monte_carlo, cole_hopf_quadrature])
@pytest.mark.parametrize("overrides, field", [
    ({"lam": 0.0}, "lam"), ({"total_time": 0.0}, "total_time"), ({"t": 1.0}, "t"), ({"dim": 0}, "dim"),
    ({"x": [0.0, 1.0]}, "x"), ({"g": lambda x: x}, "g"),
])
def test_bad_input_names_the_field(function, overrides, field):
    arguments = {"g": HJB.g, "dim": 3, "lam": 1.0, "total_time": 1.0, **overrides}
    with pytest.raises(ParameterError) as error:
        function(**arguments)
    assert error.value.field == field


def test_quadrature_refuses_a_non_radial_terminal_condition():
    with pytest.raises(ParameterError, match="radial") as error:
        cole_hopf_quadrature(lambda x: tf.reduce_sum(x, axis=1), 5, 1.0, 1.0)
    assert error.value.field == "g"
