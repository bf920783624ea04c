"""The module contract: how a module scores its class. Every decomposition method declares one kind.

A module is its base model, sliced to the channels one class keeps, whose output is turned into one
score per image by its kind:

- ``head`` (GradSplitter): ReLU(all N logits) -> Linear(N, h) -> ReLU -> Linear(h, 1) -> sigmoid.
  Tensors: ``w1`` (N, h, N), ``b1`` (N, h), ``w2`` (N, 1, h), ``b2`` (N, 1).
- ``logit`` (CNNSplitter): the raw logit of its class; the output layer keeps only that class's row.
  No tensors: the row is the base model's own.
- ``class_vs_rest`` (concern identification): the output layer keeps two rows, the class's and one
  "rest" row; the score is the softmax probability of the class. Tensors: ``weight`` (N, 2, F),
  ``bias`` (N, 2), F being the output layer's inputs in the base model.

Tensors are batched over classes (first dimension = class). Each kind builds a module in two steps
around the channel slicing: ``prepare`` shapes the unsliced model's output layer (so slicing trims
its inputs consistently) and ``scorer`` maps the sliced network's output to the score. Given no
tensors, both build the structure only, for loading stored weights.
"""
from __future__ import annotations

from abc import ABC, abstractmethod

import torch
import torch.nn as nn

from splitter_engine.output_layer import find_output_linear, keep_output_rows, replace_output_rows
from splitter_engine.runtime import EngineError

Tensors = dict[str, torch.Tensor]


class ModuleNetwork(nn.Module):
    """One class's module: the sliced network, then its scorer (kept under the name ``head`` so modules
    stored before scoring kinds existed load with the same keys)."""

    def __init__(self, trunk: nn.Module, head: nn.Module):
        super().__init__()
        self.trunk = trunk
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(x))


class HeadScorer(nn.Sequential):
    """sigmoid(Linear(h, 1)(ReLU(Linear(N, h)(ReLU(logits)))))."""

    def __init__(self, num_classes: int, hidden: int):
        super().__init__(nn.Linear(num_classes, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, logits: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(super().forward(torch.relu(logits))).squeeze(-1)


class ColumnScorer(nn.Module):
    """One column of the network's output, as it is (a raw logit)."""

    def __init__(self, column: int):
        super().__init__()
        self.column = column

    def forward(self, outputs: torch.Tensor) -> torch.Tensor:
        return outputs[:, self.column]


class ClassVsRestScorer(nn.Module):
    """The softmax probability of column 0 (the class) against column 1 (the rest)."""

    def forward(self, outputs: torch.Tensor) -> torch.Tensor:
        return torch.softmax(outputs, dim=1)[:, 0]


class ScoringKind(ABC):
    name: str = ""
    label: str = ""  # what the UI and API say the score is
    tensor_names: tuple[str, ...] = ()
    probability: bool = False  # scores in (0, 1): calibration maps them to logit space first

    def check(self, tensors: Tensors, num_classes: int) -> None:
        missing = [n for n in self.tensor_names if n not in tensors]
        extra = sorted(set(tensors) - set(self.tensor_names))
        if missing or extra:
            raise EngineError(f"{self.name} scoring needs tensors {list(self.tensor_names)}; "
                              f"missing {missing}, unexpected {extra}")
        for name in self.tensor_names:
            if tensors[name].shape[0] != num_classes:
                raise EngineError(f"{self.name} scoring tensor {name!r} has {tensors[name].shape[0]} rows, "
                                  f"expected one per class ({num_classes})")

    def describe(self, model: nn.Module, class_index: int, tensors: Tensors | None,
                 input_shape: tuple[int, int, int]) -> dict:
        """The structural facts a stored module needs to be rebuilt (JSON-ready)."""
        return {}

    def prepare(self, model: nn.Module, class_index: int, tensors: Tensors | None, spec: dict,
                input_shape: tuple[int, int, int]) -> nn.Module:
        return model

    @abstractmethod
    def scorer(self, class_index: int, tensors: Tensors | None, spec: dict, num_classes: int) -> nn.Module:
        """The layer turning the sliced network's output into one score per image."""


class HeadScoring(ScoringKind):
    name = "head"
    label = "sigmoid of a small head over ReLU(the sliced model's logits)"
    tensor_names = ("w1", "b1", "w2", "b2")
    probability = True

    def describe(self, model, class_index, tensors, input_shape) -> dict:
        return {"hidden": int(tensors["w1"].shape[0])}

    def scorer(self, class_index, tensors, spec, num_classes) -> nn.Module:
        head = HeadScorer(num_classes, int(spec["hidden"]))
        if tensors is not None:
            with torch.no_grad():
                head[0].weight.copy_(tensors["w1"])
                head[0].bias.copy_(tensors["b1"])
                head[2].weight.copy_(tensors["w2"])
                head[2].bias.copy_(tensors["b2"])
        return head


class LogitScoring(ScoringKind):
    name = "logit"
    label = "the raw logit of its class"

    def describe(self, model, class_index, tensors, input_shape) -> dict:
        # A model whose output comes from a Linear keeps just the class's row; otherwise the column is picked.
        return {"output_layer": find_output_linear(model, input_shape), "column": class_index}

    def prepare(self, model, class_index, tensors, spec, input_shape) -> nn.Module:
        if spec["output_layer"] is None:
            return model
        return keep_output_rows(model, spec["output_layer"], [class_index])

    def scorer(self, class_index, tensors, spec, num_classes) -> nn.Module:
        return ColumnScorer(0 if spec["output_layer"] is not None else int(spec["column"]))


class ClassVsRestScoring(ScoringKind):
    name = "class_vs_rest"
    label = "the softmax probability of its class against one 'rest' output"
    tensor_names = ("weight", "bias")
    probability = True

    def describe(self, model, class_index, tensors, input_shape) -> dict:
        layer = find_output_linear(model, input_shape)
        if layer is None:
            raise EngineError("class-vs-rest modules need a model whose output comes from a Linear layer")
        return {"output_layer": layer}

    def prepare(self, model, class_index, tensors, spec, input_shape) -> nn.Module:
        name = spec["output_layer"]
        if tensors is None:
            features = model.get_submodule(name).in_features
            tensors = {"weight": torch.zeros(2, features), "bias": torch.zeros(2)}
        return replace_output_rows(model, name, tensors["weight"], tensors["bias"])

    def scorer(self, class_index, tensors, spec, num_classes) -> nn.Module:
        return ClassVsRestScorer()


KINDS: dict[str, ScoringKind] = {kind.name: kind for kind in (HeadScoring(), LogitScoring(), ClassVsRestScoring())}


def scoring_kind(name: str) -> ScoringKind:
    try:
        return KINDS[name]
    except KeyError:
        raise EngineError(f"unknown scoring kind {name!r}; known: {', '.join(KINDS)}") from None


def class_tensors(tensors: Tensors, class_index: int) -> Tensors:
    return {name: value[class_index] for name, value in tensors.items()}
