"""Solver options and run configurations (YAML), validated field by field.

A run configuration has three sections:

    equation:   {name: hjb, dim: 100, ...}   # name + the equation's parameters
    solver:     {iterations: 2000, ...}      # SolverOptions fields
    reference:  auto                         # auto | a number | null

Every error is a ConfigError naming the dotted field, e.g. `solver.batch_size`.
"""
from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from deepbsde.errors import ConfigError, ParameterError, UnknownEquationError
from deepbsde.solver.options import SolverOptions
from equations.base import Equation
from equations.registry import get


@dataclass(frozen=True)
class RunConfig:
    """A whole run: equation name and parameters, solver options, reference."""

    equation_name: str
    equation_params: dict[str, Any]
    solver: SolverOptions
    reference: Any = "auto"

    def build_equation(self) -> Equation:
        """The equation instance; parameter errors become ConfigErrors."""
        try:
            return get(self.equation_name, **self.equation_params)
        except UnknownEquationError as error:
            raise ConfigError("equation.name", error.reason) from None
        except ParameterError as error:
            raise ConfigError(f"equation.{error.field}", error.reason) from None

    def to_dict(self) -> dict[str, Any]:
        """The resolved configuration, as it would be written to YAML."""
        equation = self.build_equation()
        return {"equation": {"name": self.equation_name, **equation.params},
                "solver": self.solver.to_dict(), "reference": self.reference}


SECTIONS = ("equation", "solver", "reference")


def config_from_mapping(raw: Any) -> RunConfig:
    """A validated RunConfig from a parsed YAML document."""
    if not isinstance(raw, Mapping):
        raise ConfigError("config", f"must be a mapping with sections {', '.join(SECTIONS)}, got {raw!r}")
    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown:
        raise ConfigError(unknown[0], f"unknown section; known sections: {', '.join(SECTIONS)}")
    if "equation" not in raw:
        raise ConfigError("equation", "missing section (needs at least `name`)")
    equation_section = raw["equation"]
    if not isinstance(equation_section, Mapping) or "name" not in equation_section:
        raise ConfigError("equation.name", "missing: the registered equation to solve")
    params = {k: v for k, v in equation_section.items() if k != "name"}
    name = equation_section["name"]
    if not isinstance(name, str):
        raise ConfigError("equation.name", f"must be a string, got {name!r}")
    reference = raw.get("reference", "auto")
    if not (reference is None or reference == "auto"
            or (isinstance(reference, (int, float)) and not isinstance(reference, bool))):
        raise ConfigError("reference", f"must be auto, a number or null, got {reference!r}")
    config = RunConfig(name, params, SolverOptions.from_mapping(raw.get("solver") or {}), reference)
    config.build_equation()  # validates the equation section now, not at training time
    return config


class _NumberFriendlyLoader(yaml.SafeLoader):
    """Safe YAML that also reads 1e-3 as a float (YAML 1.1 wants 1.0e-3 and
    would silently give the string "1e-3")."""


_NumberFriendlyLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"))


def parse_yaml(text: str) -> Any:
    """Parses YAML text safely, with 1e-3-style floats."""
    return yaml.load(text, Loader=_NumberFriendlyLoader)


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Applies `key.path=value` overrides (values parsed as YAML) to a raw config."""
    result = copy.deepcopy(raw) if raw is not None else {}
    for item in overrides:
        path, sep, text = item.partition("=")
        if not sep or not path.strip():
            raise ConfigError("--set", f"expected key.path=value, got {item!r}")
        keys = path.strip().split(".")
        node = result
        for i, key in enumerate(keys[:-1]):
            child = node.setdefault(key, {})
            if not isinstance(child, dict):
                raise ConfigError(".".join(keys[:i + 1]), f"is a value, not a section; cannot set {path}")
            node = child
        try:
            node[keys[-1]] = parse_yaml(text)
        except yaml.YAMLError as error:
            raise ConfigError(path, f"cannot parse value {text!r}: {error}") from None
    return result


def read_yaml(path: str | Path) -> Any:
    """Parses a YAML file; a missing file or bad YAML is a ConfigError."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError("config", f"file not found: {path}") from None
    except OSError as error:
        raise ConfigError("config", f"cannot read {path}: {error.strerror}") from None
    try:
        return parse_yaml(text)
    except yaml.YAMLError as error:
        raise ConfigError("config", f"invalid YAML in {path}: {error}") from None


def load_config(path: str | Path, overrides: list[str] | None = None) -> RunConfig:
    """Reads, overrides and validates a run configuration file."""
    return config_from_mapping(apply_overrides(read_yaml(path), overrides or []))
