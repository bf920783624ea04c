"""Architecture registry: a name maps to a constructor, its default kwargs and a description."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch.nn as nn

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


@dataclass(frozen=True)
class ArchEntry:
    name: str
    constructor: Constructor
    defaults: dict
    description: str
    family: str


_REGISTRY: dict[str, ArchEntry] = {}


def register_architecture(name: str, constructor: Constructor, defaults: dict | None = None,
                          description: str = "", family: str = "custom") -> None:
    if name in _REGISTRY:
        raise EngineError(f"architecture {name!r} is already registered")
    _REGISTRY[name] = ArchEntry(name, constructor, dict(defaults or {}), description, family)


def get_entry(name: str) -> ArchEntry:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise EngineError(f"unknown architecture {name!r}; known: {', '.join(sorted(_REGISTRY))}") from None


def list_architectures() -> list[dict]:
    return [{"name": e.name, "family": e.family, "description": e.description, "defaults": dict(e.defaults)}
            for e in sorted(_REGISTRY.values(), key=lambda e: (e.family, e.name))]


def build_model(spec: ArchSpec) -> nn.Module:
    """A freshly initialised network of this spec, in eval mode."""
    entry = get_entry(spec.name)
    if spec.num_classes < 2:
        raise EngineError(f"a classifier needs at least 2 classes, got {spec.num_classes}")
    if spec.in_channels < 1:
        raise EngineError(f"in_channels must be positive, got {spec.in_channels}")
    unknown = set(spec.kwargs) - set(entry.defaults)
    if unknown:
        raise EngineError(f"architecture {spec.name!r} does not take {sorted(unknown)}; "
                          f"it takes {sorted(entry.defaults) or 'no kwargs'}")
    kwargs: dict[str, Any] = {**entry.defaults, **spec.kwargs}
    model = entry.constructor(num_classes=spec.num_classes, in_channels=spec.in_channels, **kwargs)
    return model.eval()
