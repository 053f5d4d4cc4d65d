"""Region solves: the start-point sampler, parameters as network inputs, a small solve against
closed forms, and save/load of a price function."""
from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow as tf

import equations
from deepbsde.checks.control_variate import ControlledMoments, Moments, RegionControlVariate
from deepbsde.cli import main
from deepbsde.errors import ParameterError, RunFolderError
from deepbsde.finance.market import BlackScholesModel
from deepbsde.finance.payoffs import MaxCall
from deepbsde.pricing.book import PriceFunction, load_price_function, price_function
from deepbsde.reference import cole_hopf_quadrature
from deepbsde.reference.black_scholes_mc import black_scholes_closed_form_call
from deepbsde.reference.estimate import Z_95
from deepbsde.runs.loading import load
from deepbsde.runs.region_run import load_region_run
from deepbsde.solver.options import SolverOptions
from deepbsde.solver.parametric import BlackScholesRegion
from deepbsde.solver.region import EquationOnRegion, RegionModel, RegionTrainer
from deepbsde.solver.regions import ParameterRanges, Region
from deepbsde.solver.training import VALIDATION_STREAM


def test_box_samples_cover_the_box_uniformly():
    region = Region.box([0.0, -1.0], [1.0, 3.0])
    x = region.sample(20000, [1, 2]).numpy()
    assert region.contains(x).all()
    np.testing.assert_allclose(x.mean(axis=0), [0.5, 1.0], atol=0.03)
    np.testing.assert_allclose(x.std(axis=0), np.array([1.0, 4.0]) / np.sqrt(12), rtol=0.03)


def test_balls_have_the_radius_distribution_of_their_kind():
    dim, radius = 100, 10.0
    centre = np.arange(dim) / dim
    distances = {kind: np.linalg.norm(Region.ball(kind, centre, radius).sample(4000, [3, 4]).numpy() - centre, axis=1)
                 for kind in ("uniform_ball", "radial_ball", "normal")}
    assert distances["uniform_ball"].max() <= radius
    # uniform in volume: P(|x| <= r R) = r^d, so at d = 100 all but ~5% lie beyond 0.97 R
    assert np.mean(distances["uniform_ball"] > 0.97 * radius) == pytest.approx(1 - 0.97 ** dim, abs=0.02)
    # radial: the distance is uniform on [0, R], the centre included
    assert distances["radial_ball"].mean() == pytest.approx(radius / 2, rel=0.03)
    assert np.mean(distances["radial_ball"] < 0.1 * radius) == pytest.approx(0.1, abs=0.02)
    # normal: radius is the standard deviation per coordinate
    assert distances["normal"].mean() == pytest.approx(radius * np.sqrt(dim), rel=0.02)


def test_region_samples_are_reproducible():
    region = Region.ball("radial_ball", 0.0, 1.0, 5)
    np.testing.assert_array_equal(region.sample(10, [7, 8]).numpy(), region.sample(10, [7, 8]).numpy())
    assert not np.array_equal(region.sample(10, [7, 8]).numpy(), region.sample(10, [7, 9]).numpy())


@pytest.mark.parametrize("build, field", [
    (lambda: Region.box([0.0, 1.0], [1.0, 1.0]), "high"),
    (lambda: Region.box(0.0, 1.0), "dim"),
    (lambda: Region.ball("radial_ball", 0.0, -1.0, 3), "radius"),
    (lambda: Region.ball("sphere", 0.0, 1.0, 3), "kind"),
    (lambda: Region.ball("normal", [0.0, float("nan")], 1.0), "centre"),
    (lambda: Region.from_mapping({"kind": "radial_ball", "centre": 0.0, "radius": 1.0, "width": 2}, 3),
     "x0_region.width"),
    (lambda: Region.from_mapping({"kind": "box", "low": 0.0}, 3), "x0_region.high"),
    (lambda: ParameterRanges.from_mapping({"volatility": [0.3, 0.1]}), "volatility"),
])
def test_invalid_regions_name_the_field(build, field):
    with pytest.raises(ParameterError) as error:
        build()
    assert error.value.field == field


def test_region_mapping_round_trip():
    region = Region.from_mapping({"kind": "radial_ball", "centre": [1.0, 2.0], "radius": 0.5}, 2)
    again = Region.from_mapping(region.to_mapping(), 2)
    assert again.kind == "radial_ball" and again.radius == 0.5
    np.testing.assert_array_equal(again.centre, [1.0, 2.0])


def test_parameter_ranges_sample_inside_and_default_to_midpoints():
    ranges = ParameterRanges.from_mapping({"volatility": [0.15, 0.25], "rate": 0.05})
    p = ranges.sample(1000, [1, 1]).numpy()
    assert p.shape == (1000, 2) and p[:, 0].min() >= 0.15 and p[:, 0].max() <= 0.25
    np.testing.assert_array_equal(p[:, 1], 0.05)
    np.testing.assert_allclose(ranges.values(2, {"rate": [0.01, 0.02]}), [[0.2, 0.01], [0.2, 0.02]])
    with pytest.raises(ParameterError, match="strike"):
        ranges.values(1, {"strike": 1.0})


def test_paths_start_at_the_given_points():
    equation = equations.get("hjb", dim=3, num_time_interval=4)
    dw = equation.process.brownian_increments(5, [1, 2], tf.float64)
    x0 = tf.constant(np.arange(15.0).reshape(5, 3))
    x = equation.process.paths_from_increments(dw, x0).numpy()
    np.testing.assert_allclose(x[0], x0.numpy())
    np.testing.assert_allclose(x[-1] - x[0], np.sqrt(2.0) * dw.numpy().sum(axis=0), atol=1e-12)


def test_black_scholes_paths_use_each_paths_volatility_and_rate():
    model = BlackScholesModel([1.0, 1.0], rate=0.0, volatilities=0.2)
    ranges = ParameterRanges.from_mapping({"volatility": [0.1, 0.3], "rate": [0.0, 0.1]})
    problem = BlackScholesRegion(MaxCall(1.0), model, 1.0, 4, Region.box(0.8, 1.2, 2), ranges)
    dw = problem.increments(3, [1, 2], tf.float64)
    x0 = tf.constant([[1.0, 0.9], [1.1, 1.0], [0.8, 1.2]], tf.float64)
    p = tf.constant([[0.1, 0.0], [0.2, 0.05], [0.3, 0.1]], tf.float64)
    x = problem.paths(dw, x0, p).numpy()
    vol, rate = p.numpy()[:, :1], p.numpy()[:, 1:]
    expected = x0.numpy() * np.exp((rate - 0.5 * vol ** 2) * 1.0 + vol * dw.numpy().sum(axis=0))
    np.testing.assert_allclose(x[-1], expected, rtol=1e-12)
    np.testing.assert_allclose(problem.f(0.0, x[0], tf.ones([3, 1], tf.float64), None, p).numpy(), -rate)


def test_every_network_sees_the_parameters():
    model = BlackScholesModel([1.0, 1.0], rate=0.05, volatilities=0.2)
    ranges = ParameterRanges.from_mapping({"volatility": [0.1, 0.3]})
    problem = BlackScholesRegion(MaxCall(1.0), model, 1.0, 3, Region.box(0.8, 1.2, 2), ranges)
    network = RegionModel(problem, SolverOptions(dtype="float64", batch_norm=False), tf.float64)
    x = tf.ones([2, 2], tf.float64)
    p = tf.constant([[0.1], [0.3]], tf.float64)
    y0, z0 = network.y0_z0(x, p)
    later = network.z_later(tf.ones([2, 2, 2], tf.float64), p, training=False).numpy()
    assert y0[0, 0] != y0[1, 0] and not np.allclose(z0[0], z0[1])
    assert not np.allclose(later[:, 0], later[:, 1])


def test_region_problem_checks_the_dimension():
    with pytest.raises(ParameterError, match="x0_region"):
        EquationOnRegion(equations.get("hjb", dim=3), Region.box(0.0, 1.0, 4))


SMALL_BOOK = {"time_steps": 4, "iterations": 1000, "batch_size": 256, "learning_rates": [1e-2, 1e-3],
              "lr_boundaries": [600], "hidden_widths": [16, 16], "jit_compile": False, "seed": 1}


@pytest.fixture(scope="module")
def small_book():
    """One asset, spots in [90, 110]: the price is the closed-form call."""
    model = BlackScholesModel([100.0], rate=0.05, volatilities=0.2)
    return price_function(MaxCall(100.0), model, 1.0, spot_range=(90.0, 110.0), **SMALL_BOOK)


def test_small_region_solve_matches_the_closed_form(small_book):
    spots = np.array([[90.5], [95.0], [100.0], [105.0], [109.5]])
    exact = np.array([black_scholes_closed_form_call(s, 100.0, 0.05, 0.2, 1.0) for s in spots[:, 0]])
    np.testing.assert_allclose(small_book.price(spots), exact, rtol=0.03)
    bump = 0.5
    exact_delta = np.array([(black_scholes_closed_form_call(s + bump, 100.0, 0.05, 0.2, 1.0)
                             - black_scholes_closed_form_call(s - bump, 100.0, 0.05, 0.2, 1.0)) / (2 * bump)
                            for s in spots[:, 0]])
    np.testing.assert_allclose(small_book.deltas(spots)[:, 0], exact_delta, atol=0.06)


def test_small_region_solve_check_against_monte_carlo(small_book):
    check = small_book.check(num_points=3, paths=20000, seed=0)
    assert check.vegas is None and check.deltas.shape == (3, 1)
    assert check.price_rel_errors.max() < 0.03
    # the refined estimate agrees with the independent Monte Carlo within their combined 95% intervals
    estimate = check.estimate
    assert estimate is not None and estimate.vegas is None
    assert np.all(np.abs(estimate.prices - check.reference_price)
                  < np.hypot(estimate.price_half_widths, check.price_half_width))
    assert np.all(np.abs(estimate.deltas - check.reference_deltas)
                  < np.hypot(estimate.delta_half_widths, check.delta_half_widths))


def test_price_function_save_and_load(small_book, tmp_path):
    spots = np.array([[95.0], [104.0]])
    loaded = load_price_function(small_book.save(tmp_path / "book"))
    np.testing.assert_array_equal(loaded.price(spots), small_book.price(spots))
    with pytest.raises(ParameterError, match="volatility_range"):
        loaded.vegas(spots)
    with pytest.raises(ParameterError, match="volatility"):
        loaded.price(spots, volatility=0.3)


def test_evaluate_command_writes_prices_and_deltas(small_book, tmp_path, capsys):
    from_cli = tmp_path / "out.csv"
    points = tmp_path / "points.csv"
    points.write_text("S1\n95.0\n104.0\n")
    assert main(["evaluate", str(small_book.save(tmp_path / "book")), "--points", str(points),
                 "--out", str(from_cli)]) == 0
    header, *rows = [line.split(",") for line in from_cli.read_text().splitlines()]
    assert header == ["S1", "price", "delta_1"]
    np.testing.assert_allclose([float(r[1]) for r in rows], small_book.price([[95.0], [104.0]]), rtol=1e-5)
    np.testing.assert_allclose([float(r[2]) for r in rows], small_book.deltas([[95.0], [104.0]])[:, 0], rtol=1e-5)
    assert main(["evaluate", str(tmp_path / "book"), "--points", str(points), "--out", str(from_cli),
                 "--paths", "4096"]) == 0
    header, *rows = [line.split(",") for line in from_cli.read_text().splitlines()]
    assert header == ["S1", "price", "delta_1", "price_estimate", "price_half_width", "delta_1_estimate",
                      "delta_1_half_width"]
    estimate = small_book.estimate([[95.0], [104.0]], paths=4096)
    np.testing.assert_allclose([float(r[3]) for r in rows], estimate.prices, rtol=1e-5)
    np.testing.assert_allclose([float(r[6]) for r in rows], estimate.delta_half_widths[:, 0], rtol=1e-5)
    assert [name for name in os.listdir(tmp_path) if name.startswith(".")] == []  # no temporary file left
    points.write_text("S1,volatility\n95.0,0.3\n")
    assert main(["evaluate", str(tmp_path / "book"), "--points", str(points)]) == 2
    assert "volatility" in capsys.readouterr().err


def closed_form_call_sensitivities(spot: float, volatility: float) -> tuple[float, float, float]:
    """Price, delta and vega of the one-asset call (K = 100, r = 0.05, T = 1) from the closed form."""
    def call(s: float, v: float) -> float:
        return black_scholes_closed_form_call(s, 100.0, 0.05, v, 1.0)

    return (call(spot, volatility), (call(spot + 1e-3, volatility) - call(spot - 1e-3, volatility)) / 2e-3,
            (call(spot, volatility + 1e-5) - call(spot, volatility - 1e-5)) / 2e-5)


def test_moments_match_numpy_per_group():
    samples = np.random.default_rng(3).standard_normal((4, 300, 2))
    moments = Moments()
    moments.add(samples[:, :100])
    moments.add(samples[:, 100:])
    np.testing.assert_allclose(moments.mean, samples.mean(axis=1))
    np.testing.assert_allclose(moments.half_width, Z_95 * samples.std(axis=1, ddof=1) / np.sqrt(300))


def test_controlled_moments_fit_the_coefficient():
    rng = np.random.default_rng(4)
    control = rng.standard_normal((2, 1000))
    exact = ControlledMoments()
    exact.add(3.0 + 2.0 * control, control)  # A = u + 2 B: u exactly, with no noise left
    np.testing.assert_allclose(exact.coefficient, 2.0)
    np.testing.assert_allclose(exact.mean, 3.0)
    np.testing.assert_allclose(exact.half_width, 0.0, atol=1e-6)
    unrelated = ControlledMoments()
    target = 1.0 + rng.standard_normal((2, 1000))
    unrelated.add(target, control)  # a useless control changes the estimate by much less than its interval
    assert np.all(np.abs(unrelated.mean - target.mean(axis=1)) < 0.1 * unrelated.half_width)
    assert np.all(unrelated.half_width <= Z_95 * target.std(axis=1, ddof=1) / np.sqrt(1000))


def test_estimate_is_unbiased_with_untrained_networks():
    """Exact simulation and mean-zero control variates: right within the interval whatever the networks."""
    model = BlackScholesModel([100.0], rate=0.05, volatilities=0.2)
    book = PriceFunction(MaxCall(100.0), model, 1.0, (90.0, 110.0), volatility_range=(0.15, 0.25), time_steps=4,
                         hidden_widths=[8, 8], seed=3)  # never trained
    spots, volatility = np.array([[92.0], [100.0], [108.0]]), np.array([0.16, 0.2, 0.24])
    estimate = book.estimate(spots, volatility=volatility, paths=2 ** 14, seed=1)
    exact = np.array([closed_form_call_sensitivities(s, v) for s, v in zip(spots[:, 0], volatility)])
    assert np.all(np.abs(estimate.prices - exact[:, 0]) < estimate.price_half_widths)
    assert np.all(np.abs(estimate.deltas[:, 0] - exact[:, 1]) < estimate.delta_half_widths[:, 0])
    assert estimate.vegas is not None and estimate.vega_half_widths is not None and estimate.rhos is None
    assert np.all(np.abs(estimate.vegas - exact[:, 2]) < estimate.vega_half_widths)


def test_estimate_of_a_trained_book_is_accurate_with_narrow_intervals(small_book):
    spots = np.array([[90.5], [100.0], [109.5]])
    estimate = small_book.estimate(spots, paths=2 ** 14, seed=2)
    exact = np.array([closed_form_call_sensitivities(s, 0.2) for s in spots[:, 0]])
    assert np.all(np.abs(estimate.prices - exact[:, 0]) < estimate.price_half_widths)
    assert np.all(np.abs(estimate.deltas[:, 0] - exact[:, 1]) < estimate.delta_half_widths[:, 0])
    # the trained networks remove most of the payoff's variance (plain Monte Carlo: ratio 1, and a price
    # interval of about 2.6% at spot 90.5 with these paths)
    assert np.all(estimate.variance_ratio < 0.2)
    assert np.all(estimate.price_half_widths < 0.015 * exact[:, 0])
    assert np.all(estimate.delta_half_widths[:, 0] < 0.015 * exact[:, 1])


def test_region_training_is_the_same_for_any_steps_per_call():
    """The region solve runs the point solver's loop (TrainingLoop): blocks of steps change no batch."""
    equation = equations.get("hjb", dim=3, num_time_interval=4)
    region = Region.ball("radial_ball", 0.0, 1.0, 3)
    values = []
    for steps_per_call in (1, 7, 5):  # 7 and 3 in turn (each block drawn by its call), 5 (blocks drawn ahead)
        options = SolverOptions(iterations=30, batch_size=32, valid_size=32, log_every=10, dtype="float64",
                                hidden_widths=[8, 8], steps_per_call=steps_per_call, jit_compile=False,
                                learning_rates=[1e-2], lr_boundaries=[], preset="paper")
        trainer = RegionTrainer(EquationOnRegion(equation, region), options)
        history, _ = trainer.run()
        assert [record.step for record in history] == [0, 10, 20, 30]
        values.append(trainer.solution.evaluate(np.array([[0.1, 0.2, -0.3], [0.0, 0.0, 0.0]]))["u"])
    np.testing.assert_allclose(values[0], values[1], rtol=1e-10)
    np.testing.assert_allclose(values[0], values[2], rtol=1e-10)


REGION_CONFIG = """
equation:
  name: hjb
  dim: 3
  num_time_interval: 4
  x0_region: {kind: radial_ball, centre: 0.0, radius: 1.0}
solver: {iterations: 40, batch_size: 64, valid_size: 64, learning_rates: [1.0e-2], lr_boundaries: [],
         preset: paper, dtype: float64, log_every: 20, checkpoint_every: 20, jit_compile: false, hidden_widths: [8, 8]}
"""


def test_region_config_fields_are_validated(tmp_path, capsys):
    path = tmp_path / "region.yaml"
    path.write_text(REGION_CONFIG.replace("radius: 1.0}", "radius: 1.0, width: 2}"))
    assert main(["run", str(path), "--out", str(tmp_path / "run")]) == 2
    assert "equation.x0_region.width" in capsys.readouterr().err
    path.write_text(REGION_CONFIG.replace("radius: 1.0", "radius: -1.0"))
    assert main(["run", str(path), "--out", str(tmp_path / "run")]) == 2
    assert "equation.x0_region.radius" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_region_config_runs_and_evaluates_at_points(tmp_path, capsys):
    path = tmp_path / "region.yaml"
    path.write_text(REGION_CONFIG)
    run = tmp_path / "run"
    assert main(["run", str(path), "--out", str(run)]) == 0
    output = capsys.readouterr().out
    assert "u(0, centre of the region)" in output and "reference =" in output  # Cole-Hopf points on the line
    assert {"result.json", "history.csv", "config.yaml", "model", "region_line.png", "checkpoints"} <= set(
        os.listdir(run))
    points = tmp_path / "points.csv"
    points.write_text("x1,x2,x3\n0.0,0.0,0.0\n0.3,-0.2,0.5\n")
    out = tmp_path / "out.csv"
    assert main(["evaluate", str(run), "--points", str(points), "--out", str(out)]) == 0
    header, *rows = [line.split(",") for line in out.read_text().splitlines()]
    assert header == ["x1", "x2", "x3", "u", "grad_1", "grad_2", "grad_3"]
    solution = load_region_run(run)
    expected = solution.evaluate([[0.0, 0.0, 0.0], [0.3, -0.2, 0.5]])
    np.testing.assert_allclose([float(r[3]) for r in rows], expected["u"], rtol=1e-5)
    np.testing.assert_allclose([[float(v) for v in r[4:]] for r in rows], expected["grad_x"], rtol=1e-5, atol=1e-9)
    with pytest.raises(RunFolderError, match="region run"):
        load(run)


def test_nonlinear_estimate_recovers_u_and_its_gradient_where_the_network_does_not():
    # HJB at a small lambda, where the f terms (which use the networks' Z) are small: the estimate is then
    # mostly the pathwise Monte Carlo of g(X_T) and its derivative, right even from a crude network
    # (measured: the network's gradient norm 29% to 39% off here, the estimate's 1.2%)
    equation = equations.get("hjb", dim=4, lam=0.1)
    region = Region.ball("radial_ball", 0.0, 2.0, 4)
    options = SolverOptions(iterations=300, batch_size=256, valid_size=256, log_every=100, dtype="float32",
                            learning_rates=[1e-2], lr_boundaries=[], seed=3)
    trainer = RegionTrainer(EquationOnRegion(equation, region), options)
    trainer.run()
    directions = np.eye(4)[:3]
    radii = np.array([0.5, 1.0, 1.8])
    x = radii[:, np.newaxis] * directions
    estimate = RegionControlVariate(trainer.model).estimate(x, np.zeros((3, 0)), paths=2 ** 14, seed=1)

    def reference(radius: float) -> float:
        return cole_hopf_quadrature(equation.g, 4, equation.lam, equation.total_time, x=radius * directions[0]).value

    exact_u = np.array([reference(r) for r in radii])
    exact_slope = np.array([(reference(r + 1e-3) - reference(r - 1e-3)) / 2e-3 for r in radii])
    assert not estimate.unbiased
    np.testing.assert_allclose(estimate.value, exact_u, rtol=0.015)
    estimate_error = np.abs(np.linalg.norm(estimate.gradient, axis=1) / exact_slope - 1)
    network_error = np.abs(np.linalg.norm(trainer.solution.evaluate(x)["grad_x"], axis=1) / exact_slope - 1)
    assert estimate_error.max() < 0.03 and estimate_error.max() < network_error.max() / 5
    np.testing.assert_allclose(np.einsum("ij,ij->i", estimate.gradient, directions), exact_slope, rtol=0.03)


def test_region_training_increments_are_drawn_in_increments_dtype_and_validation_in_dtype():
    equation = equations.get("hjb", dim=3, num_time_interval=4)
    options = SolverOptions(batch_size=8, valid_size=8, dtype="float64", hidden_widths=[4])
    trainer = RegionTrainer(EquationOnRegion(equation, Region.box(0.0, 1.0, 3)), options)
    dw, _, _ = trainer.sample()
    drawn = equation.process.brownian_increments(8, tf.constant([1, 0], tf.int64), tf.float32)
    assert dw.dtype == tf.float64
    np.testing.assert_array_equal(dw.numpy(), tf.cast(drawn, tf.float64).numpy())
    valid = equation.process.brownian_increments(8, tf.constant([1, VALIDATION_STREAM], tf.int64), tf.float64)
    np.testing.assert_array_equal(trainer.valid_batch[0].numpy(), valid.numpy())
