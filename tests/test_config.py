"""Run configurations: every shipped config loads, every bad field is named."""
import textwrap

import pytest
import yaml

from deepbsde.errors import ConfigError
from deepbsde.runs.config import apply_overrides, config_from_mapping, load_config
from deepbsde.solver.options import SolverOptions
from tests.conftest import CONFIGS

BASE = {"equation": {"name": "hjb", "dim": 4}, "solver": {"iterations": 10}}


def with_changes(section: str, **changes):
    raw = {"equation": dict(BASE["equation"]), "solver": dict(BASE["solver"])}
    raw[section].update(changes)
    return raw


EQUATION_CONFIGS = sorted(p for p in CONFIGS.glob("*.yaml") if "kind:" not in p.read_text())


@pytest.mark.parametrize("path", EQUATION_CONFIGS, ids=lambda p: p.stem)
def test_shipped_configs_load(path):
    config = load_config(path)
    assert path.stem.startswith(config.equation_name)
    assert config.build_equation().dim == config.equation_params["dim"]


def test_spec_dimensions_in_configs():
    dims = {p.stem: load_config(p).equation_params["dim"] for p in EQUATION_CONFIGS}
    assert dims["hjb"] == dims["allen_cahn"] == dims["bs_default_risk"] == dims["bs_diff_rates"] == 100
    assert dims["burgers"] == 50


@pytest.mark.parametrize("section, changes, field, reason", [
    ("solver", {"iteratons": 5}, "solver.iteratons", "unknown option; known options: .*iterations"),
    ("solver", {"iterations": "many"}, "solver.iterations", "must be an integer"),
    ("solver", {"iterations": 0}, "solver.iterations", "positive integer"),
    ("solver", {"batch_size": -4}, "solver.batch_size", "positive integer"),
    ("solver", {"learning_rates": [0.1, 0.01]}, "solver.learning_rates", "one more entry than lr_boundaries"),
    ("solver", {"learning_rates": [0.1], "lr_boundaries": [5]}, "solver.learning_rates", "one more entry"),
    ("solver", {"learning_rates": [-0.1]}, "solver.learning_rates", "must all be positive"),
    ("solver", {"learning_rates": [0.1, 0.1, 0.1], "lr_boundaries": [5, 3]}, "solver.lr_boundaries",
     "strictly increasing"),
    ("solver", {"learning_rates": "fast"}, "solver.learning_rates", "list of numbers"),
    ("solver", {"hidden_widths": [10, 0]}, "solver.hidden_widths", "must all be positive"),
    ("solver", {"hidden_widths": [10.5]}, "solver.hidden_widths", "list of integers"),
    ("solver", {"y0_range": [2.0, 1.0]}, "solver.y0_range", "low <= high"),
    ("solver", {"dtype": "float16"}, "solver.dtype", "float32, float64"),
    ("solver", {"batch_norm": "yes"}, "solver.batch_norm", "true or false"),
    ("equation", {"dim": 0}, "equation.dim", "positive integer"),
    ("equation", {"dim": "ten"}, "equation.dim", "must be an integer"),
    ("equation", {"total_time": -1.0}, "equation.total_time", "must be positive"),
    ("equation", {"num_time_interval": 0}, "equation.num_time_interval", "positive integer"),
    ("equation", {"lamda": 1.0}, "equation.lamda", "unknown parameter"),
    ("equation", {"name": "hbj"}, "equation.name", "unknown equation 'hbj'; known equations"),
])
def test_bad_field_is_named(section, changes, field, reason):
    with pytest.raises(ConfigError, match=reason) as info:
        config_from_mapping(with_changes(section, **changes))
    assert info.value.field == field
    assert str(info.value).startswith(field + ":")


@pytest.mark.parametrize("raw, field", [
    ({"equation": {"name": "hjb"}, "solvr": {}}, "solvr"),
    ({"solver": {}}, "equation"),
    ({"equation": {"dim": 3}}, "equation.name"),
    ({"equation": {"name": "hjb"}, "reference": "maybe"}, "reference"),
    ([1, 2], "config"),
    ({"equation": {"name": "hjb"}, "solver": [1]}, "solver"),
])
def test_bad_structure_is_named(raw, field):
    with pytest.raises(ConfigError) as info:
        config_from_mapping(raw)
    assert info.value.field == field


def test_overrides_set_any_field_with_yaml_types():
    raw = apply_overrides(BASE, ["solver.iterations=200", "solver.learning_rates=[0.1, 0.01]",
                                 "solver.lr_boundaries=[50]", "equation.dim=7", "solver.dtype=float64"])
    config = config_from_mapping(raw)
    assert config.solver.iterations == 200 and config.solver.learning_rates == [0.1, 0.01]
    assert config.equation_params["dim"] == 7 and config.solver.dtype == "float64"
    assert BASE["solver"]["iterations"] == 10  # the original is untouched


def test_override_errors():
    with pytest.raises(ConfigError, match="expected key.path=value"):
        apply_overrides(BASE, ["solver.iterations"])
    with pytest.raises(ConfigError, match="is a value, not a section"):
        apply_overrides(BASE, ["solver.iterations.x=1"])


def test_missing_file_and_invalid_yaml(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("equation: {name: hjb\nsolver: [")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(bad)


def test_resolved_config_round_trips(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(textwrap.dedent("""
        equation: {name: allen_cahn, dim: 3}
        solver: {iterations: 5, learning_rates: [1.0e-3]}
        reference: null
    """))
    resolved = load_config(path).to_dict()
    assert resolved["equation"]["total_time"] == 0.3 and resolved["reference"] is None
    again = config_from_mapping(yaml.safe_load(yaml.safe_dump(resolved)))
    assert again.to_dict() == resolved


def test_solver_options_defaults_are_valid():
    options = SolverOptions.from_mapping({})
    assert options.hidden_widths is None and options.dtype == "float64"


def test_exponent_floats_without_a_dot(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("equation: {name: hjb, dim: 2}\nsolver: {learning_rates: [1e-2, 5E-4], lr_boundaries: [10]}\n")
    assert load_config(path).solver.learning_rates == [1e-2, 5e-4]
    raw = apply_overrides(BASE, ["solver.learning_rates=[1e-3]", "solver.max_loss=2e6"])
    options = config_from_mapping(raw).solver
    assert options.learning_rates == [1e-3] and options.max_loss == 2e6
