"""What composition works from: the chosen modules (spec + weights) and, for fused trunks, base models."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn as nn

from splitter_engine.extraction import load_module, module_scoring
from splitter_engine.scoring import ScoringKind, scoring_kind
from splitter_engine.specs import InputSpec


@dataclass
class ChosenModule:
    """One (module, class) pair of a build: the module's stored spec and weights, and its output name."""

    spec: dict  # the module spec written by extraction
    state_dict: dict[str, torch.Tensor]
    base_key: str  # identifies the base model it was cut from (its weights' sha256)
    class_name: str = ""  # the build's name for this output; defaults to the module's class name
    sha256: str = ""  # of the module's weights, for lineage
    scoring: ScoringKind = field(init=False, repr=False)
    _network: nn.Module | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.scoring = scoring_kind(module_scoring(self.spec)["kind"])
        self.class_name = self.class_name or str(self.spec["class_name"])

    @property
    def input_spec(self) -> InputSpec:
        return InputSpec.from_dict(self.spec["input"])

    @property
    def class_index(self) -> int:
        return int(self.spec["class_index"])

    @property
    def kept(self) -> list[list[int]]:
        return [list(map(int, k)) for k in self.spec["kept"]]

    @property
    def group_roots(self) -> list[str]:
        return list(self.spec["group_roots"])

    def network(self) -> nn.Module:
        if self._network is None:
            self._network = load_module(self.spec, self.state_dict)
        return self._network


@dataclass
class BaseSource:
    """A trained base model (weights loaded) with the input spec and class names it was trained with."""

    key: str  # its weights' sha256
    model: nn.Module
    spec: InputSpec
    class_names: list[str]
