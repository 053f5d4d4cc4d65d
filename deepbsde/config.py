"""Solver options and run configurations (YAML), validated field by field.

A run configuration has three sections:

    equation:   {name: hjb, dim: 100, ...}   # name + the equation's parameters
    solver:     {iterations: 2000, ...}      # SolverOptions fields
    reference:  auto                         # auto | a number | null

Every error is a ConfigError naming the dotted field, e.g. `solver.batch_size`.
"""
from __future__ import annotations

import copy
import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

import equations
from equations import ParameterError, coerce_parameter


class ConfigError(ParameterError):
    """A configuration field is missing, unknown or invalid."""


DTYPES = ("float32", "float64")


@dataclass(frozen=True)
class SolverOptions:
    """Training options of the deep BSDE solver.

    hidden_widths None means the reference's [d + 10, d + 10]; y0_range None
    means the equation's own initial range for Y_0. learning_rates has one
    more entry than lr_boundaries (piecewise constant in the step).
    checkpoint_every applies when the run has an output folder (0: only at
    the end and on interruption); max_loss None means only NaN/inf diverge.
    devices None trains on the default device; a list of device names (e.g.
    ["/gpu:0", "/gpu:1"]) splits each batch across them (data parallel).
    shared_network uses one network of (t, x) for all time steps;
    mixed_precision runs the matmuls in bfloat16 (needs dtype float32).
    """

    iterations: int = 2000
    batch_size: int = 64
    valid_size: int = 256
    learning_rates: list = field(default_factory=lambda: [1e-2])
    lr_boundaries: list = field(default_factory=list)
    hidden_widths: list | None = None
    shared_network: bool = False
    y0_range: list | None = None
    batch_norm: bool = True
    loss_clip: float = 50.0
    dtype: str = "float64"
    mixed_precision: bool = False
    seed: int = 1
    log_every: int = 100
    checkpoint_every: int = 500
    max_loss: float | None = None
    jit_compile: bool = True
    devices: list | None = None

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], section: str = "solver") -> "SolverOptions":
        """Validated options from a mapping; errors name `section.field`."""
        if not isinstance(values, Mapping):
            raise ConfigError(section, f"must be a mapping of options, got {values!r}")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(fields))
        if unknown:
            raise ConfigError(f"{section}.{unknown[0]}",
                              f"unknown option; known options: {', '.join(sorted(fields))}")
        resolved = {}
        for name, value in values.items():
            resolved[name] = _coerce_option(f"{section}.{name}", name, value)
        options = cls(**resolved)
        options._check(section)
        return options

    def _check(self, section: str) -> None:
        def fail(name: str, reason: str) -> None:
            raise ConfigError(f"{section}.{name}", reason)

        for name in ("iterations", "batch_size", "valid_size", "log_every"):
            if getattr(self, name) <= 0:
                fail(name, f"must be a positive integer, got {getattr(self, name)}")
        if len(self.learning_rates) != len(self.lr_boundaries) + 1:
            fail("learning_rates", f"needs one more entry than lr_boundaries: got {len(self.learning_rates)} "
                                   f"rates for {len(self.lr_boundaries)} boundaries")
        if any(rate <= 0 for rate in self.learning_rates):
            fail("learning_rates", f"must all be positive, got {self.learning_rates}")
        if any(b <= 0 for b in self.lr_boundaries) or list(self.lr_boundaries) != sorted(set(self.lr_boundaries)):
            fail("lr_boundaries", f"must be positive and strictly increasing, got {self.lr_boundaries}")
        if self.hidden_widths is not None and any(w <= 0 for w in self.hidden_widths):
            fail("hidden_widths", f"must all be positive, got {self.hidden_widths}")
        if self.y0_range is not None and (len(self.y0_range) != 2 or self.y0_range[0] > self.y0_range[1]):
            fail("y0_range", f"must be [low, high] with low <= high, got {self.y0_range}")
        if self.checkpoint_every < 0:
            fail("checkpoint_every", f"must be 0 (off) or a positive integer, got {self.checkpoint_every}")
        if self.max_loss is not None and self.max_loss <= 0:
            fail("max_loss", f"must be positive or null, got {self.max_loss}")
        if self.loss_clip <= 0:
            fail("loss_clip", f"must be positive, got {self.loss_clip}")
        if self.devices is not None and not self.devices:
            fail("devices", "must be null (default device) or a non-empty list of device names")
        if self.devices is not None and self.batch_size % len(self.devices):
            fail("batch_size", f"must be a multiple of the {len(self.devices)} devices, got {self.batch_size}")
        if self.dtype not in DTYPES:
            fail("dtype", f"must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        if self.mixed_precision and self.dtype != "float32":
            fail("mixed_precision", "needs dtype float32 (bfloat16 matmuls, float32 weights)")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# Example values giving each option's type where the default is None.
_TYPE_EXAMPLES = {"hidden_widths": [1], "y0_range": [0.0], "learning_rates": [0.0], "lr_boundaries": [1],
                  "max_loss": 0.0, "devices": ["/cpu:0"]}
_OPTIONAL = ("hidden_widths", "y0_range", "max_loss", "devices")


def _coerce_option(path: str, name: str, value: Any) -> Any:
    default = _TYPE_EXAMPLES.get(name, getattr(SolverOptions, name, None))
    if value is None and name in _OPTIONAL:
        return None
    if name == "lr_boundaries" and value == []:
        return []
    try:
        return coerce_parameter(name, value, default)
    except ParameterError as error:
        raise ConfigError(path, error.reason) from None


@dataclass(frozen=True)
class RunConfig:
    """A whole run: equation name and parameters, solver options, reference."""

    equation_name: str
    equation_params: dict[str, Any]
    solver: SolverOptions
    reference: Any = "auto"

    def build_equation(self) -> equations.Equation:
        """The equation instance; parameter errors become ConfigErrors."""
        try:
            return equations.get(self.equation_name, **self.equation_params)
        except ParameterError as error:
            raise ConfigError(f"equation.{error.field}", error.reason) from None
        except equations.UnknownEquationError as error:
            raise ConfigError("equation.name", str(error)) from None

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
