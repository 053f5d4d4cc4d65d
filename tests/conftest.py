"""Shared test set-up: quiet TensorFlow, repository paths, one finished run of the command."""
import os
import shutil
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest
import yaml

from deepbsde.cli import main

REPO = Path(__file__).resolve().parent.parent
CONFIGS = REPO / "configs"


@pytest.fixture
def repo() -> Path:
    return REPO


#: A small run of the command, finished: 20 steps, a checkpoint every 10 (tests of run folders copy it).
FINISHED_RUN = {"equation": {"name": "hjb", "dim": 3, "num_time_interval": 5},
                "solver": {"iterations": 20, "log_every": 10, "checkpoint_every": 10, "dtype": "float64",
                           "hidden_widths": [8, 8], "jit_compile": False}}


def write_finished_config(folder: Path) -> Path:
    """FINISHED_RUN's configuration, written to folder/small.yaml."""
    path = folder / "small.yaml"
    path.write_text(yaml.safe_dump(FINISHED_RUN))
    return path


@pytest.fixture(scope="session")
def finished_once(tmp_path_factory) -> Path:
    """FINISHED_RUN, run once per session (a run of the command costs several seconds)."""
    folder = tmp_path_factory.mktemp("finished")
    assert main(["run", str(write_finished_config(folder)), "--out", str(folder / "done"), "--quiet"]) == 0
    return folder / "done"


@pytest.fixture
def finished(tmp_path, finished_once) -> tuple[Path, Path]:
    """A copy of the finished run in this test's own folder, with its configuration: (config, run folder)."""
    out = tmp_path / "done"
    shutil.copytree(finished_once, out, symlinks=True)
    return write_finished_config(tmp_path), out
