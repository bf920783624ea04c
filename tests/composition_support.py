"""Small real models and modules for composition tests (engine and hub), cached for the test session.

Models are narrow ResCNNs trained briefly on digits-16. Modules go through the real extraction API
from hand-made decompositions: per class, the channels whose mean activation on that class reaches
a quarter of their group's strongest (the activation rule GradSplitter's init uses), and a head that
scores the masked logit of the class (a threshold halfway between its class and the rest on the val
split). A GradSplitter search would take minutes here; these take seconds and are real modules.
"""
from __future__ import annotations

import dataclasses
import functools

import numpy as np
import torch

from splitter_engine.architectures import ArchSpec, build_model
from splitter_engine.channels import analyse_channels
from splitter_engine.composition import BaseSource, ChosenModule
from splitter_engine.data import ImageDataset, load_builtin
from splitter_engine.data.subset import restrict_to_classes
from splitter_engine.extraction import ExtractedModule, extract_modules
from splitter_engine.gating import ChannelGate, masked_forward
from splitter_engine.methods.mask_scores import class_activation_means
from splitter_engine.methods.result import DecompositionResult
from splitter_engine.training import TrainConfig, train_model

ARCH, KWARGS = "rescnn", {"width": 0.125}
KEEP_FRACTION_OF_MAX = 0.25


@functools.lru_cache(maxsize=None)
def digits() -> ImageDataset:
    return load_builtin("digits-16")


def with_few_train_images(data: ImageDataset, class_name: str, keep: int) -> ImageDataset:
    """``data`` whose train split keeps only ``keep`` images of ``class_name`` (a skewed training set)."""
    label = data.class_names.index(class_name)
    train = data.splits["train"]
    of_class = train[data.labels[train] == label]
    kept = np.sort(np.concatenate([train[data.labels[train] != label], of_class[:keep]]))
    return dataclasses.replace(data, splits={**data.splits, "train": kept})


def trained(classes: tuple[str, ...] = (), few_of: str = "", keep: int = 0, epochs: int = 6, seed: int = 0):
    """(model, arch spec, class names) trained on digits-16, optionally with class ``few_of`` nearly absent; trained
    once per session for each set of arguments, however they are passed (positional or keyword)."""
    return _trained(tuple(classes), few_of, keep, epochs, seed)


@functools.lru_cache(maxsize=None)
def _trained(classes: tuple[str, ...], few_of: str, keep: int, epochs: int, seed: int):
    data = with_few_train_images(digits(), few_of, keep) if few_of else digits()
    names = list(classes) or list(data.class_names)
    spec = ArchSpec(ARCH, len(names), 1, dict(KWARGS))
    torch.manual_seed(seed)
    model = build_model(spec)
    result = train_model(model, data, TrainConfig(epochs=epochs, lr=3e-3, classes=tuple(classes), seed=seed))
    model.load_state_dict(result.state_dict)
    return model.eval(), spec, result.class_names


def activation_decomposition(model, data: ImageDataset) -> DecompositionResult:
    n = data.num_classes
    graph = analyse_channels(model, data.spec.shape)
    x, y = data.tensors("train")
    means = class_activation_means(ChannelGate(model, graph), x, y, n, 256, torch.device("cpu"))
    masks = torch.zeros(n, graph.total_slots, dtype=torch.bool)
    for offset, group in zip(graph.offsets(), graph.groups):
        block = means[:, offset:offset + group.size]
        masks[:, offset:offset + group.size] = block >= KEEP_FRACTION_OF_MAX * block.max(1, keepdim=True).values
    hidden = 10
    heads = {"w1": torch.zeros(n, hidden, n), "b1": torch.zeros(n, hidden), "w2": torch.zeros(n, 1, hidden),
             "b2": torch.zeros(n, 1)}
    x_val, y_val = data.tensors("val")
    for c in range(n):
        z = torch.relu(masked_forward(model, graph, x_val, masks[c].float())[:, c])
        threshold = 0.5 * (z[y_val == c].mean() + z[y_val != c].mean())
        sharpness = 4.0 / (z.std() + 1e-6)
        heads["w1"][c, 0, c] = 1.0
        heads["w2"][c, 0, 0] = sharpness
        heads["b2"][c, 0] = -sharpness * threshold
    return DecompositionResult(method="activation", config={"keep_fraction_of_max": KEEP_FRACTION_OF_MAX},
                               class_names=list(data.class_names), group_roots=[g.root for g in graph.groups],
                               group_sizes=[g.size for g in graph.groups], masks=masks, scoring="head",
                               scoring_tensors=heads)


@functools.lru_cache(maxsize=None)
def decomposed(classes: tuple[str, ...] = (), few_of: str = "", keep: int = 0):
    """(model, arch spec, class names, extracted modules) of a trained model."""
    model, spec, names = trained(classes, few_of, keep)
    data = restrict_to_classes(digits(), names)
    result = activation_decomposition(model, data)
    return model, spec, names, extract_modules(model, spec, result, data)


def key_of(model) -> str:
    return f"model-{id(model)}"


def chosen(model, modules: list[ExtractedModule], class_names: list[str]) -> list[ChosenModule]:
    by_name = {m.class_name: m for m in modules}
    return [ChosenModule(spec=by_name[c].spec, state_dict=by_name[c].state_dict, base_key=key_of(model),
                         sha256=f"sha-{c}") for c in class_names]


def base_source(model, names) -> BaseSource:
    return BaseSource(key=key_of(model), model=model, spec=digits().spec, class_names=list(names))
