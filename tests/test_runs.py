"""Reliable long runs: interruption and resume, divergence guard, run records,
saved models, and bad input that loses nothing."""
import dataclasses
import json
import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import yaml

import deepbsde
import deepbsde.solver.model as model_module
import equations
from deepbsde.cli import main
from deepbsde.runs.result import read_history

pytestmark = pytest.mark.slow  # runs of the command: trainings, signals, resumes

SMALL = {"equation": {"name": "hjb", "dim": 3, "num_time_interval": 5},
         "solver": {"iterations": 400, "log_every": 50, "checkpoint_every": 100, "dtype": "float64",
                    "hidden_widths": [8, 8]}}


def write_config(folder: Path, raw=None, name="small.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(raw or SMALL))
    return path


def snapshot(folder: Path) -> dict:
    return {p: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_sigterm_saves_a_checkpoint_and_resume_matches_uninterrupted_run(tmp_path):
    config = write_config(tmp_path)
    out = tmp_path / "interrupted"
    long_run = [sys.executable, "-m", "deepbsde.cli", "run", str(config), "--out", str(out), "--quiet",
                "--set", "solver.iterations=1000000"]
    process = subprocess.Popen(long_run, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    history = out / "history.csv"
    deadline = time.time() + 120
    while time.time() < deadline and not (history.exists() and len(history.read_text().splitlines()) > 3):
        time.sleep(0.02)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 128 + signal.SIGTERM, err
    assert "training interrupted at step" in err and "--resume" in err
    stopped_at = int(err.split("interrupted at step ")[1].split(";")[0])
    assert 100 <= stopped_at < 400, "interrupt the run between two checkpoints, before its planned end"
    assert tf.train.latest_checkpoint(str(out / "checkpoints")).endswith(f"ckpt-{stopped_at}")
    assert not (out / "result.json").exists()

    # resume to the planned 400 iterations (iterations may change on resume)
    assert main(["run", str(config), "--resume", str(out), "--quiet"]) == 0
    resumed = json.loads((out / "result.json").read_text())
    assert main(["run", str(config), "--out", str(tmp_path / "straight"), "--quiet"]) == 0
    straight = json.loads((tmp_path / "straight" / "result.json").read_text())
    assert resumed["iterations"] == straight["iterations"] == 400
    assert resumed["value"] == pytest.approx(straight["value"], rel=1e-9)
    np.testing.assert_allclose(resumed["z0"], straight["z0"], rtol=1e-9)
    resumed_history = read_history(out / "history.csv")
    straight_history = read_history(tmp_path / "straight" / "history.csv")
    assert [r.step for r in resumed_history] == [r.step for r in straight_history]
    np.testing.assert_allclose([r.loss for r in resumed_history], [r.loss for r in straight_history], rtol=1e-9)


def test_divergence_stops_names_the_step_and_keeps_the_last_good_checkpoint(tmp_path, capsys):
    raw = {"equation": SMALL["equation"],
           "solver": {**SMALL["solver"], "learning_rates": [1e-3, 1e6], "lr_boundaries": [30],
                      "checkpoint_every": 10, "log_every": 10, "max_loss": 1e4}}
    out = tmp_path / "run"
    assert main(["run", str(write_config(tmp_path, raw)), "--out", str(out), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "training diverged at step 3" in err and "exceeds solver.max_loss = 10000.0" in err
    assert f"the last good checkpoint is kept: {out / 'checkpoints' / 'ckpt-30'}" in err
    assert tf.train.latest_checkpoint(str(out / "checkpoints")).endswith("ckpt-30")
    assert not (out / "result.json").exists()
    assert read_history(out / "history.csv")[-1].step == 30


def test_run_folder_records_everything(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", str(write_config(tmp_path)), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "ETA" in printed and "it/s" in printed
    for name in ("config.yaml", "history.csv", "result.json", "training.png"):
        assert (out / name).is_file(), name
    assert yaml.safe_load((out / "config.yaml").read_text())["solver"]["iterations"] == 400
    assert sorted(p.name for p in (out / "checkpoints").glob("*.index")) == ["ckpt-200.index", "ckpt-300.index",
                                                                             "ckpt-400.index"]
    history = read_history(out / "history.csv")
    assert [r.step for r in history] == list(range(0, 401, 50))
    # the plot is a PNG of the documented size (1000 x 400 pixels)
    header = (out / "training.png").read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", header[16:24]) == (1000, 400)
    # TensorBoard scalars for every record
    events = list((out / "tensorboard").glob("events.out.tfevents.*"))
    tags = [(value.tag, event.step) for event in tf.compat.v1.train.summary_iterator(str(events[0]))
            for value in event.summary.value]
    assert {("loss", 0), ("value", 400), ("learning_rate", 200)} <= set(tags)


def test_quiet_prints_only_the_result(tmp_path, capsys):
    assert main(["run", str(write_config(tmp_path)), "--out", str(tmp_path / "q"), "--quiet"]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    # the value, the reference (Cole-Hopf for this HJB), the certified bound (f concave) and the self-check
    assert len(printed) == 4
    assert printed[0].startswith("u(0, x0) = ") and printed[1].startswith("reference = ")
    assert printed[2].startswith("certified upper bound on u(0, x0) = ") and "self-check" in printed[3]


def test_a_tightened_bound_says_so_where_it_is_printed(tmp_path, capsys, monkeypatch):
    from deepbsde.checks import diagnostics
    from deepbsde.checks.bound import BoundEstimate

    monkeypatch.setattr(diagnostics, "tangent_bound", lambda *a, **k: BoundEstimate(-100.0, 0.01, "upper", 0.5, 10))
    monkeypatch.setattr(diagnostics, "tightened_bound", lambda *a, **k: BoundEstimate(-110.0, 0.01, "upper", 0.5, 10))
    assert main(["run", str(write_config(tmp_path)), "--out", str(tmp_path / "t"), "--quiet"]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    # every Y_0 lies beyond this bound, so the bound is the value, and the line below says so
    assert printed[0] == "u(0, x0) = -110.000000"
    assert printed[1].startswith("    (the certified upper bound: the networks' Y_0 = ")
    assert printed[3] == ("certified upper bound on u(0, x0) = -110.000000 +/- 0.01 "
                          "(95%, from the networks trained for it on 1 sub-steps per time step, -100.000000 before)")
    saved = json.loads((tmp_path / "t" / "result.json").read_text())
    assert saved["diagnostics"]["bound"]["tightened_from"] == -100.0


def test_a_run_stopped_by_its_cap_has_its_bound_tightened_but_not_refined(tmp_path, monkeypatch):
    """Refining costs about 95 s at d = 100; a run the iteration cap stopped unsettled is flagged anyway, to be
    trained further, so only the first tightening is spent on it."""
    from deepbsde.checks import diagnostics
    from deepbsde.checks.bound import BoundEstimate

    far = BoundEstimate(-100.0, 0.01, "upper", 0.5, 10)
    asked = []

    def tightened(*args, good_enough=None, **kwargs):
        asked.append(good_enough(far))
        return far

    monkeypatch.setattr(diagnostics, "tangent_bound", lambda *a, **k: far)
    monkeypatch.setattr(diagnostics, "tightened_bound", tightened)
    assert main(["run", str(write_config(tmp_path)), "--out", str(tmp_path / "t"), "--quiet"]) == 0
    saved = json.loads((tmp_path / "t" / "result.json").read_text())
    assert any("cap of" in reason for reason in saved["diagnostics"]["reasons"])
    assert asked == [True]  # good enough: no refinement, though Y_0 lies far beyond the bound


def test_saved_result_loads_back_without_retraining(tmp_path):
    equation = equations.get("allen_cahn", dim=4, num_time_interval=6)
    result = deepbsde.solve(equation, iterations=60, log_every=30, hidden_widths=[10, 10], dtype="float64")
    result.save(tmp_path / "saved")
    solver = deepbsde.load(tmp_path / "saved")
    assert solver.value == result.value and solver.summary["value"] == result.value
    assert [r.step for r in solver.history] == [0, 30, 60]
    np.testing.assert_array_equal(solver.z(0, np.zeros((2, 4)))[0], result.z0)
    points = np.random.default_rng(0).standard_normal((5, 4))
    z = solver.z(3, points)
    expected = result.model.network_z(tf.tile(tf.constant(points)[None], [5, 1, 1]), training=False)[2]
    np.testing.assert_allclose(z, expected.numpy(), rtol=1e-12)
    first, again = solver.evaluate(512, seed=3), solver.evaluate(512, seed=3)
    assert first == again and np.isfinite(first["loss"])
    with pytest.raises(ValueError, match="step must lie in 0..5"):
        solver.z(6, points)
    with pytest.raises(ValueError, match="points must have 4 coordinates"):
        solver.z(1, np.zeros((2, 3)))
    with pytest.raises(deepbsde.RunFolderError, match="holds no saved solve"):
        deepbsde.load(tmp_path)


def test_a_folder_saved_before_the_diagonal_and_gradient_terms_loads_with_a_full_term(tmp_path):
    """Folders written before solver.linear_term took "diagonal" and solver.terminal_gradient,
    solver.time_scheme and solver.tamed_drift existed hold a full linear term and no gradient
    coefficients, were trained with Euler's untamed step, and their config names none of the four."""
    equation = equations.get("hjb", dim=3, num_time_interval=4)
    result = deepbsde.solve(equation, iterations=20, log_every=10, hidden_widths=[6], dtype="float64",
                            linear_term=True, terminal_gradient=False, time_scheme="euler", tamed_drift=False)
    result.save(tmp_path / "old")
    summary_path = tmp_path / "old" / "result.json"
    summary = json.loads(summary_path.read_text())
    for name in ("linear_term", "terminal_gradient", "time_scheme", "tamed_drift"):
        del summary["config"]["solver"][name]
    summary_path.write_text(json.dumps(summary))
    solver = deepbsde.load(tmp_path / "old")
    assert solver.model.linear_unit.shape == (3, 3, 3) and solver.model.gradient_unit is None
    assert not solver.model.heun and solver.model.drift_cap is None
    points = np.random.default_rng(1).standard_normal((4, 3))
    np.testing.assert_allclose(solver.z(2, points), result.model.z_at(2, tf.constant(points)).numpy(), rtol=1e-12)


def test_a_folder_saved_under_other_pilot_steps_loads_its_trained_y0_and_z0(tmp_path, monkeypatch):
    """A folder saved before the pilot sized Y by each path's target G (not g alone) holds Y_0 and Z_0 as units
    of the steps of its time, which differ where f has a source in x (quadratic_gradient): loaded under other
    steps (here twice as large), the model takes its Y_0 and Z_0 from the saved values."""
    equation = equations.get("quadratic_gradient", dim=3, num_time_interval=4)
    result = deepbsde.solve(equation, iterations=20, log_every=10, hidden_widths=[6], dtype="float64")
    result.save(tmp_path / "old")
    pilot = model_module.estimate_scales

    def doubled_steps(eq, seed):
        scales = pilot(eq, seed)  # once: the pilot samples its paths on every call
        return dataclasses.replace(scales, y_scale=2.0 * scales.y_scale, z_scale=2.0 * scales.z_scale)

    monkeypatch.setattr(model_module, "estimate_scales", doubled_steps)
    solver = deepbsde.load(tmp_path / "old")
    assert solver.model.y0_step.numpy() == pytest.approx(2.0 * result.model.y0_step.numpy())
    y0, z0 = solver.model.initial_values()
    np.testing.assert_allclose(y0.numpy(), result.model.y0.numpy(), rtol=1e-12)
    np.testing.assert_allclose(z0.numpy(), result.model.z0.numpy(), rtol=1e-12)


def test_folder_holding_a_run_is_refused_and_untouched(finished, capsys):
    config, out = finished
    before = snapshot(out)
    assert main(["run", str(config), "--out", str(out)]) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert snapshot(out) == before
    assert main(["run", str(config), "--out", str(out), "--overwrite", "--quiet"]) == 0


@pytest.mark.parametrize("change, field", [("equation.dim=4", "equation.dim"),
                                           ("equation.name=allen_cahn", "equation.name"),
                                           ("solver.batch_size=32", "solver.batch_size")])
def test_resume_of_a_different_problem_is_refused_and_untouched(finished, change, field, capsys):
    config, out = finished
    before = snapshot(out)
    assert main(["run", str(config), "--resume", str(out), "--set", change]) == 2
    err = capsys.readouterr().err
    assert f"run folder error: {field}: the run in {out} has" in err and "Traceback" not in err
    assert snapshot(out) == before


def test_a_folder_saved_before_time_scheme_resumes_with_eulers_step_only(finished, capsys):
    """A run folder of an earlier version (no solver.time_scheme in its config) was trained with Euler's
    step: resuming it under the robust preset's Heun is refused, naming the field; with euler it goes on."""
    config, out = finished
    saved = yaml.safe_load((out / "config.yaml").read_text())
    del saved["solver"]["time_scheme"]
    (out / "config.yaml").write_text(yaml.safe_dump(saved, sort_keys=False))
    more = ["--set", "solver.iterations=30"]
    assert main(["run", str(config), "--resume", str(out), *more]) == 2
    err = capsys.readouterr().err
    assert f"solver.time_scheme: the run in {out} has 'euler', the configuration None" in err
    assert main(["run", str(config), "--resume", str(out), *more, "--set", "solver.time_scheme=euler",
                 "--quiet"]) == 0
    assert json.loads((out / "result.json").read_text())["iterations"] == 30


def test_resume_needs_a_checkpointed_run(tmp_path, capsys):
    config = write_config(tmp_path)
    assert main(["run", str(config), "--resume", str(tmp_path / "nothing")]) == 2
    assert "holds no run to resume" in capsys.readouterr().err


@pytest.mark.parametrize("text, message", [("equation: [", "invalid YAML"),
                                           ("equation: {name: hjb}\nsolver: {iterations: -1}",
                                            "solver.iterations: must be a positive integer")])
def test_bad_config_file_is_a_clear_error(tmp_path, text, message, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    assert main(["run", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files regardless of their permissions")
def test_unreadable_config_file(tmp_path, capsys):
    path = write_config(tmp_path)
    path.chmod(0)
    assert main(["run", str(path)]) == 2
    assert "cannot read" in capsys.readouterr().err
