"""Run folders that never lose a user's data, checked through the `deepbsde` command
(subprocesses): ownership and --overwrite, the old run kept until the new one has
started, exit codes, recovery from damage and kill -9, the lock, signals, a full disk."""
import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

import deepbsde as api
from deepbsde.cli import main
from deepbsde.runs import files
from deepbsde.runs.result import read_history
from tests.test_run_files import ALIAS_BOMB, full_disk_for

pytestmark = pytest.mark.slow  # runs of the command

SMALL = {"equation": {"name": "hjb", "dim": 3, "num_time_interval": 5},
         "solver": {"iterations": 400, "log_every": 50, "checkpoint_every": 100, "dtype": "float64",
                    "hidden_widths": [8, 8], "jit_compile": False}}


def write_config(folder: Path, raw=None, name="small.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(raw or SMALL))
    return path


def deepbsde(*args, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "deepbsde.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


def start(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "deepbsde.cli", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def snapshot(folder: Path) -> dict:
    return {p: (p.read_bytes() if p.is_file() and not p.is_symlink() else None)
            for p in sorted(folder.rglob("*"))}


def wait_for(condition, seconds=120.0):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError("timed out")


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """The uninterrupted 400-step run every recovered run must equal."""
    folder = tmp_path_factory.mktemp("straight")
    completed = deepbsde("run", write_config(folder), "--out", folder / "run", "--quiet")
    assert completed.returncode == 0, completed.stderr
    return folder / "run"


def assert_same_run(resumed: Path, straight: Path) -> None:
    a, b = (json.loads((f / "result.json").read_text()) for f in (resumed, straight))
    assert a["iterations"] == b["iterations"] and a["value"] == pytest.approx(b["value"], rel=1e-9)
    np.testing.assert_allclose(a["z0"], b["z0"], rtol=1e-9)
    ha, hb = read_history(resumed / "history.csv"), read_history(straight / "history.csv")
    assert [r.step for r in ha] == [r.step for r in hb]  # no duplicate or extra row
    np.testing.assert_allclose([r.loss for r in ha], [r.loss for r in hb], rtol=1e-9)


# ---------------------------------------------------------------- 1. ownership
def test_overwrite_refuses_a_folder_of_the_users_own_files_and_keeps_them(tmp_path):
    config = write_config(tmp_path)
    out = tmp_path / "mine"
    for name, content in [("model/weights.bin", b"\1\2\3"), ("checkpoints/epoch10.pt", b"torch"),
                          ("tensorboard/events.old", b"events"), ("config.yaml", b"# my notes\nlr: 3\n")]:
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(content)
    before = snapshot(out)
    completed = deepbsde("run", config, "--out", out, "--overwrite")
    assert completed.returncode == 2
    assert f"run folder error: {out}: holds checkpoints, config.yaml, model, tensorboard, which deepbsde did " \
           "not write" in completed.stderr
    assert snapshot(out) == before


def test_overwrite_refuses_a_run_folder_with_a_foreign_file_added(finished):
    config, out = finished
    (out / "checkpoints" / "epoch10.pt").write_bytes(b"mine")
    (out / "notes.txt").write_text("mine")
    before = snapshot(out)
    completed = deepbsde("run", config, "--out", out, "--overwrite")
    assert completed.returncode == 2 and "checkpoints/epoch10.pt, notes.txt, which deepbsde did not write" \
        in completed.stderr
    assert snapshot(out) == before


def test_overwrite_never_follows_a_symlinked_checkpoints_folder(finished, tmp_path):
    config, out = finished
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "data.bin").write_bytes(b"keep")
    shutil.rmtree(out / "checkpoints")
    (out / "checkpoints").symlink_to(precious)
    before = snapshot(out)
    completed = deepbsde("run", config, "--out", out, "--overwrite")
    assert completed.returncode == 2 and "checkpoints (a symbolic link)" in completed.stderr
    assert "Traceback" not in completed.stderr
    assert snapshot(out) == before and (precious / "data.bin").read_bytes() == b"keep"


def test_overwrite_replaces_a_run_deepbsde_wrote(finished):
    config, out = finished
    completed = deepbsde("run", config, "--out", out, "--overwrite", "--quiet", "--set", "solver.iterations=30")
    assert completed.returncode == 0, completed.stderr
    assert json.loads((out / "result.json").read_text())["iterations"] == 30
    assert not (out / ".deepbsde-new").exists()


# ------------------------------------------------ 2. the old run is kept until the new one started
@pytest.mark.parametrize("change, message", [
    ("solver.hidden_widths=[200000, 200000]", "solver.hidden_widths: the run needs at least"),  # before TensorFlow
    ('solver.devices=["/gpu:3"]', "solver.devices: no device '/gpu:3'"),  # while building the trainer
])
def test_a_new_run_that_fails_to_start_leaves_the_old_run_untouched(finished, change, message):
    config, out = finished
    before = snapshot(out)
    completed = deepbsde("run", config, "--out", out, "--overwrite", "--set", change)
    assert completed.returncode == 2 and message in completed.stderr and "Traceback" not in completed.stderr
    assert snapshot(out) == before  # the staging folder is gone too


# ----------------------------------------------------------------- 4./5. exit codes
def test_bad_input_and_environment_exit_2_with_field_or_path(tmp_path, capsys):
    config = write_config(tmp_path)
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(ALIAS_BOMB)
    duplicate = tmp_path / "dup.yaml"
    duplicate.write_text("equation: {name: hjb, dim: 3}\nsolver:\n  iterations: 5\n  iterations: 6\n")
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    cases = [
        (["--out", blocker / "sub"], f"{blocker / 'sub'}: cannot create the folder: Not a directory"),
        (["--out", blocker], f"{blocker}: exists and is not a folder"),
        (["--set", "solver.seed=100000000000000000000000"], "solver.seed: must fit in a 64-bit integer"),
        (["--set", "equation.x0=[[1, 2], [3]]"], "equation.x0: must be"),
        (["--set", "reference=.nan"], "reference: must be auto, a finite number or null, got nan"),
        (["--set", 'solver.devices=["/gpu:3"]'], "solver.devices: no device '/gpu:3' here"),
        (["--set", "equation.dim=1000000000"], "equation.dim: the run needs at least"),
        (["--set", "solver.batch_size=1000000000"], "solver.batch_size: the run needs at least"),
    ]
    # in-process (a command start-up costs about 4 s each); the first case also as the command
    completed = deepbsde("run", config, *cases[0][0])
    assert completed.returncode == 2 and cases[0][1] in completed.stderr, completed.stderr
    for args, message in cases:
        code = main(["run", str(config), *map(str, args)])
        err = capsys.readouterr().err
        assert code == 2 and message in err, (args, err)
        assert "Traceback" not in err and len(err) < 1000
    for path, message in [(duplicate, "iterations: given twice"), (empty, "equation: missing section")]:
        code = main(["run", str(path), "--out", str(tmp_path / "never")])
        err = capsys.readouterr().err
        assert code == 2 and message in err, err
    assert not (tmp_path / "never").exists()


def test_alias_bomb_exits_2_at_once_with_a_short_message(tmp_path, capsys):
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(ALIAS_BOMB)
    assert bomb.stat().st_size == 404
    started = time.perf_counter()
    assert main(["run", str(bomb), "--out", str(tmp_path / "out")]) == 2  # in-process: TensorFlow already loaded
    assert time.perf_counter() - started < 1.0
    err = capsys.readouterr().err
    assert "nested aliases" in err and len(err.encode()) < 1000
    completed = deepbsde("run", bomb, "--out", tmp_path / "out")  # and as a command, with its start-up
    assert completed.returncode == 2 and len(completed.stderr.encode()) < 1000
    assert not (tmp_path / "out").exists()


def test_an_internal_error_is_one_line_with_exit_70_and_a_traceback_only_with_debug():
    program = ("import sys, deepbsde.cli as cli\n"
               "def broken(args): raise RuntimeError('x' * 5000)\n"
               "cli.command_list = broken\n"
               "sys.exit(cli.main(sys.argv[1:]))\n")
    plain = subprocess.run([sys.executable, "-c", program, "list"], capture_output=True, text=True, timeout=120)
    assert plain.returncode == 70 and "Traceback" not in plain.stderr
    assert plain.stderr.startswith("deepbsde: internal error: RuntimeError: xxx") and len(plain.stderr) < 1000
    assert "--debug" in plain.stderr and len(plain.stderr.strip().splitlines()) == 1
    debug = subprocess.run([sys.executable, "-c", program, "list", "--debug"], capture_output=True, text=True,
                           timeout=120)
    assert debug.returncode == 70 and "Traceback (most recent call last)" in debug.stderr


# --------------------------------------------------------------------- 3. resume after damage
def test_resume_falls_back_from_a_truncated_newest_checkpoint(tmp_path, straight):
    out = tmp_path / "run"
    assert deepbsde("run", write_config(tmp_path), "--out", out, "--quiet", "--set",
                    "solver.iterations=300").returncode == 0
    (out / "result.json").unlink()
    data = next((out / "checkpoints").glob("ckpt-300.data-*"))
    data.write_bytes(data.read_bytes()[:100])
    completed = deepbsde("run", tmp_path / "small.yaml", "--resume", out, "--quiet")
    assert completed.returncode == 0, completed.stderr
    assert "skipped the damaged checkpoint ckpt-300" in completed.stderr and "resuming from ckpt-200" \
        in completed.stderr
    assert_same_run(out, straight)


def test_resume_ignores_a_torn_last_history_line(tmp_path, straight):
    out = tmp_path / "run"
    assert deepbsde("run", write_config(tmp_path), "--out", out, "--quiet", "--set",
                    "solver.iterations=200").returncode == 0
    history = out / "history.csv"
    history.write_text(history.read_text() + "250,0.12")
    completed = deepbsde("run", tmp_path / "small.yaml", "--resume", out, "--quiet")
    assert completed.returncode == 0, completed.stderr
    assert "left out the torn last line" in completed.stderr
    assert_same_run(out, straight)


@pytest.mark.parametrize("content", ["", "equation: [", "just text"])
def test_resume_with_an_empty_or_damaged_config_is_a_clear_error(finished, content):
    config, out = finished
    (out / "config.yaml").write_text(content)
    before = snapshot(out)
    completed = deepbsde("run", config, "--resume", out)
    assert completed.returncode == 2 and f"{out / 'config.yaml'}: " in completed.stderr
    assert "cannot tell which problem" in completed.stderr and "Traceback" not in completed.stderr
    assert snapshot(out) == before


def test_resume_cannot_lower_iterations_below_the_checkpoint(finished):
    config, out = finished
    before = snapshot(out)
    completed = deepbsde("run", config, "--resume", out, "--set", "solver.iterations=10")
    assert completed.returncode == 2
    assert "solver.iterations: the run in" in completed.stderr and "already at step 20" in completed.stderr
    assert snapshot(out) == before


def test_kill_9_in_the_middle_then_resume_ends_as_an_uninterrupted_run(tmp_path, straight):
    out = tmp_path / "run"
    process = start("run", write_config(tmp_path), "--out", out, "--quiet", "--set", "solver.iterations=1000000")
    wait_for(lambda: (out / "checkpoints" / "ckpt-200.index").exists())
    process.kill()
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL
    completed = deepbsde("run", tmp_path / "small.yaml", "--resume", out, "--quiet")
    assert completed.returncode == 0, completed.stderr
    assert_same_run(out, straight)


def test_a_diverged_run_resumes_with_new_learning_rates(tmp_path):
    raw = {"equation": SMALL["equation"],
           "solver": {**SMALL["solver"], "iterations": 60, "learning_rates": [1e-3, 1e6], "lr_boundaries": [30],
                      "checkpoint_every": 10, "log_every": 10, "max_loss": 1e4,
                      "tangent_refinement": False}}  # folders, not the second solve (tested elsewhere)
    out = tmp_path / "run"
    diverged = deepbsde("run", write_config(tmp_path, raw), "--out", out, "--quiet")
    assert diverged.returncode == 1 and "the last good checkpoint is kept" in diverged.stderr
    completed = deepbsde("run", tmp_path / "small.yaml", "--resume", out, "--quiet",
                         "--set", "solver.learning_rates=[1.0e-3, 1.0e-4]")
    assert completed.returncode == 0, completed.stderr
    history = read_history(out / "history.csv")
    assert [r.step for r in history] == list(range(0, 61, 10))
    assert history[-1].learning_rate == pytest.approx(1e-4)  # the change is recorded
    assert yaml.safe_load((out / "config.yaml").read_text())["solver"]["learning_rates"] == [1e-3, 1e-4]


# ------------------------------------------------------------------------- 8. the lock
def test_a_second_process_on_the_same_folder_is_refused(tmp_path):
    out = tmp_path / "run"
    config = write_config(tmp_path)
    # a fixed schedule: the robust preset's adaptive one would end the run by itself within seconds
    endless = ["--set", "solver.iterations=1000000", "--set", "solver.learning_rates=[1.0e-2, 1.0e-2]",
               "--set", "solver.lr_boundaries=[999999]"]
    first = start("run", config, "--out", out, "--quiet", *endless)
    try:
        wait_for(lambda: (out / "checkpoints" / "ckpt-100.index").exists())
        before = read_history(out / "history.csv")
        second = deepbsde("run", config, "--resume", out, *endless)
        assert second.returncode == 2 and "another deepbsde process is running in this folder" in second.stderr
        assert read_history(out / "history.csv")[:len(before)] == before
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=60)
    assert first.returncode == 128 + signal.SIGTERM


# ------------------------------------------------------------------------- 7. signals
def test_sigint_during_compilation_exits_within_5_seconds_and_leaves_nothing(tmp_path):
    # N = 100 under XLA takes tens of seconds to compile on this CPU
    raw = {"equation": {"name": "hjb", "dim": 3, "num_time_interval": 100},
           "solver": {"iterations": 10, "hidden_widths": [8, 8], "jit_compile": True}}
    out = tmp_path / "run"
    process = start("run", write_config(tmp_path, raw), "--out", out)
    line = process.stdout.readline()
    while "step      0/" not in line:  # the first record is printed before the first (compiling) step
        line = process.stdout.readline()
        assert line, process.stderr.read()
    time.sleep(1.0)
    sent = time.perf_counter()
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert time.perf_counter() - sent < 5.0
    assert process.returncode == 130 and "stopped at once by SIGINT" in err
    assert not out.exists()  # a new run that never started leaves nothing behind


def test_a_second_signal_stops_at_once():
    """While training, the first signal only asks for a checkpoint at the next step; a second
    one ends the process at once even while the main thread is blocked."""
    program = ("import os, signal, time\n"
               "from deepbsde.cli import StopRequest\n"
               "stop = StopRequest()\n"
               "stop.install()\n"
               "stop.on_started(1)\n"
               "os.kill(os.getpid(), signal.SIGINT)\n"
               "time.sleep(0.5)\n"
               "print('asked to stop:', stop(), flush=True)\n"
               "os.kill(os.getpid(), signal.SIGINT)\n"
               "time.sleep(60)\n"
               "print('still running')\n")
    started = time.perf_counter()
    completed = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120)
    assert completed.returncode == 130 and "asked to stop: True" in completed.stdout
    assert "still running" not in completed.stdout and "a second signal" in completed.stderr
    assert time.perf_counter() - started < 30


def test_sigterm_in_training_checkpoints_and_resume_has_no_duplicate_row(tmp_path, straight):
    out = tmp_path / "run"
    process = start("run", write_config(tmp_path), "--out", out, "--quiet", "--set", "solver.iterations=1000000")
    wait_for(lambda: (out / "checkpoints" / "ckpt-100.index").exists())
    time.sleep(0.3)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 143, err
    stopped = int(err.split("interrupted at step ")[1].split(";")[0])
    if stopped >= 400:
        pytest.skip("the machine ran the whole run before the signal")
    completed = deepbsde("run", tmp_path / "small.yaml", "--resume", out, "--quiet")
    assert completed.returncode == 0, completed.stderr
    assert_same_run(out, straight)


# ------------------------------------------------------------------------- full disk
def test_a_full_disk_keeps_the_old_state_and_exits_2(finished, monkeypatch, capsys):
    """A resume that finds the disk full when it writes its result: exit 2 with the path,
    and the folder still holds the previous, loadable result."""
    config, out = finished
    before = (out / "result.json").read_bytes()
    monkeypatch.setattr(files, "_write_all", full_disk_for("result.json"))
    code = main(["run", str(config), "--resume", str(out), "--quiet", "--set", "solver.iterations=30"])
    assert code == 2
    err = capsys.readouterr().err
    assert f"{out / 'result.json'}: cannot write: No space left on device" in err
    assert (out / "result.json").read_bytes() == before
    assert api.load(out).summary["iterations"] == 20
    monkeypatch.undo()
    assert main(["run", str(config), "--resume", str(out), "--quiet", "--set", "solver.iterations=30"]) == 0


def test_a_full_disk_while_a_new_run_starts_keeps_the_old_run(finished, monkeypatch, capsys):
    config, out = finished
    before = snapshot(out)
    monkeypatch.setattr(files, "_write_all", full_disk_for("history.csv"))
    assert main(["run", str(config), "--out", str(out), "--overwrite", "--quiet"]) == 2
    assert "history.csv: cannot write: No space left on device" in capsys.readouterr().err
    assert snapshot(out) == before


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("mount"), reason="mounting a tmpfs needs root")
def test_a_real_full_disk_on_a_small_tmpfs(finished, tmp_path):
    config, out = finished
    disk = tmp_path / "disk"
    disk.mkdir()
    used = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={used + 300_000}", "tmpfs", str(disk)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        run = disk / "run"
        shutil.copytree(out, run)
        filler = disk / "filler"
        descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT)
        try:  # fill the disk, then free the last few kB
            while True:
                os.write(descriptor, b"\0" * 4096)
        except OSError as error:
            assert error.errno == errno.ENOSPC
        finally:
            os.close(descriptor)
        os.truncate(filler, filler.stat().st_size - 8192)
        before = snapshot(run)
        completed = deepbsde("run", config, "--resume", run, "--set", "solver.iterations=200")
        assert completed.returncode == 2 and "No space left on device" in completed.stderr, completed.stderr
        assert "Traceback" not in completed.stderr
        assert (run / "result.json").read_bytes() == before[run / "result.json"]
        assert read_history(run / "history.csv")  # whole
        filler.unlink()
        completed = deepbsde("run", config, "--resume", run, "--set", "solver.iterations=200", "--quiet")
        assert completed.returncode == 0, completed.stderr
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)
