"""torchvision classifiers by name: ``weights=None`` always, stem adapted to other channel counts.

``width`` < 1 gives a narrow version of the same topology by slicing every channel group down to
its first ``ceil(width * size)`` channels with the dependency graph (no per-architecture code).
"""
from __future__ import annotations

import math

import torch.nn as nn

from splitter_engine.runtime import EngineError
from splitter_engine.torchvision_compat import models

# Decomposition verified end to end by the engine tests (groups, masked forward, slicing parity <= 1e-5,
# reload) on 32x32 inputs. resnet34, vgg13_bn, vgg19_bn, vgg16, mobilenet_v3_large, mnasnet1_0, efficientnet_b1,
# squeezenet1_0 and densenet121 also passed a one-off parity check but are left out to keep the test suite
# short. Every other torchvision classifier is registered too: the hub stores, trains and evaluates it, and
# decides per model whether its channels can be analysed (ShuffleNet's channel shuffle, ResNeXt/RegNet's
# grouped convolutions and ConvNeXt's LayerNorm cannot; the reason names the layer).
TESTED_CLASSIFIERS = (
    "resnet18", "resnet50", "vgg11", "vgg11_bn", "vgg16_bn", "mobilenet_v2", "mobilenet_v3_small",
    "efficientnet_b0", "squeezenet1_1", "googlenet",
)
_NO_AUX = {"aux_logits": False, "init_weights": True}
_EXTRA_DEFAULTS = {"googlenet": _NO_AUX, "inception_v3": _NO_AUX, "maxvit_t": {"input_size": [224, 224]},
                   **{f"vit_{size}": {"image_size": 224} for size in ("b_16", "b_32", "l_16", "l_32", "h_14")}}


def torchvision_classifiers() -> list[str]:
    """Every classifier ``torchvision.models`` builds by name (not detection, segmentation or video)."""
    return sorted(models.list_models(module=models))


def _replace_stem(model: nn.Module, in_channels: int) -> nn.Module:
    """Swap the first conv for one taking ``in_channels`` (same shape otherwise)."""
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            if module.in_channels == in_channels:
                return model
            stem = nn.Conv2d(in_channels, module.out_channels, module.kernel_size, module.stride, module.padding,
                             module.dilation, 1, module.bias is not None, module.padding_mode)
            parent_name, _, attr = name.rpartition(".")
            parent = model.get_submodule(parent_name) if parent_name else model
            setattr(parent, attr, stem)
            return model
    raise EngineError("the model has no convolution to adapt to the input channels")


def _narrow(model: nn.Module, width: float, in_channels: int) -> nn.Module:
    from splitter_engine.channels import analyse_channels, build_dependency_graph, slice_groups

    if not 0 < width <= 1:
        raise EngineError(f"width must be in (0, 1] for torchvision models, got {width}")
    if width == 1:
        return model
    shape = (in_channels, 32, 32)
    try:
        dg = build_dependency_graph(model, shape)
        graph = analyse_channels(model, shape, dg)
    except EngineError as exc:
        raise EngineError(f"width {width} narrows every channel group, and this network's channels cannot be "
                          f"grouped ({exc}); use width 1") from exc
    keep = [list(range(max(1, math.ceil(g.size * width)))) for g in graph.groups]
    return slice_groups(model, graph, keep, dg)


def _constructor(name: str):
    def build(num_classes: int, in_channels: int, width: float = 1.0, **kwargs) -> nn.Module:
        model = models.get_model(name, weights=None, num_classes=num_classes, **kwargs)
        if getattr(model, "transform_input", False):
            model.transform_input = False  # expects ImageNet-normalised RGB; our inputs are normalised already
        model = _replace_stem(model, in_channels)
        return _narrow(model, float(width), in_channels)
    return build


def register_torchvision(register) -> None:
    for name in torchvision_classifiers():
        defaults = {"width": 1.0, **_EXTRA_DEFAULTS.get(name, {})}
        register(name, _constructor(name), defaults, f"torchvision {name} (weights=None)", "torchvision",
                 tested=name in TESTED_CLASSIFIERS)
