"""Fused strategy: one copy of a base model, sliced to the union of the chosen classes' kept channels.

The trunk keeps every channel any chosen module keeps, so it runs once for all of them; its output
layer is cut to the chosen classes' rows (the base model's own outputs for them) and can be refitted
on a few labelled samples.
"""
from __future__ import annotations

import copy

import torch
import torch.nn as nn
import torch.nn.functional as F

from splitter_engine.channels import analyse_channels, build_dependency_graph, slice_groups
from splitter_engine.composition.network import SelectOutputs
from splitter_engine.output_layer import find_output_linear, keep_output_rows
from splitter_engine.runtime import EngineError


def union_keep(kept_per_class: list[list[list[int]]], group_sizes: list[int]) -> list[list[int]]:
    """Per group, the sorted union of the root channels kept by any of the classes."""
    union = []
    for g, size in enumerate(group_sizes):
        channels = sorted({int(c) for kept in kept_per_class for c in kept[g]})
        if any(c < 0 or c >= size for c in channels):
            raise EngineError(f"group {g} has {size} channels but a module keeps channel(s) outside 0..{size - 1}")
        union.append(channels)
    return union


def slice_trunk(base: nn.Module, input_shape: tuple[int, int, int], group_roots: list[str],
                kept_per_class: list[list[list[int]]]) -> nn.Module:
    """A sliced copy of ``base`` keeping the union of the channels in ``kept_per_class`` (base untouched)."""
    trunk = copy.deepcopy(base).cpu().eval()
    dg = build_dependency_graph(trunk, input_shape)
    graph = analyse_channels(trunk, input_shape, dg, roots=list(group_roots))
    roots = [g.root for g in graph.groups]
    if roots != list(group_roots):
        raise EngineError("the modules' channel groups do not match the base model's "
                          f"(modules: {list(group_roots)[:4]}..., model: {roots[:4]}...); were they cut from another model?")
    keep = union_keep(kept_per_class, [g.size for g in graph.groups])
    return slice_groups(trunk, graph, keep, dg)


def select_classes(trunk: nn.Module, input_shape: tuple[int, int, int], positions: list[int]) -> tuple[nn.Module, str | None]:
    """``trunk`` giving only ``positions`` of its outputs: its output Linear cut to those rows when it has
    one (fewer FLOPs, same numbers), else a selection after it. Returns (network, output layer name)."""
    name = find_output_linear(trunk, input_shape)
    if name is None:
        return SelectOutputs(trunk, positions), None
    return keep_output_rows(trunk, name, positions).eval(), name


def refit_output_layer(network: nn.Module, layer_name: str | None, x: torch.Tensor, y: torch.Tensor,
                       weight_decay: float = 1e-3, iterations: int = 200) -> dict:
    """Refit the output Linear (in place) on labelled samples, pulled towards its sliced weights."""
    if layer_name is None:
        raise EngineError("refitting needs a Linear output layer; this model's output comes from another layer")
    layer: nn.Linear = network.get_submodule(layer_name)
    features: list[torch.Tensor] = []
    hook = layer.register_forward_hook(lambda mod, args, out: features.append(args[0].detach()))
    try:
        with torch.no_grad():
            for start in range(0, len(x), 256):
                network(x[start:start + 256])
    finally:
        hook.remove()
    h = torch.cat(features).flatten(1)
    w0 = layer.weight.detach().clone()
    b0 = layer.bias.detach().clone() if layer.bias is not None else None
    with torch.no_grad():
        before = float(F.cross_entropy(layer(h), y))
    params = [p for p in (layer.weight, layer.bias) if p is not None]
    for p in params:
        p.requires_grad_(True)
    scale = float(w0.pow(2).sum()) or 1.0
    optimiser = torch.optim.LBFGS(params, lr=0.5, max_iter=iterations, line_search_fn="strong_wolfe")

    def closure():
        optimiser.zero_grad()
        pull = (layer.weight - w0).pow(2).sum() + ((layer.bias - b0).pow(2).sum() if b0 is not None else 0.0)
        loss = F.cross_entropy(layer(h), y) + weight_decay * pull / scale * len(w0)
        loss.backward()
        return loss

    with torch.enable_grad():
        optimiser.step(closure)
    for p in params:
        p.requires_grad_(False)
    with torch.no_grad():
        after = float(F.cross_entropy(layer(h), y))
    return {"refit_samples": int(len(y)), "refit_loss_before": round(before, 5), "refit_loss_after": round(after, 5)}
