"""Which channels (and dense nodes) are active for which input: forward hooks, one pass for all classes.

A channel-group slot (one root channel, see ``splitter_engine.channels``) is **active for an input** when,
anywhere in the feature map, it is > 0 in one of its group's pre-activation tensors or reaches one of the
group's consumers as a non-zero value:

- the output of every producer conv of the group after its BatchNorm (eval mode), or the conv's own
  output when no BatchNorm follows it: Pan & Rajan's "S·W + B" of each convolution;
- the input of every consumer (the conv or linear layers the group feeds): after a ReLU that is > 0
  exactly where the pre-activation add (or conv) output is > 0, so residual adds and concatenations are
  observed without hooking tensor operations, and pooling in between changes nothing (a max or mean of
  values >= 0 is > 0 exactly when one of them is).

So a slot inactive for an input contributes exactly zero to every layer that consumes it: removing it
does not change the network's output on that input. Hooks sit on conv, BatchNorm and linear modules,
never on activation modules (torchvision's ResNet calls one ReLU module twice per block).

Dense hidden nodes (the outputs of every linear layer but the output layer) are recorded the same way
(> 0 before their activation). With ``hidden_units`` they are channel groups of their own (rooted at their
Linear layer, observed like a conv's channels) and sliced; otherwise they are only reported.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch_pruning as tp

from splitter_engine.channels import ChannelGraph, _touches_output
from splitter_engine.gating import ChannelGate
from splitter_engine.runtime import EngineError


def producer_slots(model: nn.Module, graph: ChannelGraph, dg: tp.DependencyGraph) -> dict[str, torch.Tensor]:
    """For every producer (conv, or the Linear layer of a hidden-unit group) of every group: its output channel ->
    slot (``total_slots`` = no group)."""
    names = {m: n for n, m in model.named_modules()}
    constant = graph.total_slots
    out: dict[str, torch.Tensor] = {}
    roots = [g.root for g in graph.groups]
    types = (nn.Conv2d, nn.Linear) if any(g.kind == "linear" for g in graph.groups) else (nn.Conv2d,)
    groups = [g for g in dg.get_all_groups(root_module_types=types)
              if not _touches_output(g) and names[g[0].dep.target.module] in roots]
    if [names[g[0].dep.target.module] for g in groups] != roots:
        raise EngineError("the dependency graph's groups do not match the channel analysis")
    for group, offset, tp_group in zip(graph.groups, graph.offsets(), groups):
        for item in tp_group:
            module = item.dep.target.module
            producer = isinstance(module, nn.Conv2d) or (group.kind == "linear" and isinstance(module, nn.Linear))
            if not producer or item.dep.handler.__name__ != "prune_out_channels":
                continue
            width = module.out_channels if isinstance(module, nn.Conv2d) else module.out_features
            index = out.setdefault(names[module], torch.full((width,), constant, dtype=torch.long))
            index[torch.tensor([int(i) for i in item.idxs])] = torch.tensor([int(r) for r in item.root_idxs]) + offset
    return out


def _per_channel(x: torch.Tensor, active) -> torch.Tensor:
    """B x C bool: channel active anywhere in its map (``active`` maps values to bools)."""
    hit = active(x)
    return hit.flatten(2).any(-1) if hit.dim() > 2 else hit


class ActivityRecorder:
    """Hooks that turn one forward pass into per-image activity bits: ``slots`` (B x total_slots) and, per
    dense hidden layer, ``dense[name]`` (B x features)."""

    def __init__(self, model: nn.Module, graph: ChannelGraph, dg: tp.DependencyGraph, output_layer: str | None,
                 input_shape: tuple[int, int, int]):
        self.model, self.graph = model, graph
        self.slots = graph.total_slots
        modules = dict(model.named_modules())
        device = next(model.parameters()).device
        self._producers = {name: index.to(device) for name, index in producer_slots(model, graph, dg).items()}
        self._consumers = [(module, index.to(device)) for module, index, _ in ChannelGate(model, graph).consumer_indices()]
        self.dense_layers = [name for name, m in modules.items() if isinstance(m, nn.Linear) and name != output_layer]
        self._pre_activation = self._find_pre_activation(modules, input_shape, device)
        self._handles: list = []
        self._slot_hits: torch.Tensor | None = None
        self.dense: dict[str, torch.Tensor] = {}

    def _find_pre_activation(self, modules, input_shape, device) -> dict[str, str]:
        """Producer conv -> the module whose output is its pre-activation: the BatchNorm fed directly by the
        conv's output tensor (found in one probe pass), else the conv itself."""
        produced: dict[int, tuple[str, torch.Tensor]] = {}
        found: dict[str, str] = {}
        handles = []
        for name in self._producers:
            handles.append(modules[name].register_forward_hook(
                lambda mod, args, out, n=name: produced.__setitem__(id(out), (n, out))))
        for name, module in modules.items():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                def seen(mod, args, n=name):
                    hit = produced.get(id(args[0]))
                    if hit is not None and hit[1] is args[0]:
                        found.setdefault(hit[0], n)
                handles.append(module.register_forward_pre_hook(seen))
        try:
            with torch.no_grad():
                self.model(torch.zeros(2, *input_shape, device=device))
        finally:
            for h in handles:
                h.remove()
        return {conv: found.get(conv, conv) for conv in self._producers}

    # -- hooks ------------------------------------------------------------------------------------
    def _mark(self, index: torch.Tensor, channels: torch.Tensor) -> None:
        self._slot_hits.index_add_(1, index, channels.to(self._slot_hits.dtype))

    def _producer_hook(self, index: torch.Tensor):
        def hook(module, args, out):
            self._mark(index, _per_channel(out, lambda t: t > 0))
        return hook

    def _consumer_hook(self, index: torch.Tensor):
        def hook(module, args):
            self._mark(index, _per_channel(args[0], lambda t: t != 0))
        return hook

    def _dense_hook(self, name: str):
        def hook(module, args, out):
            self.dense[name] = out > 0 if out.dim() == 2 else _per_channel(out, lambda t: t > 0)
        return hook

    def attach(self) -> None:
        modules = dict(self.model.named_modules())
        for conv, index in self._producers.items():
            self._handles.append(modules[self._pre_activation[conv]].register_forward_hook(self._producer_hook(index)))
        for module, index in self._consumers:
            self._handles.append(module.register_forward_pre_hook(self._consumer_hook(index)))
        for name in self.dense_layers:
            self._handles.append(modules[name].register_forward_hook(self._dense_hook(name)))

    def detach(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    @torch.no_grad()
    def observe(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(model output, B x total_slots bool activity) for a batch; ``self.dense`` holds the dense bits."""
        self._slot_hits = torch.zeros(len(x), self.slots + 1, device=x.device)
        self.dense = {}
        out = self.model(x)
        hits, self._slot_hits = self._slot_hits, None
        return out, hits[:, :self.slots] > 0
