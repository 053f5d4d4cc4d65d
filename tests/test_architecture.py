"""The layer order of README.md ("Design"), checked on the source: no import cycle
between modules, no import from a higher layer, no function-local import, and
no global side effect of importing the library."""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("deepbsde", "equations")

#: Lowest first; a module may import from its own layer and the layers below.
LAYERS = [
    ("deepbsde.errors",),
    ("deepbsde.validation",),
    ("deepbsde.tracing",),
    ("deepbsde.finance",),
    ("equations",),
    ("deepbsde.reference",),
    ("deepbsde.solver",),
    ("deepbsde.checks",),
    ("deepbsde.runs",),
    ("deepbsde.pricing",),
    # the interfaces: command line, public names, modules kept at their old paths
    ("deepbsde.cli", "deepbsde.commands", "deepbsde.market", "deepbsde.payoffs", "deepbsde.relu_networks",
     "deepbsde.training", "deepbsde"),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    return {module_name(path): path for package in PACKAGES for path in (REPO / package).rglob("*.py")}


def layer_of(module: str) -> int:
    """Index in LAYERS of the longest prefix naming `module`'s layer."""
    best, best_length = None, -1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_length:
                best, best_length = index, len(prefix)
    assert best is not None, f"{module} belongs to no layer: add it to LAYERS and to README.md"
    return best


def imports(module: str, path: Path, modules: dict[str, Path],
            tree: ast.Module | None = None) -> list[tuple[str, ast.stmt]]:
    """(imported project module, statement) for every import in the file, nested ones included.
    `from package import name` counts as importing package.name when that is a module."""
    found = []
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree or ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: strip level - 1 trailing parts of the package
                parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        found += [(target, node) for target in targets if target.split(".")[0] in PACKAGES]
    return found


def graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {module: {target for target, _ in imports(module, path, modules)} - {module}
            for module, path in modules.items()}


def test_every_module_has_a_layer():
    for module in project_modules():
        layer_of(module)


def test_no_import_cycles():
    edges = graph()
    state: dict[str, str] = {}

    def visit(module: str, stack: list[str]) -> None:
        state[module] = "open"
        for target in sorted(edges.get(module, ())):
            if state.get(target) == "open":
                cycle = stack[stack.index(target):] + [target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target, stack + [target])
        state[module] = "done"

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])


def test_no_upward_imports():
    upward = [f"{module} (layer {layer_of(module)}) imports {target} (layer {layer_of(target)})"
              for module, targets in graph().items() for target in targets if layer_of(target) > layer_of(module)]
    assert not upward, "\n".join(upward)


def test_imports_are_at_module_level():
    """Function-local imports hide dependencies (and cycles) from readers and tools."""
    modules = project_modules()
    nested = []
    for module, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        top_level = {id(node) for node in tree.body}
        # imports under a module-level `if TYPE_CHECKING:` or `try:` are still module level
        for node in tree.body:
            if isinstance(node, (ast.If, ast.Try)):
                top_level |= {id(child) for child in ast.walk(node)}
        nested += [f"{path.relative_to(REPO)}:{node.lineno}" for _, node in imports(module, path, modules, tree)
                   if id(node) not in top_level]
    assert not nested, "function-local imports: " + ", ".join(nested)


def test_the_checks_catch_a_cycle_and_an_upward_import(tmp_path, monkeypatch):
    """The checks above can fail: a tree with a cycle and an upward import is caught."""
    for package in PACKAGES:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "deepbsde" / "errors.py").write_text("from deepbsde.validation import x\n")
    (tmp_path / "deepbsde" / "validation.py").write_text("from deepbsde.errors import y\n")
    monkeypatch.setattr(sys.modules[__name__], "REPO", tmp_path)
    with pytest.raises(pytest.fail.Exception, match="import cycle: deepbsde.errors -> deepbsde.validation"):
        test_no_import_cycles()
    with pytest.raises(AssertionError, match="deepbsde.errors .layer 0. imports deepbsde.validation"):
        test_no_upward_imports()


@pytest.mark.slow
@pytest.mark.parametrize("first_import", ["equations", "deepbsde.finance.payoffs", "deepbsde.reference",
                                          "deepbsde.pricing", "deepbsde.cli", "deepbsde.commands"])
def test_each_entry_point_imports_first_in_a_fresh_interpreter(first_import):
    """A runtime cycle shows only when a module is imported first: try each entry point."""
    subprocess.run([sys.executable, "-c", f"import {first_import}"], check=True, cwd=REPO, timeout=120,
                   env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})


@pytest.mark.slow
def test_importing_the_library_has_no_global_side_effects():
    # TensorFlow and Keras set variables of their own on import: take them out of the comparison
    code = ("import os, tensorflow, keras; before = dict(os.environ); "
            "import deepbsde, equations, deepbsde.runs, deepbsde.pricing, deepbsde.solver.baseline; "
            "import matplotlib; assert dict(os.environ) == before, 'environment changed'; "
            "print(matplotlib.rcParams._get_backend_or_none())")
    backend = subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, timeout=120, text=True,
                             capture_output=True, env={k: v for k, v in os.environ.items() if k != "MPLBACKEND"})
    assert backend.stdout.strip() == "None"  # no backend chosen on the user's behalf


@pytest.mark.slow
def test_import_deepbsde_does_not_load_tensorflow():
    code = ("import sys, deepbsde; assert 'tensorflow' not in sys.modules; deepbsde.solve; "
            "print('tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, timeout=120, text=True,
                         capture_output=True)
    assert out.stdout.strip() == "True"  # loaded on first use of a name that needs it


def test_the_command_parses_its_arguments_before_importing_tensorflow():
    """`deepbsde --help` and an argument error answer without importing TensorFlow or the commands
    (seconds of start-up): deepbsde.cli imports them when a command runs."""
    code = ("import sys, deepbsde.cli as cli\n"
            "cli.build_parser().parse_args(['run', 'x'])\n"
            "for argv in (['--help'], ['run', 'configs/hjb.yaml', '--bogus']):\n"
            "    try:\n"
            "        cli.main(argv)\n"
            "    except SystemExit as stop:\n"
            "        print('exit', stop.code)\n"
            "print('imported', 'tensorflow' in sys.modules, 'deepbsde.commands' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO, timeout=120, text=True,
                         capture_output=True)
    assert out.stdout.startswith("usage: deepbsde") and "unrecognized arguments: --bogus" in out.stderr
    assert out.stdout.splitlines()[-3:] == ["exit 0", "exit 2", "imported False False"]
