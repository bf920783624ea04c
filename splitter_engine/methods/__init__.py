"""Decomposition methods behind one interface: ``get_decomposer(name).decompose(model, data, config, ctx)``."""
from splitter_engine.methods.base import Decomposer, get_decomposer, list_decomposers, register_decomposer
from splitter_engine.methods.cnnsplitter import CNNSplitter
from splitter_engine.methods.concern import Concern
from splitter_engine.methods.gradsplitter import GradSplitter
from splitter_engine.methods.gradsplitter_config import GradSplitterConfig
from splitter_engine.methods.result import DecompositionResult


def make_config(method: str, preset: str, overrides: dict | None = None):
    """The frozen config of ``method`` for ``preset`` with ``overrides`` (EngineError on unknown names)."""
    return get_decomposer(method).make_config(preset, **(overrides or {}))


__all__ = ["CNNSplitter", "Concern", "Decomposer", "DecompositionResult", "GradSplitter", "GradSplitterConfig",
           "get_decomposer", "list_decomposers", "make_config", "register_decomposer"]
