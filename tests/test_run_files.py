"""Run folders at the level of files, in-process and fast: atomic writes, the ownership
manifest, damaged histories, configuration limits and loading damaged saved solves."""
import errno
import json
import os
import re
import shutil
import time
from pathlib import Path

import pytest

import deepbsde
import equations
from deepbsde.errors import ConfigError, RunFolderError
from deepbsde.runs import files
from deepbsde.runs.config import config_from_mapping, parse_yaml
from deepbsde.runs.files import Manifest, atomic_write, foreign_entries, remove_owned
from deepbsde.runs.result import read_history, read_history_checked, write_history
from deepbsde.solver.history import HistoryRecord
from deepbsde.solver.options import SolverOptions
from deepbsde.solver.training import Trainer

# 404 bytes: nine levels of nine aliases, 9**9 = 387 million strings once expanded
ALIAS_BOMB = "\n".join([
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
    *[f"{n}: &{n} [{','.join(['*' + p] * 9)}]" for p, n in zip("abcdefgh", "bcdefghi")],
    "equation: {name: hjb, x0: *i}", ""])
ALIAS_BOMB += "#" * (404 - len(ALIAS_BOMB) - 1) + "\n"


def full_disk_for(name: str):
    """A replacement of the writer that fails like a full disk for files called `name`."""
    real = files._write_all

    def write(handle, data):
        if Path(handle.name).name.startswith(f".{name}.tmp"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(handle, data)
    return write


def test_atomic_write_on_a_full_disk_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "result.json"
    atomic_write(target, "old")
    monkeypatch.setattr(files, "_write_all", full_disk_for("result.json"))
    with pytest.raises(RunFolderError, match=f"{target}: cannot write: No space left on device"):
        atomic_write(target, "new")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.json"]  # no temporary file left


def test_history_with_a_torn_last_line_is_read_without_it(tmp_path):
    path = tmp_path / "history.csv"
    write_history(path, [HistoryRecord(0, 1.0, 0.5, 0.01, 0.1), HistoryRecord(10, 0.9, 0.6, 0.01, 0.2)])
    path.write_text(path.read_text() + "20,0.8")  # a crash while the line was written
    records, note = read_history_checked(path)
    assert [r.step for r in records] == [0, 10] and "torn last line 4" in note
    path.write_text(path.read_text().replace("0,1.0,", "0,x,"))
    with pytest.raises(RunFolderError, match="history.csv: line 2 is damaged"):
        read_history(path)
    path.write_text("")
    with pytest.raises(RunFolderError, match="not a history"):
        read_history(path)


def test_overwrite_removes_only_what_the_manifest_lists(tmp_path):
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "ckpt-5.index").write_text("x")
    (tmp_path / "history.csv").write_text("x")
    Manifest(tmp_path).claim(["checkpoints", "history.csv"])
    assert foreign_entries(tmp_path) == []
    (tmp_path / "checkpoints" / "epoch10.pt").write_text("mine")
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(RunFolderError, match="holds checkpoints/epoch10.pt, notes.txt that deepbsde did not write"):
        remove_owned(tmp_path)
    assert (tmp_path / "history.csv").exists() and (tmp_path / "checkpoints" / "ckpt-5.index").exists()
    (tmp_path / "checkpoints" / "epoch10.pt").unlink()
    (tmp_path / "notes.txt").unlink()
    remove_owned(tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_overwrite_never_follows_a_symbolic_link(tmp_path):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "data.bin").write_text("keep")
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoints").symlink_to(precious)
    Manifest(run).claim(["checkpoints"])
    with pytest.raises(RunFolderError, match=r"checkpoints \(a symbolic link\)"):
        remove_owned(run)
    assert (precious / "data.bin").read_text() == "keep"


def test_duplicate_yaml_keys_are_refused():
    with pytest.raises(ConfigError, match="iterations: given twice .lines 2 and 3."):
        parse_yaml("solver:\n  iterations: 10\n  iterations: 20\n")


def test_alias_bomb_is_refused_at_once_with_a_short_message():
    assert len(ALIAS_BOMB.encode()) == 404
    start = time.perf_counter()
    with pytest.raises(ConfigError) as caught:
        parse_yaml(ALIAS_BOMB)
    assert time.perf_counter() - start < 1.0
    assert "nested aliases" in str(caught.value) and len(str(caught.value)) < 1000


@pytest.mark.parametrize("raw, message", [
    ({"equation": {"name": "hjb", "dim": 3}, "reference": float("nan")}, "reference: must be auto, a finite number"),
    ({"equation": {"name": "hjb", "dim": 3}, "solver": {"seed": 10 ** 23}}, "solver.seed: must fit in a 64-bit"),
    ({"equation": {"name": "hjb", "dim": 3, "x0": [[1.0, 2.0], [3.0]]}}, "equation.x0: must be"),
    ({"equation": {"name": "hjb", "dim": 3}, "solver": {"hidden_widths": [200000, 200000]}},
     "solver.hidden_widths: the run needs at least"),
    ({"equation": {"name": "hjb", "dim": 3}, "solver": {"batch_size": 10 ** 9}}, "solver.batch_size: the run needs"),
    ({"equation": {"name": "hjb", "dim": 10 ** 12}}, "equation.dim: the run needs at least"),
    ({"equation": {"name": "hjb", "dim": 3, "num_time_interval": 20000}}, "equation.num_time_interval: 20000 time"),
    ({"equation": {"name": "hjb", "dim": 3}, "solver": {"hidden_widths": list(range(1, 10 ** 5))}},
     "solver.hidden_widths: the run needs"),
])
def test_limits_and_bad_values_are_refused_before_tensorflow_work(raw, message):
    start = time.perf_counter()
    with pytest.raises(ConfigError) as caught:
        config_from_mapping(raw)
    assert message in str(caught.value) and len(str(caught.value)) < 1000
    assert time.perf_counter() - start < 5.0


def test_memory_message_gives_the_estimate():
    with pytest.raises(ConfigError, match=r"GiB of memory \(weights with Adam state .* GiB: 19 networks of widths "
                                          r"\[200000, 200000\] at d = 3; batches .* GiB: 64 \+ 256 paths"):
        config_from_mapping({"equation": {"name": "hjb", "dim": 3}, "solver": {"hidden_widths": [200000, 200000]}})


def test_unknown_device_is_refused():
    with pytest.raises(ConfigError, match=r"solver.devices: no device '/gpu:3' here; available: .*CPU:0"):
        Trainer(equations.get("hjb", dim=2, num_time_interval=3), SolverOptions(devices=["/gpu:3"]))


@pytest.fixture(scope="module")
def saved_solve(tmp_path_factory):
    folder = tmp_path_factory.mktemp("saved") / "solve"
    result = deepbsde.solve(equations.get("hjb", dim=2, num_time_interval=3), iterations=5, hidden_widths=[4, 4],
                            jit_compile=False)
    result.save(folder)
    return result, folder


def copy_of(folder: Path, target: Path) -> Path:
    shutil.copytree(folder, target)
    return target


@pytest.mark.parametrize("damage, where, message", [
    (lambda f: (f / "result.json").write_text("{not json"), "result.json", "not a readable result"),
    (lambda f: (f / "result.json").write_text("[1, 2]"), "result.json", "not a result"),
    (lambda f: (f / "result.json").write_text(json.dumps({"config": {"equation": {"name": "hjb", "dim": 3},
                                                                      "solver": {"hidden_widths": [10 ** 6] * 3}}})),
     "result.json", "config: solver.hidden_widths: the run needs at least"),
    (lambda f: (f / "model" / "model.index").write_bytes(b"\0" * 10), "model", "the model cannot be restored"),
    (lambda f: [p.write_bytes(p.read_bytes()[:50]) for p in (f / "model").glob("model.data-*")], "model",
     "the model cannot be restored"),
])
def test_load_of_a_damaged_folder_names_the_path(saved_solve, tmp_path, damage, where, message):
    folder = copy_of(saved_solve[1], tmp_path / "copy")
    damage(folder)
    with pytest.raises(RunFolderError) as caught:
        deepbsde.load(folder)
    assert str(caught.value).startswith(f"{folder / where}: ") and message in str(caught.value)


def test_save_writes_result_json_last_and_a_full_disk_keeps_the_old_solve(saved_solve, tmp_path, monkeypatch):
    result, saved = saved_solve
    folder = copy_of(saved, tmp_path / "copy")
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    monkeypatch.setattr(files, "_write_all", full_disk_for("result.json"))
    result.value = 123.0
    with pytest.raises(RunFolderError, match="result.json: cannot write: No space left on device"):
        result.save(folder)
    assert (folder / "result.json").read_bytes() == before[folder / "result.json"]
    assert deepbsde.load(folder).summary["value"] != 123.0  # the old saved solve, whole
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and p.name != ".deepbsde-run") == []


def test_result_json_is_strict_json(saved_solve):
    result = saved_solve[0]
    text = result.json()
    assert json.loads(text)["dim"] == 2
    broken = deepbsde.Result(**{**{k: getattr(result, k) for k in result.__dataclass_fields__}, "value": float("nan")})
    with pytest.raises(RunFolderError, match="not finite"):
        broken.json()


def test_every_promise_in_the_readme_names_a_test_that_exists():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    promises = readme.split("### Promises", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`(test_\w+)`", promises))
    defined = {name for path in Path(__file__).parent.glob("test_*.py")
               for name in re.findall(r"^def (test_\w+)", path.read_text(), flags=re.M)}
    assert len(named) >= 20 and named <= defined, named - defined
