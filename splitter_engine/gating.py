"""Masked forward of the full model: per-group channel masks applied at consumer inputs.

Masks are one flat vector over all group slots (``ChannelGraph.total_slots``), or a matrix with one row
per module. With a matrix of N rows the batch is laid out module-major (N copies of the images, one
per module), so one forward pass runs all N masked networks.
"""
from __future__ import annotations

from contextlib import contextmanager

import torch
import torch.nn as nn

from splitter_engine.channels import ChannelGraph


class ChannelGate:
    def __init__(self, model: nn.Module, graph: ChannelGraph):
        self.model = model
        self.graph = graph
        self.masks: torch.Tensor | None = None
        self._extended: torch.Tensor | None = None
        modules = dict(model.named_modules())
        constant_slot = graph.total_slots
        index_of: dict[str, torch.Tensor] = {}
        for group, offset in zip(graph.groups, graph.offsets()):
            for consumer in group.consumers:
                module = modules[consumer.module]
                width = module.in_features if isinstance(module, nn.Linear) else module.in_channels
                index = index_of.setdefault(consumer.module, torch.full((width,), constant_slot, dtype=torch.long))
                positions = torch.tensor(consumer.positions, dtype=torch.long)
                if (index[positions] != constant_slot).any():
                    raise RuntimeError(f"two channel groups claim the same inputs of {consumer.module}")
                index[positions] = torch.tensor(consumer.roots, dtype=torch.long) + offset
        self._consumers = {name: (modules[name], index) for name, index in index_of.items()}
        self._handles: list = []

    def consumer_indices(self) -> list[tuple[nn.Module, torch.Tensor, bool]]:
        """(consumer module, slot index per input channel, channel dim is last) for every consumer."""
        return [(module, index, isinstance(module, nn.Linear)) for module, index in self._consumers.values()]

    def set_masks(self, masks: torch.Tensor | None) -> None:
        """``masks``: (total_slots,) for one network or (N, total_slots) for N networks in one batch."""
        self.masks = masks
        if masks is None:
            self._extended = None
        else:
            ones = torch.ones(*masks.shape[:-1], 1, dtype=masks.dtype, device=masks.device)
            self._extended = torch.cat([masks, ones], dim=-1)

    def _hook(self, index: torch.Tensor, channel_dim_last: bool):
        def apply(module: nn.Module, args):
            if self._extended is None:
                return None
            x = args[0]
            gate = self._extended[..., index.to(self._extended.device)].to(x.dtype)
            if gate.dim() == 1:
                shape = [1] * x.dim()
                shape[-1 if channel_dim_last else 1] = -1
                return (x * gate.view(shape),) + tuple(args[1:])
            # One gate row per image (the batch is module-major): a broadcast product keeps the
            # activation's memory format, and ran 15-20 % faster than a product over a 5-d view.
            per_image = gate.repeat_interleave(x.shape[0] // gate.shape[0], dim=0)
            shape = [x.shape[0]] + [1] * (x.dim() - 1)
            shape[-1 if channel_dim_last else 1] = gate.shape[1]
            return (x * per_image.view(shape),) + tuple(args[1:])
        return apply

    def attach(self) -> None:
        if self._handles:
            return
        for name, (module, index) in self._consumers.items():
            self._handles.append(module.register_forward_pre_hook(self._hook(index, isinstance(module, nn.Linear))))

    def detach(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    @contextmanager
    def attached(self, masks: torch.Tensor | None = None):
        self.attach()
        if masks is not None:
            self.set_masks(masks)
        try:
            yield self
        finally:
            self.detach()
            self.set_masks(None)


@torch.no_grad()
def masked_forward(model: nn.Module, graph: ChannelGraph, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The full model's output with one flat mask applied (the reference for slicing parity)."""
    gate = ChannelGate(model, graph)
    with gate.attached(mask.to(x.device, torch.float32)):
        return model(x)
