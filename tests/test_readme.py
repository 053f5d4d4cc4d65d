"""Every Python example of README.md runs unchanged (each in a fresh interpreter and folder)."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
EXAMPLES = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_the_readme_has_examples():
    assert len(EXAMPLES) >= 3


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(EXAMPLES)))
def test_readme_example_runs(index, tmp_path):
    subprocess.run([sys.executable, "-c", EXAMPLES[index]], check=True, cwd=tmp_path, timeout=600,
                   env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})


def test_the_options_table_lists_every_solver_option():
    """Each SolverOptions field has its row in the README's table (which once went missing unnoticed)."""
    import dataclasses

    from deepbsde.solver.options import SolverOptions

    documented = set()
    for cells in re.findall(r"^\| (`[^|]+`) \|", README.read_text(), flags=re.M):
        documented |= set(re.findall(r"`(\w+)`", cells))
    assert {f.name for f in dataclasses.fields(SolverOptions)} <= documented


def test_every_quoted_section_of_the_readme_exists():
    """`see "Trusting a result"`, `("Command line")` and the like point at headings that are there."""
    text = README.read_text()
    headings = re.findall(r"^#+ (.+)$", text, flags=re.M)
    quoted = {" ".join(name.split()) for name in re.findall(r'(?:see |\(|: )"([A-Z][^"]+)"', text)}
    assert quoted, "the README refers to its sections by name"
    for name in quoted:
        assert any(heading.startswith(name) for heading in headings), name
