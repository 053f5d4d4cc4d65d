"""Region configurations with parameter ranges: parsing and errors of `equation.parameter_ranges`, the
equations that take parameters as network inputs, and a tiny run through `deepbsde run` and
`deepbsde evaluate`."""
from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf
import yaml

import equations
from deepbsde.cli import main
from deepbsde.errors import ConfigError, ParameterError
from deepbsde.finance.market import BlackScholesModel
from deepbsde.finance.payoffs import MaxCall
from deepbsde.reference import black_scholes_price
from deepbsde.runs.config import config_from_mapping, load_config
from deepbsde.runs.region_run import load_region_run
from deepbsde.solver.options import SolverOptions
from deepbsde.solver.parametric import BlackScholesRegion, equation_parameters, region_problem
from deepbsde.solver.region import EquationOnRegion, RegionModel
from deepbsde.solver.regions import ParameterRanges, Region
from tests.conftest import CONFIGS

BOOK = {"equation": {"name": "black_scholes", "dim": 2, "num_time_interval": 2, "strike": 1.0, "x0": 1.0,
                     "x0_region": {"kind": "box", "low": 0.9, "high": 1.1},
                     "parameter_ranges": {"volatility": [0.15, 0.25], "rate": [0.01, 0.05]}},
        "solver": {"iterations": 20, "batch_size": 32, "valid_size": 32, "learning_rates": [1.0e-2],
                   "lr_boundaries": [], "hidden_widths": [8, 8], "dtype": "float64", "log_every": 10,
                   "checkpoint_every": 10, "jit_compile": False, "seed": 1},
        "reference": None}


def with_equation(**changes):
    equation = {**BOOK["equation"], **changes}
    return {**BOOK, "equation": {k: v for k, v in equation.items() if v is not None}}


def test_parameter_ranges_are_parsed_and_written_back():
    config = config_from_mapping(BOOK)
    problem = config.build_region_problem()
    assert isinstance(problem, BlackScholesRegion)
    assert problem.parameters.names == ("rate", "volatility")  # sorted: the same order from any file
    np.testing.assert_allclose(problem.parameters.centre, [0.03, 0.2])
    resolved = config.to_dict()
    assert list(resolved["equation"]["parameter_ranges"].items()) == [("rate", [0.01, 0.05]),
                                                                      ("volatility", [0.15, 0.25])]
    assert resolved["equation"]["volatilities"] == [0.2]  # the equation's own, replaced by the range in training
    again = config_from_mapping(yaml.safe_load(yaml.safe_dump(resolved)))
    assert again.to_dict() == resolved


@pytest.mark.parametrize("changes, field, reason", [
    ({"parameter_ranges": [0.15, 0.25]}, "equation.parameter_ranges", "must be a mapping"),
    ({"parameter_ranges": {}}, "equation.parameter_ranges", "must be a mapping"),
    ({"x0_region": None}, "equation.parameter_ranges", "needs equation.x0_region"),
    ({"parameter_ranges": {"sigma": [0.1, 0.2]}}, "equation.parameter_ranges.sigma",
     "not a parameter .* volatility, rate"),
    ({"parameter_ranges": {"volatility": [0.25, 0.15]}}, "equation.parameter_ranges.volatility", "low <= high"),
    ({"parameter_ranges": {"volatility": [0.1, 0.2, 0.3]}}, "equation.parameter_ranges.volatility",
     "range \\[low, high\\]"),
    ({"parameter_ranges": {"volatility": "high"}}, "equation.parameter_ranges.volatility", "number"),
    ({"parameter_ranges": {"rate": [0.0, float("nan")]}}, "equation.parameter_ranges.rate", "finite"),
    ({"parameter_ranges": {"volatility": [0.0, 0.2]}}, "equation.parameter_ranges.volatility", "positive"),
    ({"parameter_ranges": {1: [0.1, 0.2]}}, "equation.parameter_ranges", "strings"),
    ({"x0_region": {"kind": "box", "low": -0.1, "high": 1.1}}, "equation.x0_region", "reaches -0.1"),
    ({"x0_region": {"kind": "normal", "centre": 1.0, "radius": 0.1}}, "equation.x0_region", "negative spots"),
])
def test_invalid_parameter_ranges_name_the_field(changes, field, reason):
    with pytest.raises(ConfigError, match=reason) as caught:
        config_from_mapping(with_equation(**changes))
    assert caught.value.field == field


def test_an_equation_without_parameter_inputs_says_which_have_them(tmp_path, capsys):
    raw = {"equation": {"name": "hjb", "dim": 3, "x0_region": {"kind": "radial_ball", "centre": 0.0, "radius": 1.0},
                        "parameter_ranges": {"lam": [0.5, 1.0]}}}
    with pytest.raises(ConfigError, match="'hjb' takes no parameters .* black_scholes \\(volatility, rate\\)") \
            as caught:
        config_from_mapping(raw)
    assert caught.value.field == "equation.parameter_ranges"
    path = tmp_path / "hjb.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert main(["run", str(path), "--out", str(tmp_path / "run")]) == 2
    assert "equation.parameter_ranges: equation 'hjb' takes no parameters" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_region_problems_of_equations():
    hjb = equations.get("hjb", dim=3)
    assert isinstance(region_problem(hjb, Region.box(-1.0, 1.0, 3), ParameterRanges()), EquationOnRegion)
    book = equations.get("black_scholes", dim=2, strike=100.0)
    problem = region_problem(book, Region.box(80.0, 120.0, 2), ParameterRanges())
    assert isinstance(problem, BlackScholesRegion) and problem.value_scale == 100.0
    assert equation_parameters(book, {"volatility": 0.2, "rate": 0.03}) == {"volatilities": [0.2], "rate": 0.03}
    assert equation_parameters(hjb, {}) == {}


def test_value_scale_scales_the_outputs_not_the_training():
    """A problem in units of 100 gives 100 times the variation of the same networks (Y_0 and Z); the
    level y0_range stays in the problem's own units."""
    model = equations.get("black_scholes", dim=2)
    ranges = ParameterRanges.from_mapping({"volatility": [0.1, 0.3]})
    options = SolverOptions(dtype="float64", batch_norm=False, y0_range=[0.5, 0.5])
    outputs = []
    for strike in (1.0, 100.0):
        problem = BlackScholesRegion(model.option.scaled(strike / 100.0), model.market, 1.0, 3,
                                     Region.box(0.8 * strike, 1.2 * strike, 2), ranges)
        network = RegionModel(problem, options, tf.float64)
        x, p = tf.constant([[0.9, 1.1]], tf.float64) * strike, tf.constant([[0.2]], tf.float64)
        outputs.append([network.u(x, p).numpy(), network.z_later(x[tf.newaxis], p, training=False).numpy()])
    np.testing.assert_allclose(outputs[1][0] - 0.5, 100.0 * (outputs[0][0] - 0.5), rtol=1e-12)
    np.testing.assert_allclose(outputs[1][1], 100.0 * outputs[0][1], rtol=1e-12)


def test_the_shipped_book_config_is_a_region_with_a_volatility_range():
    config = load_config(CONFIGS / "black_scholes_book.yaml")
    problem = config.build_region_problem()
    assert isinstance(problem, BlackScholesRegion) and problem.dim == 10
    assert problem.parameters.to_mapping() == {"volatility": [0.15, 0.25]}
    np.testing.assert_allclose([problem.region.low, problem.region.high], [[80.0] * 10, [120.0] * 10])


def test_region_config_with_ranges_runs_and_evaluates(tmp_path, capsys):
    path = tmp_path / "book.yaml"
    path.write_text(yaml.safe_dump(BOOK))
    run = tmp_path / "run"
    assert main(["run", str(path), "--out", str(run), "--quiet"]) == 0
    assert "u(0, centre of the region) = " in capsys.readouterr().out
    result = json.loads((run / "result.json").read_text())
    assert result["kind"] == "region" and result["parameter_ranges"] == {"volatility": [0.15, 0.25],
                                                                         "rate": [0.01, 0.05]}
    solution = load_region_run(run)
    points = tmp_path / "points.csv"
    points.write_text("s1,volatility,s2\n0.95,0.16,1.05\n1.0,0.24,1.0\n")  # rate: not given, its midpoint
    out = tmp_path / "out.csv"
    assert main(["evaluate", str(run), "--points", str(points), "--out", str(out)]) == 0
    header, *rows = [line.split(",") for line in out.read_text().splitlines()]
    assert header == ["s1", "volatility", "s2", "u", "grad_1", "grad_2", "grad_rate", "grad_volatility"]
    expected = solution.evaluate([[0.95, 1.05], [1.0, 1.0]], {"volatility": [0.16, 0.24]})
    table = np.array([[float(v) for v in row[3:]] for row in rows])
    np.testing.assert_allclose(table[:, 0], expected["u"], rtol=1e-5)
    np.testing.assert_allclose(table[:, 1:3], expected["grad_x"], rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(table[:, 3:], expected["grad_p"], rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(solution.inputs([[1.0, 1.0]], {"volatility": 0.16})[1].numpy(), [[0.03, 0.16]])
    # --paths adds the Monte Carlo estimate of every column with its half-width
    assert main(["evaluate", str(run), "--points", str(points), "--out", str(out), "--paths", "256"]) == 0
    header, *rows = [line.split(",") for line in out.read_text().splitlines()]
    assert header[8:] == [f"{name}_{kind}" for name in ("u", "grad_1", "grad_2", "grad_rate", "grad_volatility")
                          for kind in ("estimate", "half_width")]
    estimates = np.array([[float(v) for v in row[8:]] for row in rows])
    assert np.all(np.isfinite(estimates)) and np.all(estimates[:, 1::2] > 0)
    # unbiased whatever the (here barely trained) network: against plain Monte Carlo of the max-call
    for (s1, s2), volatility, (value, half_width) in zip([[0.95, 1.05], [1.0, 1.0]], [0.16, 0.24], estimates[:, :2]):
        market = BlackScholesModel(spots=[s1, s2], rate=0.03, volatilities=volatility)
        reference = black_scholes_price(MaxCall(1.0), market, 1.0, num_paths=2 * 10 ** 5, seed=1)
        assert abs(value - reference.value) < 1.5 * (half_width + reference.half_width)
    with pytest.raises(ParameterError, match="strike"):
        solution.evaluate([[1.0, 1.0]], {"strike": 1.0})
    points.write_text("s1,volatility\n0.95,0.16\n")
    assert main(["evaluate", str(run), "--points", str(points)]) == 2
    assert "1 coordinate columns besides the parameter columns (rate, volatility) but the region run has " \
           "dimension 2" in capsys.readouterr().err
