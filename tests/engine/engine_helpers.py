"""Helpers for the decomposition-engine tests: non-trivial random weights and small trained models."""
from __future__ import annotations

import functools

import torch
import torch.nn as nn
import torch.nn.functional as F

from splitter_engine.architectures import ArchSpec, build_model
from splitter_engine.data import load_builtin
from splitter_engine.runtime import seed_everything

PAPER_ARCHS = ("simcnn", "rescnn", "incecnn")


def narrow_spec(name: str, in_channels: int = 3, num_classes: int = 10) -> ArchSpec:
    """Narrow enough for tests to take seconds; torchvision models are narrowed through the graph."""
    return ArchSpec(name, num_classes, in_channels, {"width": 0.125 if name in PAPER_ARCHS else 0.25})


def randomise(model: nn.Module, seed: int = 0) -> nn.Module:
    """Weights and BN statistics far from their init, so every channel matters to the output."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.running_mean.copy_(torch.randn(module.running_mean.shape, generator=gen) * 0.1)
                module.running_var.copy_(torch.rand(module.running_var.shape, generator=gen) + 0.5)
                module.weight.copy_(torch.rand(module.weight.shape, generator=gen) + 0.5)
                module.bias.copy_(torch.randn(module.bias.shape, generator=gen) * 0.1)
            elif isinstance(module, (nn.Conv2d, nn.Linear)):
                fan_in = module.weight[0].numel()
                module.weight.copy_(torch.randn(module.weight.shape, generator=gen) * (2.0 / fan_in) ** 0.5)
                if module.bias is not None:
                    module.bias.copy_(torch.randn(module.bias.shape, generator=gen) * 0.1)
    return model.eval()


@functools.lru_cache(maxsize=1)
def digits16():
    return load_builtin("digits-16")


@functools.lru_cache(maxsize=1)
def small_digits16(per_class: int = 100):
    """digits-16 with ``per_class`` training images per class (search tests stay in seconds)."""
    from splitter_engine.data import ImageDataset
    import numpy as np

    data = digits16()
    train = data.splits["train"]
    labels = data.labels[train]
    kept = np.sort(np.concatenate([train[labels == c][:per_class] for c in range(data.num_classes)]))
    splits = {**data.splits, "train": kept}
    return ImageDataset(data.name, data.class_names, data.images, data.labels, data.spec, splits)


@functools.lru_cache(maxsize=4)
def trained_simcnn(epochs: int = 8, seed: int = 0):
    """A narrow SimCNN trained on digits-16 in seconds (about 98% test accuracy)."""
    data = digits16()
    spec = ArchSpec("simcnn", 10, 1, {"width": 0.25, "dropout": 0.0})
    generator = seed_everything(seed)
    model = build_model(spec)
    x, y = data.tensors("train")
    steps = epochs * ((len(x) + 63) // 64)
    optimiser = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=0.05, total_steps=steps)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(order), 64):
            idx = order[start:start + 64]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
    return model.eval(), spec, small_digits16()
