"""The deepbsde command: run, list, errors."""
import csv
import json
import subprocess
import sys
import warnings

import pytest

import deepbsde
import equations
from deepbsde.cli import main
from deepbsde.reference import cole_hopf_quadrature
from tests.conftest import CONFIGS

pytestmark = pytest.mark.slow  # runs of the command with trainings

RESULT_KEYS = {"equation", "dim", "value", "reference", "rel_error", "iterations", "seconds",
               "ms_per_iteration", "seed", "config"}


def test_a_failed_self_check_is_a_warning_line_of_the_output_not_a_python_warning(tmp_path, capsys):
    # the adaptive schedule stopped by a cap of 5 iterations: the self-check fails whatever the values
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = main(["run", str(CONFIGS / "hjb.yaml"), "--set", "equation.dim=3",
                     "--set", "equation.num_time_interval=5", "--set", "solver.iterations=5",
                     "--set", "solver.learning_rates=[0.01]",
                     "--set", "solver.lr_boundaries=[]", "--set", "solver.hidden_widths=[8, 8]",
                     "--out", str(tmp_path / "run"), "--quiet"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "WARNING: self-check FAILED, do not trust this value: the adaptive learning rate had not settled" in printed
    assert not [w for w in caught if issubclass(w.category, deepbsde.NotConvergedWarning)]


def test_run_writes_result_and_history(tmp_path, capsys):
    out = tmp_path / "run"
    # N = 5: the self-check of this unfinished run tightens its bound, at a cost proportional to N
    code = main(["run", str(CONFIGS / "hjb.yaml"), "--set", "equation.dim=3", "--set", "equation.num_time_interval=5",
                 "--set", "solver.iterations=20",
                 "--set", "solver.log_every=10", "--set", "solver.hidden_widths=[8, 8]", "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "step     10/20" in printed and "u(0, x0) =" in printed
    result = json.loads((out / "result.json").read_text())
    assert set(result) >= RESULT_KEYS
    assert result["equation"] == "hjb" and result["dim"] == 3 and result["iterations"] == 20
    # d = 3 is not the published problem: the reference is the Cole-Hopf quadrature for these parameters
    assert result["reference"] == pytest.approx(cole_hopf_quadrature(equations.get("hjb", dim=3).g, 3, 1.0, 1.0).value)
    assert "cole_hopf" in result["reference_source"]
    assert result["config"]["equation"]["dim"] == 3 and result["config"]["solver"]["hidden_widths"] == [8, 8]
    with open(out / "history.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["step"]) for r in rows] == [0, 10, 20]
    assert float(rows[-1]["value"]) == pytest.approx(result["network_value"])  # value: Y_0 or its bound


def test_no_reference_is_claimed_where_none_is_known(tmp_path):
    # Allen-Cahn at d = 3: not the published problem, and multilevel Picard is not cheap
    out = tmp_path / "run"
    assert main(["run", str(CONFIGS / "allen_cahn.yaml"), "--set", "equation.dim=3", "--set",
                 "equation.num_time_interval=3", "--set", "solver.iterations=5", "--out", str(out), "--quiet"]) == 0
    result = json.loads((out / "result.json").read_text())
    assert result["reference"] is None and result["rel_error"] is None


def test_a_reference_of_zero_is_reported_with_the_absolute_error(tmp_path, capsys):
    """A relative error has no meaning against 0: it once crashed the command after training (a None formatted)."""
    out = tmp_path / "run"
    assert main(["run", str(CONFIGS / "allen_cahn.yaml"), "--set", "equation.dim=3", "--set",
                 "equation.num_time_interval=3", "--set", "solver.iterations=5", "--set", "reference=0",
                 "--out", str(out)]) == 0
    result = json.loads((out / "result.json").read_text())
    assert result["reference"] == 0 and result["rel_error"] is None
    assert f"(given in the configuration); absolute error = {abs(result['value']):.3g}" in capsys.readouterr().out


def test_run_reports_reference_and_error(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", str(CONFIGS / "burgers.yaml"), "--set", "equation.dim=4", "--set",
                 "equation.num_time_interval=3", "--set", "solver.iterations=5", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "reference = 0.500000 (exact solution); relative error =" in printed
    result = json.loads((out / "result.json").read_text())
    # Burgers' f is neither linear nor convex: its linearised value is printed and saved
    assert f"linearised value = {result['diagnostics']['linearized']['value']:.6f}" in printed
    assert result["reference"] == 0.5
    assert result["rel_error"] == pytest.approx(abs(result["value"] - 0.5) / 0.5)


@pytest.mark.parametrize("args, message", [
    (["--set", "solver.batch_size=0"], "solver.batch_size: must be a positive integer"),
    (["--set", "equation.dim=-2"], "equation.dim: must be a positive integer"),
    (["--set", "solver.learning_rate=0.1"], "solver.learning_rate: unknown option"),
    (["--set", "solver.iterations"], "--set: expected key.path=value"),
])
def test_bad_input_is_a_clear_error(args, message, capsys, tmp_path):
    assert main(["run", str(CONFIGS / "hjb.yaml"), *args, "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "configuration error: " + message in err and "Traceback" not in err
    assert not (tmp_path / "x").exists()


def test_missing_config_file(capsys, tmp_path):
    assert main(["run", str(tmp_path / "missing.yaml")]) == 2
    assert "file not found" in capsys.readouterr().err


def test_list_shows_every_equation_with_defaults(capsys):
    assert main(["list"]) == 0
    printed = capsys.readouterr().out
    for name in ("hjb:", "allen_cahn:", "bs_default_risk:", "burgers:", "reaction_diffusion:"):
        assert name in printed
    assert "published u(0, x0) = 4.5901" in printed and "lam=1.0" in printed


def test_console_script_entry_point():
    completed = subprocess.run([sys.executable, "-m", "deepbsde.cli", "list"], capture_output=True, text=True,
                               timeout=120)
    assert completed.returncode == 0 and "quadratic_gradient" in completed.stdout


def test_check_time_grid_solves_again_at_twice_the_steps(tmp_path, capsys):
    out = tmp_path / "run"
    # allen_cahn: f neither convex nor concave, so no certified bound is trained twice (119 s with HJB)
    small = ["equation.dim=3", "solver.iterations=20", "solver.log_every=10", "solver.hidden_widths=[8, 8]"]
    assert main(["run", str(CONFIGS / "allen_cahn.yaml"), *[f"--set={item}" for item in small], "--out", str(out),
                 "--check-time-grid"]) == 0
    printed = capsys.readouterr().out
    steps = equations.get("allen_cahn", dim=3).num_time_interval
    assert f"checking the time grid: solving again with N = {2 * steps}" in printed
    assert "at 2N time steps:" in printed
    result = json.loads((out / "result.json").read_text())
    grid = result["diagnostics"]["time_grid"]
    assert grid["richardson"] == pytest.approx(2 * grid["value_2n"] - result["value"])
    assert grid["bias"] == pytest.approx(grid["value_2n"] - result["value"])
