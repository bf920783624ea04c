"""One interface for every decomposition method, and the registry the hub looks them up in."""
from __future__ import annotations

from typing import Protocol

import torch.nn as nn

from splitter_engine.data import ImageDataset
from splitter_engine.methods.result import DecompositionResult
from splitter_engine.runtime import EngineError, RunContext


class Decomposer(Protocol):
    name: str

    def make_config(self, preset: str = ..., **overrides):
        """The method's frozen config for a preset, with overrides (unknown names -> EngineError)."""

    def decompose(self, model: nn.Module, data: ImageDataset, config, ctx: RunContext) -> DecompositionResult:
        """Split a trained N-class ``model`` into N modules (the model is not modified)."""


_DECOMPOSERS: dict[str, Decomposer] = {}


def register_decomposer(decomposer: Decomposer) -> None:
    if decomposer.name in _DECOMPOSERS:
        raise EngineError(f"decomposition method {decomposer.name!r} is already registered")
    _DECOMPOSERS[decomposer.name] = decomposer


def get_decomposer(name: str) -> Decomposer:
    try:
        return _DECOMPOSERS[name]
    except KeyError:
        raise EngineError(f"unknown decomposition method {name!r}; known: {', '.join(sorted(_DECOMPOSERS))}") from None


def list_decomposers() -> list[str]:
    return sorted(_DECOMPOSERS)
