"""`deepbsde reference CONFIG`: prints value, half-width, method and time."""
from deepbsde.cli import main
from deepbsde.reference import resolve as resolve_module
from tests.conftest import CONFIGS


def test_prints_the_hjb_quadrature(capsys):
    assert main(["reference", str(CONFIGS / "hjb.yaml")]) == 0
    printed = capsys.readouterr().out
    assert "reference for hjb (d = 100, T = 1.0)" in printed
    assert "u(0, x0) = 4.590162 +/- " in printed
    assert "method: cole_hopf_quadrature" in printed and "time: " in printed


def test_runs_mlp_with_overrides(capsys, monkeypatch):
    monkeypatch.setattr(resolve_module, "MLP_LEVELS", 2)
    code = main(["reference", str(CONFIGS / "bs_default_risk.yaml"), "--set", "equation.dim=4", "--seed", "3"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "(d = 4, T = 1.0)" in printed and "method: mlp (M=5, n=2), num_samples=10" in printed


def test_published_value_has_no_interval(capsys):
    assert main(["reference", str(CONFIGS / "bs_diff_rates.yaml")]) == 0
    printed = capsys.readouterr().out
    assert "u(0, x0) = 21.299000\n" in printed and "method: published" in printed


def test_no_reference_and_bad_fields_exit_with_2(capsys):
    assert main(["reference", str(CONFIGS / "bs_diff_rates.yaml"), "--set", "equation.dim=3"]) == 2
    assert "no reference for bs_diff_rates" in capsys.readouterr().err
    assert main(["reference", str(CONFIGS / "hjb.yaml"), "--set", "equation.lam=-1"]) == 2
    assert "equation.lam" in capsys.readouterr().err
