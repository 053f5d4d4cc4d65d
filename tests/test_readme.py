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
