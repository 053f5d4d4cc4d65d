"""Name -> equation class registry."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from deepbsde.errors import UnknownEquationError
from equations.base import Equation

_REGISTRY: dict[str, type[Equation]] = {}

E = TypeVar("E", bound=type[Equation])


def register(name: str) -> Callable[[E], E]:
    """Class decorator: makes an Equation subclass available as `name`."""
    def decorate(cls: E) -> E:
        if not (isinstance(cls, type) and issubclass(cls, Equation)):
            raise TypeError(f"@register('{name}') needs a subclass of equations.Equation, got {cls!r}")
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"an equation named '{name}' is already registered ({_REGISTRY[name].__name__})")
        cls.name = name
        _REGISTRY[name] = cls
        return cls
    return decorate


def equation_class(name: str) -> type[Equation]:
    """The class registered as `name`; the error lists the known names."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownEquationError(name, available()) from None


def get(name: str, **params: Any) -> Equation:
    """An instance of the equation registered as `name` with the given parameters."""
    return equation_class(name)(**params)


def available() -> list[str]:
    """The registered equation names, sorted."""
    return sorted(_REGISTRY)
