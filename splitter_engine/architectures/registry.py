"""Architecture registry: a name maps to a constructor, its default kwargs and a description."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import torch.nn as nn

from splitter_engine.bounds import MAX_IMAGE_SIDE, MAX_WIDTH
from splitter_engine.runtime import EngineError

# constructor(num_classes, in_channels, **kwargs) -> nn.Module
Constructor = Callable[..., nn.Module]


@dataclass(frozen=True)
class ArchSpec:
    """Everything needed to rebuild a network's structure (not its weights)."""

    name: str
    num_classes: int
    in_channels: int = 3
    kwargs: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"name": self.name, "num_classes": int(self.num_classes), "in_channels": int(self.in_channels),
                "kwargs": dict(self.kwargs)}

    @classmethod
    def from_dict(cls, data: dict) -> "ArchSpec":
        try:
            return cls(name=str(data["name"]), num_classes=int(data["num_classes"]),
                       in_channels=int(data.get("in_channels", 3)), kwargs=dict(data.get("kwargs") or {}))
        except (KeyError, TypeError, ValueError) as exc:
            raise EngineError(f"an architecture spec needs name, num_classes (and optionally in_channels, kwargs): {exc}") from exc


_TYPE_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a string", list: "a list"}


# Ranges of the kwargs that size a network (splitter_engine.bounds): (low, high, low excluded). A kwarg without
# one here (a flag, a name) is checked for its type only.
KWARG_BOUNDS = {
    "paper": {"width": (0.0, MAX_WIDTH, True), "dropout": (0.0, 0.99, False)},
    "torchvision": {"width": (0.0, 1.0, True), "dropout": (0.0, 0.99, False),
                    "image_size": (1, MAX_IMAGE_SIDE, False)},
}


def _kwarg_type(default) -> type:
    return list if isinstance(default, (list, tuple)) else type(default)


def _is_a(value, expected: type) -> bool:
    if expected is bool or isinstance(value, bool):
        return expected is bool and isinstance(value, bool)
    if expected is float:
        return isinstance(value, (int, float)) and math.isfinite(value)
    return isinstance(value, expected)


@dataclass(frozen=True)
class ArchEntry:
    name: str
    constructor: Constructor
    defaults: dict
    description: str
    family: str
    tested: bool  # decomposition is checked end to end by the engine tests

    def merged_kwargs(self, kwargs: dict) -> dict:
        """The defaults with ``kwargs`` over them; a name the constructor does not take is an EngineError."""
        unknown = set(kwargs) - set(self.defaults)
        if unknown:
            taken = ", ".join(f"{k} (default {v!r})" for k, v in sorted(self.defaults.items())) or "no kwargs"
            raise EngineError(f"architecture {self.name!r} does not take {sorted(unknown)}; it takes {taken}")
        return {**self.defaults, **kwargs}

    def check_types(self, kwargs: dict) -> None:
        """Each value must have its default's type (a number for a float default) and lie in its range."""
        bounds = KWARG_BOUNDS.get(self.family, {})
        for key, value in kwargs.items():
            expected = _kwarg_type(self.defaults[key])
            if not _is_a(value, expected):
                raise EngineError(f"architecture {self.name!r}: {key} must be {_TYPE_NAMES[expected]}, got {value!r} "
                                  f"(default {self.defaults[key]!r})")
            if key in bounds:
                low, high, low_open = bounds[key]
                if not ((value > low if low_open else value >= low) and value <= high):
                    interval = f"{'(' if low_open else '['}{low:g}, {high:g}]"
                    raise EngineError(f"architecture {self.name!r}: {key} must lie in {interval}, got {value!r} "
                                      f"(default {self.defaults[key]!r})")


_REGISTRY: dict[str, ArchEntry] = {}


def register_architecture(name: str, constructor: Constructor, defaults: dict | None = None,
                          description: str = "", family: str = "custom", tested: bool = True) -> None:
    if name in _REGISTRY:
        raise EngineError(f"architecture {name!r} is already registered")
    _REGISTRY[name] = ArchEntry(name, constructor, dict(defaults or {}), description, family, tested)


def get_entry(name: str) -> ArchEntry:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise EngineError(f"unknown architecture {name!r}; known: {', '.join(sorted(_REGISTRY))}") from None


def list_architectures(*, everything: bool = False) -> list[dict]:
    """The architectures whose decomposition the engine tests check end to end; ``everything`` adds the other
    torchvision classifiers, which the hub stores, trains and evaluates (decomposability is found per model)."""
    return [{"name": e.name, "family": e.family, "description": e.description, "defaults": dict(e.defaults),
             "tested": e.tested}
            for e in sorted(_REGISTRY.values(), key=lambda e: (e.family, e.name)) if everything or e.tested]


def check_arch_kwargs(name: str, kwargs) -> dict:
    """``kwargs`` when architecture ``name`` takes them (names and value types); else an EngineError saying
    what it takes. Cheap: nothing is built."""
    entry = get_entry(name)
    if not isinstance(kwargs, dict):
        raise EngineError(f"architecture kwargs must be an object, e.g. {{\"width\": 0.25}}; got {kwargs!r}")
    entry.merged_kwargs(kwargs)
    entry.check_types(kwargs)
    return dict(kwargs)


def build_model(spec: ArchSpec) -> nn.Module:
    """A freshly initialised network of this spec, in eval mode."""
    entry = get_entry(spec.name)
    if spec.num_classes < 2:
        raise EngineError(f"a classifier needs at least 2 classes, got {spec.num_classes}")
    if spec.in_channels < 1:
        raise EngineError(f"in_channels must be positive, got {spec.in_channels}")
    kwargs: dict[str, Any] = entry.merged_kwargs(spec.kwargs)
    entry.check_types(spec.kwargs)
    model = entry.constructor(num_classes=spec.num_classes, in_channels=spec.in_channels, **kwargs)
    return model.eval()
