"""Solver options and run configurations (YAML), validated field by field.

A run configuration has three sections:

    equation:   {name: hjb, dim: 100, ...}   # name + the equation's parameters (+ x0_region: a region solve,
                                             # + parameter_ranges: parameters as network inputs)
    solver:     {iterations: 2000, ...}      # SolverOptions fields
    reference:  auto                         # auto | a number | null

Every error is a ConfigError naming the dotted field, e.g. `solver.batch_size`.
"""
from __future__ import annotations

import copy
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from deepbsde.errors import ConfigError, ParameterError, UnknownEquationError
from deepbsde.runs.limits import check_limits
from deepbsde.solver.options import SolverOptions
from deepbsde.solver.parametric import region_problem
from deepbsde.solver.region import RegionProblem
from deepbsde.solver.regions import ParameterRanges, Region
from deepbsde.validation import shown
from equations.base import Equation
from equations.registry import equation_class, get


@dataclass(frozen=True)
class RunConfig:
    """A whole run: equation name and parameters, solver options, reference."""

    equation_name: str
    equation_params: dict[str, Any]
    solver: SolverOptions
    reference: Any = "auto"
    x0_region: dict[str, Any] | None = None  # `equation.x0_region`: a region solve (deepbsde.runs.region_run)
    parameter_ranges: Any = None  # `equation.parameter_ranges`: {name: [low, high]}, drawn per path in a region solve

    def build_region(self, dim: int) -> Region | None:
        """The validated region of `equation.x0_region` (None: a single-point solve)."""
        if self.x0_region is None:
            return None
        try:
            return Region.from_mapping(self.x0_region, dim)
        except ParameterError as error:
            field = error.field if error.field.startswith("x0_region") else f"x0_region.{error.field}"
            raise ConfigError(f"equation.{field}", error.reason) from None

    def build_parameter_ranges(self) -> ParameterRanges:
        """The validated ranges of `equation.parameter_ranges` (none when it is not given), names sorted."""
        ranges = self.parameter_ranges
        if ranges is None:
            return ParameterRanges()
        if not isinstance(ranges, Mapping) or not ranges:
            raise ConfigError("equation.parameter_ranges", "must be a mapping {name: [low, high]}, e.g. "
                                                           f"{{volatility: [0.15, 0.25]}}, got {shown(ranges)}")
        if self.x0_region is None:
            raise ConfigError("equation.parameter_ranges", "needs equation.x0_region: parameters are network "
                                                           "inputs of a region solve")
        for name in ranges:
            if not isinstance(name, str):
                raise ConfigError("equation.parameter_ranges", f"names must be strings, got {shown(name)}")
        try:
            # in a fixed order, whatever the order of the file: the networks' inputs, the evaluate columns
            return ParameterRanges.from_mapping({name: ranges[name] for name in sorted(ranges)})
        except ParameterError as error:
            raise ConfigError(f"equation.parameter_ranges.{error.field}", error.reason) from None

    def build_region_problem(self) -> RegionProblem | None:
        """The validated problem of a region solve (deepbsde.solver.parametric.region_problem), None for a
        solve at one point; errors name `equation.x0_region...` or `equation.parameter_ranges...`."""
        equation = self.build_equation()
        region = self.build_region(equation.dim)
        ranges = self.build_parameter_ranges()
        if region is None:
            return None
        try:
            return region_problem(equation, region, ranges)
        except ParameterError as error:
            field = error.field if error.field.split(".")[0] in REGION_FIELDS else f"parameter_ranges.{error.field}"
            raise ConfigError(f"equation.{field}", error.reason) from None

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
        problem = self.build_region_problem()
        region = {} if problem is None else {"x0_region": problem.region.to_mapping()}
        if problem is not None and problem.parameters.count:
            region["parameter_ranges"] = problem.parameters.to_mapping()
        return {"equation": {"name": self.equation_name, **self.build_equation().params, **region},
                "solver": self.solver.to_dict(), "reference": self.reference}


SECTIONS = ("equation", "solver", "reference")
#: Fields of the equation section that are not the equation's parameters: a region solve's.
REGION_FIELDS = ("x0_region", "parameter_ranges")


def config_from_mapping(raw: Any) -> RunConfig:
    """A validated RunConfig from a parsed YAML document."""
    if not isinstance(raw, Mapping):
        raise ConfigError("config", f"must be a mapping with sections {', '.join(SECTIONS)}, got {shown(raw)}")
    unknown = sorted(set(raw) - set(SECTIONS))
    if unknown:
        raise ConfigError(unknown[0], f"unknown section; known sections: {', '.join(SECTIONS)}")
    if "equation" not in raw:
        raise ConfigError("equation", "missing section (needs at least `name`)")
    equation_section = raw["equation"]
    if not isinstance(equation_section, Mapping) or "name" not in equation_section:
        raise ConfigError("equation.name", "missing: the registered equation to solve")
    params = {k: v for k, v in equation_section.items() if k not in ("name", *REGION_FIELDS)}
    name = equation_section["name"]
    if not isinstance(name, str):
        raise ConfigError("equation.name", f"must be a string, got {shown(name)}")
    reference = raw.get("reference", "auto")
    if not (reference is None or (isinstance(reference, str) and reference == "auto")
            or (isinstance(reference, (int, float)) and not isinstance(reference, bool) and math.isfinite(reference))):
        raise ConfigError("reference", f"must be auto, a finite number or null, got {shown(reference)}")
    solver = SolverOptions.from_mapping(raw.get("solver") or {})
    _check_size(name, params, solver)  # before the equation allocates anything of size dim
    config = RunConfig(name, params, solver, reference, equation_section.get("x0_region"),
                       equation_section.get("parameter_ranges"))
    equation = config.build_equation()  # validates the equation section now, not at training time
    config.build_region_problem()
    check_limits(equation.dim, equation.num_time_interval, solver)
    return config


def with_earlier_options(stored: Any) -> Any:
    """A saved run's configuration with the solver options it ran without written out: a folder
    saved before an option existed ran the set-up of its time (the paper's before the robust preset,
    then a full linear term and no terminal gradient, Euler's step before time_scheme, an untamed drift
    before tamed_drift, no refinement before tangent_refinement)."""
    if not (isinstance(stored, dict) and isinstance(stored.get("solver"), dict)):
        return stored
    earlier: dict[str, Any] = {"linear_term": True, "terminal_gradient": False, "time_scheme": "euler",
                               "tamed_drift": False, "tangent_refinement": False}
    if "preset" not in stored["solver"]:
        earlier["preset"] = "paper"
    return {**stored, "solver": {**earlier, **stored["solver"]}}


def _check_size(name: str, params: Mapping[str, Any], solver: SolverOptions) -> None:
    """The memory limit from the raw dim and N (or their defaults), where they are plain integers."""
    try:
        defaults = equation_class(name).parameter_defaults()
    except UnknownEquationError:
        return  # build_equation names the field
    dim, steps = params.get("dim", defaults["dim"]), params.get("num_time_interval", defaults["num_time_interval"])
    if all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (dim, steps)):
        check_limits(dim, steps, solver)


#: A document may expand (aliases of aliases) to at most this many values.
MAX_YAML_VALUES = 100_000


class _NumberFriendlyLoader(yaml.SafeLoader):
    """Safe YAML that also reads 1e-3 as a float (YAML 1.1 wants 1.0e-3 and
    would silently give the string "1e-3"), and refuses a key given twice."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
            except TypeError:
                continue  # an unhashable key: the base class reports it
            if duplicate:
                raise ConfigError(key if isinstance(key, str) else shown(key), f"given twice (lines {seen[key]} and "
                                  f"{key_node.start_mark.line + 1}); give each key once")
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def _expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """How many values `node` stands for once every alias is expanded (memoised per node)."""
    known = sizes.get(id(node))
    if known is not None:
        return known
    sizes[id(node)] = 1  # a recursive alias counts once here; the constructor handles it
    if isinstance(node, yaml.SequenceNode):
        total = 1 + sum(_expanded_size(child, sizes) for child in node.value)
    elif isinstance(node, yaml.MappingNode):
        total = 1 + sum(_expanded_size(k, sizes) + _expanded_size(v, sizes) for k, v in node.value)
    else:
        total = 1
    sizes[id(node)] = total
    return total


_NumberFriendlyLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float", re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"))


def parse_yaml(text: str) -> Any:
    """Parses YAML text safely, with 1e-3-style floats; a duplicate key or a document that
    expands to more than MAX_YAML_VALUES values (a "billion laughs" alias bomb) is a ConfigError."""
    loader = _NumberFriendlyLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        try:
            size = _expanded_size(node, {})
        except RecursionError:
            size = MAX_YAML_VALUES + 1
        if size > MAX_YAML_VALUES:
            raise ConfigError("config", f"the YAML expands to {size:.3g} values through nested aliases, "
                                        f"more than the {MAX_YAML_VALUES} a configuration may hold")
        return loader.construct_document(node)
    finally:
        loader.dispose()


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Applies `key.path=value` overrides (values parsed as YAML) to a raw config."""
    result = copy.deepcopy(raw) if raw is not None else {}
    for item in overrides:
        path, sep, text = item.partition("=")
        if not sep or not path.strip():
            raise ConfigError("--set", f"expected key.path=value, got {shown(item)}")
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
            raise ConfigError(path, f"cannot parse value {shown(text)}: {shown(str(error))}") from None
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
